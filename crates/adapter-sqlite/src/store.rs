//! Opening the database file, the single-instance lock, and the handle every port hangs off.

use crate::MIGRATOR;
use crate::error::{OpenError, store_error};
use crate::writer::{WriteTx, Writer};
use chrono::{DateTime, Utc};
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Connection settings.
#[derive(Debug, Clone)]
pub struct SqliteSettings {
    /// Most connections held (readers; writes take turns on one at a time).
    pub max_connections: u32,
    /// How long a caller waits for a connection, or SQLite for a lock, before the store counts as
    /// unavailable.
    pub acquire_timeout: Duration,
    /// Take the single-instance lock (`absync serve`). Short operator commands (`absync token …`,
    /// `absync migrate`) run beside a serving instance without it.
    pub exclusive: bool,
}

impl Default for SqliteSettings {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(5),
            exclusive: true,
        }
    }
}

/// absync's embedded SQLite store. Cheap to clone; implements every store port.
///
/// SQLite has one writer at a time: every write of this process goes through one connection owned by
/// the writer task (`writer.rs`), which applies concurrent writes in groups, one transaction and one
/// fsync per group (so no write transaction ever meets another and fails with `SQLITE_BUSY`), while
/// reads run in parallel on WAL snapshots from a pool. Another process may not use the same file
/// (see [`SqliteStore::open`]).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) writer: Writer,
    work: Arc<Notify>,
    /// Absence numbers taken from the counter ahead of need (gaps after a restart are harmless).
    pub(crate) spare_numbers: absync_application::ports::stored::SpareNumbers,
    /// Held for the store's life: the exclusive lock on `<file>.lock`.
    _instance: Option<Arc<File>>,
    /// A temporary database's folder, removed with the last clone of the store.
    _temporary: Option<Arc<TemporaryFolder>>,
}

/// The folder of a temporary database; removed when dropped.
#[derive(Debug)]
struct TemporaryFolder(PathBuf);

impl Drop for TemporaryFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The database file of a `sqlite://path` (or `sqlite:path`) URL; `None` for an in-memory URL.
///
/// # Errors
/// [`OpenError::Url`] when it is not a SQLite URL.
pub fn database_path(url: &str) -> Result<Option<PathBuf>, OpenError> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| OpenError::Url(format!("{url:?} does not start with sqlite://")))?;
    let path = rest.split('?').next().unwrap_or_default();
    if path.is_empty() {
        return Err(OpenError::Url(format!("{url:?} names no file")));
    }
    if path == ":memory:" || rest.contains("mode=memory") {
        return Ok(None);
    }
    Ok(Some(PathBuf::from(path)))
}

fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// Takes the exclusive lock of `database`'s instance, creating its folder first.
fn lock_instance(database: &Path) -> Result<File, OpenError> {
    if let Some(folder) = database.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| OpenError::Io(folder.to_owned(), e))?;
    }
    let path = lock_path(database);
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| OpenError::Io(path.clone(), e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::InUse(database.to_owned())),
        Err(std::fs::TryLockError::Error(e)) => Err(OpenError::Io(path, e)),
    }
}

impl SqliteStore {
    /// Opens (creating it and its folder if missing) the database of `url` (`sqlite://path/to/file.db`)
    /// in WAL mode with `synchronous=FULL`, taking its single-instance lock when
    /// [`SqliteSettings::exclusive`].
    ///
    /// # Errors
    /// [`OpenError::InUse`] when another process has the file open; [`OpenError`] otherwise when the
    /// URL is invalid or the file cannot be opened.
    pub async fn open(url: &str, settings: &SqliteSettings) -> Result<Self, OpenError> {
        let Some(path) = database_path(url)? else {
            return Self::open_temporary().await;
        };
        let lock = if settings.exclusive {
            Some(lock_instance(&path)?)
        } else {
            if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(folder).map_err(|e| OpenError::Io(folder.to_owned(), e))?;
            }
            None
        };
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            // WAL: readers never block the writer nor each other. FULL: a commit is on disk (WAL
            // synced) before it is acknowledged, so an accepted absence survives a power cut, not
            // just a crash of the process (NORMAL would keep it only across process crashes).
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(settings.acquire_timeout)
            // The pool's connections read (and the lent one writes rarely): a small page cache
            // each, since the operating system caches the file anyway and many readers with
            // SQLite's default 2 MiB each would dominate the service's resident memory.
            .pragma("cache_size", "-512");
        Self::open_with(&path, options, true, settings, lock, None).await
    }

    async fn open_with(
        path: &Path,
        options: SqliteConnectOptions,
        synchronous_full: bool,
        settings: &SqliteSettings,
        lock: Option<File>,
        temporary: Option<TemporaryFolder>,
    ) -> Result<Self, OpenError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options.clone())
            .await
            .map_err(|e| OpenError::Open(path.to_owned(), e))?;
        let writer = Writer::start(
            path.to_owned(),
            synchronous_full,
            settings.acquire_timeout,
            options,
        )
        .await
        .map_err(|e| OpenError::Writer(path.to_owned(), Box::new(e)))?;
        Ok(Self {
            pool,
            writer,
            work: Arc::new(Notify::new()),
            spare_numbers: absync_application::ports::stored::SpareNumbers::default(),
            _instance: lock.map(Arc::new),
            _temporary: temporary.map(Arc::new),
        })
    }

    /// A private, migrated database in a new temporary folder (tests, `sqlite::memory:`), removed when
    /// the last clone of the store is dropped. Commits are not synced to disk: it is not meant to
    /// survive anything.
    ///
    /// # Errors
    /// [`OpenError`] when the folder or the database cannot be created.
    pub async fn open_temporary() -> Result<Self, OpenError> {
        let folder = std::env::temp_dir().join(format!("absync-{}", absync_store_core::new_uuid()));
        std::fs::create_dir_all(&folder).map_err(|e| OpenError::Io(folder.clone(), e))?;
        let folder = TemporaryFolder(folder);
        let path = folder.0.join("absync.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Off)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let settings = SqliteSettings {
            exclusive: false,
            ..SqliteSettings::default()
        };
        let store = Self::open_with(&path, options, false, &settings, None, Some(folder)).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// [`OpenError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), OpenError> {
        MIGRATOR.run(&self.pool).await.map_err(OpenError::Migrate)
    }

    /// Starts a write transaction of its own on the writer's connection, once the writer is free.
    /// `BEGIN IMMEDIATE`: the write lock is taken at the start, so a short command of another process
    /// (`absync token create`) makes this wait (busy timeout) instead of failing mid-way.
    pub(crate) async fn write(&self) -> Result<WriteTx, absync_application::ports::StoreError> {
        self.writer.lend().await
    }

    /// Caps the size the database file may grow to, in pages (`PRAGMA max_page_count`; `None` lifts
    /// the cap). Writes that would need more room fail as on a full disk: `UNAVAILABLE`, with nothing
    /// written. Returns the cap now in force. Used to simulate a full disk without privileges.
    ///
    /// # Errors
    /// [`absync_application::ports::StoreError::Unavailable`] when the writer cannot be reached.
    pub async fn limit_pages(
        &self,
        pages: Option<u64>,
    ) -> Result<u64, absync_application::ports::StoreError> {
        self.writer.limit_pages(pages).await
    }

    /// Resolves when a write in this process has queued or re-queued deliveries (or at once if one did
    /// since the last wait). One instance owns the file, so no other process can queue work.
    pub async fn work_queued(&self) {
        self.work.notified().await;
    }

    pub(crate) fn signal_work(&self) {
        self.work.notify_one();
    }

    /// Closes the pool, waiting for connections in use to be returned; the instance lock goes with
    /// the last clone of the store.
    pub async fn close(&self) {
        self.writer.close().await;
        self.pool.close().await;
    }
}

/// A time as stored: microseconds since 1970 UTC.
pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored time.
pub(crate) fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// Now, as stored.
pub(crate) fn now() -> i64 {
    micros(Utc::now())
}

#[async_trait::async_trait]
impl absync_application::ports::StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), absync_application::ports::StoreError> {
        if self.writer.out_of_space() {
            // Ready again once a write commits and the file may grow.
            return self.writer.probe_space().await;
        }
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_file() {
        assert_eq!(
            database_path("sqlite://./absync-data/absync.db").unwrap(),
            Some(PathBuf::from("./absync-data/absync.db"))
        );
        assert_eq!(
            database_path("sqlite:///var/lib/absync.db?mode=rwc").unwrap(),
            Some(PathBuf::from("/var/lib/absync.db"))
        );
        assert_eq!(database_path("sqlite::memory:").unwrap(), None);
        assert!(database_path("postgres://x").is_err());
        assert!(database_path("sqlite://").is_err());
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused() {
        let dir =
            std::env::temp_dir().join(format!("absync-lock-{}", absync_store_core::new_uuid()));
        let db = dir.join("absync.db");
        let first = lock_instance(&db).unwrap();
        assert!(matches!(lock_instance(&db), Err(OpenError::InUse(p)) if p == db));
        drop(first);
        assert!(lock_instance(&db).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
