//! Store faults in the middle of an ingest: the call answers `UNAVAILABLE`, nothing is half-written,
//! and once the store is back the same call succeeds and is delivered.
//!
//! On PostgreSQL the ingest statement is held on a table lock, then cancelled (what a statement
//! timeout does, SQLSTATE 57014) or its connection killed (57P01). On SQLite another connection holds
//! the write lock for longer than the busy timeout; the dispatcher's own claims fail meanwhile, and it
//! carries on once the lock is gone.

use crate::app::TestApp;
use crate::faults::{
    interrupt_the_waiting_ingest, lock_writes, put_in_background, spawn_app_delivered,
};
use absync_adapter_grpc::proto::AbsenceStatus;
use absync_e2e::database::StoreKind;
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::wait::{eventually, ready_when};
use sqlx::Executor;
use std::time::Duration;
use tonic::Code;

const TABLES: [&str; 6] = [
    "absences",
    "leaves",
    "leave_events",
    "deliveries",
    "delivery_attempts",
    "subscriptions",
];

async fn counts(app: &TestApp) -> Vec<i64> {
    let mut all = Vec::new();
    for table in TABLES {
        all.push(app.count(table).await);
    }
    all
}

#[tokio::test]
async fn a_store_fault_mid_ingest_is_unavailable_writes_nothing_and_the_retry_is_delivered() {
    let mut app = spawn_app_delivered().await;
    // The attempts are recorded once the dispatcher has written its batch.
    eventually(
        "four attempts recorded",
        Duration::from_secs(10),
        async || {
            let recorded = app.count("delivery_attempts").await;
            ready_when(recorded >= 4, recorded)
        },
    )
    .await;
    let before = counts(&app).await;

    let faults: &[&str] = match app.store() {
        StoreKind::Postgres => &["pg_cancel_backend", "pg_terminate_backend"],
        StoreKind::Sqlite => &["busy timeout"],
    };
    for fault in faults {
        let mut locker = lock_writes(&app).await;
        let put = put_in_background(&app);
        if app.store() == StoreKind::Postgres {
            interrupt_the_waiting_ingest(&app, fault).await;
        } else {
            // The dispatcher keeps claiming (writes) meanwhile, and fails with the store locked.
            tokio::time::sleep(Duration::from_millis(800)).await;
        }
        let status = put.await.unwrap().unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{fault}: {status:?}");
        locker.execute("ROLLBACK").await.unwrap();
        drop(locker);
        assert_eq!(counts(&app).await, before, "{fault}: nothing was written");
    }

    // The store is back: the same call succeeds and its leaves are delivered.
    let answer = app
        .put(monday_to_tuesday("hr-2", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(answer.events.len(), 4);
    app.receiver.wait_for(8, Duration::from_secs(10)).await;
}
