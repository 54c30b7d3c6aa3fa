//! Store faults on demand, for the tests that need one mid-call (`store_faults.rs`, and the log
//! levels test in `tests/logs`): a lock that holds absync's ingest writes, and on PostgreSQL the
//! cancellation or termination of the statement waiting on it.

use crate::app::TestApp;
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
    let mut clients = app.clients.clone();
    tokio::spawn(async move {
        let request = clients.request(proto::PutAbsenceRequest {
            absence: Some(monday_to_tuesday("hr-2", 1, AbsenceStatus::Approved)),
        });
        clients
            .ingest
            .put_absence(request)
            .await
            .map(tonic::Response::into_inner)
    })
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
