//! Table statistics when the server does not keep them.
//!
//! PostgreSQL plans every query from its table statistics, which autovacuum's autoanalyze keeps
//! current. With `autovacuum = off` (an operator's choice, or a server set up for tests) a new
//! database is never analyzed: absync's tables keep their "never analyzed" estimates while they grow,
//! and its plans stay those of empty tables. So while autovacuum is off, absync analyzes its own
//! tables when autoanalyze would have: once the rows changed since the last analyze exceed 50 plus
//! 10 % of the table (autovacuum's default thresholds). With autovacuum on it does nothing.
//!
//! Autovacuum throttles its work; this task instead keeps each ANALYZE small: it samples 3,000 rows
//! (statistics target 10) rather than the server's default 30,000, and keeps no statistics for the
//! payload columns (a migration sets them to 0). absync's plans need only row counts and the rough
//! spread of ids, statuses and times, which such a sample gives, and an ANALYZE then takes a few
//! milliseconds instead of taking a core for a tenth of a second in the middle of the traffic.

use crate::store::PgStore;
use std::time::Duration;

/// How often the statistics are looked at.
const EVERY: Duration = Duration::from_secs(5);

/// The statistics target of absync's own ANALYZE: 300 times this many rows are sampled.
const STATISTICS_TARGET: u32 = 10;

/// absync's tables, the only ones it analyzes.
const TABLES: [&str; 9] = [
    "tenants",
    "api_tokens",
    "absences",
    "leaves",
    "leave_events",
    "subscriptions",
    "deliveries",
    "delivery_attempts",
    "delivery_counts",
];

impl PgStore {
    /// Analyzes absync's tables whose statistics are stale, if autovacuum is off; returns the tables
    /// analyzed.
    ///
    /// # Errors
    /// The database's error (a lost connection: the next round tries again).
    pub async fn analyze_stale_tables(&self) -> Result<Vec<String>, sqlx::Error> {
        let autovacuum: bool = sqlx::query_scalar("SELECT current_setting('autovacuum')::bool")
            .fetch_one(&self.pool)
            .await?;
        if autovacuum {
            return Ok(Vec::new());
        }
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT relname::text FROM pg_stat_user_tables
             WHERE schemaname = current_schema() AND relname = ANY($1)
               AND n_mod_since_analyze > 50 + 0.1 * n_live_tup",
        )
        .bind(TABLES)
        .fetch_all(&self.pool)
        .await?;
        for table in &stale {
            // Only names of `TABLES` come back: safe to place in the statement.
            if TABLES.contains(&table.as_str()) {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT set_config('default_statistics_target', $1, true)")
                    .bind(STATISTICS_TARGET.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(&format!("ANALYZE {table}"))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
        }
        Ok(stale)
    }

    /// Runs [`PgStore::analyze_stale_tables`] every few seconds until `stop` turns true.
    pub async fn keep_statistics(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                () = tokio::time::sleep(EVERY) => {}
            }
            match self.analyze_stale_tables().await {
                Ok(tables) if !tables.is_empty() => {
                    tracing::debug!(?tables, "analyzed tables (autovacuum is off)");
                }
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "cannot refresh table statistics; will try again");
                }
            }
        }
    }
}
