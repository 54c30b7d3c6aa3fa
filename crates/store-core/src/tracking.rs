//! Delivery tracking, written once for every store: listings and keyset paging, details, re-sync and
//! mark-processed, scoped by tenant.

use crate::engine::{Dialect, Engine, WriteTx, read_all};
use crate::rows::{
    AttemptSummaryRow, ClaimRow, DueRow, PendingTaskRow, ResyncRow, StatusCountRow, SummaryRow,
};
use crate::{Reads, Statement};
use absync_application::ports::{
    DeliveryDetail, DeliveryFilter, DeliveryStatus, DeliverySummary, PendingTask, QueueStats,
    ResyncRefusal, StoreError,
};
use absync_domain::{DeliveryId, SubscriptionId, TenantId};
use chrono::{DateTime, Utc};

/// The columns of a [`ClaimRow`], over `deliveries c`, `subscriptions s` and `leave_events e`; `$1`
/// is now (the previous signing secret is read only while it is still valid).
#[must_use]
pub fn claim_columns<D: Dialect>() -> String {
    format!(
        "c.id, c.tenant_id, {} AS subscription_id, s.collection, s.destination, s.authorization_value,
         c.change_version, e.record, c.attempt_count, s.signing_secret,
         CASE WHEN s.previous_secret_expires_at > $1 THEN s.previous_signing_secret END
             AS previous_signing_secret, e.traceparent",
        D::uuid_text("c.subscription_id")
    )
}

/// `SELECT` of a [`SummaryRow`], up to the `WHERE` clause.
fn select_summary<D: Dialect>() -> String {
    format!(
        "SELECT d.id, {} AS subscription_id, d.leave_key, e.event, d.change_version, d.status,
                d.attempt_count, d.next_attempt_at, d.last_http_status, d.last_error, d.created_at,
                d.updated_at, d.processed_note, d.cancel_reason
         FROM deliveries d
         JOIN leave_events e ON e.tenant_id = d.tenant_id AND e.change_version = d.change_version",
        D::uuid_text("d.subscription_id")
    )
}

/// Re-queues a delivery: it is due at `$2`, and keeps nothing of having been processed or cancelled.
fn requeue<D: Dialect>() -> String {
    format!(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, lease_until = NULL,
                processed_at = NULL, cancel_reason = NULL, updated_at = {}
         WHERE id = $1",
        D::NOW
    )
}

fn summaries<E: Engine>(rows: &[E::Row]) -> Result<Vec<DeliverySummary>, StoreError> {
    read_all::<E, SummaryRow>(rows)?
        .into_iter()
        .map(DeliverySummary::try_from)
        .collect()
}

async fn summary<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: DeliveryId,
) -> Result<Option<DeliverySummary>, StoreError> {
    let statement = Statement::new(format!(
        "{} WHERE d.tenant_id = $1 AND d.id = $2",
        select_summary::<E>()
    ))
    .arg(tenant.as_str())
    .arg(id.get());
    let rows = store.fetch_all(statement).await?;
    Ok(summaries::<E>(&rows)?.into_iter().next())
}

/// A page of a tenant's deliveries, newest first, matching `filter`; `before` continues a listing
/// (keyset paging on the delivery id).
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn list_deliveries<E: Engine>(
    store: &E,
    tenant: &TenantId,
    filter: DeliveryFilter,
    before: Option<DeliveryId>,
    limit: u32,
) -> Result<Vec<DeliverySummary>, StoreError> {
    if filter
        .subscription
        .as_ref()
        .is_some_and(|s| !s.is_well_formed())
    {
        return Ok(Vec::new());
    }
    let statement = Statement::new(format!(
        "{} WHERE d.tenant_id = $1
               AND ($2 IS NULL OR d.subscription_id = {})
               AND ($3 IS NULL OR d.status = $3)
               AND ($4 IS NULL OR d.leave_key = $4)
               AND ($5 IS NULL OR e.event = $5)
               AND ($6 IS NULL OR d.created_at >= $6)
               AND ($7 IS NULL OR d.id < $7)
             ORDER BY d.id DESC
             LIMIT $8",
        select_summary::<E>(),
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(filter.subscription.as_ref().map(SubscriptionId::as_str))
    .arg(filter.status.map(DeliveryStatus::as_str))
    .arg(filter.leave_key)
    .arg(filter.event.map(absync_domain::LeaveEvent::as_str))
    .arg(filter.since)
    .arg(before.map(DeliveryId::get))
    .arg(i64::from(limit));
    summaries::<E>(&store.fetch_all(statement).await?)
}

/// A delivery with its message and its attempts.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn get_delivery<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: DeliveryId,
) -> Result<Option<DeliveryDetail>, StoreError> {
    let Some(summary) = summary(store, tenant, id).await? else {
        return Ok(None);
    };
    let message = Statement::new(format!(
        "SELECT {}
         FROM deliveries c
         JOIN subscriptions s ON s.id = c.subscription_id
         JOIN leave_events e ON e.tenant_id = c.tenant_id AND e.change_version = c.change_version
         WHERE c.tenant_id = $2 AND c.id = $3",
        claim_columns::<E>()
    ))
    .arg(Utc::now())
    .arg(tenant.as_str())
    .arg(id.get());
    let Some(message) = store.fetch_optional(message).await? else {
        return Ok(None);
    };
    let attempts = Statement::new(
        "SELECT started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt
         FROM delivery_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY id",
    )
    .arg(tenant.as_str())
    .arg(id.get());
    let attempts = read_all::<E, AttemptSummaryRow>(&store.fetch_all(attempts).await?)?;
    Ok(Some(DeliveryDetail {
        summary,
        message: <E as Reads<ClaimRow>>::read(&message)?.try_into()?,
        attempts: attempts.into_iter().map(Into::into).collect(),
    }))
}

/// Re-queues one delivery, unless something newer or the subscription's state forbids it.
///
/// # Errors
/// [`StoreError`] when the store cannot be read or written.
pub async fn resync<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: DeliveryId,
    force: bool,
    now: DateTime<Utc>,
) -> Result<Option<Result<DeliverySummary, ResyncRefusal>>, StoreError> {
    let mut tx = store.write().await?;
    let check = Statement::new(format!(
        "SELECT d.status,
                EXISTS (SELECT 1 FROM deliveries n WHERE n.subscription_id = d.subscription_id
                        AND n.leave_key = d.leave_key AND n.change_version > d.change_version
                        AND n.status = 'succeeded') AS superseded,
                EXISTS (SELECT 1 FROM deliveries n WHERE n.subscription_id = d.subscription_id
                        AND n.leave_key = d.leave_key AND n.change_version > d.change_version
                        AND n.status IN ('pending', 'waiting')) AS newer_in_flight,
                NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id
                            AND s.deleted_at IS NULL AND s.status = 'Enabled'
                            AND (s.valid_until IS NULL OR s.valid_until > $3)) AS inactive
         FROM deliveries d WHERE d.tenant_id = $1 AND d.id = $2{}",
        E::FOR_UPDATE
    ))
    .arg(tenant.as_str())
    .arg(id.get())
    .arg(now);
    let Some(row) = tx.fetch_all(check).await?.into_iter().next() else {
        return Ok(None);
    };
    let row = <E as Reads<ResyncRow>>::read(&row)?;
    let refusal = if row.inactive {
        Some(ResyncRefusal::SubscriptionInactive)
    } else if row.newer_in_flight {
        Some(ResyncRefusal::NewerInFlight)
    } else if row.superseded && !force {
        Some(ResyncRefusal::Superseded)
    } else {
        None
    };
    if let Some(refusal) = refusal {
        return Ok(Some(Err(refusal)));
    }
    if row.status != DeliveryStatus::Waiting.as_str() {
        tx.execute(Statement::new(requeue::<E>()).arg(id.get()).arg(now))
            .await?;
    }
    tx.commit().await?;
    store.work_queued();
    Ok(summary(store, tenant, id).await?.map(Ok))
}

/// Marks a failed delivery processed, with the operator's note.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn mark_processed<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: DeliveryId,
    note: Option<String>,
) -> Result<Option<DeliverySummary>, StoreError> {
    let mut tx = store.write().await?;
    let done = tx
        .execute(
            Statement::new(format!(
                "UPDATE deliveries SET status = 'processed', processed_at = {now},
                        processed_note = $3, updated_at = {now}
                 WHERE tenant_id = $1 AND id = $2 AND status = 'failed'",
                now = E::NOW
            ))
            .arg(tenant.as_str())
            .arg(id.get())
            .arg(note),
        )
        .await?;
    tx.commit().await?;
    if done == 0 {
        return Ok(None);
    }
    summary(store, tenant, id).await
}

/// Re-queues the failed deliveries of a tenant (of one subscription), the latest of each leave
/// only: an older one would overwrite newer state.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn resync_failed<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: Option<SubscriptionId>,
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    if subscription.as_ref().is_some_and(|s| !s.is_well_formed()) {
        return Ok(0);
    }
    let statement = Statement::new(format!(
        "UPDATE deliveries SET status = 'pending', next_attempt_at = $3, lease_until = NULL,
                updated_at = {}
         WHERE tenant_id = $1 AND status = 'failed'
           AND ($2 IS NULL OR subscription_id = {})
           AND subscription_id IN (SELECT s.id FROM subscriptions s
                                   WHERE s.tenant_id = $1 AND s.deleted_at IS NULL
                                     AND s.status = 'Enabled'
                                     AND (s.valid_until IS NULL OR s.valid_until > $3))
           AND NOT EXISTS (SELECT 1 FROM deliveries n
                           WHERE n.subscription_id = deliveries.subscription_id
                             AND n.leave_key = deliveries.leave_key
                             AND n.change_version > deliveries.change_version)",
        E::NOW,
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_ref().map(SubscriptionId::as_str))
    .arg(now);
    let mut tx = store.write().await?;
    let done = tx.execute(statement).await?;
    tx.commit().await?;
    if done > 0 {
        store.work_queued();
    }
    Ok(done)
}

/// The deliveries of a tenant (of one subscription) changed since `since`, oldest change first.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn changed_since<E: Engine>(
    store: &E,
    tenant: &TenantId,
    subscription: Option<SubscriptionId>,
    since: DateTime<Utc>,
    limit: u32,
) -> Result<Vec<DeliverySummary>, StoreError> {
    if subscription.as_ref().is_some_and(|s| !s.is_well_formed()) {
        return Ok(Vec::new());
    }
    let statement = Statement::new(format!(
        "{} WHERE d.tenant_id = $1 AND ($2 IS NULL OR d.subscription_id = {})
               AND d.updated_at >= $3
             ORDER BY d.updated_at, d.id
             LIMIT $4",
        select_summary::<E>(),
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(subscription.as_ref().map(SubscriptionId::as_str))
    .arg(since)
    .arg(i64::from(limit));
    summaries::<E>(&store.fetch_all(statement).await?)
}

/// The queue's size by status, and what is due.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn queue_stats<E: Engine>(
    store: &E,
    now: DateTime<Utc>,
) -> Result<QueueStats, StoreError> {
    store.fold_counts().await?;
    let counts = Statement::new(
        "SELECT status, CAST(sum(n) AS BIGINT) AS n FROM delivery_counts
         GROUP BY status ORDER BY status",
    );
    let counts = read_all::<E, StatusCountRow>(&store.fetch_all(counts).await?)?;
    let due = Statement::new(
        "SELECT count(*) AS due, min(next_attempt_at) AS oldest_due FROM deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1",
    )
    .arg(now);
    let due = store
        .fetch_optional(due)
        .await?
        .map(|row| <E as Reads<DueRow>>::read(&row))
        .transpose()?;
    Ok(QueueStats {
        by_status: counts
            .into_iter()
            .filter_map(|row| DeliveryStatus::parse(&row.status).map(|s| (s, row.n)))
            .collect(),
        due: due.as_ref().map_or(0, |d| d.due),
        oldest_due: due.and_then(|d| d.oldest_due).map(Into::into),
    })
}

/// The pending-tasks dashboard: the failed deliveries of a tenant, a line per subscription, oldest
/// first.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn pending_tasks<E: Engine>(
    store: &E,
    tenant: &TenantId,
) -> Result<Vec<PendingTask>, StoreError> {
    let statement = Statement::new(format!(
        "SELECT {} AS subscription_id, s.destination, count(*) AS failed,
                min(d.created_at) AS oldest,
                (SELECT COALESCE(CAST(x.last_http_status AS TEXT), x.last_error, '')
                 FROM deliveries x
                 WHERE x.tenant_id = $1 AND x.subscription_id = d.subscription_id
                   AND x.status = 'failed'
                 ORDER BY x.updated_at DESC, x.id DESC LIMIT 1) AS latest_error
         FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
         WHERE d.tenant_id = $1 AND d.status = 'failed'
         GROUP BY d.subscription_id, s.destination
         ORDER BY min(d.created_at), d.subscription_id",
        E::uuid_text("d.subscription_id")
    ))
    .arg(tenant.as_str());
    Ok(
        read_all::<E, PendingTaskRow>(&store.fetch_all(statement).await?)?
            .into_iter()
            .map(Into::into)
            .collect(),
    )
}
