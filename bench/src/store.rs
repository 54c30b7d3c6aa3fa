//! The stores the benchmark runs on: a fresh database per measurement, migrations, tokens and
//! subscriptions written through the store adapter beside (or before) the running service, and the
//! store-specific steps (settling after bulk writes, dropping).

use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_application::TokenService;
use absync_application::ports::{NewSubscription, SubscriptionStore, TokenStore};
use absync_domain::{DestinationUrl, EventFilter, PayloadFormat, Scope, SigningSecret, TenantId};
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The tenant every measurement acts for.
pub(crate) const TENANT: &str = "bench";

/// The file of the SQLite database `name` in `folder`.
pub(crate) fn sqlite_file(folder: &Path, name: &str) -> PathBuf {
    folder.join(format!("{name}.db"))
}

/// Where a measurement's databases live.
#[derive(Debug, Clone)]
pub(crate) enum BenchStore {
    /// Databases on the PostgreSQL server of this URL (its database part is replaced).
    Postgres { server: String },
    /// Files in this folder.
    Sqlite { folder: PathBuf },
}

/// A store adapter opened on one database, without SQLite's single-instance lock, as `absync token …`
/// opens it beside a serving instance.
enum Adapter {
    Postgres(PgStore),
    Sqlite(SqliteStore),
}

impl Adapter {
    fn tokens(&self) -> Arc<dyn TokenStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    fn subscriptions(&self) -> Arc<dyn SubscriptionStore> {
        match self {
            Self::Postgres(store) => Arc::new(store.clone()),
            Self::Sqlite(store) => Arc::new(store.clone()),
        }
    }

    async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Self::Postgres(store) => store.migrate().await?,
            Self::Sqlite(store) => store.migrate().await?,
        }
        Ok(())
    }

    async fn close(self) {
        match self {
            Self::Postgres(store) => store.close().await,
            Self::Sqlite(store) => store.close().await,
        }
    }
}

impl BenchStore {
    /// `postgres` or `sqlite`.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::Sqlite { .. } => "sqlite",
        }
    }

    /// The URL of a fresh database called `name` (absync or the caller migrates it).
    pub(crate) async fn fresh(&self, name: &str) -> anyhow::Result<String> {
        match self {
            Self::Postgres { server } => {
                self.discard(name).await?;
                let (prefix, _) = server
                    .rsplit_once('/')
                    .context("the PostgreSQL URL ends with /database")?;
                Ok(format!("{prefix}/{name}"))
            }
            Self::Sqlite { folder } => {
                self.discard(name).await?;
                std::fs::create_dir_all(folder)?;
                Ok(format!("sqlite://{}", sqlite_file(folder, name).display()))
            }
        }
    }

    /// Removes the database `name`.
    pub(crate) async fn discard(&self, name: &str) -> anyhow::Result<()> {
        match self {
            Self::Postgres { server } => {
                let pool = sqlx::PgPool::connect(server).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&pool)
                    .await?;
                pool.close().await;
            }
            Self::Sqlite { folder } => {
                for suffix in ["db", "db-wal", "db-shm", "db.lock"] {
                    let _ = std::fs::remove_file(folder.join(format!("{name}.{suffix}")));
                }
            }
        }
        Ok(())
    }

    /// The store adapter on `url` (the database is created if missing, not migrated).
    async fn open(&self, url: &str) -> anyhow::Result<Adapter> {
        Ok(match self {
            Self::Postgres { .. } => {
                Adapter::Postgres(PgStore::connect(url, &PoolSettings::default()).await?)
            }
            Self::Sqlite { .. } => {
                let settings = SqliteSettings {
                    exclusive: false,
                    ..SqliteSettings::default()
                };
                Adapter::Sqlite(SqliteStore::open(url, &settings).await?)
            }
        })
    }

    /// Applies absync's migrations to the database of `url`, as `absync migrate` does.
    pub(crate) async fn migrate(&self, url: &str) -> anyhow::Result<()> {
        let adapter = self.open(url).await?;
        let migrated = adapter.migrate().await;
        adapter.close().await;
        migrated
    }

    /// A token with every scope for [`TENANT`], issued as `absync token create` does (which also
    /// creates the tenant), beside the running service or before it starts.
    pub(crate) async fn token(&self, url: &str) -> anyhow::Result<String> {
        let adapter = self.open(url).await?;
        let issued = TokenService::new(adapter.tokens())
            .issue(&TenantId::parse(TENANT)?, &Scope::ALL, Some("bench".into()))
            .await;
        adapter.close().await;
        Ok(issued?.token)
    }

    /// Subscribes [`TENANT`] to every leave event in the `leaves` format at `destination`, through
    /// the store as `CreateSubscription` does (without the service's destination checks); returns
    /// the subscription's id.
    pub(crate) async fn subscribe(&self, url: &str, destination: &str) -> anyhow::Result<String> {
        let adapter = self.open(url).await?;
        let created = adapter
            .subscriptions()
            .create(NewSubscription {
                tenant: TenantId::parse(TENANT)?,
                payload_format: PayloadFormat::Leaves,
                destination: DestinationUrl::parse(destination, true)?,
                authorization: None,
                event_filter: EventFilter::All,
                valid_until: None,
                signing_secret: SigningSecret::from_key([0x5a; 32]),
                max_per_second: None,
            })
            .await;
        adapter.close().await;
        Ok(created?.id.as_str().to_owned())
    }

    /// How many deliveries of the database of `url` succeeded.
    pub(crate) async fn succeeded_deliveries(&self, url: &str) -> anyhow::Result<i64> {
        const COUNT: &str = "SELECT count(*) FROM deliveries WHERE status = 'succeeded'";
        let (count,): (i64,) = match self {
            Self::Postgres { .. } => {
                let pool = sqlx::PgPool::connect(url).await?;
                let count = sqlx::query_as(COUNT).fetch_one(&pool).await;
                pool.close().await;
                count?
            }
            Self::Sqlite { .. } => {
                let pool = sqlx::SqlitePool::connect(url).await?;
                let count = sqlx::query_as(COUNT).fetch_one(&pool).await;
                pool.close().await;
                count?
            }
        };
        Ok(count)
    }

    /// Brings the tables the workloads filled to a steady state (statistics fresh, dead rows and the
    /// write-ahead log cleaned up), as they are long after a burst, so the next measurement does not
    /// pay for the previous one's housekeeping on the same two cores.
    pub(crate) async fn settle(&self, url: &str) -> anyhow::Result<()> {
        let statement = match self {
            Self::Postgres { .. } => {
                "VACUUM (ANALYZE) deliveries, delivery_attempts, leave_events, leaves, absences"
            }
            Self::Sqlite { .. } => "ANALYZE",
        };
        self.execute(url, statement).await?;
        self.quiesce(url).await
    }

    /// Writes out what earlier work left to flush (PostgreSQL: a checkpoint; SQLite: the WAL copied
    /// into the database and truncated), and waits a second, so the next measurement starts quiet.
    pub(crate) async fn quiesce(&self, url: &str) -> anyhow::Result<()> {
        let statement = match self {
            Self::Postgres { .. } => "CHECKPOINT",
            Self::Sqlite { .. } => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        self.execute(url, statement).await?;
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Ok(())
    }

    /// Runs one statement on the database of `url`.
    async fn execute(&self, url: &str, statement: &str) -> anyhow::Result<()> {
        match self {
            Self::Postgres { .. } => {
                let pool = sqlx::PgPool::connect(url).await?;
                let done = sqlx::query(statement).execute(&pool).await;
                pool.close().await;
                done?;
            }
            Self::Sqlite { .. } => {
                let pool = sqlx::SqlitePool::connect(url).await?;
                let done = sqlx::query(statement).execute(&pool).await;
                pool.close().await;
                done?;
            }
        }
        Ok(())
    }
}
