//! # absync-adapter-postgres
//!
//! The PostgreSQL implementation (sqlx) of absync's store ports: absences and the outbox write, the
//! subscription and token stores, and the delivery queue (claims with `FOR UPDATE SKIP LOCKED`).
//! The schema lives in `migrations/postgres` at the repository root and is embedded in [`MIGRATOR`].
//!
//! This crate must never hold business rules: it stores and loads what the application decides. Queries
//! are checked at run time (no live database is needed to build); every query is scoped by tenant.

mod absences;
mod batch;
mod deliveries;
mod error;
mod group;
mod statistics;
mod store;
mod subscriptions;
mod tokens;
mod tracking;

pub use deliveries::CLAIM;
pub use error::ConnectError;
pub use store::{PgStore, PoolSettings};

/// The embedded migrations of `migrations/postgres`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");
