//! A subscription's attempt history by time, for its health figures, written once for every store.
//! Each query reads the index on (subscription, start time) over the window it asks for.

use crate::Statement;
use crate::engine::{Engine, read_all};
use crate::rows::{AttemptTallyRow, DueRow, FailedAttemptRow, MomentRow};
use absync_application::ports::{AttemptTally, FailedAttempt, StoreError};
use absync_domain::{SubscriptionId, TenantId};
use chrono::{DateTime, Utc};

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
