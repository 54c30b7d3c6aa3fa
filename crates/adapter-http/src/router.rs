//! The HTTP router and server.

use crate::console;
use crate::metrics::PrometheusMetrics;
use crate::openapi::ApiDoc;
use crate::problem::Problem;
use crate::protime;
use crate::reference;
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
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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

/// Liveness
///
/// Answers `ok` while the process runs; says nothing about the store.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    operation_id = "healthz",
    responses((
        status = OK,
        description = "The process is up.",
        body = String,
        content_type = "text/plain",
        example = "ok",
    )),
)]
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness
///
/// Answers `ready` while the store answers, 503 while it does not.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    operation_id = "readyz",
    responses(
        (
            status = OK,
            description = "The store is reachable.",
            body = String,
            content_type = "text/plain",
            example = "ready",
        ),
        (
            status = SERVICE_UNAVAILABLE,
            description = "The store is unreachable.",
            body = Problem,
            content_type = "application/problem+json",
            example = json!(Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store is unreachable"
            )),
        ),
    ),
)]
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

/// The documented routes: each handler is routed at the path and method of its `#[utoipa::path]`,
/// and the OpenAPI document is collected from the same attributes as they are routed (utoipa-axum),
/// so that no operation is routed undocumented or documented unrouted.
pub(crate) fn documented() -> OpenApiRouter<HttpApi> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(protime::create_webhook, protime::list_webhooks))
        .routes(routes!(protime::get_webhook, protime::delete_webhook))
        .routes(routes!(protime::list_absences))
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Every route, with the body limit, before the state is given: the documented ones, then those the
/// document leaves out on purpose (`/metrics`, the `/admin` console, and the reference itself).
pub(crate) fn routes() -> Router<HttpApi> {
    let (documented, openapi) = documented().split_for_parts();
    documented
        .route("/metrics", get(metrics))
        .merge(console::routes())
        .merge(reference::routes(crate::openapi::to_json(&openapi)))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// Every route, with the body limit; when traces are exported, each request in a server span that
/// honours an incoming `traceparent` (otherwise no span layer at all, so an untraced server pays
/// nothing for it).
pub fn router(api: HttpApi) -> Router {
    let routes = match api.trace.clone() {
        Some(trace) => routes().layer(axum::middleware::from_fn_with_state(
            trace,
            crate::traced::server_span,
        )),
        None => routes(),
    };
    routes.with_state(api)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// What the router serves outside the OpenAPI document, on purpose, by path or path prefix:
    /// Prometheus' scrape endpoint, the `/admin` web console (HTML pages for people), and the
    /// reference itself.
    const UNDOCUMENTED: [&str; 4] = ["/metrics", "/admin", "/openapi.json", "/docs"];

    /// The paths `router` routes. axum has no API that lists them, but its `Debug` names each one
    /// (`RouteId(n): "/path"` in the path router's node); the fallback router's own entries come after
    /// `fallback_router` and are left out.
    fn routed_paths(router: &Router<HttpApi>) -> BTreeSet<String> {
        let debug = format!("{router:?}");
        let paths = debug
            .split_once("fallback_router")
            .map_or(debug.as_str(), |(paths, _)| paths);
        paths
            .split("RouteId(")
            .skip(1)
            .filter_map(|entry| {
                let (_, rest) = entry.split_once("): \"")?;
                rest.split_once('"').map(|(path, _)| path.to_owned())
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_routed() {
        let routed = routed_paths(&routes());
        // Fails loudly if axum's `Debug` ever stops naming the paths.
        for known in ["/healthz", "/metrics", "/admin/login", "/docs/"] {
            assert!(routed.contains(known), "{known} not found in {routed:?}");
        }
        let documented: BTreeSet<String> = documented()
            .into_openapi()
            .paths
            .paths
            .into_keys()
            .collect();
        let left_out = |path: &str| {
            UNDOCUMENTED.iter().any(|prefix| {
                path.strip_prefix(prefix)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
        };
        let undocumented: Vec<&String> = routed
            .iter()
            .filter(|path| !documented.contains(*path) && !left_out(path))
            .collect();
        assert!(
            undocumented.is_empty(),
            "routed but not in the OpenAPI document: {undocumented:?}; route them through \
             `documented` with a `#[utoipa::path]`, or add them to UNDOCUMENTED saying why"
        );
        let unrouted: Vec<&String> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
        let documented_left_out: Vec<&String> =
            documented.iter().filter(|path| left_out(path)).collect();
        assert!(
            documented_left_out.is_empty(),
            "documented although listed as left out: {documented_left_out:?}"
        );
    }
}
