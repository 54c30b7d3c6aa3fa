//! # absync-adapter-http
//!
//! The HTTP face of absync (axum), on its own port: the Protime-compatible REST API subscribers use to
//! register webhooks themselves and to do their full initial sync (`/connector/protimeapi/api/v1/…`),
//! the operations endpoints `/healthz`, `/readyz` and `/metrics` (Prometheus), the `/admin` web
//! console where operators sign in with a token to see the pending-tasks dashboard, inspect deliveries,
//! re-sync them and mark them processed (server-rendered HTML, no script), and the API's reference:
//! its OpenAPI 3.1 document at `/openapi.json`, generated from the handlers (utoipa), and Swagger UI
//! at `/docs`.
//!
//! Errors are RFC 9457 problem documents (`application/problem+json`) naming the bad field. This crate
//! must never hold business rules or touch a store directly: it calls the application's use cases.

mod auth;
mod console;
mod metrics;
mod openapi;
mod problem;
mod protime;
mod query;
mod reference;
mod router;
mod traced;

pub use metrics::PrometheusMetrics;
pub use openapi::openapi_json;
pub use router::{BODY_LIMIT, HttpApi, router, serve};

/// Entry points for the fuzz targets in `fuzz/` (see `fuzz/README.md`); not an API.
#[doc(hidden)]
pub mod fuzzing {
    use absync_application::SubscriptionService;
    use absync_application::ports::Subscription;
    use absync_domain::TenantId;

    /// `POST …/webhooks` as the handler runs it once `tenant` is authenticated and the body is read:
    /// JSON object, field checks, the use case, and the error mapping. `Err` is the problem document
    /// as it would be served.
    ///
    /// # Errors
    /// The problem document (`status`, `detail`, and `errors` naming each bad field).
    pub async fn create_webhook(
        subscriptions: &SubscriptionService,
        tenant: &TenantId,
        body: &[u8],
    ) -> Result<Subscription, serde_json::Value> {
        let result = match crate::protime::parse_object(body) {
            Ok(object) => crate::protime::create_from_body(subscriptions, tenant, &object).await,
            Err(problem) => Err(problem),
        };
        result.map_err(|problem| serde_json::to_value(problem).unwrap_or_default())
    }
}
