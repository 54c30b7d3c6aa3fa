//! # absync-application
//!
//! The use cases of absync — ingest absences, manage subscriptions, dispatch due deliveries, issue and
//! check tokens — and the port traits they drive (stores, delivery queue, webhook sender, clock).
//!
//! This crate must never name an adapter technology: no sqlx, tonic, axum or reqwest types. It knows the
//! domain and its own ports; adapters implement the ports and bootstrap wires them together.

pub mod dispatch;
pub mod error;
pub mod failure;
#[cfg(any(test, feature = "test-fixtures"))]
pub mod fixtures;
pub mod health;
pub mod ingest;
pub mod ports;
pub mod subscriptions;
pub mod tokens;
pub mod tracking;

pub use dispatch::{DispatchSettings, Dispatcher, Wakeup};
pub use error::{ApplicationError, Field, FieldViolation};
pub use failure::{Failure, Severity, log_failure, logged};
pub use health::{
    HealthService, HealthWindow, HourFigures, SubscriptionHealth, SubscriptionSummary,
};
pub use ingest::{ChangeOutcome, ChangeResult, IngestService};
pub use subscriptions::{CreateSubscription, SubscriptionService, UpdateSubscription};
pub use tokens::{IssuedToken, Principal, TokenService};
pub use tracking::TrackingService;
