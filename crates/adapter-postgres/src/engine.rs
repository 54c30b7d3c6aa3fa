//! How PostgreSQL runs the store core's statements: its dialect, its binding of each argument, and
//! its transactions. The ports the core answers for every store come from
//! [`absync_store_core::store_ports!`].

use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::{StoreError, Subscription, TokenRecord};
use absync_domain::TenantId;
use absync_store_core::{Arg, Dialect, Engine, RateLimitChange, Rows, Statement, WriteTx};
use async_trait::async_trait;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;

impl Dialect for PgStore {
    const NOW: &'static str = "now()";
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    fn uuid(n: u8) -> String {
        format!("${n}::uuid")
    }

    fn uuid_text(column: &str) -> String {
        format!("{column}::text")
    }

    fn hour_of(column: &str) -> String {
        format!("date_trunc('hour', {column})")
    }
}

impl Rows for PgStore {
    type Row = PgRow;
}

/// The statement with its arguments bound: times as `timestamptz`, names as `text[]`.
fn query(statement: &Statement) -> Query<'_, Postgres, PgArguments> {
    statement
        .args()
        .iter()
        .fold(sqlx::query(statement.sql()), |query, arg| match arg {
            Arg::Text(text) => query.bind(text.as_deref()),
            Arg::Int(n) => query.bind(*n),
            Arg::Bool(b) => query.bind(*b),
            Arg::Time(at) => query.bind(*at),
            Arg::Date(date) => query.bind(*date),
            Arg::Bytes(bytes) => query.bind(bytes.as_slice()),
            Arg::Names(names) => query.bind(names.as_slice()),
        })
}

/// A PostgreSQL transaction.
#[derive(Debug)]
pub struct PgWrite(sqlx::Transaction<'static, Postgres>);

#[async_trait]
impl WriteTx for PgWrite {
    type Row = PgRow;

    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError> {
        let done = query(&statement)
            .execute(&mut *self.0)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<PgRow>, StoreError> {
        query(&statement)
            .fetch_all(&mut *self.0)
            .await
            .map_err(store_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.map_err(store_error)
    }
}

#[async_trait]
impl Engine for PgStore {
    type Write = PgWrite;

    async fn fetch_all(&self, statement: Statement) -> Result<Vec<PgRow>, StoreError> {
        query(&statement)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn fetch_optional(&self, statement: Statement) -> Result<Option<PgRow>, StoreError> {
        query(&statement)
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn write(&self) -> Result<PgWrite, StoreError> {
        self.pool.begin().await.map(PgWrite).map_err(store_error)
    }

    fn work_queued(&self) {
        self.signal_work();
        self.announce_work();
    }

    async fn rate_limit_changed(&self, change: RateLimitChange) {
        PgStore::rate_limit_changed(self, change).await;
    }

    async fn fold_counts(&self) -> Result<(), StoreError> {
        // The counts kept on write (`delivery_counts`) are one signed row per status and writing
        // statement: folded here into one row per status before they are summed. Folding and summing
        // are two statements, so the sum sees what a concurrent fold committed, never half of it.
        sqlx::query(
            "WITH folded AS (DELETE FROM delivery_counts RETURNING status, n)
             INSERT INTO delivery_counts (status, n)
             SELECT status, sum(n) FROM folded GROUP BY status HAVING sum(n) <> 0",
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        self.subscription_lists.get(tenant.clone()).await
    }

    async fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.token_lookups.get(hash).await
    }
}

absync_store_core::store_ports!(PgStore);
