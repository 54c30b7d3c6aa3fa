//! # absync-adapter-http
//!
//! The HTTP face of absync (axum), on its own port: the Protime-compatible REST API subscribers use to
//! register webhooks themselves and to do their full initial sync (`/connector/protimeapi/api/v1/…`),
//! the operations endpoints `/healthz`, `/readyz` and `/metrics` (Prometheus), and the `/admin` web
//! console where operators sign in with a token to see the pending-tasks dashboard, inspect deliveries,
//! re-sync them and mark them processed (server-rendered HTML, no script).
//!
//! Errors are RFC 9457 problem documents (`application/problem+json`) naming the bad field. This crate
//! must never hold business rules or touch a store directly: it calls the application's use cases.

mod auth;
mod console;
mod metrics;
mod problem;
mod protime;
mod router;

pub use metrics::PrometheusMetrics;
pub use router::{BODY_LIMIT, HttpApi, router, serve};
