//! PostgreSQL's own counters for (h), read over a window from the server's own database (the one of
//! the server URL), not the measured one, so that the probe's reads are not counted:
//! `xact_commit + xact_rollback` of the measured database in `pg_stat_database` (every transaction:
//! the single-statement ones too, and those no statement shows, such as the `LISTEN`ing backend's
//! reading of each `NOTIFY`); the WAL written (`pg_current_wal_lsn()` before and after: server-wide, so
//! the transactions other databases ran meanwhile are counted beside it); and the statements of the
//! measured database in `pg_stat_statements`, when the server preloads it.
//!
//! `pg_stat_database` lags: a backend flushes its counts at most once a second, and an idle one that
//! flushed less than a second ago only after `PGSTAT_IDLE_INTERVAL` (10 s) — only the backend's own
//! `pg_stat_force_next_flush()` hurries it — or when it exits.

use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;

/// How long backends that just went idle may keep their counts unflushed (`PGSTAT_IDLE_INTERVAL`,
/// plus a second).
pub(crate) const IDLE_FLUSH: Duration = Duration::from_secs(11);
/// How long after its client left a backend has to flush its counts and exit.
pub(crate) const EXIT_FLUSH: Duration = Duration::from_millis(1500);

/// The counters' growth over a window.
#[derive(Debug)]
pub(crate) struct Growth {
    /// Transactions of the measured database (`pg_stat_database`).
    pub(crate) transactions: i64,
    /// WAL bytes written, server-wide.
    pub(crate) wal_bytes: i64,
    /// Transactions of every other database meanwhile (the WAL includes theirs), the probe's own
    /// few reads of the counters among them.
    pub(crate) other_transactions: i64,
    /// Statements of the measured database in `pg_stat_statements`, or why there is no count.
    pub(crate) statements: Result<i64, String>,
}

/// PostgreSQL's counters at one moment.
#[derive(Debug)]
pub(crate) struct Counters {
    /// `xact_commit + xact_rollback` of the measured database.
    transactions: i64,
    /// The same, summed over every other database.
    other_transactions: i64,
    /// `pg_current_wal_lsn()`.
    wal_lsn: String,
}

/// Reads PostgreSQL's counters for the measured database from the server's own database.
pub(crate) struct Probe {
    server: PgPool,
    /// The measured database's URL (for `pg_stat_statements`, which is read inside it).
    url: String,
    database: String,
    /// Whether `pg_stat_statements` can be read, or why not.
    statements: Result<(), String>,
}

impl Probe {
    /// Connects, and installs `pg_stat_statements` in the measured database when the server offers
    /// it; before the service starts, so these statements stay out of the counts.
    pub(crate) async fn prepare(server: &str, url: &str, database: &str) -> anyhow::Result<Self> {
        let statements = match PgConnection::connect(url).await {
            Ok(mut conn) => {
                let available = enable_statements(&mut conn).await;
                let _ = conn.close().await;
                available
            }
            Err(err) => Err(format!("cannot connect: {err}")),
        };
        Ok(Self {
            server: PgPool::connect(server).await?,
            url: url.to_owned(),
            database: database.to_owned(),
            statements,
        })
    }

    /// Empties `pg_stat_statements` for the measured database (when it can be read); if that fails,
    /// there is no count.
    pub(crate) async fn reset_statements(&mut self) {
        if self.statements.is_err() {
            return;
        }
        let reset = match PgConnection::connect(&self.url).await {
            Ok(mut conn) => {
                let reset = sqlx::query(RESET_STATEMENTS).execute(&mut conn).await;
                let _ = conn.close().await;
                reset.map(|_| ())
            }
            Err(err) => Err(err),
        };
        if let Err(err) = reset {
            self.statements = Err(format!("pg_stat_statements_reset: {err}"));
        }
    }

    pub(crate) async fn counters(&self) -> anyhow::Result<Counters> {
        let (transactions, other_transactions, wal_lsn): (i64, i64, String) = sqlx::query_as(
            "SELECT COALESCE((SELECT xact_commit + xact_rollback FROM pg_stat_database
                              WHERE datname = $1), 0)::bigint,
                    COALESCE((SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database
                              WHERE datname <> $1), 0)::bigint,
                    pg_current_wal_lsn()::text",
        )
        .bind(&self.database)
        .fetch_one(&self.server)
        .await?;
        Ok(Counters {
            transactions,
            other_transactions,
            wal_lsn,
        })
    }

    /// The counters' growth since `before`, and the statements `pg_stat_statements` counted.
    pub(crate) async fn growth_since(&self, before: &Counters) -> anyhow::Result<Growth> {
        let after = self.counters().await?;
        let (wal_bytes,): (i64,) =
            sqlx::query_as("SELECT pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn)::bigint")
                .bind(&after.wal_lsn)
                .bind(&before.wal_lsn)
                .fetch_one(&self.server)
                .await?;
        Ok(Growth {
            transactions: after.transactions - before.transactions,
            wal_bytes,
            other_transactions: after.other_transactions - before.other_transactions,
            statements: self.statements_counted().await,
        })
    }

    async fn statements_counted(&self) -> Result<i64, String> {
        self.statements.clone()?;
        let mut conn = PgConnection::connect(&self.url)
            .await
            .map_err(|e| e.to_string())?;
        let counted = sqlx::query_scalar(COUNT_STATEMENTS)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| e.to_string());
        let _ = conn.close().await;
        counted
    }

    pub(crate) async fn close(self) {
        self.server.close().await;
    }
}

/// Resets `pg_stat_statements` for the current database only.
const RESET_STATEMENTS: &str = "SELECT pg_stat_statements_reset(0, \
     (SELECT oid FROM pg_database WHERE datname = current_database()), 0)";

/// Statements run in the current database since the reset, the probe's own left out.
const COUNT_STATEMENTS: &str = "SELECT COALESCE(sum(calls), 0)::bigint FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND query NOT LIKE '%pg_stat_statements%'";

/// Creates `pg_stat_statements` in the database of `conn` and checks that it can be read: the
/// extension only counts when the server preloads it (`shared_preload_libraries`).
async fn enable_statements(conn: &mut PgConnection) -> Result<(), String> {
    let offered: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| e.to_string())?;
    if !offered {
        return Err("pg_stat_statements not installed".into());
    }
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&mut *conn)
        .await
        .map_err(|e| format!("CREATE EXTENSION pg_stat_statements: {e}"))?;
    sqlx::query(RESET_STATEMENTS)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|_| "pg_stat_statements not loaded".into())
}
