//! The subscription store.

use super::StoreError;
use super::tracking::CancelReason;
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, MaxPerSecond, PayloadFormat, SigningSecret,
    SubscriptionId, SubscriptionStatus, TenantId,
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
    /// The most deliveries per second over every instance; `None`: unlimited.
    pub max_per_second: Option<MaxPerSecond>,
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
    /// New rate limit (`Some(None)`: unlimited).
    pub max_per_second: Option<Option<MaxPerSecond>>,
}

/// Where a page of subscriptions starts: after this one, in (created_at, id) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionCursor {
    /// Its creation time.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: SubscriptionId,
}

/// What an operator sees of a subscription's lifecycle, at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubscriptionState {
    /// Enabled, not expired: its deliveries are sent.
    Active,
    /// Paused: its deliveries queue up until it is resumed.
    Paused,
    /// Disabled (by an operator, or by Protime's lifecycle): it receives nothing new.
    Disabled,
    /// Past its `valid_until`: it receives nothing new.
    Expired,
    /// Deleted: its history stays.
    Deleted,
}

impl SubscriptionState {
    /// Every state, in the order a filter offers them.
    pub const ALL: [Self; 5] = [
        Self::Active,
        Self::Paused,
        Self::Disabled,
        Self::Expired,
        Self::Deleted,
    ];

    /// `active`, `paused`, `disabled`, `expired` or `deleted`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
            Self::Expired => "expired",
            Self::Deleted => "deleted",
        }
    }

    /// Parses [`SubscriptionState::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// Which page of a tenant's subscriptions to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionQuery {
    /// Only those in this state at `now`; `None`: every subscription not deleted.
    pub state: Option<SubscriptionState>,
    /// The time the states are taken at.
    pub now: DateTime<Utc>,
    /// Start after this one.
    pub after: Option<SubscriptionCursor>,
    /// At most this many.
    pub limit: u32,
}

impl SubscriptionQuery {
    /// The first `limit` undeleted subscriptions.
    #[must_use]
    pub fn new(now: DateTime<Utc>, limit: u32) -> Self {
        Self {
            state: None,
            now,
            after: None,
            limit,
        }
    }

    /// Only those in `state`.
    #[must_use]
    pub fn in_state(mut self, state: Option<SubscriptionState>) -> Self {
        self.state = state;
        self
    }

    /// Starting after `after`.
    #[must_use]
    pub fn after(mut self, after: Option<SubscriptionCursor>) -> Self {
        self.after = after;
        self
    }
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
    /// Enabled, disabled or paused.
    pub status: SubscriptionStatus,
    /// When it stops receiving new deliveries.
    pub valid_until: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// The secret deliveries are signed with. Never shown again after creation or rotation.
    pub signing_secret: SigningSecret,
    /// The secret a rotation replaced, while it still signs.
    pub previous_secret: Option<PreviousSecret>,
    /// The most deliveries per second over every instance; `None`: unlimited.
    pub max_per_second: Option<MaxPerSecond>,
    /// When the current signing secret was made (at creation, or by the last rotation).
    pub secret_created_at: DateTime<Utc>,
    /// Since when it is paused, while it is.
    pub paused_since: Option<DateTime<Utc>>,
    /// When it was deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Subscription {
    /// Its state at `now`, as an operator sees it.
    #[must_use]
    pub fn state_at(&self, now: DateTime<Utc>) -> SubscriptionState {
        if self.deleted_at.is_some() {
            SubscriptionState::Deleted
        } else if self.status == SubscriptionStatus::Disabled {
            SubscriptionState::Disabled
        } else if self.valid_until.is_some_and(|until| until <= now) {
            SubscriptionState::Expired
        } else if self.status == SubscriptionStatus::Paused {
            SubscriptionState::Paused
        } else {
            SubscriptionState::Active
        }
    }

    /// True when new events are to be delivered to it at `now` (a paused subscription queues them).
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

    /// A page of the tenant's subscriptions in (created_at, id) order: those in the query's state,
    /// or every undeleted one.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn page(
        &self,
        tenant: &TenantId,
        query: SubscriptionQuery,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Applies `changes` to one of the tenant's undeleted subscriptions; `None` when there is none.
    /// Setting the status to `Paused` keeps the time it was first paused; any other status ends the
    /// pause, and the dispatchers are woken to send what queued up meanwhile.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn update(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        changes: SubscriptionChanges,
    ) -> Result<Option<Subscription>, StoreError>;

    /// One of the tenant's subscriptions, deleted ones included (see [`Subscription::deleted_at`]).
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
