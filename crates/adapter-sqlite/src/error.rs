//! Translation of sqlx errors at the seam: nothing sqlx-specific crosses a port.

use absync_application::ports::StoreError;
use std::path::PathBuf;

/// The store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a SQLite URL.
    #[error("invalid SQLite URL: {0}")]
    Url(String),
    /// Another process holds the database file.
    #[error(
        "the SQLite database {} is in use by another absync process (SQLite serves one instance; \
         stop the other one, or use PostgreSQL to run several)",
        .0.display()
    )]
    InUse(PathBuf),
    /// A file or folder could not be created or opened.
    #[error("cannot open {}", .0.display())]
    Io(PathBuf, #[source] std::io::Error),
    /// SQLite could not open the database.
    #[error("cannot open the SQLite database {}", .0.display())]
    Open(PathBuf, #[source] sqlx::Error),
    /// The writer (its thread or its connections) could not start.
    #[error("cannot start the writer of the SQLite database {}", .0.display())]
    Writer(PathBuf, #[source] Box<dyn std::error::Error + Send + Sync>),
    /// The schema migrations failed.
    #[error("database migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// SQLite result codes that mean "not now": SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their
/// extended codes (the file is locked for longer than the busy timeout), SQLITE_IOERR (10) and
/// SQLITE_FULL (13) (the disk).
fn is_transient_code(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13))
}

/// Translates a sqlx error ([`absync_store_core::store_error`], with SQLite's transient codes).
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    absync_store_core::store_error(err, is_transient_code)
}

/// Translates an error of the writer's own connection (rusqlite), as [`store_error`] does for sqlx.
pub(crate) fn sqlite_error(err: rusqlite::Error) -> StoreError {
    let transient = matches!(&err, rusqlite::Error::SqliteFailure(failure, _)
        if matches!(failure.code,
            rusqlite::ErrorCode::DatabaseBusy
                | rusqlite::ErrorCode::DatabaseLocked
                | rusqlite::ErrorCode::SystemIoFailure
                | rusqlite::ErrorCode::DiskFull));
    if transient {
        StoreError::Unavailable(Box::new(err))
    } else {
        StoreError::Unexpected(Box::new(err))
    }
}

pub(crate) use absync_application::ports::stored::decode_error;
