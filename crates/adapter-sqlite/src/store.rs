//! Opening the database file, the single-instance lock, and the handle every port hangs off.

use crate::MIGRATOR;
use crate::error::{OpenError, store_error};
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, MutexGuard, Notify};

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
/// SQLite has one writer at a time: this process's writes take turns on an async mutex (so no write
/// transaction ever meets another and fails with `SQLITE_BUSY`), while reads run in parallel on
/// WAL snapshots. Another process may not use the same file (see [`SqliteStore::open`]).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    writer: Arc<Mutex<()>>,
    work: Arc<Notify>,
    /// Held for the store's life: the exclusive lock on `<file>.lock`.
    _instance: Option<Arc<File>>,
}

/// A write transaction, holding this process's write turn until it ends.
pub(crate) struct WriteTx<'a> {
    pub(crate) tx: Transaction<'static, Sqlite>,
    _turn: MutexGuard<'a, ()>,
}

impl WriteTx<'_> {
    pub(crate) async fn commit(self) -> Result<(), absync_application::ports::StoreError> {
        self.tx.commit().await.map_err(store_error)
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
            return Self::open_in_memory().await;
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
            .busy_timeout(settings.acquire_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(settings.max_connections.max(1))
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::Open(path.clone(), e))?;
        Ok(Self::from_pool(pool, lock))
    }

    /// A private database in memory (tests): one connection, gone when the store is dropped.
    ///
    /// # Errors
    /// [`OpenError::Open`] when SQLite cannot start.
    pub async fn open_in_memory() -> Result<Self, OpenError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| OpenError::Open(PathBuf::from(":memory:"), e))?
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| OpenError::Open(PathBuf::from(":memory:"), e))?;
        let store = Self::from_pool(pool, None);
        store.migrate().await?;
        Ok(store)
    }

    fn from_pool(pool: SqlitePool, lock: Option<File>) -> Self {
        Self {
            pool,
            writer: Arc::new(Mutex::new(())),
            work: Arc::new(Notify::new()),
            _instance: lock.map(Arc::new),
        }
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// [`OpenError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), OpenError> {
        MIGRATOR.run(&self.pool).await.map_err(OpenError::Migrate)
    }

    /// Starts a write transaction once it is this process's turn to write.
    pub(crate) async fn write(&self) -> Result<WriteTx<'_>, absync_application::ports::StoreError> {
        let turn = self.writer.lock().await;
        // IMMEDIATE: the write lock is taken at the start, so a short command of another process
        // (`absync token create`) makes this wait (busy timeout) instead of failing mid-way.
        let tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;
        Ok(WriteTx { tx, _turn: turn })
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

/// A new random (version 4) UUID in text form.
pub(crate) fn new_uuid() -> String {
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

#[async_trait::async_trait]
impl absync_application::ports::StoreHealth for SqliteStore {
    async fn ping(&self) -> Result<(), absync_application::ports::StoreError> {
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
    fn uuids_look_like_uuids() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, new_uuid());
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("absync-lock-{}", new_uuid()));
        let db = dir.join("absync.db");
        let first = lock_instance(&db).unwrap();
        assert!(matches!(lock_instance(&db), Err(OpenError::InUse(p)) if p == db));
        drop(first);
        assert!(lock_instance(&db).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
