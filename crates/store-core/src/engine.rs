//! What a store implements to run the shared queries: its dialect, and how it runs a [`Statement`].

use crate::Statement;
use crate::rows::{
    AttemptSummaryRow, AttemptTallyRow, ClaimRow, DueRow, FailedAttemptRow, LeaveRow, MomentRow,
    OfSubscription, PendingTaskRow, ResyncRow, StatusCountRow, SubscriptionRow, SummaryRow,
    TokenRow,
};
use absync_application::ports::stored::decode_error;
use absync_application::ports::{StoreError, Subscription, TokenRecord};
use absync_domain::TenantId;
use async_trait::async_trait;

/// How a database spells what the stores write differently. Everything else in the shared SQL is
/// common to PostgreSQL and SQLite, `$n` placeholders included.
pub trait Dialect {
    /// The current time, as a column value (`now()`; SQLite's clock in microseconds).
    const NOW: &'static str;
    /// Ends a `SELECT` whose rows the transaction goes on to update (`FOR UPDATE`; nothing where a
    /// write transaction already excludes every other writer).
    const FOR_UPDATE: &'static str;

    /// Placeholder `$n` compared with or stored in a UUID column (`$n::uuid`; SQLite keeps UUIDs as
    /// text).
    fn uuid(n: u8) -> String;

    /// A UUID column read as text (`column::text`).
    fn uuid_text(column: &str) -> String;

    /// A time column truncated to the start of its hour, in the column's own type.
    fn hour_of(column: &str) -> String;
}

/// The row type of a store's database.
pub trait Rows {
    /// `sqlx::postgres::PgRow`, `sqlx::sqlite::SqliteRow`…
    type Row: sqlx::Row;
}

/// Decodes a row shape of this crate from a store's rows. Implemented for every store whose column
/// types decode into the shape's fields (see [`crate::Stamp`]).
pub trait Reads<R>: Rows {
    /// Decodes one row.
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when a column is missing or of another type.
    fn read(row: &Self::Row) -> Result<R, StoreError>;
}

impl<S: Rows, R> Reads<R> for S
where
    R: for<'r> sqlx::FromRow<'r, S::Row>,
{
    fn read(row: &Self::Row) -> Result<R, StoreError> {
        R::from_row(row).map_err(|e| decode_error(std::any::type_name::<R>(), e))
    }
}

/// Decodes every row as `R`.
///
/// # Errors
/// The first row that does not decode.
pub fn read_all<S: Reads<R>, R>(rows: &[S::Row]) -> Result<Vec<R>, StoreError> {
    rows.iter().map(S::read).collect()
}

/// A store the shared queries run on: PostgreSQL and SQLite implement it, and so would a third.
///
/// The row shapes it must decode are listed as supertraits, so that the shared code can ask for them.
#[async_trait]
pub trait Engine:
    Dialect
    + Rows
    + Reads<SummaryRow>
    + Reads<ClaimRow>
    + Reads<AttemptSummaryRow>
    + Reads<DueRow>
    + Reads<LeaveRow>
    + Reads<ResyncRow>
    + Reads<StatusCountRow>
    + Reads<PendingTaskRow>
    + Reads<SubscriptionRow>
    + Reads<TokenRow>
    + Reads<AttemptTallyRow>
    + Reads<FailedAttemptRow>
    + Reads<MomentRow>
    + Reads<OfSubscription<AttemptTallyRow>>
    + Reads<OfSubscription<MomentRow>>
    + Reads<OfSubscription<FailedAttemptRow>>
    + Reads<OfSubscription<DueRow>>
    + Send
    + Sync
    + Sized
{
    /// A write transaction: PostgreSQL's own, SQLite's turn on its single writer.
    type Write: WriteTx<Row = Self::Row>;

    /// Runs a read, outside any transaction.
    async fn fetch_all(&self, statement: Statement) -> Result<Vec<Self::Row>, StoreError>;

    /// Runs a read of at most one row, outside any transaction.
    async fn fetch_optional(&self, statement: Statement) -> Result<Option<Self::Row>, StoreError>;

    /// Starts a write transaction.
    async fn write(&self) -> Result<Self::Write, StoreError>;

    /// Tells the dispatchers that deliveries were queued or re-queued.
    fn work_queued(&self);

    /// A subscription's rate limit was written, after the commit. A store whose claim leaves out
    /// the token buckets while no subscription has a limit (PostgreSQL's) learns here that it must
    /// spend them, or may look again; nothing to do by default.
    async fn rate_limit_changed(&self, _change: RateLimitChange) {}

    /// Makes `delivery_counts` readable as one row per status. Nothing to do where the counts are
    /// kept that way on write.
    async fn fold_counts(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The live subscriptions of a tenant ([`crate::subscriptions::list`]); a store may answer
    /// concurrent calls with one statement.
    async fn list_subscriptions(&self, tenant: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        crate::subscriptions::list(self, tenant).await
    }

    /// The active token of a hash ([`crate::tokens::find_active`]); a store may answer concurrent
    /// calls with one statement.
    async fn find_token(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        crate::tokens::find_active(self, hash).await
    }
}

/// What became of a subscription's rate limit ([`Engine::rate_limit_changed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitChange {
    /// The subscription has a limit now.
    Set,
    /// The subscription has no limit now, or is deleted (whether it had one or not).
    Lifted,
}

/// A write transaction of an [`Engine`]: nothing is visible to others before [`WriteTx::commit`],
/// and dropping it uncommitted rolls it back.
#[async_trait]
pub trait WriteTx: Send {
    /// The row type of the store.
    type Row: sqlx::Row;

    /// Runs a statement; returns how many rows it changed.
    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError>;

    /// Runs a statement that returns rows (a `SELECT`, or a write with `RETURNING`).
    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<Self::Row>, StoreError>;

    /// Commits.
    async fn commit(self) -> Result<(), StoreError>;
}
