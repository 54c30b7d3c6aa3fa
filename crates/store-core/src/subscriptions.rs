//! The subscription store, written once for every store.

use crate::engine::{Dialect, Engine, RateLimitChange, WriteTx, read_all};
use crate::rows::SubscriptionRow;
use crate::{Statement, new_uuid};
use absync_application::ports::{
    CancelReason, NewSubscription, StoreError, Subscription, SubscriptionChanges,
    SubscriptionQuery, SubscriptionState,
};
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, SigningSecret, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use chrono::{DateTime, Utc};

/// The columns of a [`SubscriptionRow`].
#[must_use]
pub fn columns<D: Dialect>() -> String {
    format!(
        "{} AS id, tenant_id, collection, destination, authorization_value, event_filter, status,
         valid_until, created_at, signing_secret, previous_signing_secret, previous_secret_expires_at,
         paused_at, CAST(max_per_second AS bigint) AS max_per_second, secret_created_at, deleted_at",
        D::uuid_text("id")
    )
}

/// Records a tenant the first time it is named (`$1`).
pub(crate) fn insert_tenant<D: Dialect>() -> String {
    format!(
        "INSERT INTO tenants (id, created_at) VALUES ($1, {}) ON CONFLICT (id) DO NOTHING",
        D::NOW
    )
}

/// Sets `assignments` on the live subscription `$2` of tenant `$1`, returning it.
fn update_live<E: Engine>(assignments: &str) -> String {
    format!(
        "UPDATE subscriptions SET {assignments}
         WHERE tenant_id = $1 AND id = {} AND deleted_at IS NULL
         RETURNING {}",
        E::uuid(2),
        columns::<E>()
    )
}

fn subscriptions<E: Engine>(rows: &[E::Row]) -> Result<Vec<Subscription>, StoreError> {
    read_all::<E, SubscriptionRow>(rows)?
        .into_iter()
        .map(Subscription::try_from)
        .collect()
}

fn first<E: Engine>(rows: &[E::Row]) -> Result<Option<Subscription>, StoreError> {
    Ok(subscriptions::<E>(rows)?.into_iter().next())
}

/// Creates a subscription (and its tenant, the first time).
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn create<E: Engine>(
    store: &E,
    new: NewSubscription,
) -> Result<Subscription, StoreError> {
    let limited = new.max_per_second.is_some();
    let mut tx = store.write().await?;
    tx.execute(Statement::new(insert_tenant::<E>()).arg(new.tenant.as_str()))
        .await?;
    let insert = Statement::new(format!(
        "INSERT INTO subscriptions
             (id, tenant_id, collection, destination, authorization_value, event_filter, status,
              valid_until, signing_secret, max_per_second, created_at, secret_created_at)
         VALUES ({}, $2, $3, $4, $5, $6, 'Enabled', $7, $8, CAST($9 AS bigint), {now}, {now})
         RETURNING {}",
        E::uuid(1),
        columns::<E>(),
        now = E::NOW,
    ))
    .arg(new_uuid())
    .arg(new.tenant.as_str())
    .arg(new.payload_format.as_str())
    .arg(new.destination.as_str())
    .arg(new.authorization.as_ref().map(AuthorizationValue::expose))
    .arg(new.event_filter.as_str())
    .arg(new.valid_until)
    .arg(new.signing_secret.expose())
    .arg(new.max_per_second.map(|r| i64::from(r.get())));
    let created = first::<E>(&tx.fetch_all(insert).await?)?;
    tx.commit().await?;
    if limited {
        store.rate_limit_changed(RateLimitChange::Set).await;
    }
    created.ok_or_else(|| StoreError::Unexpected("the new subscription was not returned".into()))
}

/// The live subscriptions of a tenant, in creation order.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn list<E: Engine>(
    store: &E,
    tenant: &TenantId,
) -> Result<Vec<Subscription>, StoreError> {
    let statement = Statement::new(format!(
        "SELECT {} FROM subscriptions WHERE tenant_id = $1 AND deleted_at IS NULL
         ORDER BY created_at, id",
        columns::<E>()
    ))
    .arg(tenant.as_str());
    subscriptions::<E>(&store.fetch_all(statement).await?)
}

/// Deletes a subscription, cancelling what it had still to send.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn delete<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: &SubscriptionId,
) -> Result<bool, StoreError> {
    if !id.is_well_formed() {
        return Ok(false);
    }
    let mut tx = store.write().await?;
    let done = tx
        .execute(
            Statement::new(format!(
                "UPDATE subscriptions SET deleted_at = {}
                 WHERE tenant_id = $1 AND id = {} AND deleted_at IS NULL",
                E::NOW,
                E::uuid(2)
            ))
            .arg(tenant.as_str())
            .arg(id.as_str()),
        )
        .await?;
    let deleted = done == 1;
    if deleted {
        cancel_unsent::<E>(&mut tx, id, CancelReason::SubscriptionDeleted).await?;
    }
    tx.commit().await?;
    if deleted {
        store.rate_limit_changed(RateLimitChange::Lifted).await;
    }
    Ok(deleted)
}

/// Replaces the signing secret; the previous one stays valid until `previous_until`.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn rotate_secret<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: &SubscriptionId,
    secret: SigningSecret,
    previous_until: DateTime<Utc>,
) -> Result<Option<Subscription>, StoreError> {
    if !id.is_well_formed() {
        return Ok(None);
    }
    let statement = Statement::new(update_live::<E>(&format!(
        "previous_signing_secret = signing_secret, previous_secret_expires_at = $3,
         signing_secret = $4, secret_created_at = {}",
        E::NOW
    )))
    .arg(tenant.as_str())
    .arg(id.as_str())
    .arg(previous_until)
    .arg(secret.expose());
    let mut tx = store.write().await?;
    let rotated = first::<E>(&tx.fetch_all(statement).await?)?;
    tx.commit().await?;
    Ok(rotated)
}

/// A subscription of the tenant, deleted or not.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn get<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: &SubscriptionId,
) -> Result<Option<Subscription>, StoreError> {
    if !id.is_well_formed() {
        return Ok(None);
    }
    let statement = Statement::new(format!(
        "SELECT {} FROM subscriptions WHERE tenant_id = $1 AND id = {}",
        columns::<E>(),
        E::uuid(2)
    ))
    .arg(tenant.as_str())
    .arg(id.as_str());
    first::<E>(&store.fetch_all(statement).await?)
}

/// The condition on a subscription's columns for it to be in `state` at `$5`: the same order of
/// precedence as [`Subscription::state_at`]. `None`: every undeleted subscription.
fn in_state(state: Option<SubscriptionState>) -> &'static str {
    match state {
        None => "deleted_at IS NULL",
        Some(SubscriptionState::Active) => {
            "deleted_at IS NULL AND status = 'Enabled' AND paused_at IS NULL
             AND (valid_until IS NULL OR valid_until > $5)"
        }
        Some(SubscriptionState::Paused) => {
            "deleted_at IS NULL AND status = 'Enabled' AND paused_at IS NOT NULL
             AND (valid_until IS NULL OR valid_until > $5)"
        }
        Some(SubscriptionState::Disabled) => "deleted_at IS NULL AND status = 'Disabled'",
        Some(SubscriptionState::Expired) => {
            "deleted_at IS NULL AND status = 'Enabled' AND valid_until <= $5"
        }
        Some(SubscriptionState::Deleted) => "deleted_at IS NOT NULL",
    }
}

/// A page of the tenant's subscriptions in creation order (keyset paging on creation time and id):
/// those in the query's state, or every undeleted one.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn page<E: Engine>(
    store: &E,
    tenant: &TenantId,
    query: SubscriptionQuery,
) -> Result<Vec<Subscription>, StoreError> {
    let after = query.after;
    if after.as_ref().is_some_and(|c| !c.id.is_well_formed()) {
        return Ok(Vec::new());
    }
    let statement = Statement::new(format!(
        "SELECT {} FROM subscriptions
         WHERE tenant_id = $1 AND {}
           AND ($2 IS NULL OR (created_at, id) > ($2, {}))
         ORDER BY created_at, id
         LIMIT $4",
        columns::<E>(),
        in_state(query.state),
        E::uuid(3)
    ))
    .arg(tenant.as_str())
    .arg(after.as_ref().map(|c| c.created_at))
    .arg(after.as_ref().map(|c| c.id.as_str()))
    .arg(i64::from(query.limit))
    .arg(query.now);
    subscriptions::<E>(&store.fetch_all(statement).await?)
}

/// Applies the changes given; a subscription that this disables or expires has its unsent
/// deliveries cancelled in the same transaction.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn update<E: Engine>(
    store: &E,
    tenant: &TenantId,
    id: &SubscriptionId,
    changes: SubscriptionChanges,
) -> Result<Option<Subscription>, StoreError> {
    if !id.is_well_formed() {
        return Ok(None);
    }
    // Each change is a flag (`$3`, `$5`…) and a value: a field not changed keeps its value. A
    // paused subscription is stored `Enabled` (it queues deliveries) with the time of its pause.
    let pausing = changes.status == Some(SubscriptionStatus::Paused);
    let stored_status = changes.status.map(|s| match s {
        SubscriptionStatus::Paused => SubscriptionStatus::Enabled.as_str(),
        other => other.as_str(),
    });
    let statement = Statement::new(update_live::<E>(&format!(
        "destination = CASE WHEN $3 THEN $4 ELSE destination END,
         authorization_value = CASE WHEN $5 THEN $6 ELSE authorization_value END,
         event_filter = CASE WHEN $7 THEN $8 ELSE event_filter END,
         status = CASE WHEN $9 THEN $10 ELSE status END,
         paused_at = CASE WHEN $9 THEN CASE WHEN $13 THEN COALESCE(paused_at, {}) END
                          ELSE paused_at END,
         valid_until = CASE WHEN $11 THEN $12 ELSE valid_until END,
         max_per_second = CASE WHEN $14 THEN CAST($15 AS bigint) ELSE max_per_second END",
        E::NOW
    )))
    .arg(tenant.as_str())
    .arg(id.as_str())
    .arg(changes.destination.is_some())
    .arg(changes.destination.as_ref().map(DestinationUrl::as_str))
    .arg(changes.authorization.is_some())
    .arg(
        changes
            .authorization
            .as_ref()
            .and_then(|a| a.as_ref().map(AuthorizationValue::expose)),
    )
    .arg(changes.event_filter.is_some())
    .arg(changes.event_filter.map(EventFilter::as_str))
    .arg(changes.status.is_some())
    .arg(stored_status)
    .arg(changes.valid_until.is_some())
    .arg(changes.valid_until.flatten())
    .arg(pausing)
    .arg(changes.max_per_second.is_some())
    .arg(changes.max_per_second.flatten().map(|r| i64::from(r.get())));
    let mut tx = store.write().await?;
    let updated = first::<E>(&tx.fetch_all(statement).await?)?;
    if let Some(reason) = updated.as_ref().and_then(|s| s.inactive_at(Utc::now())) {
        cancel_unsent::<E>(&mut tx, id, reason).await?;
    }
    tx.commit().await?;
    // Before the dispatchers are woken, so that their next claim knows of the limit.
    if let (Some(_), Some(limit)) = (&updated, changes.max_per_second) {
        store
            .rate_limit_changed(if limit.is_some() {
                RateLimitChange::Set
            } else {
                RateLimitChange::Lifted
            })
            .await;
    }
    // Resumed (or re-enabled, or given a higher rate): what queued up meanwhile is due now.
    if updated.is_some() && (changes.status.is_some() || changes.max_per_second.is_some()) {
        store.work_queued();
    }
    Ok(updated)
}

/// Cancels the waiting and pending deliveries of a subscription, in the transaction that deleted,
/// disabled or expired it. Returns how many.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn cancel_unsent<E: Engine>(
    tx: &mut E::Write,
    id: &SubscriptionId,
    reason: CancelReason,
) -> Result<u64, StoreError> {
    tx.execute(
        Statement::new(format!(
            "UPDATE deliveries SET status = 'cancelled', cancel_reason = $2, lease_until = NULL,
                    updated_at = {}
             WHERE subscription_id = {} AND status IN ('pending', 'waiting')",
            E::NOW,
            E::uuid(1)
        ))
        .arg(id.as_str())
        .arg(reason.as_str()),
    )
    .await
}
