//! Delivery queue: claim due deliveries with a lease, record attempts in batches.

use crate::error::{decode_error, sqlite_error, store_error};
use crate::store::{SqliteStore, micros, now, time};
use absync_application::ports::{
    AttemptReport, ClaimRequest, ClaimedDelivery, DeliveryQueue, DeliveryStatus, NextStep,
    SendOutcome, StoreError,
};
use absync_domain::{DeliveryId, SubscriptionId};
use absync_store_core::rows::ClaimRow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use sqlx::types::Json;

// The statements are put together from the pieces below with `concat!` at compile time: a macro
// expands to a string literal where a `const` could not be concatenated, so no claim builds its SQL.

/// The columns of a [`ClaimRow`], over `deliveries c`, `subscriptions s` and `leave_events e`; `?1`
/// is now (in microseconds).
macro_rules! claim_columns {
    () => {
        "c.id, c.tenant_id, c.subscription_id, s.collection, s.destination,
    s.authorization_value, c.change_version, e.record, c.attempt_count, s.signing_secret,
    CASE WHEN s.previous_secret_expires_at > ?1 THEN s.previous_signing_secret END AS previous_signing_secret,
    e.traceparent"
    };
}

/// Reads a row of the claim columns (`claim_columns!`), in their order, on the writer's connection.
fn read_claim(row: &rusqlite::Row<'_>) -> rusqlite::Result<ClaimRow> {
    let record: String = row.get(7)?;
    Ok(ClaimRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        subscription_id: row.get(2)?,
        collection: row.get(3)?,
        destination: row.get(4)?,
        authorization_value: row.get(5)?,
        change_version: row.get(6)?,
        record: serde_json::from_str(&record).map(Json).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(7, rusqlite::types::Type::Text, Box::new(e))
        })?,
        attempt_count: row.get(8)?,
        signing_secret: row.get(9)?,
        previous_signing_secret: row.get(10)?,
        traceparent: row.get(11)?,
    })
}

/// Bytes kept of a response body.
const EXCERPT_LIMIT: usize = 4096;

/// Moves the next waiting delivery of the (subscription, leave) of `finished`, if that one has
/// finished, to pending. It keeps its own due time (when it was queued, so already past).
fn promote_next(conn: &Connection, finished: i64, at: i64) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE deliveries SET status = 'pending', updated_at = ?2
         WHERE id = (SELECT n.id FROM deliveries f
                     JOIN deliveries n ON n.subscription_id = f.subscription_id
                                      AND n.leave_key = f.leave_key AND n.status = 'waiting'
                     WHERE f.id = ?1 AND f.status IN ('succeeded', 'failed')
                     ORDER BY n.change_version LIMIT 1)",
    )
    .and_then(|mut s| s.execute(params![finished, at]))
    .map_err(sqlite_error)?;
    Ok(())
}

/// A subscription `s` whose deliveries may be sent at `?1`.
macro_rules! sending {
    () => {
        "s.deleted_at IS NULL AND s.status = 'Enabled' AND s.paused_at IS NULL
    AND (s.valid_until IS NULL OR s.valid_until > ?1)"
    };
}

/// The tokens in a rate-limited subscription `s`'s bucket at `?1` (microseconds): what was left at
/// `budget_at`, plus `max_per_second` a second since, at most half a second's worth and at least one
/// token's room (NULL: full). See `absync_domain::MaxPerSecond::burst`.
macro_rules! budget_tokens {
    () => {
        "min(max(1, s.max_per_second / 2.0),
    COALESCE(s.budget_tokens + max(0, ?1 - s.budget_at) / 1000000.0 * s.max_per_second,
             s.max_per_second))"
    };
}

/// Leases (until `?3`) up to `?2` deliveries that are pending (so first in line for their leave),
/// due at `?1`, not leased (or the lease expired), of an unlimited subscription that is sending and
/// not among the ids of the JSON array `?4`, in due order.
const CLAIM_OPEN: &str = concat!(
    "UPDATE deliveries SET lease_until = ?3
     WHERE id IN (SELECT d.id FROM deliveries d
                  JOIN subscriptions s ON s.id = d.subscription_id
                                      AND s.max_per_second IS NULL AND ",
    sending!(),
    "
                  WHERE d.status = 'pending' AND d.next_attempt_at <= ?1
                    AND (d.lease_until IS NULL OR d.lease_until <= ?1)
                    AND d.subscription_id NOT IN (SELECT value FROM json_each(?4))
                  ORDER BY d.next_attempt_at LIMIT ?2)
     RETURNING id"
);

/// The claimed deliveries (ids in the JSON array `?2`) with their subscription and event, at `?1`.
const CLAIMED: &str = concat!(
    "SELECT ",
    claim_columns!(),
    "
     FROM deliveries c
     JOIN subscriptions s ON s.id = c.subscription_id
     JOIN leave_events e ON e.tenant_id = c.tenant_id AND e.change_version = c.change_version
     WHERE c.id IN (SELECT value FROM json_each(?2))
     ORDER BY c.id"
);

/// The rate-limited subscriptions that are sending at `?1`, not among the ids of the JSON array
/// `?2`, with at least one whole token in their bucket: each id and its tokens, in id order.
const BUDGETS: &str = concat!(
    "SELECT s.id, ",
    budget_tokens!(),
    " FROM subscriptions s
     WHERE s.max_per_second IS NOT NULL AND ",
    sending!(),
    "
       AND s.id NOT IN (SELECT value FROM json_each(?2))
       AND ",
    budget_tokens!(),
    " >= 1
     ORDER BY s.id"
);

/// When the next delivery can be claimed, at `?1`: among the soonest pending deliveries, those of a
/// subscription that is sending, each from its due time, its lease's end, and for a rate-limited
/// subscription with an empty bucket, the time its next token comes.
const NEXT_DUE: &str = concat!(
    "SELECT min(max(d.next_attempt_at, COALESCE(d.lease_until, d.next_attempt_at),
                    CASE WHEN s.max_per_second IS NOT NULL AND s.budget_tokens < 1
                         THEN s.budget_at + CAST((1 - s.budget_tokens) * 1000000 / s.max_per_second AS INTEGER)
                         ELSE d.next_attempt_at END))
     FROM (SELECT subscription_id, next_attempt_at, lease_until
           FROM deliveries WHERE status = 'pending'
           ORDER BY next_attempt_at LIMIT 1000) AS d
     JOIN subscriptions s ON s.id = d.subscription_id AND ",
    sending!()
);

/// Leases up to `limit` due deliveries and reads them with their subscription and event.
///
/// Subscriptions without a rate limit are served in due order from the `deliveries_due` index. Then
/// each rate-limited one with a whole token in its bucket (`budget_tokens` at `budget_at`) gets at
/// most that many, and its bucket is spent for them: what goes over the budget stays pending, due,
/// for a later claim (no attempt, no retry). The writer runs one claim at a time, so the bucket needs
/// no lock.
fn claim_rows(
    conn: &Connection,
    now: i64,
    limit: u32,
    lease_until: i64,
    skip: &str,
) -> Result<Vec<ClaimRow>, StoreError> {
    // Pending (so first in line for its leave), due, not leased (or the lease expired), of a
    // subscription that is sending, in due order.
    let mut ids: Vec<i64> = conn
        .prepare_cached(CLAIM_OPEN)
        .and_then(|mut s| {
            s.query_map(params![now, i64::from(limit), lease_until, skip], |row| {
                row.get(0)
            })?
            .collect()
        })
        .map_err(sqlite_error)?;
    let room = u32::try_from(ids.len()).map_or(0, |n| limit.saturating_sub(n));
    if room > 0 {
        ids.extend(claim_limited(conn, now, room, lease_until, skip)?);
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(&ids).map_err(|e| decode_error("ids", e))?;
    conn.prepare_cached(CLAIMED)
        .and_then(|mut s| s.query_map(params![now, list], read_claim)?.collect())
        .map_err(sqlite_error)
}

/// Claims up to `room` deliveries of the rate-limited subscriptions, each within its bucket, and
/// spends their buckets.
fn claim_limited(
    conn: &Connection,
    now: i64,
    room: u32,
    lease_until: i64,
    skip: &str,
) -> Result<Vec<i64>, StoreError> {
    let budgets: Vec<(String, f64)> = conn
        .prepare_cached(BUDGETS)
        .and_then(|mut s| {
            s.query_map(params![now, skip], |row| Ok((row.get(0)?, row.get(1)?)))?
                .collect()
        })
        .map_err(sqlite_error)?;
    let mut ids = Vec::new();
    let mut room = i64::from(room);
    for (subscription, tokens) in budgets {
        if room == 0 {
            break;
        }
        // Whole tokens only: `tokens` is at least 1 and at most 10,000 (the highest rate).
        #[allow(clippy::cast_possible_truncation)]
        let take = (tokens.floor() as i64).min(room);
        let taken: Vec<i64> = conn
            .prepare_cached(
                "UPDATE deliveries SET lease_until = ?3
                 WHERE id IN (SELECT id FROM deliveries
                              WHERE subscription_id = ?4 AND status = 'pending'
                                AND next_attempt_at <= ?1
                                AND (lease_until IS NULL OR lease_until <= ?1)
                              ORDER BY next_attempt_at LIMIT ?2)
                 RETURNING id",
            )
            .and_then(|mut s| {
                s.query_map(params![now, take, lease_until, subscription], |row| {
                    row.get(0)
                })?
                .collect()
            })
            .map_err(sqlite_error)?;
        if taken.is_empty() {
            continue; // nothing due: the bucket keeps filling, untouched
        }
        #[allow(clippy::cast_precision_loss)] // at most 10,000
        let spent = taken.len() as f64;
        conn.prepare_cached(
            "UPDATE subscriptions SET budget_tokens = ?3, budget_at = max(COALESCE(budget_at, ?1), ?1)
             WHERE id = ?2",
        )
        .and_then(|mut s| s.execute(params![now, subscription, tokens - spent]))
        .map_err(sqlite_error)?;
        room -= i64::try_from(taken.len()).unwrap_or(room);
        ids.extend(taken);
    }
    Ok(ids)
}

/// One attempt as stored, with the delivery's next state.
struct AttemptRow {
    id: i64,
    started_at: i64,
    duration_ms: i64,
    status: &'static str,
    next_at: Option<i64>,
    disable: bool,
    http_status: Option<i64>,
    error_kind: Option<&'static str>,
    error_detail: Option<String>,
    excerpt: Vec<u8>,
}

impl From<AttemptReport> for AttemptRow {
    fn from(report: AttemptReport) -> Self {
        let (status, next_at, disable) = match report.next {
            NextStep::Succeeded => (DeliveryStatus::Succeeded.as_str(), None, false),
            NextStep::RetryAt(when) => {
                (DeliveryStatus::Pending.as_str(), Some(micros(when)), false)
            }
            NextStep::Failed {
                disable_subscription,
            } => (DeliveryStatus::Failed.as_str(), None, disable_subscription),
        };
        let (http_status, error_kind, error_detail, excerpt) = match report.outcome {
            SendOutcome::Answered {
                status,
                mut body_excerpt,
            } => {
                body_excerpt.truncate(EXCERPT_LIMIT);
                (Some(i64::from(status)), None, None, body_excerpt)
            }
            SendOutcome::NoAnswer { kind, detail } => {
                (None, Some(kind.as_str()), Some(detail), Vec::new())
            }
        };
        Self {
            id: report.delivery.get(),
            started_at: micros(report.started_at),
            duration_ms: i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX),
            status,
            next_at,
            disable,
            http_status,
            error_kind,
            error_detail,
            excerpt,
        }
    }
}

/// Records attempts and moves their deliveries on (inside the writer's transaction).
fn record_attempts(conn: &Connection, rows: &[AttemptRow], at: i64) -> Result<(), StoreError> {
    let mut attempt = conn
        .prepare_cached(
            "INSERT INTO delivery_attempts
                 (delivery_id, tenant_id, subscription_id, started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt)
             SELECT id, tenant_id, subscription_id, ?2, ?3, ?4, ?5, ?6, ?7 FROM deliveries WHERE id = ?1",
        )
        .map_err(sqlite_error)?;
    let mut next = conn
        .prepare_cached(
            // A delivery cancelled while its attempt was in flight and then delivered is succeeded:
            // it was sent after all.
            "UPDATE deliveries
             SET status = ?2, attempt_count = attempt_count + 1,
                 next_attempt_at = COALESCE(?3, next_attempt_at), lease_until = NULL,
                 last_http_status = ?4, last_error = ?5, updated_at = ?6,
                 cancel_reason = CASE WHEN ?2 = 'succeeded' THEN NULL ELSE cancel_reason END
             WHERE id = ?1 AND (status = 'pending' OR (status = 'cancelled' AND ?2 = 'succeeded'))",
        )
        .map_err(sqlite_error)?;
    for row in rows {
        attempt
            .execute(params![
                row.id,
                row.started_at,
                row.duration_ms,
                row.http_status,
                row.error_kind,
                row.error_detail,
                row.excerpt
            ])
            .map_err(sqlite_error)?;
        next.execute(params![
            row.id,
            row.status,
            row.next_at,
            row.http_status,
            row.error_kind,
            at
        ])
        .map_err(sqlite_error)?;
        if row.status != DeliveryStatus::Pending.as_str() {
            promote_next(conn, row.id, at)?;
        }
        if row.disable {
            // Protime's lifecycle: the subscription is disabled, and what it had still to receive is
            // cancelled with it (the delivery promoted just above included).
            conn.prepare_cached(
                "UPDATE subscriptions SET status = 'Disabled'
                 WHERE id = (SELECT subscription_id FROM deliveries WHERE id = ?1)",
            )
            .and_then(|mut s| s.execute(params![row.id]))
            .map_err(sqlite_error)?;
            conn.prepare_cached(
                "UPDATE deliveries
                 SET status = 'cancelled', cancel_reason = 'subscription disabled', lease_until = NULL,
                     updated_at = ?2
                 WHERE subscription_id = (SELECT subscription_id FROM deliveries WHERE id = ?1)
                   AND status IN ('pending', 'waiting')",
            )
            .and_then(|mut s| s.execute(params![row.id, at]))
            .map_err(sqlite_error)?;
        }
    }
    Ok(())
}

#[async_trait]
impl DeliveryQueue for SqliteStore {
    #[tracing::instrument(name = "sqlite.claim_due", skip_all, err, fields(limit = claim.limit, claimed))]
    async fn claim_due(&self, claim: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = micros(claim.now);
        let lease_until = micros(claim.lease_until);
        let skip: Vec<&str> = claim.skip.iter().map(SubscriptionId::as_str).collect();
        let skip = serde_json::to_string(&skip).map_err(|e| decode_error("skipped ids", e))?;
        let limit = claim.limit;
        let rows = self
            .writer
            .run(Box::new(move |conn| {
                claim_rows(conn, now, limit, lease_until, &skip)
            }))
            .await?;
        absync_store_core::rows::claimed(rows)
    }

    #[tracing::instrument(name = "sqlite.record_attempts", skip_all, err, fields(reports = reports.len()))]
    async fn record(&self, reports: Vec<AttemptReport>) -> Result<(), StoreError> {
        if reports.is_empty() {
            return Ok(());
        }
        let at = now();
        let rows: std::sync::Arc<[AttemptRow]> =
            reports.into_iter().map(AttemptRow::from).collect();
        self.writer
            .run(Box::new(move |conn| record_attempts(conn, &rows, at)))
            .await
    }

    #[tracing::instrument(name = "sqlite.next_due", skip_all, err)]
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        // Leased deliveries count from their lease's end: that is when they can be claimed again.
        // A rate-limited subscription with an empty bucket counts from its next token.
        let next: Option<i64> = sqlx::query_scalar(NEXT_DUE)
            .bind(now())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(next.map(time))
    }

    #[tracing::instrument(name = "sqlite.release_leases", skip_all, err, fields(deliveries = deliveries.len()))]
    async fn release(&self, deliveries: Vec<DeliveryId>) -> Result<(), StoreError> {
        let ids: Vec<i64> = deliveries.iter().map(|d| d.get()).collect();
        let list = serde_json::to_string(&ids).map_err(|e| decode_error("ids", e))?;
        self.writer
            .run(Box::new(move |conn| {
                conn.prepare_cached(
                    "UPDATE deliveries SET lease_until = NULL
                     WHERE id IN (SELECT value FROM json_each(?1)) AND status = 'pending'",
                )
                .and_then(|mut s| s.execute(params![list]))
                .map(drop)
                .map_err(sqlite_error)
            }))
            .await
    }

    #[tracing::instrument(name = "sqlite.purge_finished", skip_all, err, fields(purged))]
    async fn purge_finished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut write = self.write().await?;
        let done = sqlx::query(
            "DELETE FROM deliveries WHERE status IN ('succeeded', 'cancelled') AND updated_at < ?1",
        )
        .bind(micros(before))
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        tracing::Span::current().record("purged", done.rows_affected());
        Ok(done.rows_affected())
    }

    #[tracing::instrument(name = "sqlite.cancel_expired", skip_all, err, fields(cancelled))]
    async fn cancel_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut write = self.write().await?;
        // Disabled and deleted subscriptions had theirs cancelled when they changed.
        let done = sqlx::query(
            "UPDATE deliveries
             SET status = 'cancelled', cancel_reason = 'subscription expired', lease_until = NULL,
                 updated_at = ?2
             WHERE status IN ('pending', 'waiting')
               AND subscription_id IN (SELECT id FROM subscriptions
                                       WHERE valid_until <= ?1 AND deleted_at IS NULL
                                         AND status = 'Enabled')",
        )
        .bind(micros(now))
        .bind(crate::store::now())
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        tracing::Span::current().record("cancelled", done.rows_affected());
        Ok(done.rows_affected())
    }
}
