//! Traces over OTLP, with the built `absync` binary and an in-process collector (the OTLP trace
//! service of `opentelemetry-proto`, on an ephemeral loopback port): the variables turn the export
//! on, a PutAbsence is one trace (gRPC server span, use case, store write), its delivery attempt a
//! trace of its own linked to it and named by the `traceparent` the receiver gets, an incoming
//! `traceparent` (gRPC and REST) is the server span's parent, and SIGTERM flushes what is buffered.
//! Without an endpoint, nothing is sent and no trace context is stored or sent. On both stores.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use common::token;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::{Request, Response, Status};

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// The trace of the caller of PutAbsence, and of the REST call.
const GRPC_CALLER: (&str, &str) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
const REST_CALLER: (&str, &str) = ("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331");

fn traceparent((trace, span): (&str, &str)) -> String {
    format!("00-{trace}-{span}-01")
}

/// What the collector received: every span, with its resource's `service.name`.
#[derive(Debug, Default)]
struct Received {
    exports: usize,
    spans: Vec<(String, Span)>,
}

#[derive(Debug, Clone, Default)]
struct Sink(Arc<Mutex<Received>>);

#[tonic::async_trait]
impl TraceService for Sink {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let mut received = self.0.lock().unwrap();
        received.exports += 1;
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| text(a.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    received.spans.push((service.clone(), span));
                }
            }
        }
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// An OTLP/gRPC collector on an ephemeral loopback port, for the test's lifetime.
struct Collector {
    addr: SocketAddr,
    sink: Sink,
}

impl Collector {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sink = Sink::default();
        let service = TraceServiceServer::new(sink.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        Self { addr, sink }
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn exports(&self) -> usize {
        self.sink.0.lock().unwrap().exports
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.sink.0.lock().unwrap().spans.clone()
    }
}

fn text(value: &Value) -> Option<String> {
    match value {
        Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A span's attribute, as text (strings as they are, numbers in decimal).
fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|a| a.key == key)?
        .value
        .as_ref()?
        .value
        .as_ref()?;
    Some(match value {
        Value::StringValue(s) => s.clone(),
        Value::IntValue(n) => n.to_string(),
        Value::BoolValue(b) => b.to_string(),
        other => format!("{other:?}"),
    })
}

/// The one span named `name`.
fn named<'a>(spans: &'a [(String, Span)], name: &str) -> &'a Span {
    let found: Vec<&Span> = spans
        .iter()
        .map(|(_, s)| s)
        .filter(|s| s.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one span named {name}: {:?}",
        spans.iter().map(|(_, s)| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

/// A one-leave absence: one leave event, one delivery per subscription.
fn one_leave(id: &str) -> proto::Absence {
    half_days(
        id,
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Pm),
        ("2024-03-04", HalfDay::Pm),
    )
}

/// Subscribes the receiver, puts a one-leave absence with `caller` as the call's `traceparent`,
/// waits for its delivery and lists the webhooks over REST with `rest_caller`. Returns the
/// subscription's id and the delivery as received.
async fn put_and_deliver(
    absync: &AbsyncProcess,
    token: &str,
    receiver: &Receiver,
) -> (String, absync_e2e::receiver::Received) {
    let clients = Clients::connect(absync.grpc_addr, Some(token.to_owned())).await;
    let subscription = clients
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: receiver.url("/hook"),
            collection: proto::Collection::Leaves.into(),
            event_filter: proto::EventFilter::All.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .subscription
        .unwrap()
        .id;
    let mut request = clients.request(proto::PutAbsenceRequest {
        absence: Some(one_leave("hr-1")),
    });
    request
        .metadata_mut()
        .insert("traceparent", traceparent(GRPC_CALLER).parse().unwrap());
    let mut ingest = clients.ingest.clone();
    ingest.put_absence(request).await.unwrap();
    let delivery = receiver
        .wait_for(1, Duration::from_secs(20))
        .await
        .remove(0);

    let listed = reqwest::Client::new()
        .get(format!(
            "http://{}/connector/protimeapi/api/v1/webhooks",
            absync.http_addr
        ))
        .bearer_auth(token)
        .header("traceparent", traceparent(REST_CALLER))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);
    (subscription, delivery)
}

/// SIGTERM, and the exit within the shutdown bound (off the runtime, which serves the collector).
async fn stop(absync: AbsyncProcess) {
    let (status, _) =
        tokio::task::spawn_blocking(move || absync.terminate(Duration::from_secs(20)))
            .await
            .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn a_change_and_its_delivery_are_traced_on_postgres() {
    a_change_and_its_delivery_are_traced(StoreKind::Postgres).await;
}

#[tokio::test]
async fn a_change_and_its_delivery_are_traced_on_sqlite() {
    a_change_and_its_delivery_are_traced(StoreKind::Sqlite).await;
}

async fn a_change_and_its_delivery_are_traced(store: StoreKind) {
    let database = TestDatabase::create_on(store).await;
    let collector = Collector::start().await;
    let receiver = Receiver::start().await;
    let endpoint = collector.endpoint();
    // Spans are batched for a minute: what the collector gets, SIGTERM's flush sent.
    let absync = AbsyncProcess::start_with_env(
        ABSYNC,
        database.url(),
        &["--shutdown-timeout", "10s"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_SERVICE_NAME", "absync-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "60000"),
        ],
    );
    let token = token(database.url()).await;
    let (subscription, delivery) = put_and_deliver(&absync, &token, &receiver).await;
    assert_eq!(collector.exports(), 0, "nothing exported before the flush");
    stop(absync).await;

    let spans = collector.spans();
    assert!(
        spans
            .iter()
            .all(|(service, _)| service == "absync-under-test"),
        "OTEL_SERVICE_NAME names the service"
    );

    // PutAbsence: server span (the caller's child) → use case → store write, with the counts.
    let server = named(&spans, "absync.v1.AbsenceIngest/PutAbsence");
    assert_eq!(server.kind, SpanKind::Server as i32);
    assert_eq!(hex(&server.trace_id), GRPC_CALLER.0);
    assert_eq!(hex(&server.parent_span_id), GRPC_CALLER.1);
    assert_eq!(attribute(server, "rpc.system").as_deref(), Some("grpc"));
    assert_eq!(
        attribute(server, "rpc.service").as_deref(),
        Some("absync.v1.AbsenceIngest")
    );
    assert_eq!(
        attribute(server, "rpc.method").as_deref(),
        Some("PutAbsence")
    );
    assert_eq!(
        attribute(server, "rpc.grpc.status_code").as_deref(),
        Some("0")
    );
    let use_case = named(&spans, "put_absence");
    assert_eq!(use_case.trace_id, server.trace_id);
    assert_eq!(use_case.parent_span_id, server.span_id);
    assert_eq!(attribute(use_case, "events").as_deref(), Some("1"));
    assert_eq!(attribute(use_case, "deliveries").as_deref(), Some("1"));
    let write_name = match store {
        StoreKind::Postgres => "pg.write_absence",
        StoreKind::Sqlite => "sqlite.write_absence",
    };
    let write = named(&spans, write_name);
    assert_eq!(write.trace_id, server.trace_id);
    assert_eq!(write.parent_span_id, use_case.span_id);
    assert_eq!(attribute(write, "events").as_deref(), Some("1"));
    assert_eq!(attribute(write, "deliveries").as_deref(), Some("1"));

    // The attempt: a trace of its own, linked to the change's, with the HTTP client attributes.
    let attempt = named(&spans, "deliver");
    assert_eq!(attempt.kind, SpanKind::Client as i32);
    assert_ne!(attempt.trace_id, server.trace_id);
    assert!(attempt.parent_span_id.is_empty(), "a root, not a child");
    let links: Vec<(String, String)> = attempt
        .links
        .iter()
        .map(|l| (hex(&l.trace_id), hex(&l.span_id)))
        .collect();
    assert_eq!(links, [(hex(&use_case.trace_id), hex(&use_case.span_id))]);
    assert_eq!(
        attribute(attempt, "http.request.method").as_deref(),
        Some("POST")
    );
    assert_eq!(attribute(attempt, "url.full"), Some(receiver.url("/hook")));
    assert_eq!(
        attribute(attempt, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(
        attribute(attempt, "delivery_id").as_deref(),
        delivery.header("webhook-id")
    );
    assert_eq!(attribute(attempt, "subscription_id"), Some(subscription));
    assert_eq!(attribute(attempt, "attempt").as_deref(), Some("1"));
    // The receiver can join it: the POST's traceparent names the attempt span.
    assert_eq!(
        delivery.header("traceparent"),
        Some(format!("00-{}-{}-01", hex(&attempt.trace_id), hex(&attempt.span_id)).as_str())
    );

    // REST: the server span is the caller's child.
    let rest = named(&spans, "GET /connector/protimeapi/api/v1/webhooks");
    assert_eq!(rest.kind, SpanKind::Server as i32);
    assert_eq!(hex(&rest.trace_id), REST_CALLER.0);
    assert_eq!(hex(&rest.parent_span_id), REST_CALLER.1);
    assert_eq!(
        attribute(rest, "http.request.method").as_deref(),
        Some("GET")
    );
    assert_eq!(
        attribute(rest, "http.route").as_deref(),
        Some("/connector/protimeapi/api/v1/webhooks")
    );
    assert_eq!(
        attribute(rest, "http.response.status_code").as_deref(),
        Some("200")
    );

    // The dispatcher's loop is never a span of the export.
    assert!(spans.iter().all(|(_, s)| s.name != "dispatcher"));
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_traced_on_postgres() {
    without_an_endpoint_nothing_is_traced(StoreKind::Postgres).await;
}

#[tokio::test]
async fn without_an_endpoint_nothing_is_traced_on_sqlite() {
    without_an_endpoint_nothing_is_traced(StoreKind::Sqlite).await;
}

async fn without_an_endpoint_nothing_is_traced(store: StoreKind) {
    let database = TestDatabase::create_on(store).await;
    let collector = Collector::start().await;
    let receiver = Receiver::start().await;
    let absync = AbsyncProcess::start_with_env(
        ABSYNC,
        database.url(),
        &[],
        &[
            ("OTEL_SERVICE_NAME", "absync-under-test"),
            ("OTEL_BSP_SCHEDULE_DELAY", "10"),
        ],
    );
    let token = token(database.url()).await;
    let (_, delivery) = put_and_deliver(&absync, &token, &receiver).await;
    assert_eq!(delivery.header("traceparent"), None);
    let pool = database.pool().await;
    let stored: Vec<(Option<String>,)> = sqlx::query_as("SELECT traceparent FROM leave_events")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(stored, [(None,)]);
    pool.close().await;
    stop(absync).await;
    assert_eq!(collector.exports(), 0);
    assert!(collector.spans().is_empty());
}
