//! With autovacuum off, absync analyzes its own tables once they changed enough; with it on, it
//! leaves that to autovacuum.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::PgStore;
use sqlx::PgPool;

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn stale_tables_are_analyzed_while_autovacuum_is_off(pool: PgPool) {
    sqlx::query("INSERT INTO tenants (id) SELECT 't' || n FROM generate_series(1, 200) AS n")
        .execute(&pool)
        .await
        .unwrap();
    let autovacuum: bool = sqlx::query_scalar("SELECT current_setting('autovacuum')::bool")
        .fetch_one(&pool)
        .await
        .unwrap();
    let store = PgStore::from_pool(pool.clone());
    // The statistics collector reports the inserts once their transaction has ended; wait for it.
    let mut analyzed = Vec::new();
    for _ in 0..50 {
        sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&pool)
            .await
            .unwrap();
        analyzed = store.analyze_stale_tables().await.unwrap();
        if !analyzed.is_empty() || autovacuum {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let analyzed_at: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'tenants'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    if autovacuum {
        assert!(analyzed.is_empty(), "autovacuum's work: {analyzed:?}");
        assert!(analyzed_at.is_none());
    } else {
        assert_eq!(analyzed, ["tenants"]);
        assert!(analyzed_at.is_some());
        // Nothing changed since: nothing to analyze.
        assert!(store.analyze_stale_tables().await.unwrap().is_empty());
    }
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn payload_columns_keep_no_statistics(pool: PgPool) {
    let kept: Vec<(String, String, i32)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, a.attstattarget::int FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         WHERE c.relnamespace = current_schema()::regnamespace AND a.attnum > 0
           AND NOT a.attisdropped AND a.attstattarget = 0
         ORDER BY 1, 2",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let kept: Vec<(&str, &str)> = kept
        .iter()
        .map(|(t, c, _)| (t.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("absences", "body"),
            ("delivery_attempts", "error_detail"),
            ("delivery_attempts", "response_excerpt"),
            ("leave_events", "record"),
            ("leaves", "leave"),
        ]
    );
}
