//! The operator CLI over gRPC (`remote_cli`) against a running service, both as processes: list, show,
//! re-sync, mark processed and the pending-tasks dashboard; list, show, pause and resume subscriptions
//! (on both stores).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter, HalfDay};
use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use absync_e2e::client::{Clients, oldest_first};
use absync_e2e::database::{StoreKind, TestDatabase, url_for};
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use common::{token, token_for};
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

/// Runs `absync <args>`, which must fail; returns its stderr.
fn fails(server: &str, token: &str, args: &[&str]) -> String {
    let output = Command::new(ABSYNC)
        .args(args)
        .env("ABSYNC_SERVER", server)
        .env("ABSYNC_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "absync {args:?} succeeded: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty(), "nothing printed on stdout");
    String::from_utf8(output.stderr).unwrap()
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

#[tokio::test]
async fn the_cli_lists_shows_pauses_and_resumes_subscriptions_on_postgres() {
    lists_shows_pauses_and_resumes(StoreKind::Postgres).await;
}

#[tokio::test]
async fn the_cli_lists_shows_pauses_and_resumes_subscriptions_on_sqlite() {
    lists_shows_pauses_and_resumes(StoreKind::Sqlite).await;
}

async fn lists_shows_pauses_and_resumes(store: StoreKind) {
    let database = TestDatabase::create_on(store).await;
    let service = AbsyncProcess::start(ABSYNC, database.url(), &[]);
    let token = token(database.url()).await;
    let server = format!("http://{}", service.grpc_addr);
    let receiver = Receiver::start().await;
    let clients = Clients::connect(service.grpc_addr, Some(token.clone())).await;
    // Three subscriptions: listed two a page, the CLI reads both pages.
    let asked = [
        (
            "/limited",
            proto::Collection::Leaves,
            EventFilter::All,
            Some(20),
        ),
        (
            "/protime",
            proto::Collection::Absences,
            EventFilter::All,
            None,
        ),
        (
            "/approved",
            proto::Collection::Leaves,
            EventFilter::ValidatedOnly,
            None,
        ),
    ];
    let mut made = Vec::new();
    for (path, collection, filter, max_per_second) in asked {
        let created = clients
            .create_subscription(proto::CreateSubscriptionRequest {
                destination_url: receiver.url(path),
                collection: collection.into(),
                authorization: Some("Basic c2VjcmV0LXZhbHVl".into()),
                event_filter: filter.into(),
                valid_until: String::new(),
                max_per_second,
            })
            .await
            .unwrap();
        made.push(created.subscription.unwrap());
    }
    // Made in this order; listed oldest first, by id among those made within one clock tick.
    let ids: Vec<String> = made.iter().map(|s| s.id.clone()).collect();

    let listed = json(
        &server,
        &token,
        &["subscriptions", "list", "--page-size", "2"],
    );
    let listed = listed.as_array().unwrap();
    let seen: Vec<String> = listed
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, oldest_first(&made), "every page, oldest first");
    let row = |id: &str| listed.iter().find(|s| s["id"] == id).unwrap();
    let first = row(&ids[0]);
    assert_eq!(first["status"], "enabled");
    assert_eq!(first["collection"], "leaves");
    assert_eq!(first["event_filter"], "all");
    assert_eq!(first["max_per_second"], 20);
    assert_eq!(first["destination_url"], receiver.url("/limited"));
    assert_eq!(first["paused_since"], Value::Null);
    assert_eq!(first["authorization"], "Basic ****", "redacted");
    let protime = row(&ids[1]);
    assert_eq!(protime["collection"], "absences");
    assert!(protime["valid_until"].is_string(), "Protime's expire");
    assert_eq!(protime["max_per_second"], Value::Null, "unlimited");
    assert_eq!(row(&ids[2])["event_filter"], "validated_only");
    let table = run(&server, &token, &["subscriptions", "list"]);
    assert_eq!(table.lines().count(), 4, "a header and a row each: {table}");
    assert!(table.contains(&receiver.url("/protime")), "{table}");
    assert!(!table.contains("c2VjcmV0LXZhbHVl"), "never the secret");

    let id = ids[0].as_str();
    let shown = json(&server, &token, &["subscriptions", "show", id]);
    assert_eq!(&shown, first);

    let paused = json(&server, &token, &["subscriptions", "pause", id]);
    assert_eq!(paused["id"], id);
    assert_eq!(paused["status"], "paused");
    let since = paused["paused_since"].as_str().unwrap();
    chrono::DateTime::parse_from_rfc3339(since).unwrap();
    let shown = json(&server, &token, &["subscriptions", "show", id]);
    assert_eq!(shown, paused, "the pause is kept");
    let table = run(&server, &token, &["subscriptions", "show", id]);
    assert!(table.contains(&format!("paused since {since}")), "{table}");
    // The others are not paused.
    let listed = json(&server, &token, &["subscriptions", "list"]);
    let status_of = |id: &str| {
        let listed = listed.as_array().unwrap();
        let row = listed.iter().find(|s| s["id"] == id).unwrap();
        row["status"].as_str().unwrap().to_owned()
    };
    let statuses = ids.iter().map(|id| status_of(id)).collect::<Vec<_>>();
    assert_eq!(statuses, ["paused", "enabled", "enabled"]);

    let resumed = json(&server, &token, &["subscriptions", "resume", id]);
    assert_eq!(resumed["status"], "enabled");
    assert_eq!(resumed["paused_since"], Value::Null);
    assert_eq!(resumed, *first, "as it was before the pause");

    // An unknown id, and one that is no id: non-zero, saying which id and why.
    let unknown = "00000000-0000-4000-8000-000000000000";
    for command in ["show", "pause", "resume"] {
        let said = fails(
            &server,
            &token,
            &["subscriptions", command, unknown, "--output", "json"],
        );
        assert!(
            said.contains(&format!("subscription {unknown} not found")),
            "{command}: {said}"
        );
        let said = fails(&server, &token, &["subscriptions", command, "not-a-uuid"]);
        assert!(
            said.contains("\"not-a-uuid\"") && said.contains("id: must be a subscription id"),
            "{command}: {said}"
        );
    }
    // A token of another tenant sees none of them.
    let beta = token_for(database.url(), "beta").await;
    let others = json(&server, &beta, &["subscriptions", "list"]);
    assert_eq!(others, Value::Array(Vec::new()));
    let said = fails(&server, &beta, &["subscriptions", "pause", id]);
    assert!(said.contains("not found"), "{said}");
    let shown = json(&server, &token, &["subscriptions", "show", id]);
    assert_eq!(shown["status"], "enabled");
}
