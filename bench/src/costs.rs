//! (h) What one delivery costs the store: transactions, statements and WAL bytes, over a short run of
//! the unit workload on a fresh database, every delivery arrived and recorded.
//!
//! A warm-up run first opens the service's pooled connections and prepares its statements on them (on
//! PostgreSQL each costs transactions of its own), so the window measures the steady state. The window
//! opens once the service is idle again (on PostgreSQL, once the counters include the warm-up), and
//! closes once the service has exited after SIGTERM, everything it did for the run recorded. The counts
//! include the dispatcher's idle polls and the shutdown in that window: a few statements against
//! thousands.
//!
//! - absync's log (both stores, [`logged`]): the statements sqlx logged, and the explicit transactions
//!   among them ([`Statements::transactions`]). SQLite's writer thread runs its statements on a
//!   rusqlite connection, which sqlx does not see: there the log has the reads and the rare lent writes.
//! - The store's own counters: on PostgreSQL `pg_stat_database`, the WAL position and
//!   `pg_stat_statements` ([`pg_stats`]); on SQLite the commit frames and frames of the WAL file
//!   ([`sqlite_wal`]): every write transaction, whichever connection ran it.

use crate::logged::{self, LoggedAbsync, Statements};
use crate::pg_stats::{self, Probe};
use crate::receiver::{self, Arrivals};
use crate::sqlite_wal;
use crate::store::{self, BenchStore};
use crate::workloads::{self, CONCURRENCY};
use absync_e2e::client::Clients;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Unit absences of the run: one delivery each.
pub(crate) const COST_ABSENCES: usize = 2_000;
/// Unit absences of the warm-up.
const WARM_UP_ABSENCES: usize = 500;
/// How long the service is left idle before the window opens: the warm-up's last attempts recorded.
const IDLE_BEFORE: Duration = Duration::from_secs(1);

/// What the run cost.
#[derive(Debug)]
pub(crate) struct Costs {
    /// Deliveries made (and recorded as succeeded).
    pub(crate) deliveries: usize,
    /// Statements counted in absync's log.
    pub(crate) log: Statements,
    /// The store's own counters.
    pub(crate) store: StoreCounts,
}

/// The store's own counters' growth over the run.
#[derive(Debug)]
pub(crate) enum StoreCounts {
    /// `pg_stat_database`, the WAL position, `pg_stat_statements`.
    Postgres(pg_stats::Growth),
    /// The WAL file's commit frames and frames.
    Sqlite(sqlite_wal::Growth),
}

/// What reads the store's counters.
enum Meter {
    /// The probe of the server's counters.
    Postgres(Probe),
    /// The URL and file of the database.
    Sqlite(String, PathBuf),
}

/// A meter's reading at the start of the window.
enum Started<'a> {
    /// The probe and the counters it read.
    Postgres(&'a Probe, pg_stats::Counters),
    /// The window over the WAL, its snapshot held.
    Sqlite(sqlite_wal::Window),
}

/// Measures on a database of its own, removed afterwards; the statement log is kept in `log_dir`.
pub(crate) async fn measure(
    absync: &str,
    store: &BenchStore,
    log_dir: &Path,
) -> anyhow::Result<Costs> {
    let name = format!("absync_bench_costs_{}", std::process::id());
    let url = store.fresh(&name).await?;
    let (receiver_addr, arrivals) = receiver::start().await?;
    store.migrate(&url).await?;
    let token = store.token(&url).await?;
    store
        .subscribe(&url, &format!("http://{receiver_addr}/hook"))
        .await?;
    let mut meter = match store {
        BenchStore::Postgres { server } => {
            Meter::Postgres(Probe::prepare(server, &url, &name).await?)
        }
        BenchStore::Sqlite { folder } => {
            Meter::Sqlite(url.clone(), store::sqlite_file(folder, &name))
        }
    };
    std::fs::create_dir_all(log_dir)?;
    let log = log_dir.join(format!("{}-statements.log", store.name()));
    let concurrency = CONCURRENCY.to_string();
    let service = LoggedAbsync::start(
        absync,
        &url,
        &log,
        &["--dispatch-concurrency", &concurrency],
    )
    .await?;
    let clients = Clients::connect(service.grpc_addr, Some(token)).await;
    workloads::unit(&clients, &arrivals, "warm-up", WARM_UP_ABSENCES).await?;
    let (from, counts) = window(service, &clients, &arrivals, &mut meter).await?;
    let succeeded = store.succeeded_deliveries(&url).await?;
    let expected = WARM_UP_ABSENCES + COST_ABSENCES;
    anyhow::ensure!(
        usize::try_from(succeeded)? == expected,
        "(h): {succeeded} deliveries recorded as succeeded, {expected} expected"
    );
    let log = logged::count(&log, from)?;
    if let Meter::Postgres(probe) = meter {
        probe.close().await;
    }
    store.discard(&name).await?;
    Ok(Costs {
        deliveries: COST_ABSENCES,
        log,
        store: counts,
    })
}

/// The measured run, from the idle, warmed-up service to its exit: where its log stood at the start,
/// and the growth of the store's counters.
async fn window(
    service: LoggedAbsync,
    clients: &Clients,
    arrivals: &Arrivals,
    meter: &mut Meter,
) -> anyhow::Result<(u64, StoreCounts)> {
    let started = match meter {
        Meter::Postgres(probe) => {
            probe.reset_statements().await;
            tokio::time::sleep(pg_stats::IDLE_FLUSH).await;
            let counters = probe.counters().await?;
            Started::Postgres(&*probe, counters)
        }
        Meter::Sqlite(url, file) => {
            tokio::time::sleep(IDLE_BEFORE).await;
            Started::Sqlite(sqlite_wal::Window::open(url, file).await?)
        }
    };
    let from = service.log_position()?;
    workloads::unit(clients, arrivals, "unit", COST_ABSENCES).await?;
    service.stop().await?;
    let counts = match started {
        Started::Postgres(probe, before) => {
            tokio::time::sleep(pg_stats::EXIT_FLUSH).await;
            StoreCounts::Postgres(probe.growth_since(&before).await?)
        }
        Started::Sqlite(window) => StoreCounts::Sqlite(window.close().await?),
    };
    Ok((from, counts))
}
