//! The gRPC health service follows the same readiness as `/readyz`: `NOT_SERVING` while the store is
//! unreachable and `SERVING` again once it answers; `NOT_SERVING` from the moment shutdown begins.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::process::AbsyncProcess;
use absync_e2e::wait::{eventually, ready_when};
use sqlx::{Connection, PgConnection};
use std::time::Duration;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

async fn health(client: &mut HealthClient<Channel>, service: &str) -> ServingStatus {
    client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status()
}

async fn readyz(process: &AbsyncProcess) -> u16 {
    reqwest::get(format!("http://{}/readyz", process.http_addr))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Lets the test database take connections or not; refusing also ends the open ones.
async fn allow_connections(url: &str, allow: bool) {
    let name = url.rsplit('/').next().unwrap().to_owned();
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let mut admin = PgConnection::connect(&server).await.unwrap();
    sqlx::query(&format!(
        "ALTER DATABASE \"{name}\" ALLOW_CONNECTIONS {allow}"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    if !allow {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(&name)
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let _ = admin.close().await;
}

async fn wait_health(client: &mut HealthClient<Channel>, want: ServingStatus, what: &str) {
    eventually(what, Duration::from_secs(15), async || {
        let now = health(client, "").await;
        ready_when(now == want, now)
    })
    .await;
}

#[tokio::test]
async fn health_follows_the_store_and_turns_not_serving_at_shutdown() {
    let database = TestDatabase::create_on(StoreKind::Postgres).await;
    let process = AbsyncProcess::start(ABSYNC, database.url(), &[]);
    let channel = Channel::from_shared(format!("http://{}", process.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = HealthClient::new(channel);
    for service in [
        "",
        "absync.v1.AbsenceIngest",
        "absync.v1.Subscriptions",
        "absync.v1.Deliveries",
    ] {
        assert_eq!(
            health(&mut client, service).await,
            ServingStatus::Serving,
            "{service:?}"
        );
    }
    assert_eq!(readyz(&process).await, 200);

    allow_connections(database.url(), false).await;
    wait_health(
        &mut client,
        ServingStatus::NotServing,
        "NOT_SERVING while the store is unreachable",
    )
    .await;
    assert_eq!(
        health(&mut client, "absync.v1.AbsenceIngest").await,
        ServingStatus::NotServing
    );
    assert_eq!(readyz(&process).await, 503, "the same readiness as /readyz");

    allow_connections(database.url(), true).await;
    wait_health(
        &mut client,
        ServingStatus::Serving,
        "SERVING once the store answers again",
    )
    .await;
    assert_eq!(readyz(&process).await, 200);

    // A watcher hears NOT_SERVING as soon as shutdown begins.
    let mut watch = client
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.status(), ServingStatus::Serving);
    let pid = nix::unistd::Pid::from_raw(i32::try_from(process.pid()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("an update within 5 s of SIGTERM")
        .unwrap()
        .unwrap();
    assert_eq!(next.status(), ServingStatus::NotServing);
    // Hanging up lets the graceful shutdown finish; the wait for the exit blocks, so it runs off the
    // runtime that carries the hang-up.
    drop(watch);
    drop(client);
    let (status, took) =
        tokio::task::spawn_blocking(move || process.terminate(Duration::from_secs(15)))
            .await
            .unwrap();
    assert!(status.success(), "{status:?} after {took:?}");
}
