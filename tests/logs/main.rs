//! Log levels that fit the cause, end to end: a client's mistakes (bad input, a conflicting
//! revision, an unknown id, an unknown token, a missing scope, a refused destination) are logged at
//! INFO or WARN with their code and never at ERROR; a store fault is logged at ERROR.
//!
//! A test binary of its own, with one test: the capture is the process's global subscriber, so it
//! sees the events of every thread and task of the app (tonic and axum serve each connection on a
//! task spawned on the multi-threaded runtime, which a thread-local default would not reach; the
//! SQLite writer runs on a thread of its own) and of no other test. `ABSYNC_E2E_STORE` chooses the
//! store, as for the e2e suite.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

// The e2e suite's `spawn_app` and store faults; this binary uses a part of them.
#[allow(dead_code)]
#[path = "../e2e/app.rs"]
mod app;
#[path = "../e2e/faults.rs"]
mod faults;

use absync_adapter_grpc::proto::{self, AbsenceStatus};
use absync_domain::Scope;
use absync_e2e::client::Clients;
use absync_e2e::database::StoreKind;
use absync_e2e::fixtures::monday_to_tuesday;
use app::TestApp;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Executor;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tonic::Code;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// One event as logged.
#[derive(Debug, Clone)]
struct Line {
    level: Level,
    /// The names of the spans it was logged in, outermost first.
    spans: Vec<&'static str>,
    /// Its fields, `message` included.
    fields: BTreeMap<&'static str, String>,
}

impl Line {
    fn code(&self) -> Option<&str> {
        self.fields.get("code").map(String::as_str)
    }
}

/// Every event logged in the process since the capture was installed.
static LINES: Mutex<Vec<Line>> = Mutex::new(Vec::new());

struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

/// Records every event with its level and spans.
struct Capture;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let spans = ctx
            .event_scope(event)
            .map(|scope| scope.from_root().map(|span| span.name()).collect())
            .unwrap_or_default();
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        LINES.lock().unwrap().push(Line {
            level: *event.metadata().level(),
            spans,
            fields,
        });
    }
}

/// Installs the capture as the global subscriber (once), at INFO and above: what `absync serve`
/// logs by default.
fn capture() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::registry()
            .with(Capture.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

/// How many events have been logged so far.
fn mark() -> usize {
    LINES.lock().unwrap().len()
}

/// The events logged since `mark`.
fn since(mark: usize) -> Vec<Line> {
    LINES.lock().unwrap()[mark..].to_vec()
}

fn errors(lines: &[Line]) -> Vec<&Line> {
    lines.iter().filter(|l| l.level == Level::ERROR).collect()
}

/// Asserts that a line at `level` with `code` was logged inside the span `span`.
fn assert_logged(lines: &[Line], level: Level, code: &str, span: &str) {
    assert!(
        lines
            .iter()
            .any(|l| l.level == level && l.code() == Some(code) && l.spans.contains(&span)),
        "no {level} line with code {code} in span {span}: {lines:#?}"
    );
}

/// A REST `POST …/webhooks` with `token`.
async fn post_webhook(app: &TestApp, token: &str, destination: &str) -> StatusCode {
    reqwest::Client::new()
        .post(app.http("/connector/protimeapi/api/v1/webhooks"))
        .bearer_auth(token)
        .json(&json!({"destinationUrl": destination, "collectionName": "leaves"}))
        .send()
        .await
        .unwrap()
        .status()
}

/// hr-1's revision 1, with other content than was put.
fn conflicting_hr_1() -> proto::Absence {
    let mut conflicting = monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved);
    conflicting.owner.as_mut().unwrap().name = "Someone Else".into();
    conflicting
}

/// The client's mistakes: each answered as it should be, each logged at INFO or WARN with its
/// code, none at ERROR.
async fn client_mistakes(app: &mut TestApp) {
    let start = mark();

    // Bad input, refused by the gRPC adapter before any use case.
    let mut bad = monday_to_tuesday("hr-bad", 1, AbsenceStatus::Approved);
    bad.owner.as_mut().unwrap().id = 0;
    let status = app.clients.put(bad).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");

    // The same revision with other content: refused by the use case.
    let status = app.clients.put(conflicting_hr_1()).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    // The same in a batch, where it fails alone.
    let results = app.clients.put_all(vec![conflicting_hr_1()]).await.unwrap();
    assert!(
        matches!(&results[..], [proto::PutAbsenceResult {
            result: Some(proto::put_absence_result::Result::Error(e))
        }] if e.code == "FAILED_PRECONDITION"),
        "{results:?}"
    );

    // Unknown ids.
    let status = app
        .clients
        .delete_absence("hr-unknown", 1)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = app
        .clients
        .get_subscription("00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    // A destination the SSRF guard refuses, and one over the length limit.
    let status = app
        .clients
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: "http://10.0.0.1/hook".into(),
            collection: proto::Collection::Leaves.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let too_long = app.receiver.url(&format!("/{}", "x".repeat(2048)));
    assert_eq!(
        post_webhook(app, &app.token, &too_long).await,
        StatusCode::BAD_REQUEST
    );

    // An unknown token, on either API.
    let stranger = Clients::connect(app.grpc_addr, Some("absync_unknown".into())).await;
    let status = stranger
        .put(monday_to_tuesday("hr-3", 1, AbsenceStatus::Approved))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let unknown = format!("absync_{}", "A".repeat(43));
    assert_eq!(
        post_webhook(app, &unknown, &app.receiver.url("/rest")).await,
        StatusCode::UNAUTHORIZED
    );

    // A token without the scope, on either API.
    let reader = app.token_with("acme", &[Scope::AbsencesRead]).await;
    let limited = Clients::connect(app.grpc_addr, Some(reader.clone())).await;
    let status = limited
        .put(monday_to_tuesday("hr-3", 1, AbsenceStatus::Approved))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert_eq!(
        post_webhook(app, &reader, &app.receiver.url("/rest")).await,
        StatusCode::UNAUTHORIZED
    );

    let lines = since(start);
    assert!(
        errors(&lines).is_empty(),
        "a client's mistake was logged at ERROR: {:#?}",
        errors(&lines)
    );
    assert_logged(&lines, Level::INFO, "revision_conflict", "put_absence");
    assert_logged(&lines, Level::INFO, "revision_conflict", "put_absences");
    assert_logged(&lines, Level::INFO, "not_found", "delete_absence");
    assert_logged(&lines, Level::INFO, "not_found", "get_subscription");
    assert_logged(&lines, Level::INFO, "invalid_input", "create_subscription");
    assert_logged(&lines, Level::WARN, "unauthenticated", "authenticate");
    assert!(
        lines
            .iter()
            .any(|l| l.level == Level::WARN && l.code() == Some("permission_denied")),
        "the missing scope was not logged at WARN: {lines:#?}"
    );
}

/// A store fault mid-ingest: answered UNAVAILABLE and logged at ERROR in the use case's span.
async fn store_fault(app: &TestApp) {
    let start = mark();
    let mut locker = faults::lock_writes(app).await;
    let put = faults::put_in_background(app);
    match app.store() {
        StoreKind::Postgres => {
            faults::interrupt_the_waiting_ingest(app, "pg_cancel_backend").await;
        }
        // The ingest waits out the busy timeout.
        StoreKind::Sqlite => tokio::time::sleep(Duration::from_millis(800)).await,
    }
    let status = put.await.unwrap().unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    locker.execute("ROLLBACK").await.unwrap();
    drop(locker);

    let lines = since(start);
    assert_logged(&lines, Level::ERROR, "unavailable", "put_absence");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_mistakes_are_never_logged_at_error_and_store_faults_are() {
    capture();
    let mut app = faults::spawn_app_delivered().await;

    client_mistakes(&mut app).await;
    store_fault(&app).await;
}
