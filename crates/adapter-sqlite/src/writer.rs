//! The single writer: one connection, owned by one task, that every write of this process goes
//! through, with group commit.
//!
//! Writes reach the writer in two ways:
//! - **Jobs** ([`Writer::run`]): ingest writes, claims, attempt records, lease releases. Jobs queued
//!   while a transaction is in progress are applied together in the next one: one
//!   `BEGIN IMMEDIATE … COMMIT` (one fsync) for the whole group. A lone job at idle commits at once;
//!   the writer never waits to fill a group. Each job gets its own result, and only after the group's
//!   commit is durable. A job that fails fails alone: a [`StoreError::Conflict`] has written nothing
//!   (the caller's guard is its first statement); any other failure rolls the group back and the
//!   others run again without it. A store fault (a full disk, an I/O error) fails the whole group,
//!   with nothing written.
//! - **Lends** ([`Writer::lend`]): the rare multi-step writes (subscriptions, tokens, tracking) borrow
//!   the connection for one transaction of their own and hand it back when done, even if dropped
//!   half-way.
//!
//! After any failed statement or commit the writer rolls back, and if that fails too it replaces the
//! connection: a failure never leaves it inside a broken transaction.

use crate::error::store_error;
use absync_application::ports::StoreError;
use futures::future::BoxFuture;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::{mpsc, oneshot};

/// Most jobs applied in one transaction.
const MAX_GROUP: usize = 512;

/// A job's work: run against the writer's connection inside the group's transaction. It may run
/// again (in a new transaction) when another job of its group failed, so it is `FnMut` and must not
/// consume what it captures.
pub(crate) type Work<T> =
    Box<dyn for<'c> FnMut(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>> + Send>;

/// A job with its result slot and the caller waiting for it, type-erased.
trait Job: Send {
    /// Runs the work, keeping its value for [`Job::finish`].
    fn run<'a>(
        &'a mut self,
        conn: &'a mut SqliteConnection,
    ) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Answers the caller: the kept value when `outcome` is `Ok` (the group committed).
    fn finish(self: Box<Self>, outcome: Result<(), StoreError>);
}

struct Task<T> {
    work: Work<T>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Job for Task<T> {
    fn run<'a>(
        &'a mut self,
        conn: &'a mut SqliteConnection,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let value = (self.work)(conn).await?;
            self.value = Some(value);
            Ok(())
        })
    }

    fn finish(self: Box<Self>, outcome: Result<(), StoreError>) {
        let Self { value, reply, .. } = *self;
        let result = outcome.and_then(|()| {
            value.ok_or_else(|| StoreError::Unexpected("a job finished without running".into()))
        });
        // The caller may have gone away (its call was cancelled); the write stands either way.
        let _ = reply.send(result);
    }
}

enum Request {
    Job(Box<dyn Job>),
    /// Jobs that go into the same group, in order.
    Jobs(Vec<Box<dyn Job>>),
    Lend(oneshot::Sender<Result<Lent, StoreError>>),
    Close(oneshot::Sender<()>),
}

/// What the writer shares with the store's handles.
#[derive(Debug, Default)]
struct Health {
    /// The last failure was a full disk (or the database's page limit), and no probe has found space
    /// since.
    out_of_space: AtomicBool,
}

/// The handle to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    requests: mpsc::UnboundedSender<Request>,
    health: Arc<Health>,
}

/// A copy of a failure, for every job of a group that failed as a whole.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GroupFailure(String);

fn copy_of(err: &StoreError) -> StoreError {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    match err {
        StoreError::Conflict => StoreError::Conflict,
        StoreError::Unavailable(_) => StoreError::Unavailable(Box::new(GroupFailure(text))),
        StoreError::Unexpected(_) => StoreError::Unexpected(Box::new(GroupFailure(text))),
    }
}

fn writer_gone() -> StoreError {
    StoreError::Unavailable(Box::new(GroupFailure("the store is closed".to_owned())))
}

/// Whether a sqlx error is SQLite's "database or disk is full" (`SQLITE_FULL`).
fn is_full(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.code().and_then(|c| c.parse::<i32>().ok()).is_some_and(|c| c & 0xff == 13))
}

/// Whether a store error carries `SQLITE_FULL` somewhere in its chain.
fn store_error_is_full(err: &StoreError) -> bool {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if cause.downcast_ref::<sqlx::Error>().is_some_and(is_full) {
            return true;
        }
        source = cause.source();
    }
    false
}

impl Writer {
    /// Starts the writer task with its own connection of `options` (opened now, so a bad file fails
    /// the open, not the first write).
    pub(crate) async fn start(options: SqliteConnectOptions) -> Result<Self, sqlx::Error> {
        let conn = options.connect().await?;
        let (requests, inbox) = mpsc::unbounded_channel();
        let health = Arc::new(Health::default());
        let line = Line {
            conn: Some(conn),
            options,
            page_limit: None,
            health: health.clone(),
        };
        tokio::spawn(line.serve(inbox));
        Ok(Self { requests, health })
    }

    /// Runs `work` in the next group's transaction; resolves once that transaction has committed (or
    /// failed).
    ///
    /// # Errors
    /// What `work` returned ([`StoreError::Conflict`]: it wrote nothing), or the group's failure (the
    /// commit or a store fault); nothing of `work` is written then.
    pub(crate) async fn run<T: Send + 'static>(&self, work: Work<T>) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let task = Task {
            work,
            value: None,
            reply,
        };
        self.requests
            .send(Request::Job(Box::new(task)))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    /// Runs every work of `works`, in order, in the same group's transaction (one commit for all of
    /// them, unless there are more than a group holds); each gets its own result, as with
    /// [`Writer::run`].
    pub(crate) async fn run_all<T: Send + 'static>(
        &self,
        works: Vec<Work<T>>,
    ) -> Vec<Result<T, StoreError>> {
        let mut answers = Vec::with_capacity(works.len());
        let mut jobs: Vec<Box<dyn Job>> = Vec::with_capacity(works.len());
        for work in works {
            let (reply, answer) = oneshot::channel();
            answers.push(answer);
            jobs.push(Box::new(Task {
                work,
                value: None,
                reply,
            }));
        }
        // If the writer is gone, the jobs are dropped with their reply channels: each answer fails.
        let _ = self.requests.send(Request::Jobs(jobs));
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(answer.await.map_err(|_| writer_gone()).and_then(|r| r));
        }
        results
    }

    /// Borrows the connection for one transaction of the caller's own, begun with `BEGIN IMMEDIATE`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when no connection can be had or the transaction cannot begin.
    pub(crate) async fn lend(&self) -> Result<WriteTx, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Lend(reply))
            .map_err(|_| writer_gone())?;
        let mut lent = answer.await.map_err(|_| writer_gone())??;
        // Marked first: if BEGIN fails or this future is dropped, the writer rolls back.
        lent.in_transaction = true;
        let begun = sqlx::query("BEGIN IMMEDIATE").execute(&mut *lent).await;
        if let Err(err) = begun {
            return Err(self.failed(err));
        }
        Ok(WriteTx {
            tx: lent,
            writer: self.clone(),
        })
    }

    /// Sets the most pages the database file may grow to (`PRAGMA max_page_count`), on the writer's
    /// connection and on every one that replaces it; `None` lifts the limit. Returns the limit now in
    /// force. Writes that need more room fail as on a full disk.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the writer cannot be reached.
    pub(crate) async fn limit_pages(&self, pages: Option<u64>) -> Result<u64, StoreError> {
        let mut tx = self.lend().await?;
        let limit = apply_page_limit(&mut tx.tx, pages).await;
        tx.tx.page_limit = Some(pages);
        tx.commit().await?;
        limit
    }

    /// Whether the last write failed for lack of space and no probe has found room since.
    pub(crate) fn out_of_space(&self) -> bool {
        self.health.out_of_space.load(Ordering::Relaxed)
    }

    /// After a full disk: checks that a write commits and that the database may grow again (its page
    /// count is below its page limit). Clears the out-of-space state when both hold.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] while there is still no room.
    pub(crate) async fn probe_space(&self) -> Result<(), StoreError> {
        let mut tx = self.lend().await?;
        let (count, limit): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT page_count FROM pragma_page_count()),
                    (SELECT max_page_count FROM pragma_max_page_count())",
        )
        .fetch_one(&mut *tx.tx)
        .await
        .map_err(store_error)?;
        // Room for at least one more write of a few pages.
        if count.saturating_add(16) > limit {
            return Err(StoreError::Unavailable(Box::new(GroupFailure(format!(
                "the database is full: {count} of at most {limit} pages"
            )))));
        }
        sqlx::query("UPDATE counters SET value = value WHERE name = 'absence_number'")
            .execute(&mut *tx.tx)
            .await
            .map_err(|e| self.failed(e))?;
        tx.commit().await?;
        self.health.out_of_space.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// Closes the writer's connection (after the jobs already queued) and stops the task.
    pub(crate) async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.requests.send(Request::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// Maps a failure of a lent transaction, noting a full disk.
    fn failed(&self, err: sqlx::Error) -> StoreError {
        if is_full(&err) {
            self.health.out_of_space.store(true, Ordering::Relaxed);
        }
        store_error(err)
    }
}

async fn apply_page_limit(
    conn: &mut SqliteConnection,
    pages: Option<u64>,
) -> Result<u64, StoreError> {
    // SQLite's largest page count; setting it lifts any earlier limit.
    let pages = pages.unwrap_or(4_294_967_294);
    let applied: i64 = sqlx::query_scalar(&format!("PRAGMA max_page_count = {pages}"))
        .fetch_one(conn)
        .await
        .map_err(store_error)?;
    Ok(u64::try_from(applied).unwrap_or(0))
}

/// The connection as lent: handed back to the writer when dropped, with whether it is still inside a
/// transaction (then the writer rolls it back before anything else runs on it).
pub(crate) struct Lent {
    conn: Option<SqliteConnection>,
    in_transaction: bool,
    /// A new page limit to keep for replacement connections (`Some(None)`: lifted).
    page_limit: Option<Option<u64>>,
    back: Option<oneshot::Sender<Returned>>,
}

struct Returned {
    conn: Option<SqliteConnection>,
    in_transaction: bool,
    page_limit: Option<Option<u64>>,
}

impl Deref for Lent {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        // Present from lending until drop.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable!("lent connection taken"))
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .unwrap_or_else(|| unreachable!("lent connection taken"))
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(back) = self.back.take() {
            let _ = back.send(Returned {
                conn: self.conn.take(),
                in_transaction: self.in_transaction,
                page_limit: self.page_limit.take(),
            });
        }
    }
}

/// A write transaction on the lent connection; rolled back if dropped without [`WriteTx::commit`].
pub(crate) struct WriteTx {
    pub(crate) tx: Lent,
    writer: Writer,
}

impl WriteTx {
    /// Commits; on failure the writer rolls back (or replaces the connection) before its next use.
    pub(crate) async fn commit(mut self) -> Result<(), StoreError> {
        match sqlx::query("COMMIT").execute(&mut *self.tx).await {
            Ok(_) => {
                self.tx.in_transaction = false;
                Ok(())
            }
            Err(err) => Err(self.writer.failed(err)),
        }
    }
}

/// The writer task's state: its connection (reopened after a failure that broke it) and how to make
/// a new one.
struct Line {
    conn: Option<SqliteConnection>,
    options: SqliteConnectOptions,
    /// The page limit set through [`Writer::limit_pages`], applied to new connections.
    page_limit: Option<u64>,
    health: Arc<Health>,
}

impl Line {
    async fn serve(mut self, mut inbox: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = inbox.recv().await {
            let mut group: Vec<Box<dyn Job>> = Vec::new();
            let mut after = None;
            match first {
                Request::Job(job) => group.push(job),
                Request::Jobs(jobs) => group.extend(jobs),
                other => after = Some(other),
            }
            if after.is_none() {
                // Everything queued meanwhile joins this group; nothing waits for more.
                while group.len() < MAX_GROUP {
                    match inbox.try_recv() {
                        Ok(Request::Job(job)) => group.push(job),
                        Ok(Request::Jobs(jobs)) => group.extend(jobs),
                        Ok(other) => {
                            after = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                self.commit_group(group).await;
            }
            match after {
                Some(Request::Lend(reply)) => self.lend(reply).await,
                Some(Request::Close(done)) => {
                    if let Some(conn) = self.conn.take() {
                        let _ = conn.close().await;
                    }
                    let _ = done.send(());
                    return;
                }
                Some(Request::Job(_) | Request::Jobs(_)) | None => {}
            }
        }
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }

    /// The connection, opening a new one (with the page limit) if the last one was dropped.
    async fn take(&mut self) -> Result<SqliteConnection, StoreError> {
        if let Some(conn) = self.conn.take() {
            return Ok(conn);
        }
        let mut conn = self.options.connect().await.map_err(store_error)?;
        if self.page_limit.is_some() {
            apply_page_limit(&mut conn, self.page_limit).await?;
        }
        Ok(conn)
    }

    /// Keeps `conn` for the next use; one still inside a transaction is rolled back first, and
    /// dropped (to be replaced) if that fails.
    async fn put_back(&mut self, mut conn: SqliteConnection, in_transaction: bool) {
        if in_transaction && let Err(err) = sqlx::query("ROLLBACK").execute(&mut conn).await {
            tracing::warn!(error = %err, "rollback failed; replacing the write connection");
            let _ = conn.close().await;
            return;
        }
        self.conn = Some(conn);
    }

    fn note(&self, err: &StoreError) {
        if store_error_is_full(err) {
            self.health.out_of_space.store(true, Ordering::Relaxed);
        }
    }

    #[tracing::instrument(name = "sqlite.group_commit", skip_all, fields(jobs = jobs.len()))]
    async fn commit_group(&mut self, mut jobs: Vec<Box<dyn Job>>) {
        while !jobs.is_empty() {
            let mut conn = match self.take().await {
                Ok(conn) => conn,
                Err(err) => return self.fail_all(jobs, &err),
            };
            if let Err(err) = sqlx::query("BEGIN IMMEDIATE").execute(&mut conn).await {
                let err = store_error(err);
                self.put_back(conn, true).await;
                return self.fail_all(jobs, &err);
            }
            let mut done: Vec<Box<dyn Job>> = Vec::with_capacity(jobs.len());
            let mut culprit = None;
            let mut queue = jobs.into_iter();
            for mut job in queue.by_ref() {
                match job.run(&mut conn).await {
                    Ok(()) => done.push(job),
                    // Its guard refused it before it wrote anything.
                    Err(StoreError::Conflict) => job.finish(Err(StoreError::Conflict)),
                    Err(err) => {
                        culprit = Some((job, err));
                        break;
                    }
                }
            }
            let rest: Vec<Box<dyn Job>> = queue.collect();
            let Some((job, err)) = culprit else {
                match sqlx::query("COMMIT").execute(&mut conn).await {
                    Ok(_) => {
                        self.conn = Some(conn);
                        for job in done {
                            job.finish(Ok(()));
                        }
                    }
                    Err(err) => {
                        let err = store_error(err);
                        self.put_back(conn, true).await;
                        self.fail_all(done, &err);
                    }
                }
                return;
            };
            self.put_back(conn, true).await;
            if matches!(err, StoreError::Unavailable(_)) {
                // The store's fault, not the job's: every job of the group fails, nothing written.
                self.fail_all(done.into_iter().chain(rest).collect(), &err);
                job.finish(Err(err));
                return;
            }
            tracing::warn!(error = %err, "a write failed alone; the rest of its group runs again");
            job.finish(Err(err));
            jobs = done.into_iter().chain(rest).collect();
        }
    }

    fn fail_all(&self, jobs: Vec<Box<dyn Job>>, err: &StoreError) {
        self.note(err);
        for job in jobs {
            job.finish(Err(copy_of(err)));
        }
    }

    /// Lends the connection and waits for it to come back.
    async fn lend(&mut self, reply: oneshot::Sender<Result<Lent, StoreError>>) {
        let conn = match self.take().await {
            Ok(conn) => conn,
            Err(err) => {
                self.note(&err);
                let _ = reply.send(Err(err));
                return;
            }
        };
        let (back, returned) = oneshot::channel();
        let lent = Lent {
            conn: Some(conn),
            in_transaction: false,
            page_limit: None,
            back: Some(back),
        };
        // If the borrower has gone, the lent connection is dropped here and comes straight back.
        drop(reply.send(Ok(lent)));
        if let Ok(Returned {
            conn,
            in_transaction,
            page_limit,
        }) = returned.await
        {
            if let Some(limit) = page_limit {
                self.page_limit = limit;
            }
            if let Some(conn) = conn {
                self.put_back(conn, in_transaction).await;
            }
        }
    }
}
