//! # absync-e2e test kit
//!
//! What end-to-end tests need around a running absync: a local webhook [`receiver::Receiver`] that
//! records every POST, authenticated gRPC clients, absence fixtures and per-test database URLs.
//! Everything listens on 127.0.0.1 with ephemeral ports; nothing leaves loopback.
//!
//! This crate must never start absync itself (the tests do, through `absync-bootstrap` or the binary).

pub mod client;
pub mod database;
pub mod fixtures;
pub mod receiver;
