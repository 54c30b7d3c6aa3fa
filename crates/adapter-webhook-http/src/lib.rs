//! # absync-adapter-webhook-http
//!
//! The outbound side of absync: [`HttpWebhookSender`] implements the application's `WebhookSender` port
//! with reqwest (rustls). One POST per call, a total timeout, redirects never followed, the answer's
//! status and the first 4 KiB of its body read with a bound; every failure becomes a `SendOutcome`.
//!
//! This crate must never render payloads or touch a store: the body and headers arrive ready in the
//! `OutboundRequest`. It never logs header values (one of them is the subscriber's secret).
//!
//! It is also where the SSRF guard meets the network: [`DnsGuard`] vets destinations when subscriptions
//! are made, and the sender resolves every host through the same rules at connect time. Both resolve
//! names through a [`NameResolver`] ([`SystemResolver`] by default), which tells a name that does not
//! exist from a resolver that cannot answer now.

mod guard;
mod resolver;
mod sender;

pub use guard::{DnsGuard, ForbiddenDestination, LOOKUP_TIMEOUT, check_literal};
pub use resolver::{LookupError, NameResolver, SystemResolver};
pub use sender::{EXCERPT_LIMIT, HttpWebhookSender, SenderBuildError, SenderSettings};
