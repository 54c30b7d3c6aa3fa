//! Databases for tests: a fresh one per test, on the store the harness is asked for.
//!
//! `ABSYNC_E2E_STORE` chooses it: `postgres` (the default; a new database on the server of
//! `DATABASE_URL`) or `sqlite` (a new file in a temporary folder). Either is removed when the
//! [`TestDatabase`] is dropped (a PostgreSQL database of a test that panicked is kept for a look).

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection, PgConnection};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable that chooses the store of the e2e suite.
pub const STORE_VARIABLE: &str = "ABSYNC_E2E_STORE";

/// The stores absync runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A PostgreSQL server (`DATABASE_URL`).
    Postgres,
    /// An embedded SQLite file.
    Sqlite,
}

impl StoreKind {
    /// The store named by `ABSYNC_E2E_STORE` (`postgres` when unset).
    ///
    /// # Panics
    /// When it names another store.
    #[must_use]
    pub fn from_env() -> Self {
        match std::env::var(STORE_VARIABLE).as_deref() {
            Err(_) | Ok("" | "postgres") => Self::Postgres,
            Ok("sqlite") => Self::Sqlite,
            Ok(other) => panic!("{STORE_VARIABLE}={other:?}: expected postgres or sqlite"),
        }
    }
}

/// `DATABASE_URL` with its database replaced by `database`.
///
/// # Panics
/// When `DATABASE_URL` is unset or not a URL.
#[must_use]
pub fn url_for(database: &str) -> String {
    let mut url = url::Url::parse(&server_url()).expect("DATABASE_URL is a URL");
    url.set_path(&format!("/{database}"));
    url.into()
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").expect("DATABASE_URL is set (cargo xtask test sets it)")
}

/// A name no other test of any run uses: process id, a counter and the clock.
fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One test's own empty database (absync migrates it when it starts).
#[derive(Debug)]
pub struct TestDatabase {
    kind: StoreKind,
    url: String,
    /// The PostgreSQL database's name, or the SQLite file's folder.
    place: String,
}

impl TestDatabase {
    /// A fresh database on the store of `ABSYNC_E2E_STORE`.
    ///
    /// # Panics
    /// When the database cannot be created.
    pub async fn create() -> Self {
        Self::create_on(StoreKind::from_env()).await
    }

    /// A fresh database on `kind`.
    ///
    /// # Panics
    /// When the database cannot be created.
    pub async fn create_on(kind: StoreKind) -> Self {
        match kind {
            StoreKind::Postgres => {
                let name = unique_name("absync_e2e");
                let mut admin = PgConnection::connect(&server_url())
                    .await
                    .expect("connect to DATABASE_URL");
                sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                    .execute(&mut admin)
                    .await
                    .expect("create the test database");
                let _ = admin.close().await;
                Self {
                    kind,
                    url: url_for(&name),
                    place: name,
                }
            }
            StoreKind::Sqlite => {
                let folder = std::env::temp_dir().join(unique_name("absync-e2e"));
                std::fs::create_dir_all(&folder).expect("create the test folder");
                let url = format!("sqlite://{}", folder.join("absync.db").display());
                Self {
                    kind,
                    url,
                    place: folder.display().to_string(),
                }
            }
        }
    }

    /// Its store.
    #[must_use]
    pub fn kind(&self) -> StoreKind {
        self.kind
    }

    /// Its URL, for `absync serve --database-url`.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A small pool for a test's own queries (portable SQL: `$1` parameters, integers and text).
    ///
    /// # Panics
    /// When the database cannot be reached.
    pub async fn pool(&self) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPoolOptions::new()
            .max_connections(2)
            .connect(&self.url)
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self.kind {
            StoreKind::Sqlite => {
                let _ = std::fs::remove_dir_all(PathBuf::from(&self.place));
            }
            StoreKind::Postgres if !std::thread::panicking() => {
                let name = self.place.clone();
                // Drop runs inside the test's runtime: the removal gets a runtime of its own.
                let removal = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async {
                        if let Ok(mut admin) = PgConnection::connect(&server_url()).await {
                            let _ = sqlx::query(&format!(
                                "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                            ))
                            .execute(&mut admin)
                            .await;
                        }
                    });
                });
                let _ = removal.join();
            }
            StoreKind::Postgres => {}
        }
    }
}
