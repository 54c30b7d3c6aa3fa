//! A full disk on the embedded store, simulated without privileges: the running store's database is
//! capped at its current size (`PRAGMA max_page_count` on the writer's connections). Writes then
//! answer `UNAVAILABLE` with nothing written and `/readyz` (and the gRPC health service) reports the
//! store unavailable; once the cap
//! is lifted, the very next write succeeds, with no restart, and every acknowledged change is
//! delivered. (PostgreSQL has no such cap; this test runs in the suite's SQLite pass.)

use crate::app::{TestApp, spawn_app_with};
use absync_adapter_grpc::proto::{AbsenceStatus, EventFilter};
use absync_bootstrap::store::Store;
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::wait::{eventually, ready_when};
use std::collections::HashSet;
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// The tables an ingest writes.
const INGEST_TABLES: [&str; 4] = ["absences", "leaves", "leave_events", "deliveries"];

async fn ingest_counts(app: &TestApp) -> Vec<i64> {
    let mut all = Vec::new();
    for table in INGEST_TABLES {
        all.push(app.count(table).await);
    }
    all
}

/// What the gRPC health service says of the server as a whole, once it says `want` (it follows the
/// store's readiness at its probe interval).
async fn grpc_health_becomes(app: &TestApp, want: ServingStatus) {
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    eventually(
        &format!("gRPC health {want:?}"),
        Duration::from_secs(10),
        async || {
            let now = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .ok()
                .map(|answer| answer.into_inner().status());
            ready_when(now == Some(want), now)
        },
    )
    .await;
}

async fn readyz(app: &TestApp) -> u16 {
    reqwest::get(app.http("/readyz"))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_full_disk_is_unavailable_writes_nothing_and_the_next_write_after_space_returns_succeeds()
{
    let mut app = spawn_app_with(&[
        "--allow-destinations",
        "127.0.0.0/8",
        "--dispatch-lease",
        "2s",
    ])
    .await;
    let Store::Sqlite(store) = app.app_store.clone() else {
        return;
    };
    app.subscribe(EventFilter::All).await;
    let mut acknowledged = 0;
    app.put(monday_to_tuesday("hr-0", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    acknowledged += 1;
    assert_eq!(readyz(&app).await, 200);

    // The file may not grow any more (SQLite keeps the cap at the current size at least).
    let pages = store.limit_pages(Some(1)).await.unwrap();
    assert!(pages > 1, "capped at the current size, {pages} pages");
    let mut refused = None;
    for i in 1..=2_000 {
        let before = ingest_counts(&app).await;
        match app
            .put(monday_to_tuesday(
                &format!("hr-{i}"),
                1,
                AbsenceStatus::Approved,
            ))
            .await
        {
            Ok(_) => acknowledged += 1,
            Err(status) => {
                assert!(
                    matches!(status.code(), Code::Unavailable | Code::ResourceExhausted),
                    "{status:?}"
                );
                assert_eq!(
                    ingest_counts(&app).await,
                    before,
                    "nothing of hr-{i} written"
                );
                refused = Some(i);
                break;
            }
        }
    }
    let refused = refused.expect("the capped store refused a write");
    eprintln!("capped at {pages} pages; hr-{refused} refused after {acknowledged} acknowledged");
    assert_eq!(readyz(&app).await, 503, "the store is reported unavailable");
    grpc_health_becomes(&app, ServingStatus::NotServing).await;
    // Still full: refused again, still nothing written, and the writer is not poisoned.
    let before = ingest_counts(&app).await;
    let again = app
        .put(monday_to_tuesday(
            &format!("hr-{refused}"),
            1,
            AbsenceStatus::Approved,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(again.code(), Code::Unavailable | Code::ResourceExhausted),
        "{again:?}"
    );
    assert_eq!(ingest_counts(&app).await, before);

    // Space returns: the next write succeeds at once, with no restart.
    store.limit_pages(None).await.unwrap();
    let answer = app
        .put(monday_to_tuesday(
            &format!("hr-{refused}"),
            1,
            AbsenceStatus::Approved,
        ))
        .await
        .unwrap();
    assert_eq!(answer.events.len(), 4);
    acknowledged += 1;
    assert_eq!(readyz(&app).await, 200, "ready again");
    grpc_health_becomes(&app, ServingStatus::Serving).await;

    // Every acknowledged change is delivered: four leaves each (at least once).
    let leaves = eventually(
        &format!("{} leaves delivered", acknowledged * 4),
        Duration::from_secs(60),
        async || {
            let leaves: HashSet<String> = app
                .receiver
                .received()
                .iter()
                .map(|r| r.json()["id"].as_str().unwrap_or_default().to_owned())
                .collect();
            if leaves.len() >= acknowledged * 4 {
                Ok(leaves)
            } else {
                Err(format!("{} delivered", leaves.len()))
            }
        },
    )
    .await;
    assert_eq!(leaves.len(), acknowledged * 4, "nothing else was delivered");
}
