//! Port traits: what the use cases need from the outside world. Adapters implement them.
//!
//! Every port is a `Send + Sync` trait used as `Arc<dyn Port>`; mocks come from `mockall` under the
//! `mocks` feature (on for this crate's own tests).

pub mod absences;
pub mod clock;
pub mod deliveries;
pub mod health;
pub mod metrics;
pub mod sender;
pub mod stored;
pub mod subscriptions;
pub mod tokens;
pub mod trace;
pub mod tracking;

pub use absences::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, LeaveQuery, OutboxEvent, StoredAbsence,
};
pub use clock::{Clock, SystemClock};
pub use deliveries::{AttemptReport, ClaimRequest, ClaimedDelivery, DeliveryQueue, NextStep};
pub use health::{AttemptTally, FailedAttempt, HealthStore};
pub use metrics::Metrics;
pub use sender::{
    DestinationCheckError, DestinationGuard, OutboundRequest, SendErrorKind, SendOutcome,
    WebhookSender,
};
pub use subscriptions::{
    NewSubscription, PreviousSecret, Subscription, SubscriptionChanges, SubscriptionCursor,
    SubscriptionQuery, SubscriptionState, SubscriptionStore,
};
pub use tokens::{TokenRecord, TokenStore};
pub use trace::{TraceContext, TraceParent};
pub use tracking::{
    AttemptSummary, CancelReason, DeliveryDetail, DeliveryFilter, DeliveryStatus, DeliverySummary,
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

/// A copy of another error's text, for the callers that share one failed batch.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct SharedFailure(String);

impl crate::failure::Failure for StoreError {
    fn code(&self) -> &'static str {
        match self {
            Self::Conflict => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Unexpected(_) => "unexpected",
        }
    }

    /// A [`StoreError::Conflict`] is a race the use case retries: [`Severity::Expected`]. The rest
    /// are faults of the store.
    ///
    /// [`Severity::Expected`]: crate::failure::Severity::Expected
    fn severity(&self) -> crate::failure::Severity {
        match self {
            Self::Conflict => crate::failure::Severity::Expected,
            Self::Unavailable(_) | Self::Unexpected(_) => crate::failure::Severity::Fault,
        }
    }
}

impl StoreError {
    /// The same kind of error, with the text of this one and its causes: for each caller whose
    /// request failed as part of one batch or group.
    #[must_use]
    pub fn copied(&self) -> Self {
        let mut text = String::new();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        match self {
            Self::Conflict => Self::Conflict,
            Self::Unavailable(_) => Self::Unavailable(Box::new(SharedFailure(text))),
            Self::Unexpected(_) => Self::Unexpected(Box::new(SharedFailure(text))),
        }
    }
}
