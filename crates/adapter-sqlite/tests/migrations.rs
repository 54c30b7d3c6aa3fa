//! Migrations keep data: each one is applied over rows written in the previous schema.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_sqlite::{MIGRATOR, SqliteSettings, SqliteStore};
use absync_application::ports::DeliveryTracking;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use std::borrow::Cow;
use std::path::PathBuf;

/// A file in a folder of its own, removed at the end.
struct Folder(PathBuf);

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn pool(path: &std::path::Path) -> SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    SqlitePool::connect_with(options).await.unwrap()
}

/// The rebuild of `deliveries` (for the `cancelled` status) keeps every delivery with its id, its
/// attempts, and the id sequence past ids no longer in the table (a delivery id is the
/// `webhook-id` receivers deduplicate by); it cancels what was left unsent for a deleted or
/// disabled subscription; and the kept counts start right. Later migrations give attempts their
/// subscription and secrets their age.
#[tokio::test]
async fn the_deliveries_rebuild_keeps_ids_attempts_and_the_sequence() {
    let folder = Folder(
        std::env::temp_dir().join(format!("absync-sqlite-migration-{}", std::process::id())),
    );
    std::fs::create_dir_all(&folder.0).unwrap();
    let path = folder.0.join("absync.db");
    let first = Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..1].to_vec()),
        ..Migrator::DEFAULT
    };
    let old = pool(&path).await;
    first.run(&old).await.unwrap();
    for statement in [
        "INSERT INTO tenants (id, created_at) VALUES ('acme', 0)",
        "INSERT INTO subscriptions (id, tenant_id, collection, destination, event_filter, status,
                                    created_at, signing_secret, deleted_at)
         VALUES ('s-live', 'acme', 'leaves', 'https://example.com/a', 'all', 'Enabled', 0, 'whsec_x', NULL),
                ('s-deleted', 'acme', 'leaves', 'https://example.com/b', 'all', 'Enabled', 0, 'whsec_x', 5),
                ('s-disabled', 'acme', 'leaves', 'https://example.com/c', 'all', 'Disabled', 0, 'whsec_x', NULL)",
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
         VALUES ('acme', 1, 7, '7-20240304-PM', 'created', '{}', 0),
                ('acme', 2, 7, '7-20240304-PM', 'approved', '{}', 0)",
        // Ids 1..=6, then 7 (purged since): the sequence stands at 7.
        "INSERT INTO deliveries (id, tenant_id, subscription_id, change_version, leave_key, status,
                                 next_attempt_at, created_at, updated_at)
         VALUES (1, 'acme', 's-live', 1, '7-20240304-PM', 'succeeded', 0, 0, 0),
                (2, 'acme', 's-live', 2, '7-20240304-PM', 'pending', 0, 0, 0),
                (3, 'acme', 's-deleted', 1, '7-20240304-PM', 'pending', 0, 0, 0),
                (4, 'acme', 's-deleted', 2, '7-20240304-PM', 'waiting', 0, 0, 0),
                (5, 'acme', 's-disabled', 1, '7-20240304-PM', 'failed', 0, 0, 0),
                (6, 'acme', 's-disabled', 2, '7-20240304-PM', 'pending', 0, 0, 0),
                (7, 'acme', 's-live', 1, '7-20240304-PM', 'succeeded', 0, 0, 0)",
        "DELETE FROM deliveries WHERE id = 7",
        "INSERT INTO delivery_attempts (delivery_id, tenant_id, started_at, duration_ms, http_status)
         VALUES (1, 'acme', 0, 3, 200), (5, 'acme', 0, 3, 410)",
    ] {
        sqlx::query(statement).execute(&old).await.unwrap();
    }
    old.close().await;

    let url = format!("sqlite://{}", path.display());
    let settings = SqliteSettings {
        exclusive: false,
        ..SqliteSettings::default()
    };
    let store = SqliteStore::open(&url, &settings).await.unwrap();
    store.migrate().await.unwrap();
    let stats = store.queue_stats(chrono::Utc::now()).await.unwrap();
    store.close().await;

    let new = pool(&path).await;
    let rows: Vec<(i64, String, String, Option<String>)> = sqlx::query_as(
        "SELECT id, subscription_id, status, cancel_reason FROM deliveries ORDER BY id",
    )
    .fetch_all(&new)
    .await
    .unwrap();
    let row = |id: i64, sub: &str, status: &str, reason: Option<&str>| {
        (
            id,
            sub.to_owned(),
            status.to_owned(),
            reason.map(str::to_owned),
        )
    };
    assert_eq!(
        rows,
        [
            row(1, "s-live", "succeeded", None),
            row(2, "s-live", "pending", None),
            row(3, "s-deleted", "cancelled", Some("subscription deleted")),
            row(4, "s-deleted", "cancelled", Some("subscription deleted")),
            row(5, "s-disabled", "failed", None),
            row(6, "s-disabled", "cancelled", Some("subscription disabled")),
        ]
    );
    let attempts: Vec<(i64, i64)> =
        sqlx::query_as("SELECT delivery_id, http_status FROM delivery_attempts ORDER BY id")
            .fetch_all(&new)
            .await
            .unwrap();
    assert_eq!(attempts, [(1, 200), (5, 410)]);
    // Attempts get their delivery's subscription, for the health figures; secrets their age.
    let by_subscription: Vec<(i64, String)> =
        sqlx::query_as("SELECT delivery_id, subscription_id FROM delivery_attempts ORDER BY id")
            .fetch_all(&new)
            .await
            .unwrap();
    assert_eq!(
        by_subscription,
        [(1, "s-live".to_owned()), (5, "s-disabled".to_owned())]
    );
    let unset: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM subscriptions
         WHERE secret_created_at IS NOT created_at OR paused_at IS NOT NULL
            OR max_per_second IS NOT NULL",
    )
    .fetch_one(&new)
    .await
    .unwrap();
    assert_eq!(unset, 0);
    // Deleting a delivery still takes its attempts with it (the rebuilt foreign key).
    sqlx::query("DELETE FROM deliveries WHERE id = 1")
        .execute(&new)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM delivery_attempts")
        .fetch_one(&new)
        .await
        .unwrap();
    assert_eq!(left, 1);
    // The next id continues the old sequence: 7 is never handed out again.
    let next: i64 = sqlx::query_scalar(
        "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                 next_attempt_at, created_at, updated_at)
         VALUES ('acme', 's-live', 2, '7-20240304-PM', 'waiting', 0, 0, 0) RETURNING id",
    )
    .fetch_one(&new)
    .await
    .unwrap();
    assert_eq!(next, 8);
    new.close().await;

    let counts: Vec<(&str, i64)> = stats
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .filter(|(_, n)| *n > 0)
        .collect();
    assert_eq!(
        counts,
        [
            ("cancelled", 3),
            ("failed", 1),
            ("pending", 1),
            ("succeeded", 1)
        ]
    );
}

/// Events written before traces were kept have no trace context: their deliveries are claimed
/// without one.
#[tokio::test]
async fn events_written_before_traces_are_claimed_without_one() {
    let folder = Folder(std::env::temp_dir().join(format!(
        "absync-sqlite-migration-trace-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&folder.0).unwrap();
    let path = folder.0.join("absync.db");
    let before = Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..3].to_vec()),
        ..Migrator::DEFAULT
    };
    let old = pool(&path).await;
    before.run(&old).await.unwrap();
    // An event as version 1 wrote it, and its pending delivery.
    let event = absync_store_contract::stored_format::v1::EVENTS[0];
    for statement in [
        "INSERT INTO tenants (id, created_at) VALUES ('acme', 0)",
        "INSERT INTO subscriptions (id, tenant_id, collection, destination, event_filter, status,
                                    created_at, signing_secret, secret_created_at)
         VALUES ('s-live', 'acme', 'leaves', 'https://example.com/a', 'all', 'Enabled', 0,
                 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 0)",
    ] {
        sqlx::query(statement).execute(&old).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
         VALUES ('acme', ?1, ?2, ?3, ?4, ?5, 0)",
    )
    .bind(event.change_version)
    .bind(event.absence_number)
    .bind(event.leave_key)
    .bind(event.event)
    .bind(event.record)
    .execute(&old)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                 next_attempt_at, created_at, updated_at)
         VALUES ('acme', 's-live', ?1, ?2, 'pending', 0, 0, 0)",
    )
    .bind(event.change_version)
    .bind(event.leave_key)
    .execute(&old)
    .await
    .unwrap();
    old.close().await;

    let url = format!("sqlite://{}", path.display());
    let settings = SqliteSettings {
        exclusive: false,
        ..SqliteSettings::default()
    };
    let store = SqliteStore::open(&url, &settings).await.unwrap();
    store.migrate().await.unwrap();
    let now = chrono::Utc::now();
    let claimed = absync_application::ports::DeliveryQueue::claim_due(
        &store,
        absync_application::ports::ClaimRequest::new(now, 10, now + chrono::Duration::minutes(1)),
    )
    .await
    .unwrap();
    store.close().await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].record.key().to_string(), event.leave_key);
    assert_eq!(claimed[0].traceparent, None);
}
