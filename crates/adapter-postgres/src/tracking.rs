//! Delivery tracking: listings, details, re-sync and mark-processed, scoped by tenant.

use crate::deliveries::CLAIM_COLUMNS;
use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::{
    AttemptSummary, DeliveryDetail, DeliveryFilter, DeliveryStatus, DeliverySummary,
    DeliveryTracking, PendingTask, QueueStats, ResyncRefusal, StoreError,
};
use absync_domain::{DeliveryId, SubscriptionId, TenantId};
use absync_store_core::rows::{ClaimRow, SummaryRow};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

const SUMMARY: &str = "d.id, d.subscription_id::text AS subscription_id, d.leave_key, e.event,
    d.change_version, d.status, d.attempt_count, d.next_attempt_at, d.last_http_status, d.last_error,
    d.created_at, d.updated_at, d.processed_note, d.cancel_reason
    FROM deliveries d JOIN leave_events e ON e.tenant_id = d.tenant_id AND e.change_version = d.change_version";

impl PgStore {
    async fn summary(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
    ) -> Result<Option<DeliverySummary>, StoreError> {
        let row: Option<SummaryRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY} WHERE d.tenant_id = $1 AND d.id = $2"
        ))
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(DeliverySummary::try_from).transpose()
    }
}

#[async_trait]
impl DeliveryTracking for PgStore {
    #[tracing::instrument(name = "pg.list_deliveries", skip_all, err, fields(tenant = %tenant, limit))]
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: DeliveryFilter,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, StoreError> {
        let subscription = match &filter.subscription {
            Some(id) if !id.is_well_formed() => return Ok(Vec::new()),
            Some(id) => Some(id.as_str()),
            None => None,
        };
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY}
             WHERE d.tenant_id = $1
               AND ($2::uuid IS NULL OR d.subscription_id = $2::uuid)
               AND ($3::text IS NULL OR d.status = $3)
               AND ($4::text IS NULL OR d.leave_key = $4)
               AND ($5::text IS NULL OR e.event = $5)
               AND ($6::timestamptz IS NULL OR d.created_at >= $6)
               AND ($7::bigint IS NULL OR d.id < $7)
             ORDER BY d.id DESC
             LIMIT $8"
        ))
        .bind(tenant.as_str())
        .bind(subscription)
        .bind(filter.status.map(DeliveryStatus::as_str))
        .bind(filter.leave_key)
        .bind(filter.event)
        .bind(filter.since)
        .bind(before.map(DeliveryId::get))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(DeliverySummary::try_from).collect()
    }

    #[tracing::instrument(name = "pg.get_delivery", skip_all, err, fields(tenant = %tenant, delivery_id = %id))]
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryDetail>, StoreError> {
        let Some(summary) = self.summary(tenant, id).await? else {
            return Ok(None);
        };
        let message: ClaimRow = sqlx::query_as(&format!(
            "SELECT {CLAIM_COLUMNS}
             FROM deliveries c
             JOIN subscriptions s ON s.id = c.subscription_id
             JOIN leave_events e ON e.tenant_id = c.tenant_id AND e.change_version = c.change_version
             WHERE c.tenant_id = $2 AND c.id = $3"
        ))
        .bind(Utc::now())
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        let attempts: Vec<(DateTime<Utc>, i32, Option<i32>, Option<String>, Option<String>, Option<Vec<u8>>)> =
            sqlx::query_as(
                "SELECT started_at, duration_ms, http_status, error_kind, error_detail, response_excerpt
                 FROM delivery_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY id",
            )
            .bind(tenant.as_str())
            .bind(id.get())
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(Some(DeliveryDetail {
            summary,
            message: message.try_into()?,
            attempts: attempts
                .into_iter()
                .map(
                    |(started_at, duration, status, kind, detail, excerpt)| AttemptSummary {
                        started_at,
                        duration_ms: u32::try_from(duration).unwrap_or(0),
                        http_status: status.and_then(|s| u16::try_from(s).ok()),
                        error_kind: kind,
                        error_detail: detail,
                        response_excerpt: excerpt.unwrap_or_default(),
                    },
                )
                .collect(),
        }))
    }

    #[tracing::instrument(name = "pg.resync_delivery", skip_all, err, fields(tenant = %tenant, delivery_id = %id, force))]
    async fn resync(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Result<DeliverySummary, ResyncRefusal>>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let row: Option<(String, bool, bool, bool)> = sqlx::query_as(
            "SELECT d.status,
                    EXISTS (SELECT 1 FROM deliveries n WHERE n.subscription_id = d.subscription_id
                            AND n.leave_key = d.leave_key AND n.change_version > d.change_version
                            AND n.status = 'succeeded'),
                    EXISTS (SELECT 1 FROM deliveries n WHERE n.subscription_id = d.subscription_id
                            AND n.leave_key = d.leave_key AND n.change_version > d.change_version
                            AND n.status IN ('pending', 'waiting')),
                    NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id
                                AND s.deleted_at IS NULL AND s.status = 'Enabled'
                                AND (s.valid_until IS NULL OR s.valid_until > $3))
             FROM deliveries d WHERE d.tenant_id = $1 AND d.id = $2 FOR UPDATE",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let Some((status, superseded, newer_in_flight, inactive)) = row else {
            return Ok(None);
        };
        if inactive {
            return Ok(Some(Err(ResyncRefusal::SubscriptionInactive)));
        }
        if newer_in_flight {
            return Ok(Some(Err(ResyncRefusal::NewerInFlight)));
        }
        if superseded && !force {
            return Ok(Some(Err(ResyncRefusal::Superseded)));
        }
        if status != DeliveryStatus::Waiting.as_str() {
            sqlx::query(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = $2, lease_until = NULL,
                        processed_at = NULL, cancel_reason = NULL, updated_at = now()
                 WHERE id = $1",
            )
            .bind(id.get())
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        self.signal_work();
        self.announce_work();
        Ok(self.summary(tenant, id).await?.map(Ok))
    }

    #[tracing::instrument(name = "pg.mark_processed", skip_all, err, fields(tenant = %tenant, delivery_id = %id))]
    async fn mark_processed(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        note: Option<String>,
    ) -> Result<Option<DeliverySummary>, StoreError> {
        let done = sqlx::query(
            "UPDATE deliveries SET status = 'processed', processed_at = now(), processed_note = $3,
                    updated_at = now()
             WHERE tenant_id = $1 AND id = $2 AND status = 'failed'",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .bind(note)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        self.summary(tenant, id).await
    }

    #[tracing::instrument(name = "pg.resync_failed", skip_all, err, fields(tenant = %tenant))]
    async fn resync_failed(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if subscription.as_ref().is_some_and(|s| !s.is_well_formed()) {
            return Ok(0);
        }
        // Only the latest delivery of each leave: an older one would overwrite newer state.
        let done = sqlx::query(
            "UPDATE deliveries d SET status = 'pending', next_attempt_at = $3, lease_until = NULL,
                    updated_at = now()
             WHERE d.tenant_id = $1 AND d.status = 'failed'
               AND ($2::uuid IS NULL OR d.subscription_id = $2::uuid)
               AND d.subscription_id IN (SELECT s.id FROM subscriptions s
                                         WHERE s.tenant_id = $1 AND s.deleted_at IS NULL
                                           AND s.status = 'Enabled'
                                           AND (s.valid_until IS NULL OR s.valid_until > $3))
               AND NOT EXISTS (SELECT 1 FROM deliveries n
                               WHERE n.subscription_id = d.subscription_id AND n.leave_key = d.leave_key
                                 AND n.change_version > d.change_version)",
        )
        .bind(tenant.as_str())
        .bind(subscription.as_ref().map(SubscriptionId::as_str))
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        if done.rows_affected() > 0 {
            self.signal_work();
            self.announce_work();
        }
        Ok(done.rows_affected())
    }

    #[tracing::instrument(name = "pg.deliveries_changed_since", skip_all, err, fields(tenant = %tenant))]
    async fn changed_since(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, StoreError> {
        if subscription.as_ref().is_some_and(|s| !s.is_well_formed()) {
            return Ok(Vec::new());
        }
        let rows: Vec<SummaryRow> = sqlx::query_as(&format!(
            "SELECT {SUMMARY}
             WHERE d.tenant_id = $1 AND ($2::uuid IS NULL OR d.subscription_id = $2::uuid)
               AND d.updated_at >= $3
             ORDER BY d.updated_at, d.id
             LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(subscription.as_ref().map(SubscriptionId::as_str))
        .bind(since)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(DeliverySummary::try_from).collect()
    }

    #[tracing::instrument(name = "pg.queue_stats", skip_all, err)]
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError> {
        // The counts kept on write (`delivery_counts`): one signed row per status and writing
        // statement, folded here into one row per status, then summed. Folding and summing are two
        // statements, so the sum sees what a concurrent fold committed, never half of it.
        sqlx::query(
            "WITH folded AS (DELETE FROM delivery_counts RETURNING status, n)
             INSERT INTO delivery_counts (status, n)
             SELECT status, sum(n) FROM folded GROUP BY status HAVING sum(n) <> 0",
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        let by_status: Vec<(String, i64)> = sqlx::query_as(
            "SELECT status, sum(n)::bigint FROM delivery_counts GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let (due, oldest_due): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
            "SELECT count(*), min(next_attempt_at) FROM deliveries
             WHERE status = 'pending' AND next_attempt_at <= $1",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(QueueStats {
            by_status: by_status
                .into_iter()
                .filter_map(|(status, n)| DeliveryStatus::parse(&status).map(|s| (s, n)))
                .collect(),
            due,
            oldest_due,
        })
    }

    #[tracing::instrument(name = "pg.pending_tasks", skip_all, err, fields(tenant = %tenant))]
    async fn pending_tasks(&self, tenant: &TenantId) -> Result<Vec<PendingTask>, StoreError> {
        let rows: Vec<(String, String, i64, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT d.subscription_id::text, s.destination, count(*), min(d.created_at),
                    (SELECT COALESCE(x.last_http_status::text, x.last_error, '')
                     FROM deliveries x
                     WHERE x.tenant_id = $1 AND x.subscription_id = d.subscription_id AND x.status = 'failed'
                     ORDER BY x.updated_at DESC, x.id DESC LIMIT 1)
             FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id
             WHERE d.tenant_id = $1 AND d.status = 'failed'
             GROUP BY d.subscription_id, s.destination
             ORDER BY min(d.created_at)",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(subscription, destination, failed, oldest, latest_error)| PendingTask {
                    subscription: SubscriptionId::new(subscription),
                    destination,
                    failed: u64::try_from(failed).unwrap_or(0),
                    oldest,
                    latest_error,
                },
            )
            .collect())
    }
}
