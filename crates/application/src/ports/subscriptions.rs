//! The subscription store.

use super::StoreError;
use super::tracking::CancelReason;
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, PayloadFormat, SigningSecret, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A subscription to be created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewSubscription {
    /// Whose.
    pub tenant: TenantId,
    /// In which format.
    pub payload_format: PayloadFormat,
    /// Where deliveries go.
    pub destination: DestinationUrl,
    /// `Authorization` value to send.
    pub authorization: Option<AuthorizationValue>,
    /// Which events.
    pub event_filter: EventFilter,
    /// When it stops receiving new deliveries.
    pub valid_until: Option<DateTime<Utc>>,
    /// The secret deliveries are signed with.
    pub signing_secret: SigningSecret,
}

/// Changes to a subscription, each already valid; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscriptionChanges {
    /// New destination.
    pub destination: Option<DestinationUrl>,
    /// New `Authorization` value (`Some(None)` removes it).
    pub authorization: Option<Option<AuthorizationValue>>,
    /// New event filter.
    pub event_filter: Option<EventFilter>,
    /// New status.
    pub status: Option<SubscriptionStatus>,
    /// New expiry (`Some(None)`: never).
    pub valid_until: Option<Option<DateTime<Utc>>>,
}

/// Where a page of subscriptions starts: after this one, in (created_at, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCursor {
    /// Its creation time.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: SubscriptionId,
}

/// A secret replaced by a rotation, still signing until `until`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSecret {
    /// The replaced secret.
    pub secret: SigningSecret,
    /// When it stops signing.
    pub until: DateTime<Utc>,
}

/// A stored subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// Whose.
    pub tenant: TenantId,
    /// In which format.
    pub payload_format: PayloadFormat,
    /// Where deliveries go.
    pub destination: DestinationUrl,
    /// `Authorization` value to send.
    pub authorization: Option<AuthorizationValue>,
    /// Which events.
    pub event_filter: EventFilter,
    /// Enabled or disabled.
    pub status: SubscriptionStatus,
    /// When it stops receiving new deliveries.
    pub valid_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The secret deliveries are signed with. Never shown again after creation or rotation.
    pub signing_secret: SigningSecret,
    /// The secret a rotation replaced, while it still signs.
    pub previous_secret: Option<PreviousSecret>,
}

impl Subscription {
    /// True when new events are to be delivered to it at `now`.
    #[must_use]
    pub fn receives_at(&self, now: DateTime<Utc>) -> bool {
        self.inactive_at(now).is_none()
    }

    /// Why nothing more is delivered to it at `now` (disabled, or past its `valid_until`), if so:
    /// the reason its unsent deliveries are cancelled with.
    #[must_use]
    pub fn inactive_at(&self, now: DateTime<Utc>) -> Option<CancelReason> {
        if self.status == SubscriptionStatus::Disabled {
            Some(CancelReason::SubscriptionDisabled)
        } else if self.valid_until.is_some_and(|until| until <= now) {
            Some(CancelReason::SubscriptionExpired)
        } else {
            None
        }
    }
}

/// Subscriptions of every tenant, each query scoped by one.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    /// Creates a subscription, enabled.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn create(&self, new: NewSubscription) -> Result<Subscription, StoreError>;

    /// The tenant's subscriptions that are not deleted, oldest first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn list(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError>;

    /// A page of the tenant's undeleted subscriptions in (created_at, id) order, after `after`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn page(
        &self,
        tenant: &TenantId,
        after: Option<SubscriptionCursor>,
        limit: u32,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Applies `changes` to one of the tenant's undeleted subscriptions; `None` when there is none.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn update(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        changes: SubscriptionChanges,
    ) -> Result<Option<Subscription>, StoreError>;

    /// One of the tenant's (undeleted) subscriptions.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn get(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError>;

    /// Soft-deletes a subscription: it receives nothing new, its history stays. False when the tenant
    /// has no such (undeleted) subscription.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn delete(&self, tenant: &TenantId, id: &SubscriptionId) -> Result<bool, StoreError>;

    /// Replaces the signing secret; the current one keeps signing until `previous_until`. `None` when
    /// the tenant has no such (undeleted) subscription.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        secret: SigningSecret,
        previous_until: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError>;
}
