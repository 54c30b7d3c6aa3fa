//! (e) The claim cycle's cost with an empty queue and with 1,000,000 future-scheduled retries.

use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_application::ports::DeliveryQueue;
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

async fn mean_cycle(store: &PgStore) -> anyhow::Result<Duration> {
    // Warm up, then measure.
    for _ in 0..10 {
        let now = chrono::Utc::now();
        store
            .claim_due(now, 256, now + chrono::Duration::seconds(60))
            .await?;
    }
    let started = Instant::now();
    for _ in 0..CYCLES {
        let now = chrono::Utc::now();
        let claimed = store
            .claim_due(now, 256, now + chrono::Duration::seconds(60))
            .await?;
        anyhow::ensure!(claimed.is_empty(), "nothing is due in the claim benchmark");
    }
    Ok(started.elapsed() / CYCLES)
}

/// Measures on a database of its own, dropped afterwards.
pub(crate) async fn measure(base_url: &str) -> anyhow::Result<ClaimCost> {
    let name = format!("absync_bench_claim_{}", std::process::id());
    let url = crate::workloads::database_url(base_url, &name)?;
    let store = PgStore::connect(&url, &PoolSettings::default()).await?;
    store.migrate().await?;
    let empty = mean_cycle(&store).await?;
    eprintln!("bench: inserting {BACKLOG} future-scheduled retries…");
    let pool = sqlx::PgPool::connect(&url).await?;
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
    crate::workloads::drop_database(base_url, &name).await?;
    Ok(ClaimCost {
        empty,
        backlog,
        backlog_rows,
    })
}
