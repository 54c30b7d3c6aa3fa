//! The store contract (`absync-store-contract`) against PostgreSQL: one fresh database per test
//! (`#[sqlx::test]`, `DATABASE_URL`).

absync_store_contract::suite! {
    #[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
    |pool: sqlx::PgPool| async { absync_adapter_postgres::PgStore::from_pool(pool) }
}
