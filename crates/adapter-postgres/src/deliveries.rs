//! Delivery queue: claim due deliveries with a lease, record attempts in batches. The claim and the
//! next due time leave rate limits out while no subscription has one (`rate_limits.rs`).

use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::{
    AttemptReport, ClaimRequest, ClaimedDelivery, DeliveryQueue, DeliveryStatus, NextStep,
    SendOutcome, StoreError,
};
use absync_domain::{DeliveryId, SubscriptionId};
use absync_store_core::rows::ClaimRow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Picks due deliveries — pending (so first in line for their leave: later ones wait), due, not leased
/// (or lease expired), of an enabled, unpaused, undeleted subscription — in due order, locks them
/// without waiting for other claimers, leases them, and returns them with their subscription and
/// event. Deliveries of a disabled or paused subscription wait; resuming it sends them.
macro_rules! claim_columns {
    () => {
        "c.id, c.tenant_id, c.subscription_id::text AS subscription_id,
    s.collection, s.destination, s.authorization_value, c.change_version, e.record, c.attempt_count,
    s.signing_secret,
    CASE WHEN s.previous_secret_expires_at > $1 THEN s.previous_signing_secret END AS previous_signing_secret,
    e.traceparent"
    };
}

/// The tokens in a rate-limited subscription `s`'s bucket at `$1`: what was left at `budget_at`,
/// plus `max_per_second` a second since, at most half a second's worth and at least one token's room
/// (NULL: never spent, full). See `absync_domain::MaxPerSecond::burst`.
macro_rules! budget_tokens {
    () => {
        "LEAST(GREATEST(1, s.max_per_second / 2.0)::float8,
           COALESCE(s.budget_tokens
                    + GREATEST(0, EXTRACT(EPOCH FROM ($1 - s.budget_at))::float8) * s.max_per_second,
                    s.max_per_second))"
    };
}

/// A subscription `s` whose deliveries may be sent at `$1`.
macro_rules! sending {
    () => {
        "s.deleted_at IS NULL AND s.status = 'Enabled' AND s.paused_at IS NULL
         AND (s.valid_until IS NULL OR s.valid_until > $1)"
    };
}

/// A delivery `d` that can be claimed at `$1`.
macro_rules! claimable {
    () => {
        "d.status = 'pending' AND d.next_attempt_at <= $1
         AND (d.lease_until IS NULL OR d.lease_until <= $1)"
    };
}

/// The start of both claims: `async_commit`, and `open`, the claimable deliveries of subscriptions
/// without a rate limit (one ordered scan of the `deliveries_due` index), locked without waiting for
/// other claimers.
macro_rules! claim_open {
    () => {
        concat!(
            "
WITH async_commit AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'off', true)
), open AS (
    SELECT d.id, d.next_attempt_at
    FROM async_commit, deliveries d
    JOIN subscriptions s ON s.id = d.subscription_id AND s.max_per_second IS NULL AND ",
            sending!(),
            "
    WHERE ",
            claimable!(),
            "
      AND d.subscription_id <> ALL($4::text[]::uuid[])
    ORDER BY d.next_attempt_at
    LIMIT $2
    FOR UPDATE OF d SKIP LOCKED
)"
        )
    };
}

/// The end of both claims: leases the deliveries of `chosen` and reads them with their subscription
/// and event.
macro_rules! claim_lease {
    () => {
        concat!(
            ", claimed AS (
    UPDATE deliveries d SET lease_until = $3
    FROM chosen WHERE d.id = chosen.id
    RETURNING d.id, d.tenant_id, d.subscription_id, d.change_version, d.attempt_count
)
SELECT ",
            claim_columns!(),
            "
FROM claimed c
JOIN subscriptions s ON s.id = c.subscription_id
JOIN leave_events e ON e.tenant_id = c.tenant_id AND e.change_version = c.change_version
ORDER BY c.id"
        )
    };
}

/// The claim. A lease is soft state: if a crash of PostgreSQL loses one, the delivery is simply
/// claimable again; so the claim's own commit does not wait for the disk (`synchronous_commit` off
/// for it alone). `$1` now, `$2` the limit, `$3` the lease's end, `$4` subscription ids to skip.
/// Public so that tests can check its plan (`EXPLAIN`).
///
/// Subscriptions without a rate limit are served by one ordered scan of the `deliveries_due`
/// index (`open`). A rate-limited one has a token bucket in its row (`budget_tokens` at
/// `budget_at`), which every instance's claim locks (`budgets`, in id order, so claimers queue
/// rather than deadlock), refills, and spends for what it takes (`spent`): the limit holds summed
/// over every instance. It takes at most its whole tokens (`limited`), and is not looked at while it
/// has less than one, so its backlog never crowds out the others. What goes over the budget stays
/// pending, due, for a later claim: no attempt, no retry.
///
/// While no subscription has a limit the store claims with [`CLAIM_UNLIMITED`] instead
/// (`rate_limits.rs`).
pub const CLAIM: &str = concat!(
    claim_open!(),
    ", budgets AS (
    SELECT s.id, ",
    budget_tokens!(),
    " AS tokens
    FROM async_commit, subscriptions s
    WHERE s.max_per_second IS NOT NULL AND ",
    sending!(),
    "
      AND s.id <> ALL($4::text[]::uuid[])
      AND ",
    budget_tokens!(),
    " >= 1
      AND EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = s.id AND ",
    claimable!(),
    ")
    ORDER BY s.id
    FOR UPDATE OF s
), limited AS (
    SELECT l.id, l.next_attempt_at, b.id AS subscription_id
    FROM budgets b
    CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at
        FROM deliveries d
        WHERE d.subscription_id = b.id AND ",
    claimable!(),
    "
        ORDER BY d.next_attempt_at
        LIMIT LEAST($2, floor(b.tokens)::bigint)
        FOR UPDATE OF d SKIP LOCKED
    ) l
), chosen AS (
    SELECT c.id, c.subscription_id
    FROM (SELECT id, next_attempt_at, NULL::uuid AS subscription_id FROM open
          UNION ALL
          SELECT id, next_attempt_at, subscription_id FROM limited) c
    ORDER BY c.next_attempt_at, c.id
    LIMIT $2
), spent AS (
    UPDATE subscriptions s
    SET budget_tokens = b.tokens - (SELECT count(*) FROM chosen c WHERE c.subscription_id = b.id),
        budget_at = GREATEST(s.budget_at, $1)
    FROM budgets b
    WHERE s.id = b.id
)",
    claim_lease!()
);

/// The claim while no subscription has a rate limit: [`CLAIM`]'s `open` step alone, same
/// parameters, same columns. It passes rate-limited subscriptions by, so using it when one has
/// appeared since only delays that one's deliveries (`rate_limits.rs`).
pub const CLAIM_UNLIMITED: &str = concat!(
    claim_open!(),
    ", chosen AS (SELECT id FROM open)",
    claim_lease!()
);

/// The pending deliveries that can be claimed soonest (`d`), and their subscription `s`, if it is
/// sending.
macro_rules! soonest_due {
    () => {
        concat!(
            "
FROM (SELECT subscription_id, next_attempt_at, lease_until
      FROM deliveries WHERE status = 'pending'
      ORDER BY next_attempt_at LIMIT 1000) AS d
JOIN subscriptions s ON s.id = d.subscription_id AND ",
            sending!()
        )
    };
}

/// When the next delivery can be claimed: among the soonest pending deliveries, those of a
/// subscription that is sending, each from its due time, its lease's end, and for a rate-limited
/// subscription with an empty bucket, the time its next token comes.
const NEXT_DUE: &str = concat!(
    "
SELECT min(GREATEST(d.next_attempt_at, d.lease_until,
                    CASE WHEN s.max_per_second IS NOT NULL AND s.budget_tokens < 1
                         THEN s.budget_at + (1 - s.budget_tokens) / s.max_per_second * interval '1 second'
                    END))",
    soonest_due!(),
);

/// [`NEXT_DUE`] while no subscription has a rate limit: the subscriptions that [`CLAIM_UNLIMITED`]
/// serves only. Counting the others would wake the dispatcher for deliveries it then passes by, over
/// and over until the flag is refreshed.
const NEXT_DUE_UNLIMITED: &str = concat!(
    "
SELECT min(GREATEST(d.next_attempt_at, d.lease_until))",
    soonest_due!(),
    " AND s.max_per_second IS NULL"
);

/// Moves the next waiting delivery of each (subscription, leave) whose pending one just finished to
/// pending. It keeps its own due time (when it was queued, so already past): FIFO by queueing time.
const PROMOTE_NEXT: &str = "
UPDATE deliveries w SET status = 'pending', updated_at = now()
FROM (
    SELECT DISTINCT ON (n.subscription_id, n.leave_key) n.id
    FROM UNNEST($1::bigint[]) AS f(id)
    JOIN deliveries finished ON finished.id = f.id AND finished.status IN ('succeeded', 'failed')
    JOIN deliveries n ON n.subscription_id = finished.subscription_id
                     AND n.leave_key = finished.leave_key
                     AND n.status = 'waiting'
    ORDER BY n.subscription_id, n.leave_key, n.change_version
) next_in_line
WHERE w.id = next_in_line.id";

/// A delivery with everything needed to render and send it.
const EXCERPT_LIMIT: usize = 4096;

#[async_trait]
impl DeliveryQueue for PgStore {
    #[tracing::instrument(name = "pg.claim_due", skip_all, err, fields(limit = claim.limit, claimed, rate_limits))]
    async fn claim_due(&self, claim: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let skip: Vec<&str> = claim.skip.iter().map(SubscriptionId::as_str).collect();
        let rate_limits = self.limited.may_exist(&self.pool).await;
        tracing::Span::current().record("rate_limits", rate_limits);
        let claim_sql = if rate_limits { CLAIM } else { CLAIM_UNLIMITED };
        let rows: Vec<ClaimRow> = sqlx::query_as(claim_sql)
            .bind(claim.now)
            .bind(i64::from(claim.limit))
            .bind(claim.lease_until)
            .bind(skip)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        absync_store_core::rows::claimed(rows)
    }

    #[tracing::instrument(name = "pg.record_attempts", skip_all, err, fields(reports = reports.len()))]
    async fn record(&self, reports: Vec<AttemptReport>) -> Result<(), StoreError> {
        let n = reports.len();
        let mut ids = Vec::with_capacity(n);
        let mut statuses = Vec::with_capacity(n);
        let mut next_at: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(n);
        let mut started = Vec::with_capacity(n);
        let mut durations = Vec::with_capacity(n);
        let mut http_statuses: Vec<Option<i32>> = Vec::with_capacity(n);
        let mut error_kinds: Vec<Option<String>> = Vec::with_capacity(n);
        let mut error_details: Vec<Option<String>> = Vec::with_capacity(n);
        let mut excerpts: Vec<Vec<u8>> = Vec::with_capacity(n);
        let mut disable: Vec<i64> = Vec::new();
        for report in reports {
            ids.push(report.delivery.get());
            let (status, at) = match report.next {
                NextStep::Succeeded => (DeliveryStatus::Succeeded.as_str(), None),
                NextStep::RetryAt(at) => (DeliveryStatus::Pending.as_str(), Some(at)),
                NextStep::Failed {
                    disable_subscription,
                } => {
                    if disable_subscription {
                        disable.push(report.delivery.get());
                    }
                    (DeliveryStatus::Failed.as_str(), None)
                }
            };
            statuses.push(status);
            next_at.push(at);
            started.push(report.started_at);
            durations.push(i32::try_from(report.duration.as_millis()).unwrap_or(i32::MAX));
            match report.outcome {
                SendOutcome::Answered {
                    status,
                    mut body_excerpt,
                } => {
                    body_excerpt.truncate(EXCERPT_LIMIT);
                    http_statuses.push(Some(i32::from(status)));
                    error_kinds.push(None);
                    error_details.push(None);
                    excerpts.push(body_excerpt);
                }
                SendOutcome::NoAnswer { kind, detail } => {
                    http_statuses.push(None);
                    error_kinds.push(Some(kind.as_str().to_owned()));
                    error_details.push(Some(detail));
                    excerpts.push(Vec::new());
                }
            }
        }
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query(
            "INSERT INTO delivery_attempts
                 (delivery_id, tenant_id, subscription_id, started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt)
             SELECT r.id, d.tenant_id, d.subscription_id, r.started_at, r.duration_ms, r.http_status, r.error_kind, r.error_detail, r.excerpt
             FROM UNNEST($1::bigint[], $2::timestamptz[], $3::int[], $4::int[], $5::text[], $6::text[], $7::bytea[])
                  AS r(id, started_at, duration_ms, http_status, error_kind, error_detail, excerpt)
             JOIN deliveries d ON d.id = r.id",
        )
        .bind(&ids)
        .bind(&started)
        .bind(&durations)
        .bind(&http_statuses)
        .bind(&error_kinds)
        .bind(&error_details)
        .bind(&excerpts)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(
            // A delivery cancelled while its attempt was in flight and then delivered is succeeded:
            // it was sent after all.
            "UPDATE deliveries d
             SET status = r.status, attempt_count = d.attempt_count + 1,
                 next_attempt_at = COALESCE(r.next_at, d.next_attempt_at), lease_until = NULL,
                 last_http_status = r.http_status, last_error = r.error_kind, updated_at = now(),
                 cancel_reason = CASE WHEN r.status = 'succeeded' THEN NULL ELSE d.cancel_reason END
             FROM UNNEST($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::text[])
                  AS r(id, status, next_at, http_status, error_kind)
             WHERE d.id = r.id
               AND (d.status = 'pending' OR (d.status = 'cancelled' AND r.status = 'succeeded'))",
        )
        .bind(&ids)
        .bind(&statuses)
        .bind(&next_at)
        .bind(&http_statuses)
        .bind(&error_kinds)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        sqlx::query(PROMOTE_NEXT)
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        if !disable.is_empty() {
            // Protime's lifecycle: the subscription is disabled, and what it had still to receive is
            // cancelled with it (the deliveries promoted just above included).
            sqlx::query(
                "WITH disabled AS (
                     UPDATE subscriptions SET status = 'Disabled'
                     WHERE id IN (SELECT d.subscription_id FROM UNNEST($1::bigint[]) AS f(id)
                                  JOIN deliveries d ON d.id = f.id)
                     RETURNING id
                 )
                 UPDATE deliveries d
                 SET status = 'cancelled', cancel_reason = 'subscription disabled', lease_until = NULL,
                     updated_at = now()
                 FROM disabled
                 WHERE d.subscription_id = disabled.id AND d.status IN ('pending', 'waiting')",
            )
            .bind(&disable)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)
    }

    #[tracing::instrument(name = "pg.next_due", skip_all, err)]
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // Leased deliveries count from their lease's end: that is when they can be claimed again.
        // Among the soonest pending deliveries, only those of a live subscription count.
        let next_due_sql = if self.limited.may_exist(&self.pool).await {
            NEXT_DUE
        } else {
            NEXT_DUE_UNLIMITED
        };
        let (next,): (Option<DateTime<Utc>>,) = sqlx::query_as(next_due_sql)
            .bind(Utc::now())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(next)
    }

    #[tracing::instrument(name = "pg.release_leases", skip_all, err, fields(deliveries = deliveries.len()))]
    async fn release(&self, deliveries: Vec<DeliveryId>) -> Result<(), StoreError> {
        let ids: Vec<i64> = deliveries.iter().map(|d| d.get()).collect();
        sqlx::query(
            "UPDATE deliveries d SET lease_until = NULL FROM UNNEST($1::bigint[]) AS f(id)
             WHERE d.id = f.id AND d.status = 'pending'",
        )
        .bind(&ids)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    #[tracing::instrument(name = "pg.purge_finished", skip_all, err, fields(purged))]
    async fn purge_finished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM deliveries WHERE status IN ('succeeded', 'cancelled') AND updated_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        tracing::Span::current().record("purged", done.rows_affected());
        Ok(done.rows_affected())
    }

    #[tracing::instrument(name = "pg.cancel_expired", skip_all, err, fields(cancelled))]
    async fn cancel_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        // Disabled and deleted subscriptions had theirs cancelled when they changed.
        let done = sqlx::query(
            "UPDATE deliveries d
             SET status = 'cancelled', cancel_reason = 'subscription expired', lease_until = NULL,
                 updated_at = now()
             FROM subscriptions s
             WHERE s.valid_until <= $1 AND s.deleted_at IS NULL AND s.status = 'Enabled'
               AND d.subscription_id = s.id AND d.status IN ('pending', 'waiting')",
        )
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        tracing::Span::current().record("cancelled", done.rows_affected());
        Ok(done.rows_affected())
    }
}
