//! # absync-adapter-sqlite
//!
//! The embedded SQLite implementation (sqlx) of absync's store ports, so that absync runs from one
//! command with no database server: absences and the outbox write in groups on one writer, and the
//! delivery queue (claims with leases, per-leave order). Delivery tracking and the subscription and
//! token stores are the store core's queries (`absync-store-core`), run by this crate's
//! [`absync_store_core::Engine`] (`engine.rs`: the dialect, the binding, write turns). The schema
//! lives in `migrations/sqlite` at the repository root and is embedded in [`MIGRATOR`].
//!
//! SQLite serves one instance: [`SqliteStore::open`] takes an exclusive lock on `<file>.lock` and a
//! second process on the same file is refused. PostgreSQL (`absync-adapter-postgres`) is the store for
//! several instances. This crate holds no business rules; every query is scoped by tenant.

mod absences;
mod deliveries;
mod engine;
mod error;
mod store;
mod writer;

pub use engine::SqliteWrite;
pub use error::OpenError;
pub use store::{SqliteSettings, SqliteStore, database_path};

/// The embedded migrations of `migrations/sqlite`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
