//! End-to-end tests: the absync service, wired exactly as `absync serve` wires it, on ephemeral ports
//! against a fresh database per test and a local receiver. `ABSYNC_E2E_STORE=postgres` (the default;
//! the server of `DATABASE_URL`) or `ABSYNC_E2E_STORE=sqlite` chooses the store; CI runs both.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod api;
mod app;
mod bad_input;
mod browser;
mod console;
mod delivery;
mod disk_full;
mod faults;
mod ingest;
mod isolation;
mod lifecycle;
mod metrics;
mod openapi;
mod outage;
mod pause;
mod rest;
mod signing;
mod ssrf;
mod store_faults;
mod tenancy;
mod tracking;
mod validation;
