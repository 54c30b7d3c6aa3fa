//! The store contract (`absync-store-contract`) against PostgreSQL: one fresh database per test
//! (`#[sqlx::test]`, `DATABASE_URL`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_store_contract::stored_format::{self, Cell, Rows};
use sqlx::PgPool;

absync_store_contract::suite! {
    #[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
    |pool: sqlx::PgPool| async { absync_adapter_postgres::PgStore::from_pool(pool) }
}

/// Writes `rows` as SQL, as the store's earlier versions did.
async fn insert(pool: &PgPool, rows: Rows) {
    for insert in rows.inserts() {
        let sql = insert.sql(|n, cell| match cell {
            Cell::Json(_) => format!("${n}::jsonb"),
            Cell::Date(_) => format!("${n}::date"),
            Cell::Uuid(_) => format!("${n}::uuid"),
            _ => format!("${n}"),
        });
        let mut query = sqlx::query(&sql);
        for cell in &insert.values {
            query = match cell {
                Cell::Text(text) | Cell::Uuid(text) => query.bind(text.as_str()),
                Cell::Int(n) => query.bind(*n),
                Cell::Json(json) => query.bind(*json),
                Cell::Date(date) => query.bind(*date),
                Cell::Time(at) => query.bind(*at),
            };
        }
        query.execute(pool).await.unwrap();
    }
}

/// Rows of version 1 of the stored forms, inserted as SQL, read back through the ports.
#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn rows_of_version_1_read_back(pool: PgPool) {
    let store = absync_adapter_postgres::PgStore::from_pool(pool.clone());
    stored_format::rows_of_version_1_read_back(store, async |rows| insert(&pool, rows).await).await;
}
