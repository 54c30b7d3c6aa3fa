//! End-to-end tests: the absync service, wired exactly as `absync serve` wires it, on ephemeral ports
//! against a fresh database per test (`#[sqlx::test]`, `DATABASE_URL`) and a local receiver.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod api;
mod app;
mod browser;
mod console;
mod delivery;
mod ingest;
mod lifecycle;
mod metrics;
mod rest;
mod signing;
mod ssrf;
mod tenancy;
mod tracking;
mod validation;
