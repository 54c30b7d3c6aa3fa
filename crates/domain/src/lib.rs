//! # absync-domain
//!
//! The rules of absence synchronisation, as pure data and functions: what an absence is, how it is split
//! into half-day *leaves*, which leave events a change means, which subscription wants which event, the
//! retry cascade, and the exact wire payloads subscribers receive.
//!
//! This crate must never do I/O: no async, no clock, no randomness, no database, HTTP or gRPC types.
//! Callers pass in "now" and any identifiers; every function here is deterministic.

pub mod absence;
pub mod auth;
pub mod calendar;
pub mod destination;
pub mod event;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
pub mod ids;
pub mod leave;
pub mod limits;
pub mod payload;
pub mod period;
pub mod retry;
pub mod revision;
pub mod signing;
pub mod subscription;
pub mod timestamp;

pub use absence::{
    Absence, AbsenceError, AbsenceParts, AbsenceStatus, Definition, LeaveAccount, Owner,
};
pub use auth::{Scope, ScopeError};
pub use calendar::WorkingCalendar;
pub use destination::{
    AddressClass, AllowEntryError, DestinationPolicy, EmbeddedIpv4, ForbiddenAddress, Ipv4Form,
};
pub use event::{Deletion, DeletionReason, LeaveEvent, LeaveEventRecord, derive_events};
pub use ids::{
    AbsenceId, AbsenceNumber, ChangeVersion, DeliveryId, IdError, LeaveNumber, Revision,
    SubscriptionId, TenantId,
};
pub use leave::{Leave, LeaveKey, LeaveKeyError, LeaveState, split_into_leaves};
pub use payload::{RenderContext, WebhookMessage};
pub use period::{Half, HalfDay, HalfDayRange, HourSlot, Period, PeriodError};
pub use retry::{AttemptVerdict, RetryPolicy, RetryPolicyError};
pub use revision::{RevisionDecision, decide_revision};
pub use signing::{SigningSecret, SigningSecretError, signature_header};
pub use subscription::{
    AuthorizationValue, AuthorizationValueError, DestinationUrl, DestinationUrlError, EventFilter,
    MaxPerSecond, MaxPerSecondError, PayloadFormat, SubscriptionStatus,
};
pub use timestamp::LocalTimestamp;
