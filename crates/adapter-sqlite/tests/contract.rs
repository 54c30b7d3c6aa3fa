//! The store contract (`absync-store-contract`) against SQLite: each test opens a fresh database file
//! (WAL, several connections, the single-instance lock) under cargo's temporary folder for tests.

use absync_adapter_sqlite::{SqliteSettings, SqliteStore};

/// A new database file of its own.
async fn fresh_store() -> SqliteStore {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("contract-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let url = format!("sqlite://{}", dir.join("absync.db").display());
    let store = SqliteStore::open(&url, &SqliteSettings::default())
        .await
        .expect("open the SQLite store");
    store.migrate().await.expect("migrate");
    store
}

absync_store_contract::suite! {
    #[tokio::test]
    || fresh_store()
}
