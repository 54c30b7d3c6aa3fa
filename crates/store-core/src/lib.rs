//! # absync-store-core
//!
//! What the PostgreSQL and SQLite stores share, so that it is written once: the shapes of the rows
//! they read and the decoding of those rows into the ports' types. A row shape derives
//! [`sqlx::FromRow`] for any database whose column types decode into its fields; where the two
//! stores keep a value differently (a time is a `timestamptz` in PostgreSQL and microseconds in an
//! `INTEGER` in SQLite), a field type of this crate decodes either ([`Stamp`], [`ScopeNames`]).
//!
//! What stays in each store is what really differs: SQL text, placeholders, column types and the write
//! strategy. docs/extending.md walks a new store through it.
//!
//! **Dependency rule:** this crate names the application's ports and the domain, and `sqlx`; never an
//! adapter, nor a transport (tonic, axum, reqwest).

pub mod rows;
mod scopes;
mod stamp;

pub use scopes::ScopeNames;
pub use stamp::Stamp;
