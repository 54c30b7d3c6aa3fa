//! # absync-e2e test kit
//!
//! What end-to-end tests need around a running absync: a local webhook [`receiver::Receiver`] that
//! records every POST, authenticated gRPC clients, absence fixtures, per-test database URLs, a
//! headless Chromium for the web console and the API reference, and the contract checks of an
//! OpenAPI document.
//! Everything listens on 127.0.0.1 with ephemeral ports; nothing leaves loopback.
//!
//! This crate never builds absync itself: tests start it through `absync-bootstrap`, or run the binary
//! their package built with [`process::AbsyncProcess`].

pub mod browser;
pub mod client;
pub mod database;
pub mod fixtures;
pub mod openapi;
pub mod process;
pub mod receiver;
pub mod table;
pub mod wait;
