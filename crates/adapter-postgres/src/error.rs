//! Translation of sqlx errors at the seam: nothing sqlx-specific crosses a port.

use absync_application::ports::StoreError;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The database URL is not valid.
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to PostgreSQL")]
    Connect(#[source] sqlx::Error),
    /// The schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// SQLSTATEs that mean "the server cannot do it right now" (nothing was written; the same call may
/// succeed later): connection exceptions (08), operator intervention such as a shutdown or a killed
/// backend (57P), a cancelled statement or a statement timeout (57014), insufficient resources (53).
fn is_transient_state(code: &str) -> bool {
    code.starts_with("08") || code.starts_with("57P") || code == "57014" || code.starts_with("53")
}

/// Translates a sqlx error ([`absync_store_core::store_error`], with PostgreSQL's transient states).
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    absync_store_core::store_error(err, is_transient_state)
}

pub(crate) use absync_application::ports::stored::decode_error;
