//! Migrations keep data: each one is applied over rows written in the previous schema.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::{MIGRATOR, PgStore};
use absync_application::ports::{AbsenceStore, SubscriptionStore};
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
    let current = store.list_leaves(&tenant, None, None, 10).await.unwrap();
    assert_eq!(current[0].change_version.get(), 3);
}
