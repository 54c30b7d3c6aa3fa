//! Subscription store.

use crate::error::store_error;
use crate::store::{SqliteStore, micros, new_uuid, now};
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

const COLUMNS: &str = "id, tenant_id, collection, destination, authorization_value, event_filter, status, \
     valid_until, created_at, signing_secret, previous_signing_secret, previous_secret_expires_at";

#[async_trait]
impl SubscriptionStore for SqliteStore {
    #[tracing::instrument(name = "sqlite.create_subscription", skip_all, err, fields(tenant = %new.tenant))]
    async fn create(&self, new: NewSubscription) -> Result<Subscription, StoreError> {
        let created = now();
        let mut write = self.write().await?;
        sqlx::query(
            "INSERT INTO tenants (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(new.tenant.as_str())
        .bind(created)
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        let row: SubscriptionRow = sqlx::query_as(&format!(
            "INSERT INTO subscriptions
                 (id, tenant_id, collection, destination, authorization_value, event_filter, status, valid_until,
                  signing_secret, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'Enabled', ?7, ?8, ?9)
             RETURNING {COLUMNS}"
        ))
        .bind(new_uuid())
        .bind(new.tenant.as_str())
        .bind(new.collection.as_str())
        .bind(new.destination.as_str())
        .bind(new.authorization.as_ref().map(AuthorizationValue::expose))
        .bind(new.event_filter.as_str())
        .bind(new.valid_until.map(micros))
        .bind(new.signing_secret.expose())
        .bind(created)
        .fetch_one(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        row.try_into()
    }

    #[tracing::instrument(name = "sqlite.list_subscriptions", skip_all, err, fields(tenant = %tenant))]
    async fn list(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE tenant_id = ?1 AND deleted_at IS NULL ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(Subscription::try_from).collect()
    }

    #[tracing::instrument(name = "sqlite.delete_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<bool, StoreError> {
        let mut write = self.write().await?;
        let done = sqlx::query(
            "UPDATE subscriptions SET deleted_at = ?3
             WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(now())
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        let deleted = done.rows_affected() == 1;
        if deleted {
            cancel_unsent(&mut write.tx, id, CancelReason::SubscriptionDeleted).await?;
        }
        write.commit().await?;
        Ok(deleted)
    }

    #[tracing::instrument(name = "sqlite.rotate_signing_secret", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        secret: SigningSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut write = self.write().await?;
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "UPDATE subscriptions
             SET previous_signing_secret = signing_secret, previous_secret_expires_at = ?3, signing_secret = ?4
             WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL
             RETURNING {COLUMNS}"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .bind(micros(previous_until))
        .bind(secret.expose())
        .fetch_optional(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        row.map(Subscription::try_from).transpose()
    }

    #[tracing::instrument(name = "sqlite.get_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL"
        ))
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(Subscription::try_from).transpose()
    }

    #[tracing::instrument(name = "sqlite.page_subscriptions", skip_all, err, fields(tenant = %tenant, limit))]
    async fn page(
        &self,
        tenant: &TenantId,
        after: Option<SubscriptionCursor>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        let (after_time, after_id) = match &after {
            Some(cursor) => (Some(micros(cursor.created_at)), Some(cursor.id.as_str())),
            None => (None, None),
        };
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM subscriptions
             WHERE tenant_id = ?1 AND deleted_at IS NULL
               AND (?2 IS NULL OR (created_at, id) > (?2, ?3))
             ORDER BY created_at, id
             LIMIT ?4"
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

    #[tracing::instrument(name = "sqlite.update_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
    async fn update(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        changes: SubscriptionChanges,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut write = self.write().await?;
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "UPDATE subscriptions SET
                 destination = CASE WHEN ?3 THEN ?4 ELSE destination END,
                 authorization_value = CASE WHEN ?5 THEN ?6 ELSE authorization_value END,
                 event_filter = CASE WHEN ?7 THEN ?8 ELSE event_filter END,
                 status = CASE WHEN ?9 THEN ?10 ELSE status END,
                 valid_until = CASE WHEN ?11 THEN ?12 ELSE valid_until END
             WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL
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
        .bind(changes.valid_until.flatten().map(micros))
        .fetch_optional(&mut *write.tx)
        .await
        .map_err(store_error)?;
        let updated = row.map(Subscription::try_from).transpose()?;
        if let Some(reason) = updated.as_ref().and_then(|s| s.inactive_at(Utc::now())) {
            cancel_unsent(&mut write.tx, id, reason).await?;
        }
        write.commit().await?;
        Ok(updated)
    }
}

/// Cancels the waiting and pending deliveries of a subscription, in the transaction that deleted,
/// disabled or expired it. Returns how many.
async fn cancel_unsent(
    tx: &mut sqlx::SqliteConnection,
    id: &SubscriptionId,
    reason: CancelReason,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE deliveries SET status = 'cancelled', cancel_reason = ?2, lease_until = NULL, updated_at = ?3
         WHERE subscription_id = ?1 AND status IN ('pending', 'waiting')",
    )
    .bind(id.as_str())
    .bind(reason.as_str())
    .bind(now())
    .execute(tx)
    .await
    .map_err(store_error)?;
    Ok(done.rows_affected())
}
