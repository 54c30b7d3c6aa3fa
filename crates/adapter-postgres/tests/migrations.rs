//! Migrations keep data: each one is applied over rows written in the previous schema.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::{MIGRATOR, PgStore};
use absync_application::ports::{AbsenceStore, LeaveQuery, SubscriptionStore};
use absync_domain::{AbsenceId, TenantId};
use sqlx::PgPool;
use sqlx::migrate::Migrator;
use std::borrow::Cow;

/// The embedded migrations up to and including `version`'s prefix number.
fn up_to(last: usize) -> Migrator {
    let mut migrator = Migrator {
        migrations: Cow::Owned(MIGRATOR.migrations[..last].to_vec()),
        ..Migrator::DEFAULT
    };
    migrator.set_ignore_missing(true);
    migrator
}

#[sqlx::test(migrations = false)]
async fn leaves_and_secrets_are_carried_into_the_new_tables(pool: PgPool) {
    up_to(1).run(&pool).await.unwrap();
    let leave = serde_json::json!({
        "key": {"absence": 7, "date": "2024-03-04", "half": "Pm"},
        "state": "Approved",
        "owner": {"id": 134, "name": "Luca", "email": "l@x", "employee_number": "1", "badge_number": null},
        "leave_account": {"id": 1, "name": "Paid", "category_id": 1, "category_name": "Paid"},
        "requested_definition": null, "resulting_definition": null, "shift_definition": null,
        "hours": null, "created_at": null, "approved_at": null
    });
    for statement in [
        "INSERT INTO tenants (id, change_version) VALUES ('acme', 3)",
        "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status)
         VALUES ('acme', 'leaves', 'https://example.com/hook', 'all', 'Enabled')",
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('acme', 3, 7, '7-20240304-PM', 'approved', '{}')",
    ] {
        sqlx::query(statement).execute(&pool).await.unwrap();
    }
    sqlx::query(
        "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body, leaves)
         VALUES ('acme', 'hr-1', 7, 1, 1, NULL, $1)",
    )
    .bind(serde_json::json!([leave]))
    .execute(&pool)
    .await
    .unwrap();

    MIGRATOR.run(&pool).await.unwrap();

    let store = PgStore::from_pool(pool);
    let tenant = TenantId::parse("acme").unwrap();
    let subscriptions = store.list(&tenant).await.unwrap();
    assert!(
        subscriptions[0]
            .signing_secret
            .expose()
            .starts_with("whsec_")
    );
    let stored = store
        .load(&tenant, &AbsenceId::parse("hr-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.leaves.len(), 1);
    assert_eq!(stored.leaves[0].key.to_string(), "7-20240304-PM");
    let current = store
        .list_leaves(LeaveQuery::new(tenant.clone(), 10))
        .await
        .unwrap();
    assert_eq!(current[0].change_version.get(), 3);
}

/// Deliveries that earlier versions left pending or waiting for a deleted or disabled subscription
/// are cancelled with the reason; the others stay as they were, and the kept counts start right.
#[sqlx::test(migrations = false)]
async fn unsent_deliveries_of_gone_subscriptions_are_cancelled_and_counted(pool: PgPool) {
    up_to(7).run(&pool).await.unwrap();
    sqlx::query("INSERT INTO tenants (id) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    let mut subscriptions = Vec::new();
    for (status, deleted) in [("Enabled", false), ("Enabled", true), ("Disabled", false)] {
        let id: String = sqlx::query_scalar(
            "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status,
                                        deleted_at, signing_secret)
             VALUES ('acme', 'leaves', 'https://example.com/hook', 'all', $1,
                     CASE WHEN $2 THEN now() END, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
             RETURNING id::text",
        )
        .bind(status)
        .bind(deleted)
        .fetch_one(&pool)
        .await
        .unwrap();
        subscriptions.push(id);
    }
    for version in 1..=3_i64 {
        sqlx::query(
            "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
             VALUES ('acme', $1, 7, '7-20240304-PM', 'approved', '{}')",
        )
        .bind(version)
        .execute(&pool)
        .await
        .unwrap();
    }
    // Per subscription: one succeeded, one pending, one waiting behind it.
    for id in &subscriptions {
        for (version, status) in [(1_i64, "succeeded"), (2, "pending"), (3, "waiting")] {
            sqlx::query(
                "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                         next_attempt_at)
                 VALUES ('acme', $1::uuid, $2, '7-20240304-PM', $3, now())",
            )
            .bind(id)
            .bind(version)
            .bind(status)
            .execute(&pool)
            .await
            .unwrap();
        }
    }

    MIGRATOR.run(&pool).await.unwrap();

    let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT subscription_id::text, status, cancel_reason FROM deliveries ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let of = |id: &String| {
        rows.iter()
            .filter(|r| r.0 == *id)
            .map(|r| (r.1.as_str(), r.2.as_deref()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        of(&subscriptions[0]),
        [("succeeded", None), ("pending", None), ("waiting", None)]
    );
    let deleted = Some("subscription deleted");
    assert_eq!(
        of(&subscriptions[1]),
        [
            ("succeeded", None),
            ("cancelled", deleted),
            ("cancelled", deleted)
        ]
    );
    let disabled = Some("subscription disabled");
    assert_eq!(
        of(&subscriptions[2]),
        [
            ("succeeded", None),
            ("cancelled", disabled),
            ("cancelled", disabled)
        ]
    );

    let store = PgStore::from_pool(pool);
    let stats =
        absync_application::ports::DeliveryTracking::queue_stats(&store, chrono::Utc::now())
            .await
            .unwrap();
    let counts: Vec<(&str, i64)> = stats
        .by_status
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("cancelled", 4),
            ("pending", 1),
            ("succeeded", 3),
            ("waiting", 1)
        ]
    );
}

/// Attempts written before they carried their subscription get it from their delivery; a
/// subscription's signing-secret age starts at its creation, or at its last rotation; nothing is
/// paused or rate-limited.
#[sqlx::test(migrations = false)]
async fn attempts_get_their_subscription_and_secrets_their_age(pool: PgPool) {
    up_to(10).run(&pool).await.unwrap();
    sqlx::query("INSERT INTO tenants (id) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    let mut ids = Vec::new();
    for rotated in [false, true] {
        let id: String = sqlx::query_scalar(
            "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status,
                                        signing_secret, created_at, previous_signing_secret,
                                        previous_secret_expires_at)
             VALUES ('acme', 'leaves', 'https://example.com/hook', 'all', 'Enabled',
                     'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '2024-01-01T00:00:00Z',
                     CASE WHEN $1 THEN 'whsec_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' END,
                     CASE WHEN $1 THEN timestamptz '2024-02-02T00:00:00Z' END)
             RETURNING id::text",
        )
        .bind(rotated)
        .fetch_one(&pool)
        .await
        .unwrap();
        ids.push(id);
    }
    sqlx::query(
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('acme', 1, 7, '7-20240304-PM', 'approved', '{}')",
    )
    .execute(&pool)
    .await
    .unwrap();
    for id in &ids {
        sqlx::query(
            "WITH d AS (
                 INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                         next_attempt_at)
                 VALUES ('acme', $1::uuid, 1, '7-20240304-PM', 'succeeded', now()) RETURNING id
             )
             INSERT INTO delivery_attempts (delivery_id, tenant_id, started_at, duration_ms, http_status)
             SELECT id, 'acme', now(), 5, 200 FROM d",
        )
        .bind(id)
        .execute(&pool)
        .await
        .unwrap();
    }

    MIGRATOR.run(&pool).await.unwrap();

    let attempts: Vec<(String,)> =
        sqlx::query_as("SELECT a.subscription_id::text FROM delivery_attempts a ORDER BY a.id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        attempts,
        ids.iter().map(|id| (id.clone(),)).collect::<Vec<_>>()
    );
    let store = PgStore::from_pool(pool);
    let listed = store.list(&TenantId::parse("acme").unwrap()).await.unwrap();
    let mut ages: Vec<String> = listed
        .iter()
        .map(|s| s.secret_created_at.to_rfc3339())
        .collect();
    ages.sort();
    assert_eq!(
        ages,
        ["2024-01-01T00:00:00+00:00", "2024-02-01T00:00:00+00:00"]
    );
    assert!(
        listed
            .iter()
            .all(|s| s.paused_since.is_none() && s.max_per_second.is_none())
    );
}

/// Events written before traces were kept have no trace context: their deliveries are claimed
/// without one, and a new change keeps its own beside them.
#[sqlx::test(migrations = false)]
async fn events_written_before_traces_are_claimed_without_one(pool: PgPool) {
    up_to(11).run(&pool).await.unwrap();
    sqlx::query("INSERT INTO tenants (id) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    let subscription: String = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status,
                                    signing_secret)
         VALUES ('acme', 'leaves', 'https://example.com/hook', 'all', 'Enabled',
                 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
         RETURNING id::text",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // An event as version 1 wrote it.
    let event = absync_store_contract::stored_format::v1::EVENTS[0];
    sqlx::query(
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('acme', $1, $2, $3, $4, $5::jsonb)",
    )
    .bind(event.change_version)
    .bind(event.absence_number)
    .bind(event.leave_key)
    .bind(event.event)
    .bind(event.record)
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                 next_attempt_at)
         VALUES ('acme', $1::uuid, $2, $3, 'pending', now() - interval '1 minute')",
    )
    .bind(&subscription)
    .bind(event.change_version)
    .bind(event.leave_key)
    .execute(&pool)
    .await
    .unwrap();

    MIGRATOR.run(&pool).await.unwrap();

    let store = PgStore::from_pool(pool);
    let now = chrono::Utc::now();
    let claimed = absync_application::ports::DeliveryQueue::claim_due(
        &store,
        absync_application::ports::ClaimRequest::new(now, 10, now + chrono::Duration::minutes(1)),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].record.key().to_string(), event.leave_key);
    assert_eq!(claimed[0].traceparent, None);
}
