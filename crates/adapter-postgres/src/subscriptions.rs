//! Subscription store.

use crate::batch::ReadMany;
use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::{
    CancelReason, NewSubscription, StoreError, Subscription, SubscriptionChanges,
    SubscriptionCursor, SubscriptionStore,
};
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, SigningSecret, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use absync_store_core::rows::SubscriptionRow;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use std::sync::Arc;

const COLUMNS: &str = "id::text, tenant_id, collection, destination, authorization_value, event_filter, status, \
     valid_until, created_at, signing_secret, previous_signing_secret, previous_secret_expires_at";

/// Lists the live subscriptions of several tenants in one statement (the lists asked meanwhile,
/// coalesced): for each tenant, in order, its subscriptions in creation order.
pub(crate) fn list_many(pool: PgPool) -> ReadMany<TenantId, Vec<Subscription>> {
    Arc::new(move |tenants: Vec<TenantId>| {
        let pool = pool.clone();
        Box::pin(async move {
            let names: Vec<&str> = tenants.iter().map(TenantId::as_str).collect();
            let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM subscriptions
                 WHERE tenant_id = ANY($1::text[]) AND deleted_at IS NULL ORDER BY created_at, id"
            ))
            .bind(&names)
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
            let mut lists: Vec<Vec<Subscription>> = tenants.iter().map(|_| Vec::new()).collect();
            for row in rows {
                let subscription = Subscription::try_from(row)?;
                for (tenant, list) in tenants.iter().zip(&mut lists) {
                    if *tenant == subscription.tenant {
                        list.push(subscription.clone());
                    }
                }
            }
            Ok(lists)
        })
    })
}

#[async_trait]
impl SubscriptionStore for PgStore {
    #[tracing::instrument(name = "pg.create_subscription", skip_all, err, fields(tenant = %new.tenant))]
    async fn create(&self, new: NewSubscription) -> Result<Subscription, StoreError> {
        let row: SubscriptionRow = sqlx::query_as(&format!(
            "WITH tenant AS (INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING)
             INSERT INTO subscriptions
                 (tenant_id, collection, destination, authorization_value, event_filter, status, valid_until, signing_secret)
             VALUES ($1, $2, $3, $4, $5, 'Enabled', $6, $7)
             RETURNING {COLUMNS}"
        ))
        .bind(new.tenant.as_str())
        .bind(new.collection.as_str())
        .bind(new.destination.as_str())
        .bind(new.authorization.as_ref().map(AuthorizationValue::expose))
        .bind(new.event_filter.as_str())
        .bind(new.valid_until)
        .bind(new.signing_secret.expose())
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        row.try_into()
    }

    #[tracing::instrument(name = "pg.list_subscriptions", skip_all, err, fields(tenant = %tenant))]
    async fn list(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        self.subscription_lists.get(tenant.clone()).await
    }

    #[tracing::instrument(name = "pg.delete_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<bool, StoreError> {
        if !id.is_well_formed() {
            return Ok(false);
        }
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let done = sqlx::query(
            "UPDATE subscriptions SET deleted_at = now()
             WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            cancel_unsent(&mut tx, id, CancelReason::SubscriptionDeleted).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(deleted)
    }

    #[tracing::instrument(name = "pg.rotate_signing_secret", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        secret: SigningSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        if !id.is_well_formed() {
            return Ok(None);
        }
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "UPDATE subscriptions
             SET previous_signing_secret = signing_secret, previous_secret_expires_at = $3, signing_secret = $4
             WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL
             RETURNING {COLUMNS}"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(previous_until)
        .bind(secret.expose())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(Subscription::try_from).transpose()
    }

    #[tracing::instrument(name = "pg.get_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        if !id.is_well_formed() {
            return Ok(None);
        }
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(Subscription::try_from).transpose()
    }

    #[tracing::instrument(name = "pg.page_subscriptions", skip_all, err, fields(tenant = %tenant, limit))]
    async fn page(
        &self,
        tenant: &TenantId,
        after: Option<SubscriptionCursor>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        let (after_time, after_id) = match &after {
            Some(cursor) if cursor.id.is_well_formed() => {
                (Some(cursor.created_at), Some(cursor.id.as_str()))
            }
            Some(_) => return Ok(Vec::new()),
            None => (None, None),
        };
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscriptions
             WHERE tenant_id = $1 AND deleted_at IS NULL
               AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3::uuid))
             ORDER BY created_at, id
             LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(after_time)
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(Subscription::try_from).collect()
    }

    #[tracing::instrument(name = "pg.update_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn update(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        changes: SubscriptionChanges,
    ) -> Result<Option<Subscription>, StoreError> {
        if !id.is_well_formed() {
            return Ok(None);
        }
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "UPDATE subscriptions SET
                 destination = CASE WHEN $3 THEN $4 ELSE destination END,
                 authorization_value = CASE WHEN $5 THEN $6 ELSE authorization_value END,
                 event_filter = CASE WHEN $7 THEN $8 ELSE event_filter END,
                 status = CASE WHEN $9 THEN $10 ELSE status END,
                 valid_until = CASE WHEN $11 THEN $12 ELSE valid_until END
             WHERE tenant_id = $1 AND id = $2::uuid AND deleted_at IS NULL
             RETURNING {COLUMNS}"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(changes.destination.is_some())
        .bind(changes.destination.as_ref().map(DestinationUrl::as_str))
        .bind(changes.authorization.is_some())
        .bind(
            changes
                .authorization
                .as_ref()
                .and_then(|a| a.as_ref().map(AuthorizationValue::expose)),
        )
        .bind(changes.event_filter.is_some())
        .bind(changes.event_filter.map(EventFilter::as_str))
        .bind(changes.status.is_some())
        .bind(changes.status.map(SubscriptionStatus::as_str))
        .bind(changes.valid_until.is_some())
        .bind(changes.valid_until.flatten())
        .fetch_optional(&mut *tx)
        .await
        .map_err(store_error)?;
        let updated = row.map(Subscription::try_from).transpose()?;
        if let Some(reason) = updated.as_ref().and_then(|s| s.inactive_at(Utc::now())) {
            cancel_unsent(&mut tx, id, reason).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(updated)
    }
}

/// Cancels the waiting and pending deliveries of a subscription, in the transaction that deleted,
/// disabled or expired it. Returns how many.
pub(crate) async fn cancel_unsent(
    tx: &mut sqlx::PgConnection,
    id: &SubscriptionId,
    reason: CancelReason,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'cancelled', cancel_reason = $2, lease_until = NULL, updated_at = now()
         WHERE subscription_id = $1::uuid AND status IN ('pending', 'waiting')",
    )
    .bind(id.as_str())
    .bind(reason.as_str())
    .execute(tx)
    .await
    .map_err(store_error)?;
    Ok(done.rows_affected())
}
