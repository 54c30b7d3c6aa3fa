//! Retention: succeeded deliveries past the cutoff go with their attempts; the rest stay.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::PgStore;
use absync_application::ports::DeliveryQueue;
use chrono::{Duration, Utc};
use sqlx::PgPool;

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn only_old_succeeded_deliveries_are_purged(pool: PgPool) {
    for statement in [
        "INSERT INTO tenants (id) VALUES ('acme')",
        "INSERT INTO subscriptions (id, tenant_id, collection, destination, event_filter, status, signing_secret)
         VALUES ('00000000-0000-0000-0000-000000000001', 'acme', 'leaves', 'https://example.com/', 'all',
                 'Enabled', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')",
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('acme', 1, 1, '1-20240304-AM', 'approved', '{}')",
        // 1: succeeded 40 days ago; 2: succeeded yesterday; 3: failed 40 days ago; 4: pending.
        "INSERT INTO deliveries (id, tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at, updated_at)
         VALUES (1, 'acme', '00000000-0000-0000-0000-000000000001', 1, 'a', 'succeeded', now(), now() - interval '40 days'),
                (2, 'acme', '00000000-0000-0000-0000-000000000001', 1, 'b', 'succeeded', now(), now() - interval '1 day'),
                (3, 'acme', '00000000-0000-0000-0000-000000000001', 1, 'c', 'failed', now(), now() - interval '40 days'),
                (4, 'acme', '00000000-0000-0000-0000-000000000001', 1, 'd', 'pending', now(), now() - interval '40 days')",
        "INSERT INTO delivery_attempts (delivery_id, tenant_id, started_at, duration_ms, http_status)
         SELECT id, 'acme', now(), 1, 200 FROM deliveries",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    let store = PgStore::from_pool(pool.clone());
    let purged = store
        .purge_succeeded(Utc::now() - Duration::days(30))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let left: Vec<(i64,)> = sqlx::query_as("SELECT id FROM deliveries ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(left, [(2,), (3,), (4,)]);
    let (attempts,): (i64,) = sqlx::query_as("SELECT count(*) FROM delivery_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(attempts, 3, "the purged delivery's attempts went with it");
}
