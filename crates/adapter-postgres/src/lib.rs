//! # absync-adapter-postgres
//!
//! The PostgreSQL implementation (sqlx) of absync's store ports: absences and the outbox write (group
//! commit), and the delivery queue (claims with `FOR UPDATE SKIP LOCKED`, spending the rate limits'
//! token buckets only while some subscription may have one: `rate_limits.rs`). Delivery tracking and the
//! subscription and token stores are the store core's queries (`absync-store-core`), run by this
//! crate's [`absync_store_core::Engine`] (`engine.rs`: the dialect, the binding, transactions).
//! The schema lives in `migrations/postgres` at the repository root and is embedded in [`MIGRATOR`].
//!
//! This crate must never hold business rules: it stores and loads what the application decides. Queries
//! are checked at run time (no live database is needed to build); every query is scoped by tenant.

mod absences;
mod batch;
mod deliveries;
mod engine;
mod error;
mod group;
mod rate_limits;
mod statistics;
mod store;
mod subscriptions;
mod tokens;

pub use deliveries::{CLAIM, CLAIM_UNLIMITED};
pub use engine::PgWrite;
pub use error::ConnectError;
pub use rate_limits::RECHECK_EVERY;
pub use store::{PgStore, PoolSettings};

/// The embedded migrations of `migrations/postgres`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
