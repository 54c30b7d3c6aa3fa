//! Delivery tracking: what was sent, to whom, how it went; the operator's re-sync and mark-processed.

use super::StoreError;
use super::deliveries::ClaimedDelivery;
use absync_domain::{DeliveryId, LeaveEvent, SubscriptionId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Behind an unfinished delivery of the same leave.
    Waiting,
    /// Due now or at its next retry.
    Pending,
    /// Delivered.
    Succeeded,
    /// Out of attempts: on the pending-tasks dashboard.
    Failed,
    /// Failed, then marked processed by an operator.
    Processed,
    /// Never to be sent: its subscription was deleted, disabled or expired first
    /// ([`DeliverySummary::cancel_reason`] says which). Purged by retention like a succeeded one.
    Cancelled,
}

impl DeliveryStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 6] = [
        Self::Waiting,
        Self::Pending,
        Self::Succeeded,
        Self::Failed,
        Self::Processed,
        Self::Cancelled,
    ];

    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Processed => "processed",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses [`DeliveryStatus::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "waiting" => Self::Waiting,
            "pending" => Self::Pending,
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            "processed" => Self::Processed,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

/// Why a delivery was cancelled: what happened to its subscription while it was still to be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CancelReason {
    /// The subscription was deleted.
    SubscriptionDeleted,
    /// The subscription was disabled (by an operator, or by Protime's lifecycle after a delivery
    /// exhausted its retries).
    SubscriptionDisabled,
    /// The subscription's `valid_until` passed.
    SubscriptionExpired,
}

impl CancelReason {
    /// The stored (and shown) reason: `subscription deleted`, `subscription disabled` or
    /// `subscription expired`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SubscriptionDeleted => "subscription deleted",
            Self::SubscriptionDisabled => "subscription disabled",
            Self::SubscriptionExpired => "subscription expired",
        }
    }

    /// Parses [`CancelReason::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "subscription deleted" => Self::SubscriptionDeleted,
            "subscription disabled" => Self::SubscriptionDisabled,
            "subscription expired" => Self::SubscriptionExpired,
            _ => return None,
        })
    }
}

/// A delivery's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySummary {
    /// The delivery.
    pub id: DeliveryId,
    /// To which subscription.
    pub subscription: SubscriptionId,
    /// The leave.
    pub leave_key: String,
    /// The event.
    pub event: LeaveEvent,
    /// Its change version.
    pub change_version: i64,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempts: u32,
    /// When it is next due (pending).
    pub next_attempt_at: DateTime<Utc>,
    /// The last answer's status, if any.
    pub last_http_status: Option<u16>,
    /// The last failure's kind, if no answer.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The operator's note, once processed.
    pub processed_note: Option<String>,
    /// Why it was cancelled, when it was.
    pub cancel_reason: Option<CancelReason>,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptSummary {
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// How long it took, in milliseconds.
    pub duration_ms: u32,
    /// The answer's status.
    pub http_status: Option<u16>,
    /// The failure's kind, if no answer.
    pub error_kind: Option<String>,
    /// A description of the failure.
    pub error_detail: Option<String>,
    /// The first 4 KiB of the answer.
    pub response_excerpt: Vec<u8>,
}

/// A delivery with what it carries and every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryDetail {
    /// The summary.
    pub summary: DeliverySummary,
    /// Everything needed to render the exact message.
    pub message: ClaimedDelivery,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptSummary>,
}

/// Failed deliveries of one subscription, for the pending-tasks dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingTask {
    /// The subscription.
    pub subscription: SubscriptionId,
    /// Its destination.
    pub destination: String,
    /// How many deliveries failed.
    pub failed: u64,
    /// When the oldest of them was queued.
    pub oldest: DateTime<Utc>,
    /// The latest failure's status or error kind.
    pub latest_error: String,
}

/// Why a re-sync was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResyncRefusal {
    /// A newer delivery of the same leave succeeded: re-sending this one would overwrite newer state.
    Superseded,
    /// A newer delivery of the same leave is still being delivered.
    NewerInFlight,
    /// Its subscription is deleted, disabled or expired: nothing of it is sent any more.
    SubscriptionInactive,
}

/// Filters of a delivery listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryFilter {
    /// Only this subscription's.
    pub subscription: Option<SubscriptionId>,
    /// Only in this status.
    pub status: Option<DeliveryStatus>,
    /// Only of this leave.
    pub leave_key: Option<String>,
    /// Only of this event.
    pub event: Option<LeaveEvent>,
    /// Only queued at or after.
    pub since: Option<DateTime<Utc>>,
}

/// The queue as a whole, for metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// How many deliveries are in each status.
    pub by_status: Vec<(DeliveryStatus, i64)>,
    /// Pending deliveries due now.
    pub due: i64,
    /// When the oldest due delivery became due.
    pub oldest_due: Option<DateTime<Utc>>,
}

/// Reads and operator actions on deliveries, each scoped by tenant.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DeliveryTracking: Send + Sync {
    /// Deliveries matching `filter`, newest first, with ids below `before` (keyset paging).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn list_deliveries(
        &self,
        tenant: &TenantId,
        filter: DeliveryFilter,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, StoreError>;

    /// One delivery with its message and attempts.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn get_delivery(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
    ) -> Result<Option<DeliveryDetail>, StoreError>;

    /// Makes a delivery due at `now` again (a failed or finished one goes back to pending). `Ok(None)`
    /// when the tenant has no such delivery; `Ok(Some(Err(_)))` when it may not be re-sent.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn resync(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        force: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<Result<DeliverySummary, ResyncRefusal>>, StoreError>;

    /// Marks a failed delivery processed, with an optional note. `None` when the tenant has no such
    /// failed delivery.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn mark_processed(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        note: Option<String>,
    ) -> Result<Option<DeliverySummary>, StoreError>;

    /// Re-syncs every failed delivery (of one subscription, if given) that is the latest of its leave;
    /// returns how many went back to pending.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn resync_failed(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;

    /// Deliveries (of one subscription, if given) changed at or after `since`, oldest change first.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn changed_since(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, StoreError>;

    /// The whole queue's numbers (all tenants), for the operator's metrics.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn queue_stats(&self, now: DateTime<Utc>) -> Result<QueueStats, StoreError>;

    /// Failed deliveries grouped by subscription, the group with the oldest delivery first (by
    /// subscription id among groups whose oldest were queued at one time).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn pending_tasks(&self, tenant: &TenantId) -> Result<Vec<PendingTask>, StoreError>;
}
