//! The store contract (`absync-store-contract`) against PostgreSQL: one fresh database per test
//! (`#[sqlx::test]`, `DATABASE_URL`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_store_contract::stored_format::{self, Rows};
use sqlx::PgPool;

absync_store_contract::suite! {
    #[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
    |pool: sqlx::PgPool| async { absync_adapter_postgres::PgStore::from_pool(pool) }
}

/// Writes `rows` as SQL, as the store's earlier versions did.
async fn insert(pool: &PgPool, rows: Rows) {
    let tenant = rows.tenant.as_str();
    for row in rows.absences {
        sqlx::query(
            "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        )
        .bind(tenant)
        .bind(row.absence_id)
        .bind(row.number)
        .bind(row.revision)
        .bind(row.row_version)
        .bind(row.body)
        .execute(pool)
        .await
        .unwrap();
    }
    for row in rows.leaves {
        sqlx::query(
            "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
             VALUES ($1, $2, $3::date, $4, $5, $6::jsonb, $7)",
        )
        .bind(tenant)
        .bind(row.absence_number)
        .bind(row.leave_date)
        .bind(row.half)
        .bind(row.state)
        .bind(row.leave)
        .bind(row.change_version)
        .execute(pool)
        .await
        .unwrap();
    }
    for row in rows.events {
        sqlx::query(
            "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
        )
        .bind(tenant)
        .bind(row.change_version)
        .bind(row.absence_number)
        .bind(row.leave_key)
        .bind(row.event)
        .bind(row.record)
        .execute(pool)
        .await
        .unwrap();
    }
    for row in rows.deliveries {
        sqlx::query(
            "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
             VALUES ($1, $2::uuid, $3, $4, $5, $6)",
        )
        .bind(tenant)
        .bind(rows.subscription.as_str())
        .bind(row.change_version)
        .bind(row.leave_key)
        .bind(row.status)
        .bind(rows.due)
        .execute(pool)
        .await
        .unwrap();
    }
}

/// Rows of version 1 of the stored forms, inserted as SQL, read back through the ports.
#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn rows_of_version_1_read_back(pool: PgPool) {
    let store = absync_adapter_postgres::PgStore::from_pool(pool.clone());
    stored_format::rows_of_version_1_read_back(store, async |rows| insert(&pool, rows).await).await;
}
