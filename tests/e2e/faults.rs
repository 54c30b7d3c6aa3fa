//! Store faults on demand, for the tests that need one mid-call (`store_faults.rs`, and the log
//! levels test in `tests/logs`): a lock that holds absync's ingest writes, and on PostgreSQL the
//! cancellation or termination of the statement waiting on it.

use crate::app::{TestApp, spawn_app_with};
use absync_adapter_grpc::proto::{self, AbsenceStatus};
use absync_e2e::database::StoreKind;
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::wait::{eventually, ready_when};
use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor};
use std::time::Duration;

/// Starts a put of hr-2 in the background.
pub(crate) fn put_in_background(
    app: &TestApp,
) -> tokio::task::JoinHandle<Result<proto::ChangeResponse, tonic::Status>> {
    let clients = app.clients.clone();
    tokio::spawn(async move {
        clients
            .put(monday_to_tuesday("hr-2", 1, AbsenceStatus::Approved))
            .await
    })
}

/// An app whose store gives up waiting for a connection after 500 ms, with the receiver subscribed
/// and hr-1 put and delivered (four leaves).
pub(crate) async fn spawn_app_delivered() -> TestApp {
    let mut app = spawn_app_with(&[
        "--allow-destinations",
        "127.0.0.0/8",
        "--database-acquire-timeout",
        "500ms",
    ])
    .await;
    app.subscribe(proto::EventFilter::All).await;
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.receiver.wait_for(4, Duration::from_secs(10)).await;
    app
}

/// Takes a lock that makes every write of absync's ingest wait.
pub(crate) async fn lock_writes(app: &TestApp) -> PoolConnection<Any> {
    let mut locker = app.pool.acquire().await.unwrap();
    match app.store() {
        StoreKind::Postgres => {
            locker.execute("BEGIN").await.unwrap();
            locker
                .execute("LOCK TABLE leave_events IN EXCLUSIVE MODE")
                .await
                .unwrap();
        }
        StoreKind::Sqlite => {
            locker.execute("BEGIN EXCLUSIVE").await.unwrap();
        }
    }
    locker
}

/// On PostgreSQL: waits until a backend of absync waits on the lock, then applies `action`
/// (`pg_cancel_backend` or `pg_terminate_backend`) to it.
pub(crate) async fn interrupt_the_waiting_ingest(app: &TestApp, action: &str) {
    eventually(
        "the ingest to wait on the lock",
        Duration::from_secs(10),
        async || {
            let (n,): (i64,) = sqlx::query_as(&format!(
                "SELECT count(*) FROM (SELECT {action}(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND wait_event_type = 'Lock'
                   AND query LIKE '%leave_events%') AS interrupted"
            ))
            .fetch_one(&app.pool)
            .await
            .unwrap();
            ready_when(n > 0, format!("{n} backends interrupted"))
        },
    )
    .await;
}
