//! The delivery queue: due deliveries are claimed, sent, and their attempts recorded.

use super::StoreError;
use super::sender::SendOutcome;
use super::trace::TraceParent;
use absync_domain::{
    AuthorizationValue, ChangeVersion, DeliveryId, DestinationUrl, LeaveEventRecord, PayloadFormat,
    SigningSecret, SubscriptionId, TenantId,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::time::Duration;

/// A delivery claimed for sending, with everything needed to render and send it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    /// The delivery.
    pub id: DeliveryId,
    /// Whose.
    pub tenant: TenantId,
    /// To which subscription.
    pub subscription: SubscriptionId,
    /// In which format.
    pub payload_format: PayloadFormat,
    /// Where.
    pub destination: DestinationUrl,
    /// The `Authorization` value to send, if any.
    pub authorization: Option<AuthorizationValue>,
    /// The event's change version.
    pub change_version: ChangeVersion,
    /// The event.
    pub record: LeaveEventRecord,
    /// Attempts made before this one.
    pub attempts_made: u32,
    /// The secrets that sign it: the subscription's current one, and the previous one during the 24 h
    /// after a rotation.
    pub signing_secrets: Vec<SigningSecret>,
    /// The trace of the change that queued it, if it was traced.
    pub traceparent: Option<TraceParent>,
}

/// What follows an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: done.
    Succeeded,
    /// Failed; try again at this time.
    RetryAt(DateTime<Utc>),
    /// Failed and out of attempts: it goes to the pending-tasks dashboard; with `disable_subscription`
    /// its subscription is disabled too (Protime's lifecycle).
    Failed {
        /// Disable the subscription.
        disable_subscription: bool,
    },
}

/// One attempt and its consequence.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    /// The delivery.
    pub delivery: DeliveryId,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration: Duration,
    /// What the receiver answered.
    pub outcome: SendOutcome,
    /// What happens next.
    pub next: NextStep,
}

/// What a claim asks for: which deliveries, and how long they are leased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    /// Deliveries due by then are claimable.
    pub now: DateTime<Utc>,
    /// The most deliveries claimed.
    pub limit: u32,
    /// When the leases of the claimed deliveries end.
    pub lease_until: DateTime<Utc>,
    /// Subscriptions none is claimed for (those the dispatcher has enough sends in flight for).
    pub skip: Vec<SubscriptionId>,
}

impl ClaimRequest {
    /// Up to `limit` deliveries due at `now`, leased until `lease_until`, of any subscription.
    #[must_use]
    pub fn new(now: DateTime<Utc>, limit: u32, lease_until: DateTime<Utc>) -> Self {
        Self {
            now,
            limit,
            lease_until,
            skip: Vec::new(),
        }
    }

    /// The same, claiming none for the subscriptions in `skip`.
    #[must_use]
    pub fn skipping(self, skip: Vec<SubscriptionId>) -> Self {
        Self { skip, ..self }
    }
}

/// Due deliveries and their attempts.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    /// Claims up to `claim.limit` deliveries due at `claim.now`, leasing them until
    /// `claim.lease_until`. Only the oldest unfinished delivery of each (subscription, leave) is
    /// eligible, and none of the subscriptions in `claim.skip`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`]; nothing is claimed then.
    async fn claim_due(&self, claim: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError>;

    /// Records attempts and moves each delivery to its next step, releasing its lease; disables the
    /// subscriptions `NextStep::Failed` asks to.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`]; the leases then expire and the
    /// deliveries are claimed again (at-least-once).
    async fn record(&self, reports: Vec<AttemptReport>) -> Result<(), StoreError>;

    /// When the earliest pending delivery is next due (`None` when nothing is pending), so an idle
    /// dispatcher can sleep exactly until then.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Releases the leases of claimed deliveries that were not attempted (shutdown), so another
    /// dispatcher may take them at once. No attempt is counted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`]; the leases then simply expire.
    async fn release(&self, deliveries: Vec<DeliveryId>) -> Result<(), StoreError>;

    /// Deletes succeeded and cancelled deliveries (and their attempts) last changed before `before`;
    /// failed ones are kept until processed, processed ones for audit. Returns how many were deleted.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn purge_finished(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Cancels (reason `subscription expired`) the waiting and pending deliveries of every
    /// subscription whose `valid_until` is at or before `now`, in one transaction. Claims already
    /// skip them; this takes them out of the queue and its counts. Returns how many were cancelled.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn cancel_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
}
