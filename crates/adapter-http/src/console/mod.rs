//! The `/admin` web console: server-rendered pages over the tracking use cases.
//!
//! Sign in with an API token that has `deliveries:read` (and `deliveries:write` for the actions);
//! the pending-tasks dashboard, the deliveries list with filters and paging, a delivery's exact
//! message and attempts, and the re-sync / mark-processed actions, each behind a confirmation page.
//! With `webhooks:read`, the subscriptions list with each one's health, and a subscription's page
//! with its charts (server-drawn SVG); with `webhooks:write`, pause and resume there.
//! Everything is plain HTML forms and links: no script, nothing loaded from another origin.
//!
//! This module holds the routes; each page has a module of its own, with what the pages share in
//! [`forms`], [`page`] (templates and view models) and [`session`].

mod chart;
mod dashboard;
mod deliveries;
mod delivery;
mod delivery_action;
mod filter;
mod forms;
mod mark_processed;
mod page;
mod pause;
mod resync;
mod resync_failed;
mod session;
mod sign_in;
mod subscription;
mod subscriptions;

use crate::router::HttpApi;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// The stylesheet, served from the console's own origin.
const STYLESHEET: &str = include_str!("../../templates/console/console.css");

/// The console's routes, under `/admin`.
pub(crate) fn routes() -> Router<HttpApi> {
    Router::new()
        .route("/admin", get(dashboard::dashboard))
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .route(
            "/admin/login",
            get(sign_in::login_form).post(sign_in::login),
        )
        .route("/admin/logout", post(sign_in::logout))
        .route("/admin/console.css", get(stylesheet))
        .route("/admin/deliveries", get(deliveries::deliveries))
        .route("/admin/deliveries/{id}", get(delivery::delivery))
        .route(
            "/admin/deliveries/{id}/resync",
            get(resync::confirm).post(resync::resync),
        )
        .route(
            "/admin/deliveries/{id}/mark-processed",
            get(mark_processed::confirm).post(mark_processed::mark_processed),
        )
        .route("/admin/subscriptions", get(subscriptions::subscriptions))
        .route("/admin/subscriptions/{id}", get(subscription::subscription))
        .route(
            "/admin/subscriptions/{id}/pause",
            get(pause::confirm_pause).post(pause::pause),
        )
        .route(
            "/admin/subscriptions/{id}/resume",
            get(pause::confirm_resume).post(pause::resume),
        )
        .route(
            "/admin/subscriptions/{id}/resync-failed",
            get(resync_failed::confirm).post(resync_failed::resync_failed),
        )
}

async fn stylesheet() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}
