//! The webhook sender: one HTTP POST to a subscriber.

use super::trace::TraceParent;
use async_trait::async_trait;

/// A request to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// Destination URL.
    pub url: String,
    /// Headers, in order. May hold the subscriber's `Authorization` value.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Sent as the `traceparent` header, so that the receiver can join the attempt's trace.
    pub traceparent: Option<TraceParent>,
}

impl std::fmt::Debug for OutboundRequest {
    /// Never prints header values: one of them may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundRequest")
            .field("url", &self.url)
            .field(
                "headers",
                &self.headers.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.len())
            .field("traceparent", &self.traceparent)
            .finish()
    }
}

/// Why no HTTP answer came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SendErrorKind {
    /// No complete answer within the timeout.
    Timeout,
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// The TLS handshake failed.
    Tls,
    /// The destination was refused before connecting (not a valid URL, or a forbidden address).
    Refused,
    /// Anything else (a broken answer, a reset connection).
    Other,
}

impl SendErrorKind {
    /// A short name for records and metrics.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Connect => "connect",
            Self::Tls => "tls",
            Self::Refused => "refused",
            Self::Other => "other",
        }
    }

    /// Parses [`SendErrorKind::as_str`]'s output.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "timeout" => Self::Timeout,
            "connect" => Self::Connect,
            "tls" => Self::Tls,
            "refused" => Self::Refused,
            "other" => Self::Other,
            _ => return None,
        })
    }
}

/// What one POST came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The receiver answered (any status; redirects are not followed).
    Answered {
        /// HTTP status.
        status: u16,
        /// The first bytes of the response body (at most 4 KiB).
        body_excerpt: Vec<u8>,
    },
    /// No answer.
    NoAnswer {
        /// Why.
        kind: SendErrorKind,
        /// A human-readable description (no secrets).
        detail: String,
    },
}

impl SendOutcome {
    /// True for a 2xx answer: the only success.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, Self::Answered { status, .. } if (200..300).contains(status))
    }
}

/// Sends one POST.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `request` and reports what came back. Never fails: every problem is a [`SendOutcome`].
    async fn send(&self, request: OutboundRequest) -> SendOutcome;
}

/// Why the SSRF guard did not pass a destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationCheckError {
    /// The destination may not be used: it reaches a forbidden address, or names a host that does not
    /// exist. The reason says which address, which rule or which name. Bad input, not worth a retry.
    #[error("{0}")]
    Refused(String),
    /// The destination cannot be checked now (the name service does not answer: a timeout, a server
    /// failure, none configured); the same request may pass later.
    #[error("cannot be checked now: {0}")]
    Unavailable(String),
}

/// Checks, when a subscription is made, that its destination resolves only to addresses webhooks may go
/// to. (The sender checks again at every connection, so a later DNS change cannot get around it.)
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait DestinationGuard: Send + Sync {
    /// Succeeds when every address `url` resolves to is allowed.
    ///
    /// # Errors
    /// [`DestinationCheckError::Refused`] naming the forbidden address, or saying the host does not
    /// exist; [`DestinationCheckError::Unavailable`] when the host cannot be resolved now.
    async fn check(&self, url: &absync_domain::DestinationUrl)
    -> Result<(), DestinationCheckError>;
}
