//! The store, chosen by the database URL's scheme: `sqlite://path` (embedded, one instance; the
//! default) or `postgres://…` (a server, any number of instances).

use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_application::ports::{
    AbsenceStore, DeliveryQueue, DeliveryTracking, HealthStore, StoreHealth, SubscriptionStore,
    TokenStore,
};
use anyhow::{Context, bail};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The default database: a SQLite file beside the working directory, created on first start.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./absync-data/absync.db";

/// The connections `serve` holds at most unless configured: 16 on PostgreSQL; 4 on SQLite, where they
/// only read (every write goes through the store's one writer), and where more reader threads than a
/// small machine's cores cost memory and throughput (measured with `cargo xtask bench`: 16 readers,
/// 38.5 MB peak and 3,123 unit deliveries/s; 4 readers, 32.0 MB and 3,680/s; 2 readers, 2,807/s).
#[must_use]
pub fn default_max_connections(url: &str) -> u32 {
    if url.starts_with("sqlite:") { 4 } else { 16 }
}

/// How the store is opened.
#[derive(Debug, Clone, Copy)]
pub struct StoreSettings {
    /// Most connections held.
    pub max_connections: u32,
    /// How long a call waits for a connection (or a lock) before the store counts as unavailable.
    pub acquire_timeout: Duration,
    /// For `serve`: take SQLite's single-instance lock. Short operator commands do not.
    pub exclusive: bool,
}

/// One opened store.
#[derive(Debug, Clone)]
pub enum Store {
    /// PostgreSQL.
    Postgres(PgStore),
    /// Embedded SQLite.
    Sqlite(SqliteStore),
}

/// Every store port, for wiring the use cases.
#[derive(Clone)]
pub struct Ports {
    /// Absences and the outbox.
    pub absences: Arc<dyn AbsenceStore>,
    /// Subscriptions.
    pub subscriptions: Arc<dyn SubscriptionStore>,
    /// The delivery queue.
    pub queue: Arc<dyn DeliveryQueue>,
    /// Tracking.
    pub tracking: Arc<dyn DeliveryTracking>,
    /// Tokens.
    pub tokens: Arc<dyn TokenStore>,
    /// Readiness.
    pub health: Arc<dyn StoreHealth>,
    /// Subscriptions' attempt history, for their health figures.
    pub attempts: Arc<dyn HealthStore>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

fn ports<S>(store: S) -> Ports
where
    S: AbsenceStore
        + SubscriptionStore
        + DeliveryQueue
        + DeliveryTracking
        + TokenStore
        + StoreHealth
        + HealthStore
        + 'static,
{
    let shared = Arc::new(store);
    Ports {
        absences: shared.clone(),
        subscriptions: shared.clone(),
        queue: shared.clone(),
        tracking: shared.clone(),
        tokens: shared.clone(),
        health: shared.clone(),
        attempts: shared,
    }
}

impl Store {
    /// Opens the store of `url` (creating the database if missing) and applies its migrations.
    ///
    /// # Errors
    /// An unknown scheme, an unreachable server, a SQLite file in use by another `absync serve`, or
    /// a failed migration.
    pub async fn open(url: &str, settings: StoreSettings) -> anyhow::Result<Self> {
        let store = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let store = PgStore::connect(
                url,
                &PoolSettings {
                    max_connections: settings.max_connections,
                    acquire_timeout: settings.acquire_timeout,
                },
            )
            .await
            .context("opening the PostgreSQL database (ABSYNC_DATABASE_URL)")?;
            store
                .migrate()
                .await
                .context("applying database migrations")?;
            Self::Postgres(store)
        } else if url.starts_with("sqlite:") {
            let store = SqliteStore::open(
                url,
                &SqliteSettings {
                    max_connections: settings.max_connections,
                    acquire_timeout: settings.acquire_timeout,
                    exclusive: settings.exclusive,
                },
            )
            .await
            .context("opening the SQLite database (ABSYNC_DATABASE_URL)")?;
            store
                .migrate()
                .await
                .context("applying database migrations")?;
            Self::Sqlite(store)
        } else {
            bail!(
                "ABSYNC_DATABASE_URL must start with postgres:// or sqlite:// (for example {DEFAULT_DATABASE_URL})"
            );
        };
        Ok(store)
    }

    /// Which kind of store this is (for logs).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Postgres(_) => "postgres",
            Self::Sqlite(_) => "sqlite",
        }
    }

    /// Every port of the store.
    #[must_use]
    pub fn ports(&self) -> Ports {
        match self {
            Self::Postgres(store) => ports(store.clone()),
            Self::Sqlite(store) => ports(store.clone()),
        }
    }

    /// Resolves when new deliveries are queued (in this process; with PostgreSQL, in any process).
    pub async fn work_queued(&self) {
        match self {
            Self::Postgres(store) => store.work_queued().await,
            Self::Sqlite(store) => store.work_queued().await,
        }
    }

    /// Background tasks the store needs while serving, until `stop` turns true: PostgreSQL relays
    /// `LISTEN/NOTIFY` between instances; SQLite has a single instance and needs none.
    #[must_use]
    pub fn background(&self, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        match self {
            Self::Postgres(store) => vec![
                tokio::spawn(store.clone().relay_notifications(stop.clone())),
                tokio::spawn(store.clone().announce_queued_work(stop.clone())),
                tokio::spawn(store.clone().keep_statistics(stop.clone())),
            ],
            Self::Sqlite(_) => Vec::new(),
        }
    }

    /// Closes the store's connections.
    pub async fn close(&self) {
        match self {
            Self::Postgres(store) => store.close().await,
            Self::Sqlite(store) => store.close().await,
        }
    }
}
