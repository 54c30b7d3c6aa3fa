//! A subscription's attempt history by time, for its health figures, written once for every store.
//! Each query reads the index on (subscription, start time) over the window it asks for. The figures
//! of a list of subscriptions (the console's list) are read one statement per figure for the whole
//! list, the ids bound as `IN ($n, …)`.

use crate::Statement;
use crate::engine::{Dialect, Engine, read_all};
use crate::rows::{AttemptTallyRow, DueRow, FailedAttemptRow, MomentRow, OfSubscription};
use absync_application::ports::{AttemptTally, FailedAttempt, StoreError};
use absync_domain::{SubscriptionId, TenantId};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The attempts of a subscription since a time, counted by hour, outcome and duration: the
/// statement whose plan the index test checks (`$1` tenant, `$2` subscription, `$3` since).
#[must_use]
pub fn tallies_statement<E: Engine>(
    tenant: &TenantId,
    subscription: &SubscriptionId,
    since: DateTime<Utc>,
) -> Statement {
    Statement::new(format!(
        "SELECT {hour} AS hour, COALESCE(http_status BETWEEN 200 AND 299, false) AS succeeded,
                CAST(duration_ms AS bigint) AS duration_ms, count(*) AS n
         FROM delivery_attempts
         WHERE subscription_id = {id} AND started_at >= $3 AND tenant_id = $1
         GROUP BY 1, 2, 3",
        hour = E::hour_of("started_at"),
        id = E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_str())
    .arg(since)
}

/// [`absync_application::ports::HealthStore::attempt_tallies`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn attempt_tallies<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: &SubscriptionId,
    since: DateTime<Utc>,
) -> Result<Vec<AttemptTally>, StoreError> {
    if !subscription.is_well_formed() {
        return Ok(Vec::new());
    }
    let rows = store
        .fetch_all(tallies_statement::<E>(tenant, subscription, since))
        .await?;
    read_all::<E, AttemptTallyRow>(&rows)?
        .into_iter()
        .map(AttemptTally::try_from)
        .collect()
}

/// [`absync_application::ports::HealthStore::last_success`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn last_success<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: &SubscriptionId,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    if !subscription.is_well_formed() {
        return Ok(None);
    }
    let statement = Statement::new(format!(
        "SELECT started_at AS at FROM delivery_attempts
         WHERE subscription_id = {} AND tenant_id = $1 AND http_status BETWEEN 200 AND 299
         ORDER BY started_at DESC LIMIT 1",
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_str());
    let rows = store.fetch_all(statement).await?;
    Ok(read_all::<E, MomentRow>(&rows)?
        .into_iter()
        .next()
        .and_then(|row| row.at)
        .map(Into::into))
}

/// [`absync_application::ports::HealthStore::recent_failures`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn recent_failures<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: &SubscriptionId,
    limit: u32,
) -> Result<Vec<FailedAttempt>, StoreError> {
    if !subscription.is_well_formed() {
        return Ok(Vec::new());
    }
    let statement = Statement::new(format!(
        "SELECT delivery_id, started_at, CAST(http_status AS bigint) AS http_status, error_kind
         FROM delivery_attempts
         WHERE subscription_id = {} AND tenant_id = $1
           AND (http_status IS NULL OR http_status NOT BETWEEN 200 AND 299)
         ORDER BY started_at DESC LIMIT $3",
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_str())
    .arg(i64::from(limit));
    let rows = store.fetch_all(statement).await?;
    read_all::<E, FailedAttemptRow>(&rows)?
        .into_iter()
        .map(FailedAttempt::try_from)
        .collect()
}

/// [`absync_application::ports::HealthStore::unsent`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn unsent<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: &SubscriptionId,
) -> Result<u64, StoreError> {
    if !subscription.is_well_formed() {
        return Ok(0);
    }
    let statement = Statement::new(format!(
        "SELECT count(*) AS due, NULL AS oldest_due FROM deliveries
         WHERE subscription_id = {} AND tenant_id = $1 AND status IN ('pending', 'waiting')",
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_str());
    let rows = store.fetch_all(statement).await?;
    let due = read_all::<E, DueRow>(&rows)?
        .into_iter()
        .next()
        .map_or(0, |row| row.due);
    u64::try_from(due).map_err(|_| absync_application::ports::stored::decode_error("count", due))
}

/// How many subscriptions one statement reads at most: their ids are bound one placeholder each, and
/// a [`crate::Dialect`] numbers placeholders up to 255. A page of the console is far fewer.
pub const IDS_PER_STATEMENT: usize = 200;

/// The well-formed ids among `subscriptions` (a malformed one cannot be a subscription, and would
/// not cast to a UUID), in slices of at most [`IDS_PER_STATEMENT`]: one statement each.
fn batches(subscriptions: &[SubscriptionId]) -> Vec<Vec<&SubscriptionId>> {
    let ids: Vec<&SubscriptionId> = subscriptions
        .iter()
        .filter(|id| id.is_well_formed())
        .collect();
    ids.chunks(IDS_PER_STATEMENT).map(<[_]>::to_vec).collect()
}

/// `$first, $first+1, …` for `count` ids, each as the dialect compares a UUID column with it.
fn id_placeholders<E: Dialect>(first: u8, count: usize) -> String {
    (first..=u8::MAX)
        .take(count)
        .map(E::uuid)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds each id of `ids`, in order, to the statement's next placeholders.
fn bind_ids(statement: Statement, ids: &[&SubscriptionId]) -> Statement {
    ids.iter()
        .fold(statement, |statement, id| statement.arg(id.as_str()))
}

/// The attempts of several subscriptions since a time, counted by subscription, hour, outcome and
/// duration: one statement over the index on (subscription, start time) for at most
/// [`IDS_PER_STATEMENT`] ids (`$1` tenant, `$2` since, `$3…` the subscriptions).
#[must_use]
pub fn tallies_of_statement<E: Engine>(
    tenant: &TenantId,
    subscriptions: &[&SubscriptionId],
    since: DateTime<Utc>,
) -> Statement {
    let statement = Statement::new(format!(
        "SELECT {id} AS subscription_id, {hour} AS hour,
                COALESCE(http_status BETWEEN 200 AND 299, false) AS succeeded,
                CAST(duration_ms AS bigint) AS duration_ms, count(*) AS n
         FROM delivery_attempts
         WHERE subscription_id IN ({ids}) AND started_at >= $2 AND tenant_id = $1
         GROUP BY 1, 2, 3, 4",
        id = E::uuid_text("subscription_id"),
        hour = E::hour_of("started_at"),
        ids = id_placeholders::<E>(3, subscriptions.len())
    ))
    .arg(tenant.as_str())
    .arg(since);
    bind_ids(statement, subscriptions)
}

/// [`absync_application::ports::HealthStore::attempt_tallies_of`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn attempt_tallies_of<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscriptions: &[SubscriptionId],
    since: DateTime<Utc>,
) -> Result<HashMap<SubscriptionId, Vec<AttemptTally>>, StoreError> {
    let mut tallies: HashMap<SubscriptionId, Vec<AttemptTally>> = HashMap::new();
    for ids in batches(subscriptions) {
        let rows = store
            .fetch_all(tallies_of_statement::<E>(tenant, &ids, since))
            .await?;
        for row in read_all::<E, OfSubscription<AttemptTallyRow>>(&rows)? {
            tallies
                .entry(SubscriptionId::new(row.subscription_id))
                .or_default()
                .push(AttemptTally::try_from(row.row)?);
        }
    }
    Ok(tallies)
}

/// The newest successful attempt of each of several subscriptions (`$1` tenant, `$2…` at most
/// [`IDS_PER_STATEMENT`] subscriptions): per subscription of the tenant, the index on (subscription,
/// start time) read backwards to the first success, as [`last_success`] does for one. A row per
/// subscription, its time `NULL` without a success.
#[must_use]
pub fn last_successes_statement<E: Engine>(
    tenant: &TenantId,
    subscriptions: &[&SubscriptionId],
) -> Statement {
    let statement = Statement::new(format!(
        "SELECT {id} AS subscription_id,
                (SELECT a.started_at FROM delivery_attempts a
                 WHERE a.subscription_id = s.id AND a.tenant_id = s.tenant_id
                   AND a.http_status BETWEEN 200 AND 299
                 ORDER BY a.started_at DESC LIMIT 1) AS at
         FROM subscriptions s
         WHERE s.id IN ({ids}) AND s.tenant_id = $1",
        id = E::uuid_text("s.id"),
        ids = id_placeholders::<E>(2, subscriptions.len())
    ))
    .arg(tenant.as_str());
    bind_ids(statement, subscriptions)
}

/// [`absync_application::ports::HealthStore::last_successes`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn last_successes<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscriptions: &[SubscriptionId],
) -> Result<HashMap<SubscriptionId, DateTime<Utc>>, StoreError> {
    let mut last = HashMap::new();
    for ids in batches(subscriptions) {
        let rows = store
            .fetch_all(last_successes_statement::<E>(tenant, &ids))
            .await?;
        last.extend(
            read_all::<E, OfSubscription<MomentRow>>(&rows)?
                .into_iter()
                .filter_map(|row| {
                    Some((SubscriptionId::new(row.subscription_id), row.row.at?.into()))
                }),
        );
    }
    Ok(last)
}

/// The newest failed attempt of each of several subscriptions (`$1` tenant, `$2…` at most
/// [`IDS_PER_STATEMENT`] subscriptions): per subscription of the tenant, the index on (subscription,
/// start time) read backwards to the first failure, as [`recent_failures`] does for one. No row for
/// a subscription without a failure.
#[must_use]
pub fn last_failures_statement<E: Engine>(
    tenant: &TenantId,
    subscriptions: &[&SubscriptionId],
) -> Statement {
    let statement = Statement::new(format!(
        "SELECT {id} AS subscription_id, a.delivery_id, a.started_at,
                CAST(a.http_status AS bigint) AS http_status, a.error_kind
         FROM subscriptions s
         JOIN delivery_attempts a ON a.id = (
             SELECT f.id FROM delivery_attempts f
             WHERE f.subscription_id = s.id AND f.tenant_id = s.tenant_id
               AND (f.http_status IS NULL OR f.http_status NOT BETWEEN 200 AND 299)
             ORDER BY f.started_at DESC LIMIT 1)
         WHERE s.id IN ({ids}) AND s.tenant_id = $1",
        id = E::uuid_text("s.id"),
        ids = id_placeholders::<E>(2, subscriptions.len())
    ))
    .arg(tenant.as_str());
    bind_ids(statement, subscriptions)
}

/// [`absync_application::ports::HealthStore::last_failures`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn last_failures<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscriptions: &[SubscriptionId],
) -> Result<HashMap<SubscriptionId, FailedAttempt>, StoreError> {
    let mut last = HashMap::new();
    for ids in batches(subscriptions) {
        let rows = store
            .fetch_all(last_failures_statement::<E>(tenant, &ids))
            .await?;
        for row in read_all::<E, OfSubscription<FailedAttemptRow>>(&rows)? {
            last.insert(
                SubscriptionId::new(row.subscription_id),
                FailedAttempt::try_from(row.row)?,
            );
        }
    }
    Ok(last)
}

/// How many deliveries of each of several subscriptions wait to be sent (`$1` tenant, `$2…` at most
/// [`IDS_PER_STATEMENT`] subscriptions), counted by subscription. No row for a subscription with
/// none.
#[must_use]
pub fn unsent_counts_statement<E: Engine>(
    tenant: &TenantId,
    subscriptions: &[&SubscriptionId],
) -> Statement {
    let statement = Statement::new(format!(
        "SELECT {id} AS subscription_id, count(*) AS due, NULL AS oldest_due FROM deliveries
         WHERE subscription_id IN ({ids}) AND tenant_id = $1
           AND status IN ('pending', 'waiting')
         GROUP BY 1",
        id = E::uuid_text("subscription_id"),
        ids = id_placeholders::<E>(2, subscriptions.len())
    ))
    .arg(tenant.as_str());
    bind_ids(statement, subscriptions)
}

/// [`absync_application::ports::HealthStore::unsent_counts`].
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn unsent_counts<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscriptions: &[SubscriptionId],
) -> Result<HashMap<SubscriptionId, u64>, StoreError> {
    let mut counts = HashMap::new();
    for ids in batches(subscriptions) {
        let rows = store
            .fetch_all(unsent_counts_statement::<E>(tenant, &ids))
            .await?;
        for row in read_all::<E, OfSubscription<DueRow>>(&rows)? {
            let due = row.row.due;
            let due = u64::try_from(due)
                .map_err(|_| absync_application::ports::stored::decode_error("count", due))?;
            counts.insert(SubscriptionId::new(row.subscription_id), due);
        }
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::{Dialect, IDS_PER_STATEMENT, batches, id_placeholders};
    use absync_domain::SubscriptionId;

    /// PostgreSQL's spelling of a UUID placeholder.
    struct Casts;

    impl Dialect for Casts {
        const NOW: &'static str = "now()";
        const FOR_UPDATE: &'static str = "FOR UPDATE";

        fn uuid(n: u8) -> String {
            format!("${n}::uuid")
        }

        fn uuid_text(column: &str) -> String {
            format!("{column}::text")
        }

        fn hour_of(column: &str) -> String {
            format!("date_trunc('hour', {column})")
        }
    }

    #[test]
    fn ids_are_bound_one_placeholder_each_from_the_first_free_one() {
        assert_eq!(id_placeholders::<Casts>(3, 2), "$3::uuid, $4::uuid");
        assert_eq!(id_placeholders::<Casts>(2, 0), "");
        let widest = id_placeholders::<Casts>(3, IDS_PER_STATEMENT);
        assert!(widest.ends_with("$202::uuid"), "{widest}");
    }

    #[test]
    fn long_lists_are_read_in_batches_and_malformed_ids_left_out() {
        let mut ids: Vec<SubscriptionId> = (0..450)
            .map(|i| SubscriptionId::new(format!("00000000-0000-4000-8000-{i:012}")))
            .collect();
        ids.insert(7, SubscriptionId::new("not-a-uuid"));
        let sizes: Vec<usize> = batches(&ids).iter().map(Vec::len).collect();
        assert_eq!(sizes, [200, 200, 50]);
        assert!(batches(&[]).is_empty());
    }
}
