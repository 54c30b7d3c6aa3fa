//! The API reference: the OpenAPI document at `/openapi.json`, and Swagger UI at `/docs` to browse
//! it (and try the operations, with a token).
//!
//! Swagger UI's files are shipped in `utoipa-swagger-ui` (feature `vendored`): the page loads
//! nothing from another host, and its Content-Security-Policy says so to the browser. Unlike the
//! console it needs script: its own files only, no inline script and no `eval`. Its icons are
//! `data:` images, and the one inline stylesheet it writes (in its logo's SVG) is allowed by its
//! hash, not by `'unsafe-inline'`. A Swagger UI update that changes that stylesheet is caught by the
//! browser test (`tests/e2e/openapi.rs`), which fails on any CSP violation the page reports.

use crate::router::HttpApi;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served.
pub(crate) const DOCUMENT: &str = "/openapi.json";
/// Where its reference page is served.
pub(crate) const PAGE: &str = "/docs";

/// The policy of the reference page: its own scripts, stylesheets, images and calls, nothing from
/// another origin, no framing, no forms sent anywhere. The hash is that of the stylesheet in Swagger
/// UI's logo (`.logo_small_svg__cls-2{…}`).
pub(crate) const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// `/openapi.json` (the text `document`) and the page under `/docs`.
pub(crate) fn routes(document: String) -> Router<HttpApi> {
    let config = Config::new([DOCUMENT])
        // Swagger UI would otherwise send the document to validator.swagger.io for a badge.
        .validator_url("none")
        .display_request_duration(true);
    Router::from(SwaggerUi::new(PAGE).config(config))
        .layer(axum::middleware::map_response(page_headers))
        .route(
            DOCUMENT,
            get(move || async move {
                (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    ],
                    document,
                )
            }),
        )
}
