//! # absync-store-core
//!
//! What the PostgreSQL and SQLite stores share, so that it is written once:
//! - the shapes of the rows they read and their decoding into the ports' types ([`rows`]); where the
//!   two stores keep a value differently (a time is a `timestamptz` in PostgreSQL and microseconds in
//!   an SQLite `INTEGER`), a field type of this crate decodes either ([`Stamp`], [`ScopeNames`]);
//! - the queries of delivery tracking, subscriptions, tokens and the current leaves, with their
//!   filters, keyset paging and the decisions of which statement a change needs ([`tracking`],
//!   [`subscriptions`], [`tokens`], [`absences`]), run on any [`Engine`] and turned into port implementations by [`store_ports!`];
//! - the mapping of sqlx errors to the ports' error ([`store_error`]);
//! - the JSON payload columns as the stores' own versioned forms of the domain's values
//!   ([`stored_forms`]; version 1 is what the stores always wrote), never the domain's types.
//!
//! What stays in each store is what really differs: its [`Dialect`] (UUID casts, the clock,
//! locking), how it binds an [`Arg`], and its write strategy (group commit, the claim).
//! docs/extending.md walks a new store through it.
//!
//! **Dependency rule:** this crate names the application's ports and the domain, and `sqlx`; never an
//! adapter, nor a transport (tonic, axum, reqwest).

pub mod absences;
mod engine;
mod errors;
pub mod health;
mod ports;
pub mod rows;
mod scopes;
mod stamp;
mod statement;
pub mod stored_forms;
pub mod subscriptions;
pub mod tokens;
pub mod tracking;

pub use engine::{Dialect, Engine, RateLimitChange, Reads, Rows, WriteTx, read_all};
pub use errors::store_error;
pub use scopes::ScopeNames;
pub use stamp::Stamp;
pub use statement::{Arg, Statement};

/// What [`store_ports!`] expands to names, re-exported so that a store needs no extra dependency.
#[doc(hidden)]
pub mod reexport {
    pub use absync_application::ports;
    pub use absync_domain::{DeliveryId, Scope, SigningSecret, SubscriptionId, TenantId};
    pub use async_trait::async_trait;
    pub use chrono::{DateTime, Utc};
    pub use tracing::instrument;
}

/// A new random (version 4) UUID in text form: the id of a new subscription or token.
#[must_use]
pub fn new_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_ids_are_version_4_uuids() {
        let id = super::new_uuid();
        assert!(absync_domain::ids::is_uuid(&id), "{id}");
        assert_eq!(id.as_bytes()[14], b'4');
        assert_ne!(id, super::new_uuid());
    }
}
