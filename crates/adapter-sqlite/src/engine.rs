//! How SQLite runs the store core's statements: its dialect, its binding of each argument, and its
//! write transactions (a turn on the single writer). The ports the core answers for every store come
//! from [`absync_store_core::store_ports!`].

use crate::error::{decode_error, store_error};
use crate::store::{SqliteStore, micros};
use crate::writer::WriteTx as Turn;
use absync_application::ports::StoreError;
use absync_store_core::{Arg, Dialect, Engine, Rows, Statement, WriteTx};
use async_trait::async_trait;
use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};

impl Dialect for SqliteStore {
    /// Microseconds since 1970, as every SQLite time is kept (SQLite's clock counts milliseconds).
    const NOW: &'static str = "(CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000)";
    /// A write transaction is `BEGIN IMMEDIATE`: no other writer can change the rows meanwhile.
    const FOR_UPDATE: &'static str = "";

    fn uuid(n: u8) -> String {
        format!("${n}")
    }

    fn uuid_text(column: &str) -> String {
        column.to_owned()
    }

    /// Times are microseconds: an hour is 3,600,000,000 of them.
    fn hour_of(column: &str) -> String {
        format!("({column} / 3600000000) * 3600000000")
    }
}

impl Rows for SqliteStore {
    type Row = SqliteRow;
}

/// The statement with its arguments bound: times as microseconds, dates as ISO text, names as a
/// JSON array.
fn query(statement: &Statement) -> Result<Query<'_, Sqlite, SqliteArguments<'_>>, StoreError> {
    statement
        .args()
        .iter()
        .try_fold(sqlx::query(statement.sql()), |query, arg| {
            Ok(match arg {
                Arg::Text(text) => query.bind(text.as_deref()),
                Arg::Int(n) => query.bind(*n),
                Arg::Bool(b) => query.bind(*b),
                Arg::Time(at) => query.bind(at.map(micros)),
                Arg::Date(date) => query.bind(date.map(|d| d.to_string())),
                Arg::Bytes(bytes) => query.bind(bytes.as_slice()),
                Arg::Names(names) => {
                    query.bind(serde_json::to_string(names).map_err(|e| decode_error("names", e))?)
                }
            })
        })
}

/// A write transaction: this process's turn on the writer's connection.
pub struct SqliteWrite(Turn);

impl std::fmt::Debug for SqliteWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWrite")
    }
}

#[async_trait]
impl WriteTx for SqliteWrite {
    type Row = SqliteRow;

    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError> {
        let done = query(&statement)?
            .execute(&mut *self.0.tx)
            .await
            .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<SqliteRow>, StoreError> {
        query(&statement)?
            .fetch_all(&mut *self.0.tx)
            .await
            .map_err(store_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await
    }
}

#[async_trait]
impl Engine for SqliteStore {
    type Write = SqliteWrite;

    async fn fetch_all(&self, statement: Statement) -> Result<Vec<SqliteRow>, StoreError> {
        query(&statement)?
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn fetch_optional(&self, statement: Statement) -> Result<Option<SqliteRow>, StoreError> {
        query(&statement)?
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)
    }

    async fn write(&self) -> Result<SqliteWrite, StoreError> {
        self.write().await.map(SqliteWrite)
    }

    fn work_queued(&self) {
        self.signal_work();
    }
}

absync_store_core::store_ports!(SqliteStore);
