//! Port traits: what the use cases need from the outside world. Adapters implement them.
//!
//! Every port is a `Send + Sync` trait used as `Arc<dyn Port>`; mocks come from `mockall` under the
//! `mocks` feature (on for this crate's own tests).

pub mod absences;
pub mod clock;
pub mod deliveries;
pub mod metrics;
pub mod sender;
pub mod stored;
pub mod subscriptions;
pub mod tokens;
pub mod tracking;

pub use absences::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, OutboxEvent, StoredAbsence,
};
pub use clock::{Clock, SystemClock};
pub use deliveries::{AttemptReport, ClaimedDelivery, DeliveryQueue, NextStep};
pub use metrics::Metrics;
pub use sender::{
    DestinationGuard, DestinationRefused, OutboundRequest, SendErrorKind, SendOutcome,
    WebhookSender,
};
pub use subscriptions::{
    NewSubscription, PreviousSecret, Subscription, SubscriptionChanges, SubscriptionCursor,
    SubscriptionStore,
};
pub use tokens::{TokenRecord, TokenStore};
pub use tracking::{
    AttemptSummary, DeliveryDetail, DeliveryFilter, DeliveryStatus, DeliverySummary,
    DeliveryTracking, PendingTask, QueueStats, ResyncRefusal,
};

/// Whether the store answers (for readiness probes).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait::async_trait]
pub trait StoreHealth: Send + Sync {
    /// Succeeds when the store answers a trivial query.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// What a store adapter reports when it cannot do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row changed since it was read (optimistic concurrency); read again and retry.
    #[error("the record was changed concurrently")]
    Conflict,
    /// The store cannot be reached; nothing was written and the call is safe to retry.
    #[error("the store is unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Anything else.
    #[error("unexpected store error")]
    Unexpected(#[source] Box<dyn std::error::Error + Send + Sync>),
}
