//! # absync-bootstrap
//!
//! The `absync` binary: configuration (clap, every flag also an `ABSYNC_*` variable), wiring of the
//! adapters into the use cases, the service lifecycle (listeners, dispatcher, graceful shutdown) and the
//! operator commands: [`database_admin`] works on the database directly (`migrate`, `token …`), and
//! [`remote_cli`] talks to a running service over gRPC (`deliveries …`, `pending-tasks`,
//! `subscriptions …`).
//!
//! This crate must never hold business rules or protocol mapping: it only builds and connects the
//! pieces. The end-to-end tests start the service through [`Application`] exactly as `absync serve` does.

pub mod app;
pub mod config;
pub mod database_admin;
mod dispatch_loop;
pub mod remote_cli;
pub mod store;
pub mod telemetry;

pub use app::Application;
pub use config::{
    Cli, Command, DatabaseArgs, DeliveriesCommand, LogFormat, OutputFormat, RemoteArgs, ServeArgs,
    SubscriptionsCommand, TokenCommand,
};
