//! The server span of every request, when traces are exported: named `{method} {route}` with the
//! OpenTelemetry HTTP attributes (`http.request.method`, `http.route`, `url.path`,
//! `http.response.status_code`), and the child of the caller's span when the request carries a W3C
//! `traceparent`. Without a [`TraceContext`] the router has no such layer (see
//! [`router`](crate::router)): requests pass through untouched.

use absync_application::ports::{TraceContext, TraceParent};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::Arc;
use tracing::Instrument;

/// Runs `request` in its server span (see the module).
pub(crate) async fn server_span(
    State(trace): State<Arc<dyn TraceContext>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let span = tracing::info_span!(
        parent: None,
        "http.server",
        otel.name = %name,
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        url.path = %request.uri().path(),
        url.scheme = "http",
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    if let Some(parent) = request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(TraceParent::parse)
    {
        trace.set_parent(&span, &parent);
    }
    let response = next.run(request).instrument(span.clone()).await;
    span.record("http.response.status_code", response.status().as_u16());
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    response
}
