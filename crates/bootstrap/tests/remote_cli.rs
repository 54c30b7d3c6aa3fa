//! The operator CLI over gRPC (`remote_cli`) against a running service, both as processes: list, show,
//! re-sync, mark processed and the pending-tasks dashboard.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter, HalfDay};
use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use absync_e2e::client::Clients;
use absync_e2e::database::url_for;
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// Runs `absync <args>` against the service with the token; returns stdout, or panics with stderr.
fn run(server: &str, token: &str, args: &[&str]) -> String {
    let output = Command::new(ABSYNC)
        .args(args)
        .env("ABSYNC_SERVER", server)
        .env("ABSYNC_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "absync {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn json(server: &str, token: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--output", "json"]);
    serde_json::from_str(&run(server, token, &all)).unwrap()
}

async fn wait_for_status(server: &str, token: &str, status: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let listed = json(server, token, &["deliveries", "list", "--status", status]);
        let listed = listed.as_array().unwrap().clone();
        if listed.len() >= count {
            return listed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} {status} deliveries expected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrations = false)]
async fn the_cli_lists_shows_resyncs_and_marks_processed(
    _pool: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let url = url_for(connect.get_database().unwrap());
    let service = AbsyncProcess::start(ABSYNC, &url, &["--retry-schedule", "30ms,30ms,30ms,30ms"]);
    let store = PgStore::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    let token = TokenService::new(Arc::new(store))
        .issue(&TenantId::parse("acme").unwrap(), &Scope::ALL, None)
        .await
        .unwrap()
        .token;
    let server = format!("http://{}", service.grpc_addr);
    let receiver = Receiver::start().await;
    receiver.respond_with(500);
    let mut clients = Clients::connect(service.grpc_addr, Some(token.clone())).await;
    let request = clients.request(proto::CreateSubscriptionRequest {
        destination_url: receiver.url("/hook"),
        collection: proto::Collection::Leaves.into(),
        authorization: Some("Basic c2VjcmV0LXZhbHVl".into()),
        event_filter: EventFilter::All.into(),
        valid_until: String::new(),
        max_per_second: None,
    });
    clients
        .subscriptions
        .create_subscription(request)
        .await
        .unwrap();
    for (id, day) in [("hr-1", "2024-03-04"), ("hr-2", "2024-03-05")] {
        let absence = half_days(
            id,
            1,
            AbsenceStatus::Approved,
            (day, HalfDay::Am),
            (day, HalfDay::Am),
        );
        let request = clients.request(proto::PutAbsenceRequest {
            absence: Some(absence),
        });
        clients.ingest.put_absence(request).await.unwrap();
    }

    let failed = wait_for_status(&server, &token, "failed", 2).await;
    let first = failed[0]["id"].as_i64().unwrap().to_string();
    let second = failed[1]["id"].as_i64().unwrap().to_string();

    let table = run(&server, &token, &["pending-tasks"]);
    assert!(table.lines().nth(1).unwrap().contains(" 2 "), "{table}");
    let shown = run(&server, &token, &["deliveries", "show", &first]);
    assert!(shown.contains("Authorization: Basic ****"), "{shown}");
    assert!(
        !shown.contains("c2VjcmV0LXZhbHVl"),
        "the Authorization value is never shown"
    );
    let attempts = shown.lines().skip_while(|l| *l != "attempts:").skip(1);
    assert_eq!(
        attempts.filter(|l| l.contains(" 500 ")).count(),
        5,
        "{shown}"
    );

    receiver.respond_with(200);
    run(&server, &token, &["deliveries", "resync", &first]);
    wait_for_status(&server, &token, "succeeded", 1).await;
    run(
        &server,
        &token,
        &[
            "deliveries",
            "mark-processed",
            &second,
            "--note",
            "handled by phone",
        ],
    );
    let processed = json(
        &server,
        &token,
        &["deliveries", "list", "--status", "processed"],
    );
    assert_eq!(processed[0]["processed_note"], "handled by phone");
    let tasks = json(&server, &token, &["pending-tasks"]);
    assert_eq!(tasks, Value::Array(Vec::new()));

    // A refused action exits non-zero with the service's reason.
    let output = Command::new(ABSYNC)
        .args(["deliveries", "mark-processed", &second])
        .env("ABSYNC_SERVER", &server)
        .env("ABSYNC_TOKEN", &token)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not found"));
}
