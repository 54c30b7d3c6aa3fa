//! The store contract (`absync-store-contract`) against SQLite: each test opens a fresh database file
//! (WAL, several connections, the single-instance lock) under cargo's temporary folder for tests.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_store_contract::stored_format::{self, Rows};
use sqlx::{Connection, SqliteConnection};

/// The URL of a new database file of its own.
fn fresh_url() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("contract-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    format!("sqlite://{}", dir.join("absync.db").display())
}

/// The migrated store of `url`.
async fn store_at(url: &str) -> SqliteStore {
    let store = SqliteStore::open(url, &SqliteSettings::default())
        .await
        .expect("open the SQLite store");
    store.migrate().await.expect("migrate");
    store
}

/// A new database file of its own.
async fn fresh_store() -> SqliteStore {
    store_at(&fresh_url()).await
}

absync_store_contract::suite! {
    #[tokio::test]
    || fresh_store()
}

/// Writes `rows` as SQL, as the store's earlier versions did, on a connection of its own.
async fn insert(url: &str, rows: Rows) {
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    let tenant = rows.tenant.as_str();
    let at = rows.due.timestamp_micros();
    for row in rows.absences {
        sqlx::query(
            "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )
        .bind(tenant)
        .bind(row.absence_id)
        .bind(row.number)
        .bind(row.revision)
        .bind(row.row_version)
        .bind(row.body)
        .bind(at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for row in rows.leaves {
        sqlx::query(
            "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(tenant)
        .bind(row.absence_number)
        .bind(row.leave_date)
        .bind(row.half)
        .bind(row.state)
        .bind(row.leave)
        .bind(row.change_version)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for row in rows.events {
        sqlx::query(
            "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(tenant)
        .bind(row.change_version)
        .bind(row.absence_number)
        .bind(row.leave_key)
        .bind(row.event)
        .bind(row.record)
        .bind(at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    for row in rows.deliveries {
        sqlx::query(
            "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status,
                                     next_attempt_at, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)",
        )
        .bind(tenant)
        .bind(rows.subscription.as_str())
        .bind(row.change_version)
        .bind(row.leave_key)
        .bind(row.status)
        .bind(at)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
}

/// Rows of version 1 of the stored forms, inserted as SQL, read back through the ports.
#[tokio::test]
async fn rows_of_version_1_read_back() {
    let url = fresh_url();
    let store = store_at(&url).await;
    stored_format::rows_of_version_1_read_back(store, async |rows| insert(&url, rows).await).await;
}
