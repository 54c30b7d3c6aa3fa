//! The stores the benchmark runs on: a fresh database per measurement, tokens issued beside the
//! running service, and the store-specific steps (settling after bulk writes, dropping).

use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a measurement's databases live.
#[derive(Debug, Clone)]
pub(crate) enum BenchStore {
    /// Databases on the PostgreSQL server of this URL (its database part is replaced).
    Postgres { server: String },
    /// Files in this folder.
    Sqlite { folder: PathBuf },
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
                Ok(format!(
                    "sqlite://{}",
                    folder.join(format!("{name}.db")).display()
                ))
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

    /// A token with every scope for tenant `bench`, issued as `absync token create` does, beside the
    /// running service.
    pub(crate) async fn token(&self, url: &str) -> anyhow::Result<String> {
        let issued = match self {
            Self::Postgres { .. } => {
                let store = PgStore::connect(url, &PoolSettings::default()).await?;
                let issued = TokenService::new(Arc::new(store.clone()))
                    .issue(
                        &TenantId::parse("bench")?,
                        &Scope::ALL,
                        Some("bench".into()),
                    )
                    .await;
                store.close().await;
                issued
            }
            Self::Sqlite { .. } => {
                let settings = SqliteSettings {
                    exclusive: false,
                    ..SqliteSettings::default()
                };
                let store = SqliteStore::open(url, &settings).await?;
                let issued = TokenService::new(Arc::new(store.clone()))
                    .issue(
                        &TenantId::parse("bench")?,
                        &Scope::ALL,
                        Some("bench".into()),
                    )
                    .await;
                store.close().await;
                issued
            }
        };
        Ok(issued?.token)
    }

    /// Brings the tables the workloads filled to a steady state (statistics fresh, dead rows and the
    /// write-ahead log cleaned up), as they are long after a burst, so the next measurement does not
    /// pay for the previous one's housekeeping on the same two cores.
    pub(crate) async fn settle(&self, url: &str) -> anyhow::Result<()> {
        match self {
            Self::Postgres { .. } => {
                let pool = sqlx::PgPool::connect(url).await?;
                sqlx::query(
                    "VACUUM (ANALYZE) deliveries, delivery_attempts, leave_events, leaves, absences",
                )
                .execute(&pool)
                .await?;
                sqlx::query("CHECKPOINT").execute(&pool).await?;
                pool.close().await;
            }
            Self::Sqlite { .. } => {
                let pool = sqlx::SqlitePool::connect(url).await?;
                sqlx::query("ANALYZE").execute(&pool).await?;
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&pool)
                    .await?;
                pool.close().await;
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        Ok(())
    }
}
