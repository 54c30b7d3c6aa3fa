//! # absync-adapter-sqlite
//!
//! The embedded SQLite implementation (sqlx) of absync's store ports, so that absync runs from one
//! command with no database server: absences and the outbox write in one transaction, subscriptions,
//! tokens, the delivery queue (claims with leases, per-leave order) and tracking. The schema lives in
//! `migrations/sqlite` at the repository root and is embedded in [`MIGRATOR`].
//!
//! SQLite serves one instance: [`SqliteStore::open`] takes an exclusive lock on `<file>.lock` and a
//! second process on the same file is refused. PostgreSQL (`absync-adapter-postgres`) is the store for
//! several instances. This crate holds no business rules; every query is scoped by tenant.

mod absences;
mod deliveries;
mod error;
mod store;
mod subscriptions;
mod tokens;
mod tracking;
mod writer;

pub use error::OpenError;
pub use store::{SqliteSettings, SqliteStore, database_path};

/// The embedded migrations of `migrations/sqlite`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
