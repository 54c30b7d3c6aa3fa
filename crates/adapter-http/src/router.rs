//! The HTTP router and server.

use crate::console;
use crate::metrics::PrometheusMetrics;
use crate::problem::Problem;
use crate::protime::{self, ABSENCES, WEBHOOKS};
use absync_application::ports::{StoreHealth, TraceContext};
use absync_application::{
    HealthService, IngestService, SubscriptionService, TokenService, TrackingService,
};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::get;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Largest request body accepted.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The use cases the HTTP API calls.
#[derive(Clone)]
pub struct HttpApi {
    /// Subscriptions.
    pub subscriptions: SubscriptionService,
    /// Absence reads.
    pub ingest: IngestService,
    /// Token checks.
    pub tokens: TokenService,
    /// Readiness.
    pub health: Arc<dyn StoreHealth>,
    /// Delivery tracking (queue gauges).
    pub tracking: TrackingService,
    /// The counters the use cases feed.
    pub metrics: Arc<PrometheusMetrics>,
    /// Subscriptions' health figures (the console).
    pub subscription_health: HealthService,
    /// When traces are exported: each request gets a server span, the child of the caller's
    /// `traceparent`.
    pub trace: Option<Arc<dyn TraceContext>>,
}

impl std::fmt::Debug for HttpApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpApi").finish_non_exhaustive()
    }
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(api): State<HttpApi>) -> Result<&'static str, Problem> {
    api.health
        .ping()
        .await
        .map(|()| "ready")
        .map_err(|_| Problem::new(StatusCode::SERVICE_UNAVAILABLE, "the store is unreachable"))
}

async fn metrics(State(api): State<HttpApi>) -> Result<impl axum::response::IntoResponse, Problem> {
    let text = api.metrics.render(&api.tracking).await.map_err(|_| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics could not be encoded",
        )
    })?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    ))
}

async fn not_found() -> Problem {
    Problem::new(StatusCode::NOT_FOUND, "no such resource")
}

/// Every route, with the body limit.
pub fn router(api: HttpApi) -> Router {
    Router::new()
        .route(
            WEBHOOKS,
            get(protime::list_webhooks).post(protime::create_webhook),
        )
        .route(
            &format!("{WEBHOOKS}/{{id}}"),
            get(protime::get_webhook).delete(protime::delete_webhook),
        )
        .route(ABSENCES, get(protime::list_absences))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(console::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            api.trace.clone(),
            crate::traced::server_span,
        ))
        .with_state(api)
}

/// Serves the HTTP API on `listener` until `shutdown` resolves, letting in-flight requests finish.
///
/// # Errors
/// When the listener fails.
pub async fn serve(
    listener: TcpListener,
    api: HttpApi,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(api))
        .with_graceful_shutdown(shutdown)
        .await
}
