//! The single writer: one thread, owning the write connection, that every write of this process goes
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
//!   a second, async (sqlx) connection for one transaction of their own and hand it back when done,
//!   even if dropped half-way. The writer thread waits meanwhile, so writes never overlap.
//!
//! Jobs run on the thread's own connection (rusqlite), statement after statement with no hand-over
//! between threads: the thread is woken once per group, not once per statement.
//!
//! After any failed statement or commit the writer rolls back, and if that fails too it replaces the
//! connection: a failure never leaves it inside a broken transaction.

use crate::error::{sqlite_error, store_error};
use absync_application::ports::StoreError;
use rusqlite::Connection as Direct;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

/// Most jobs applied in one transaction.
const MAX_GROUP: usize = 512;

/// A job's work: run on the writer thread's connection inside the group's transaction. It may run
/// again (in a new transaction) when another job of its group failed, so it is `FnMut` and must not
/// consume what it captures.
pub(crate) type Work<T> = Box<dyn FnMut(&Direct) -> Result<T, StoreError> + Send>;

/// A job with its result slot and the caller waiting for it, type-erased.
trait Job: Send {
    /// Runs the work, keeping its value for [`Job::finish`].
    fn run(&mut self, conn: &Direct) -> Result<(), StoreError>;
    /// Answers the caller: the kept value when `outcome` is `Ok` (the group committed).
    fn finish(self: Box<Self>, outcome: Result<(), StoreError>);
}

struct Task<T> {
    work: Work<T>,
    value: Option<T>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send + 'static> Job for Task<T> {
    fn run(&mut self, conn: &Direct) -> Result<(), StoreError> {
        self.value = Some((self.work)(conn)?);
        Ok(())
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
    Limit(Option<u64>, oneshot::Sender<Result<u64, StoreError>>),
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

/// Why the writer refused, in its own words.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct GroupFailure(String);

fn writer_gone() -> StoreError {
    StoreError::Unavailable(Box::new(GroupFailure("the store is closed".to_owned())))
}

/// Whether a rusqlite error is SQLite's "database or disk is full" (`SQLITE_FULL`).
fn is_direct_full(err: &rusqlite::Error) -> bool {
    matches!(err, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::DiskFull)
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
        if cause.downcast_ref::<sqlx::Error>().is_some_and(is_full)
            || cause
                .downcast_ref::<rusqlite::Error>()
                .is_some_and(is_direct_full)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

impl Writer {
    /// Starts the writer thread with its own connection to `path` (opened now, so a bad file fails the
    /// open, not the first write), and the connection of `options` it lends.
    pub(crate) async fn start(
        path: PathBuf,
        synchronous_full: bool,
        busy_timeout: Duration,
        options: SqliteConnectOptions,
    ) -> Result<Self, OpenFailure> {
        let direct = DirectOptions {
            path,
            synchronous_full,
            busy_timeout,
        };
        let conn = direct.open(None).map_err(OpenFailure::Direct)?;
        let lendable = options.connect().await.map_err(OpenFailure::Lendable)?;
        let (requests, inbox) = mpsc::unbounded_channel();
        let health = Arc::new(Health::default());
        let line = Line {
            conn: Some(conn),
            direct,
            lendable: Some(lendable),
            options,
            page_limit: None,
            health: health.clone(),
            runtime: Handle::current(),
        };
        std::thread::Builder::new()
            .name("absync-sqlite-writer".to_owned())
            .spawn(move || line.serve(inbox))
            .map_err(OpenFailure::Thread)?;
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
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Limit(pages, reply))
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
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
        let verdict = self
            .run(Box::new(|conn| {
                let (count, limit): (i64, i64) = conn
                    .query_row(
                        "SELECT (SELECT page_count FROM pragma_page_count()),
                                (SELECT max_page_count FROM pragma_max_page_count())",
                        [],
                        |row| Ok((row.get(0)?, row.get(1)?)),
                    )
                    .map_err(sqlite_error)?;
                // A write that commits proves the disk takes more; the page count, that the file
                // may grow by a few pages.
                conn.execute(
                    "UPDATE counters SET value = value WHERE name = 'absence_number'",
                    [],
                )
                .map_err(sqlite_error)?;
                Ok((count.saturating_add(16) <= limit)
                    .then_some(())
                    .ok_or(format!(
                        "the database is full: {count} of at most {limit} pages"
                    )))
            }))
            .await?;
        verdict.map_err(|full| StoreError::Unavailable(Box::new(GroupFailure(full))))?;
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

/// The text of `PRAGMA max_page_count` for `pages` (`None`: SQLite's largest, which lifts any limit).
fn page_limit_pragma(pages: Option<u64>) -> String {
    format!("PRAGMA max_page_count = {}", pages.unwrap_or(4_294_967_294))
}

/// Why the writer could not start.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OpenFailure {
    /// The writer thread's own connection.
    #[error("cannot open the write connection")]
    Direct(#[source] rusqlite::Error),
    /// The connection lent to multi-step writes.
    #[error("cannot open the write connection")]
    Lendable(#[source] sqlx::Error),
    /// The thread.
    #[error("cannot start the writer thread")]
    Thread(#[source] std::io::Error),
}

/// The target of the event logged for each statement the writer runs, when enabled at DEBUG (as
/// sqlx logs its own under `sqlx::query`): what `cargo xtask bench` counts.
const STATEMENT_TARGET: &str = "absync_adapter_sqlite::statement";

/// Logs a statement the writer runs (its first line).
fn log_statement(sql: &str) {
    let summary = sql.trim_start().lines().next().unwrap_or_default();
    tracing::debug!(target: STATEMENT_TARGET, summary);
}

/// How the writer thread opens its connection.
struct DirectOptions {
    path: PathBuf,
    synchronous_full: bool,
    busy_timeout: Duration,
}

impl DirectOptions {
    /// Opens the file as the pool's connections do (WAL, foreign keys, busy timeout), with the
    /// durability asked and the page limit in force.
    fn open(&self, page_limit: Option<u64>) -> Result<Direct, rusqlite::Error> {
        let mut conn = Direct::open(&self.path)?;
        if tracing::enabled!(target: STATEMENT_TARGET, tracing::Level::DEBUG) {
            conn.trace(Some(log_statement));
        }
        conn.busy_timeout(self.busy_timeout)?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch(if self.synchronous_full {
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
        } else {
            "PRAGMA synchronous = OFF; PRAGMA foreign_keys = ON;"
        })?;
        conn.set_prepared_statement_cache_capacity(64);
        if page_limit.is_some() {
            conn.query_row(&page_limit_pragma(page_limit), [], |_| Ok(()))?;
        }
        Ok(conn)
    }
}

/// The connection as lent: handed back to the writer when dropped, with whether it is still inside a
/// transaction (then the writer rolls it back before anything else runs on it).
pub(crate) struct Lent {
    conn: Option<SqliteConnection>,
    in_transaction: bool,
    back: Option<oneshot::Sender<Returned>>,
}

struct Returned {
    conn: Option<SqliteConnection>,
    in_transaction: bool,
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

/// The writer thread's state: its connection, the one it lends (each reopened after a failure that
/// broke it), and how to make new ones.
struct Line {
    conn: Option<Direct>,
    direct: DirectOptions,
    lendable: Option<SqliteConnection>,
    options: SqliteConnectOptions,
    /// The page limit set through [`Writer::limit_pages`], applied to new connections.
    page_limit: Option<u64>,
    health: Arc<Health>,
    /// The runtime the lent connection belongs to.
    runtime: Handle,
}

impl Line {
    fn serve(mut self, mut inbox: mpsc::UnboundedReceiver<Request>) {
        while let Some(first) = inbox.blocking_recv() {
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
                self.commit_group(group);
            }
            match after {
                Some(Request::Lend(reply)) => self.lend(reply),
                Some(Request::Limit(pages, reply)) => {
                    let _ = reply.send(self.limit(pages));
                }
                Some(Request::Close(done)) => {
                    self.close();
                    let _ = done.send(());
                    return;
                }
                Some(Request::Job(_) | Request::Jobs(_)) | None => {}
            }
        }
        self.close();
    }

    fn close(&mut self) {
        drop(self.conn.take());
        if let Some(lendable) = self.lendable.take() {
            let _ = self.runtime.block_on(lendable.close());
        }
    }

    /// The thread's connection, opening a new one if the last one was dropped.
    fn take(&mut self) -> Result<Direct, StoreError> {
        match self.conn.take() {
            Some(conn) => Ok(conn),
            None => self.direct.open(self.page_limit).map_err(sqlite_error),
        }
    }

    /// Keeps `conn` for the next group, rolled back first if asked; dropped (to be replaced) if the
    /// rollback fails.
    fn put_back(&mut self, conn: Direct, roll_back: bool) {
        if roll_back && let Err(err) = conn.execute_batch("ROLLBACK") {
            tracing::warn!(error = %err, "rollback failed; replacing the write connection");
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
    fn commit_group(&mut self, mut jobs: Vec<Box<dyn Job>>) {
        while !jobs.is_empty() {
            let conn = match self.take() {
                Ok(conn) => conn,
                Err(err) => return self.fail_all(jobs, &err),
            };
            if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
                self.put_back(conn, true);
                return self.fail_all(jobs, &sqlite_error(err));
            }
            let mut done: Vec<Box<dyn Job>> = Vec::with_capacity(jobs.len());
            let mut culprit = None;
            let mut queue = jobs.into_iter();
            for mut job in queue.by_ref() {
                match job.run(&conn) {
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
                match conn.execute_batch("COMMIT") {
                    Ok(()) => {
                        self.conn = Some(conn);
                        for job in done {
                            job.finish(Ok(()));
                        }
                    }
                    Err(err) => {
                        self.put_back(conn, true);
                        self.fail_all(done, &sqlite_error(err));
                    }
                }
                return;
            };
            self.put_back(conn, true);
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
            job.finish(Err(err.copied()));
        }
    }

    /// Sets the page limit on both connections, and for the ones that replace them.
    fn limit(&mut self, pages: Option<u64>) -> Result<u64, StoreError> {
        self.page_limit = pages;
        let pragma = page_limit_pragma(pages);
        let conn = self.take()?;
        let applied: Result<i64, _> = conn.query_row(&pragma, [], |row| row.get(0));
        self.conn = Some(conn);
        let applied = applied.map_err(sqlite_error)?;
        if let Some(lendable) = self.lendable.as_mut() {
            self.runtime
                .block_on(sqlx::query(&pragma).execute(&mut *lendable))
                .map_err(store_error)?;
        }
        Ok(u64::try_from(applied).unwrap_or(0))
    }

    /// Lends the async connection and waits for it to come back.
    fn lend(&mut self, reply: oneshot::Sender<Result<Lent, StoreError>>) {
        let conn = match self.lendable.take() {
            Some(conn) => conn,
            None => {
                let opened = self.runtime.block_on(async {
                    let mut conn = self.options.connect().await.map_err(store_error)?;
                    if self.page_limit.is_some() {
                        sqlx::query(&page_limit_pragma(self.page_limit))
                            .execute(&mut conn)
                            .await
                            .map_err(store_error)?;
                    }
                    Ok(conn)
                });
                match opened {
                    Ok(conn) => conn,
                    Err(err) => {
                        self.note(&err);
                        let _ = reply.send(Err(err));
                        return;
                    }
                }
            }
        };
        let (back, returned) = oneshot::channel();
        let lent = Lent {
            conn: Some(conn),
            in_transaction: false,
            back: Some(back),
        };
        // If the borrower has gone, the lent connection is dropped here and comes straight back.
        drop(reply.send(Ok(lent)));
        if let Ok(Returned {
            conn: Some(mut conn),
            in_transaction,
        }) = returned.blocking_recv()
        {
            if in_transaction
                && let Err(err) = self
                    .runtime
                    .block_on(sqlx::query("ROLLBACK").execute(&mut conn))
            {
                tracing::warn!(error = %err, "rollback failed; replacing the lent connection");
                let _ = self.runtime.block_on(conn.close());
                return;
            }
            self.lendable = Some(conn);
        }
    }
}
