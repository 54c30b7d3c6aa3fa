//! The delivery engine under process-level faults, with the built `absync` binary: a crash (SIGKILL)
//! and SIGTERM in the middle of a run (on both stores), and two instances on one PostgreSQL database.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::{Received, Receiver};
use common::token;
use sqlx::AnyPool;
use std::collections::HashMap;
use std::time::Duration;

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// Puts `absences` one-week absences (10 leaves each), ids `{prefix}-{n}`, in batches of 100.
async fn ingest(clients: &mut Clients, prefix: &str, absences: usize) {
    let all: Vec<proto::Absence> = (0..absences)
        .map(|n| {
            half_days(
                &format!("{prefix}-{n}"),
                1,
                AbsenceStatus::Approved,
                ("2024-03-04", HalfDay::Am),
                ("2024-03-08", HalfDay::Pm),
            )
        })
        .collect();
    for batch in all.chunks(100) {
        let request = clients.request(proto::PutAbsencesRequest {
            absences: batch.to_vec(),
        });
        let results = clients
            .ingest
            .put_absences(request)
            .await
            .unwrap()
            .into_inner()
            .results;
        assert!(
            results
                .iter()
                .all(|r| matches!(r.result, Some(proto::put_absence_result::Result::Change(_))))
        );
    }
}

/// A run under way: a database, a receiver, and the flags its absync instances start with.
struct Run {
    database: TestDatabase,
    receiver: Receiver,
    flags: Vec<&'static str>,
}

impl Run {
    /// A database of `store`, absync started on it with `flags`, eight sends in flight at most and
    /// polling every 200 ms, a receiver answering after `answer_delay`, subscribed, and `absences`
    /// one-week absences put. Returns the run and that first instance.
    async fn start(
        store: StoreKind,
        flags: [&'static str; 2],
        answer_delay: Duration,
        absences: usize,
    ) -> (Self, AbsyncProcess) {
        let database = TestDatabase::create_on(store).await;
        let url = database.url();
        let mut flags = flags.to_vec();
        flags.extend([
            "--dispatch-concurrency",
            "8",
            "--dispatch-poll-interval",
            "200ms",
        ]);
        let first = AbsyncProcess::start(ABSYNC, url, &flags);
        let receiver = Receiver::start().await;
        receiver.delay_answers(answer_delay);
        let mut clients = Clients::connect(first.grpc_addr, Some(token(url).await)).await;
        clients.subscribe_leaves(receiver.url("/hook")).await;
        ingest(&mut clients, "hr", absences).await;
        let run = Self {
            database,
            receiver,
            flags,
        };
        (run, first)
    }

    /// Starts a second absync with the same flags, and waits until all `deliveries` arrived and
    /// are recorded succeeded.
    async fn finish_with_a_second_instance(&self, deliveries: usize) {
        let _second = AbsyncProcess::start(ABSYNC, self.database.url(), &self.flags);
        let seen = wait_distinct(&self.receiver, deliveries, Duration::from_secs(60)).await;
        assert_eq!(
            seen.len(),
            deliveries,
            "every delivery arrived at least once"
        );
        wait_all_succeeded(
            &self.database.pool().await,
            i64::try_from(deliveries).unwrap(),
        )
        .await;
    }
}

/// How often each delivery (webhook-id) arrived.
fn arrivals(got: &[Received]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for request in got {
        *seen
            .entry(request.header("webhook-id").unwrap().to_owned())
            .or_insert(0) += 1;
    }
    seen
}

/// Waits until `distinct` different deliveries arrived.
async fn wait_distinct(
    receiver: &Receiver,
    distinct: usize,
    deadline: Duration,
) -> HashMap<String, usize> {
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let seen = arrivals(&receiver.received());
        if seen.len() >= distinct {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "only {} of {distinct} deliveries arrived within {deadline:?}",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the database shows `count` succeeded deliveries and nothing else.
async fn wait_all_succeeded(pool: &AnyPool, count: i64) {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (succeeded, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM deliveries",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if succeeded == count && total == count {
            return;
        }
        assert!(
            tokio::time::Instant::now() < until,
            "{succeeded} of {total} succeeded, {count} expected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_crash_mid_run_loses_nothing_on_postgres() {
    a_crash_mid_run_loses_nothing(StoreKind::Postgres).await;
}

#[tokio::test]
async fn a_crash_mid_run_loses_nothing_on_sqlite() {
    a_crash_mid_run_loses_nothing(StoreKind::Sqlite).await;
}

async fn a_crash_mid_run_loses_nothing(store: StoreKind) {
    let (run, first) = Run::start(
        store,
        ["--dispatch-lease", "2s"],
        Duration::from_millis(20),
        200,
    )
    .await;
    run.receiver.wait_for(300, Duration::from_secs(30)).await;
    first.kill();
    let before = arrivals(&run.receiver.received()).len();
    assert!(before < 2000, "the crash came mid-run ({before} delivered)");

    run.finish_with_a_second_instance(2000).await;
}

#[tokio::test]
async fn two_instances_share_the_work_and_send_each_delivery_once() {
    let database = TestDatabase::create_on(StoreKind::Postgres).await;
    let url = database.url();
    let first = AbsyncProcess::start(ABSYNC, url, &[]);
    let second = AbsyncProcess::start(ABSYNC, url, &[]);
    let receiver = Receiver::start().await;
    let token = token(url).await;
    // Ingest through both instances.
    let mut a = Clients::connect(first.grpc_addr, Some(token.clone())).await;
    let mut b = Clients::connect(second.grpc_addr, Some(token)).await;
    a.subscribe_leaves(receiver.url("/hook")).await;
    ingest(&mut a, "a", 500).await;
    ingest(&mut b, "b", 500).await;

    let seen = wait_distinct(&receiver, 10_000, Duration::from_secs(120)).await;
    receiver
        .assert_stays_at(receiver.count(), Duration::from_millis(500))
        .await;
    let seen_after = arrivals(&receiver.received());
    assert_eq!(seen_after.len(), 10_000);
    let twice: Vec<_> = seen_after.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "{} deliveries arrived more than once",
        twice.len()
    );
    assert_eq!(seen.len(), 10_000);
    wait_all_succeeded(&database.pool().await, 10_000).await;
    drop((first, second));
}

#[tokio::test]
async fn sigterm_mid_run_exits_in_time_and_a_restart_finishes_on_postgres() {
    sigterm_mid_run_exits_in_time_and_a_restart_finishes(StoreKind::Postgres).await;
}

#[tokio::test]
async fn sigterm_mid_run_exits_in_time_and_a_restart_finishes_on_sqlite() {
    sigterm_mid_run_exits_in_time_and_a_restart_finishes(StoreKind::Sqlite).await;
}

async fn sigterm_mid_run_exits_in_time_and_a_restart_finishes(store: StoreKind) {
    let (run, first) = Run::start(
        store,
        ["--shutdown-timeout", "2s"],
        Duration::from_millis(200),
        20,
    )
    .await;
    run.receiver.wait_for(16, Duration::from_secs(30)).await;

    let (status, took) = first.terminate(Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_secs(3),
        "exited after {took:?}, bound 2 s"
    );
    let delivered = arrivals(&run.receiver.received()).len();
    assert!(
        delivered < 200,
        "SIGTERM came mid-run ({delivered} delivered)"
    );

    run.finish_with_a_second_instance(200).await;
}
