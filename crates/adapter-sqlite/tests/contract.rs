//! The store contract (`absync-store-contract`) against SQLite: each test opens a fresh database file
//! (WAL, several connections, the single-instance lock) under cargo's temporary folder for tests.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_sqlite::{SqliteSettings, SqliteStore};
use absync_store_contract::stored_format::{self, Cell, Rows};
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

/// Writes `rows` as SQL, as the store's earlier versions did, on a connection of its own: every
/// value as text or an integer (times in microseconds).
async fn insert(url: &str, rows: Rows) {
    let mut conn = SqliteConnection::connect(url).await.unwrap();
    for insert in rows.inserts() {
        let sql = insert.sql(|n, _| format!("?{n}"));
        let query = insert
            .values
            .iter()
            .fold(sqlx::query(&sql), |query, cell| match cell {
                Cell::Text(text) | Cell::Uuid(text) => query.bind(text.as_str()),
                Cell::Json(json) => query.bind(*json),
                Cell::Date(date) => query.bind(*date),
                Cell::Int(n) => query.bind(*n),
                Cell::Time(at) => query.bind(at.timestamp_micros()),
            });
        query.execute(&mut conn).await.unwrap();
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
