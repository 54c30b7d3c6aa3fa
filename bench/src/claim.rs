//! (e) The claim cycle's cost with an empty queue and with 1,000,000 future-scheduled retries.

use crate::store::BenchStore;
use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_application::ports::{ClaimRequest, DeliveryQueue};
use std::time::{Duration, Instant};

/// Mean claim-cycle times.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClaimCost {
    pub(crate) empty: Duration,
    pub(crate) backlog: Duration,
    pub(crate) backlog_rows: i64,
}

const CYCLES: u32 = 1000;
const BACKLOG: i64 = 1_000_000;

async fn mean_cycle(store: &impl DeliveryQueue) -> anyhow::Result<Duration> {
    // Warm up, then measure.
    for _ in 0..10 {
        let now = chrono::Utc::now();
        store
            .claim_due(ClaimRequest::new(
                now,
                256,
                now + chrono::Duration::seconds(60),
            ))
            .await?;
    }
    let started = Instant::now();
    for _ in 0..CYCLES {
        let now = chrono::Utc::now();
        let claimed = store
            .claim_due(ClaimRequest::new(
                now,
                256,
                now + chrono::Duration::seconds(60),
            ))
            .await?;
        anyhow::ensure!(claimed.is_empty(), "nothing is due in the claim benchmark");
    }
    Ok(started.elapsed() / CYCLES)
}

/// Measures on a database of its own, removed afterwards.
pub(crate) async fn measure(store: &BenchStore) -> anyhow::Result<ClaimCost> {
    let name = format!("absync_bench_claim_{}", std::process::id());
    let url = store.fresh(&name).await?;
    let cost = match store {
        BenchStore::Postgres { .. } => on_postgres(&url).await?,
        BenchStore::Sqlite { .. } => on_sqlite(&url).await?,
    };
    store.discard(&name).await?;
    Ok(cost)
}

async fn on_postgres(url: &str) -> anyhow::Result<ClaimCost> {
    let store = PgStore::connect(url, &PoolSettings::default()).await?;
    store.migrate().await?;
    let empty = mean_cycle(&store).await?;
    eprintln!("bench: inserting {BACKLOG} future-scheduled retries (postgres)…");
    let pool = sqlx::PgPool::connect(url).await?;
    for statement in [
        "INSERT INTO tenants (id) VALUES ('bench')",
        "INSERT INTO subscriptions (id, tenant_id, collection, destination, event_filter, status, signing_secret)
         VALUES ('00000000-0000-0000-0000-000000000001', 'bench', 'leaves', 'https://example.com/', 'all', 'Enabled',
                 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('bench', 1, 1, '1-20240304-AM', 'approved', '{}')",
    ] {
        sqlx::query(statement).execute(&pool).await?;
    }
    sqlx::query(
        "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, attempt_count, next_attempt_at)
         SELECT 'bench', '00000000-0000-0000-0000-000000000001', 1, g::text, 'pending', 1,
                now() + interval '1 hour' + g * interval '50 ms'
         FROM generate_series(1, $1) AS g",
    )
    .bind(BACKLOG)
    .execute(&pool)
    .await?;
    // Measure the steady state: the backlog vacuumed and flushed, as it is long after it was queued,
    // rather than the bulk insert's aftermath (autovacuum and checkpoint writes on the same two cores).
    sqlx::query("VACUUM (ANALYZE) deliveries")
        .execute(&pool)
        .await?;
    sqlx::query("CHECKPOINT").execute(&pool).await?;
    let (backlog_rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&pool)
        .await?;
    let backlog = mean_cycle(&store).await?;
    store.close().await;
    pool.close().await;
    Ok(ClaimCost {
        empty,
        backlog,
        backlog_rows,
    })
}

async fn on_sqlite(url: &str) -> anyhow::Result<ClaimCost> {
    let store = SqliteStore::open(url, &SqliteSettings::default()).await?;
    store.migrate().await?;
    let empty = mean_cycle(&store).await?;
    eprintln!("bench: inserting {BACKLOG} future-scheduled retries (sqlite)…");
    let pool = sqlx::SqlitePool::connect(url).await?;
    let now = chrono::Utc::now().timestamp_micros();
    for statement in [
        "INSERT INTO tenants (id, created_at) VALUES ('bench', ?1)",
        "INSERT INTO subscriptions (id, tenant_id, collection, destination, event_filter, status, created_at, signing_secret)
         VALUES ('00000000-0000-0000-0000-000000000001', 'bench', 'leaves', 'https://example.com/', 'all', 'Enabled',
                 ?1, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
         VALUES ('bench', 1, 1, '1-20240304-AM', 'approved', '{}', ?1)",
    ] {
        sqlx::query(statement).bind(now).execute(&pool).await?;
    }
    // Times are microseconds: due an hour from now, 50 ms apart.
    sqlx::query(
        "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?2)
         INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, attempt_count,
                                 next_attempt_at, created_at, updated_at)
         SELECT 'bench', '00000000-0000-0000-0000-000000000001', 1, CAST(n AS TEXT), 'pending', 1,
                ?1 + 3600000000 + n * 50000, ?1, ?1
         FROM g",
    )
    .bind(now)
    .bind(BACKLOG)
    .execute(&pool)
    .await?;
    sqlx::query("ANALYZE").execute(&pool).await?;
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&pool)
        .await?;
    let (backlog_rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM deliveries")
        .fetch_one(&pool)
        .await?;
    let backlog = mean_cycle(&store).await?;
    store.close().await;
    pool.close().await;
    Ok(ClaimCost {
        empty,
        backlog,
        backlog_rows,
    })
}
