//! [`HttpWebhookSender`]: one POST, classified.

use crate::guard::{ForbiddenDestination, GuardedResolver, check_literal};
use crate::resolver::{NameResolver, SystemResolver};
use absync_application::ports::{OutboundRequest, SendErrorKind, SendOutcome, WebhookSender};
use absync_domain::DestinationPolicy;
use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes of a response body kept for the delivery record.
pub const EXCERPT_LIMIT: usize = 4096;

/// How the sender behaves.
#[derive(Debug, Clone)]
pub struct SenderSettings {
    /// Total time a subscriber has to answer (connect, send, status, headers and the body up to the
    /// excerpt): a deadline, not an idle timeout, so a trickling answer cannot stretch it.
    pub timeout: Duration,
    /// The `User-Agent` sent.
    pub user_agent: String,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: usize,
    /// Which addresses may be connected to (the SSRF guard); the default refuses every internal one.
    pub policy: DestinationPolicy,
    /// Resolves host names before each connection (the guard checks every address it answers); the
    /// default is the system's resolver.
    pub resolver: Arc<dyn NameResolver>,
}

impl Default for SenderSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            user_agent: concat!("absync/", env!("CARGO_PKG_VERSION")).to_owned(),
            pool_max_idle_per_host: 64,
            policy: DestinationPolicy::default(),
            resolver: Arc::new(SystemResolver),
        }
    }
}

/// The HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SenderBuildError {
    /// The user agent is not a valid header value.
    #[error("invalid user agent")]
    UserAgent(#[source] reqwest::header::InvalidHeaderValue),
    /// reqwest refused the configuration (e.g. no TLS backend).
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
}

/// POSTs webhooks with a shared, keep-alive connection pool.
#[derive(Debug, Clone)]
pub struct HttpWebhookSender {
    client: reqwest::Client,
    timeout: Duration,
    policy: Arc<DestinationPolicy>,
}

impl HttpWebhookSender {
    /// Builds the sender.
    ///
    /// # Errors
    /// [`SenderBuildError`] when the settings cannot make a client.
    pub fn new(settings: SenderSettings) -> Result<Self, SenderBuildError> {
        let policy = Arc::new(settings.policy);
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver::new(
                policy.clone(),
                settings.resolver,
            )))
            .no_proxy()
            .user_agent(
                HeaderValue::from_str(&settings.user_agent).map_err(SenderBuildError::UserAgent)?,
            )
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .build()
            .map_err(SenderBuildError::Client)?;
        Ok(Self {
            client,
            timeout: settings.timeout,
            policy,
        })
    }

    fn headers(request: &OutboundRequest) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::with_capacity(request.headers.len());
        for (name, value) in &request.headers {
            let header = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("invalid header name {name:?}"))?;
            // The value is never echoed: it may be the subscriber's secret.
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("invalid value for header {name}"))?;
            headers.append(header, value);
        }
        if let Some(traceparent) = &request.traceparent {
            let value = HeaderValue::from_str(traceparent.as_str())
                .map_err(|_| "invalid traceparent".to_owned())?;
            headers.insert(HeaderName::from_static("traceparent"), value);
        }
        Ok(headers)
    }
}

/// Reads the body up to [`EXCERPT_LIMIT`] bytes and no further: the rest is dropped unread (and the
/// connection with it), so a huge answer costs at most the excerpt and one read buffer.
///
/// The answer counts only when its body ends or fills the excerpt in time. A body that is still
/// arriving at `deadline` (a trickle) is a [`SendErrorKind::Timeout`]; one cut short (the connection
/// closed before its announced length, a broken chunk) is [`SendErrorKind::Other`]. Both are
/// `(kind, detail)` errors, never an answer: a receiver that broke off its 2xx may not have taken the
/// delivery.
async fn excerpt(
    mut response: reqwest::Response,
    deadline: Instant,
) -> Result<Vec<u8>, (SendErrorKind, String)> {
    let mut kept = Vec::new();
    while kept.len() < EXCERPT_LIMIT {
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, response.chunk()).await {
            Ok(Ok(Some(chunk))) => {
                let room = EXCERPT_LIMIT - kept.len();
                kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(Ok(None)) => break,
            Ok(Err(err)) => return Err((classify(&err), describe(err))),
            Err(_elapsed) => {
                return Err((
                    SendErrorKind::Timeout,
                    "the answer's body was not complete within the timeout".to_owned(),
                ));
            }
        }
    }
    Ok(kept)
}

/// Every cause below `err`: its `source()` chain, also looking inside each `std::io::Error` (whose
/// `source()` skips the error it wraps — which is how tokio-rustls reports rustls errors).
fn causes(err: &reqwest::Error) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut found = Vec::new();
    let mut next = err.source();
    while let Some(cause) = next {
        found.push(cause);
        next = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner),
            None => cause.source(),
        };
    }
    found
}

/// Best effort, as rustls is not a direct dependency (its error type cannot be downcast to): tokio-rustls
/// reports every rustls error as an `io::Error` of kind `InvalidData`, and rustls's messages speak of
/// certificates, alerts, handshakes or corrupt messages.
fn looks_like_tls(cause: &(dyn std::error::Error + 'static)) -> bool {
    if cause
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
    {
        return true;
    }
    let text = cause.to_string().to_ascii_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "alert",
        "corrupt message",
        "peer is incompatible",
        "peer misbehaved",
    ]
    .iter()
    .any(|marker| text.contains(marker))
}

/// Why no answer came: a timeout, the SSRF guard, a TLS failure (an `https` connection whose cause
/// [looks like TLS](looks_like_tls)), another connect failure, a request reqwest would not build, or other.
fn classify(err: &reqwest::Error) -> SendErrorKind {
    if err.is_timeout() {
        return SendErrorKind::Timeout;
    }
    let causes = causes(err);
    if causes
        .iter()
        .any(|cause| cause.is::<ForbiddenDestination>())
    {
        return SendErrorKind::Refused;
    }
    let https = err.url().is_some_and(|url| url.scheme() == "https");
    if https && err.is_connect() && causes.iter().any(|cause| looks_like_tls(*cause)) {
        SendErrorKind::Tls
    } else if err.is_connect() {
        SendErrorKind::Connect
    } else if err.is_builder() {
        SendErrorKind::Refused
    } else {
        SendErrorKind::Other
    }
}

fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    #[tracing::instrument(name = "http.post", skip_all, fields(url = %request.url, status, error))]
    async fn send(&self, request: OutboundRequest) -> SendOutcome {
        let span = tracing::Span::current();
        let started = Instant::now();
        let url = match reqwest::Url::parse(&request.url) {
            Ok(url) => url,
            Err(err) => {
                span.record("error", "refused");
                return SendOutcome::NoAnswer {
                    kind: SendErrorKind::Refused,
                    detail: format!("invalid destination URL: {err}"),
                };
            }
        };
        if let Err(refused) = check_literal(&self.policy, &url) {
            span.record("error", "refused");
            return SendOutcome::NoAnswer {
                kind: SendErrorKind::Refused,
                detail: format!("destination refused: {refused}"),
            };
        }
        let headers = match Self::headers(&request) {
            Ok(headers) => headers,
            Err(detail) => {
                span.record("error", "refused");
                return SendOutcome::NoAnswer {
                    kind: SendErrorKind::Refused,
                    detail,
                };
            }
        };
        let outcome = match self
            .client
            .post(url)
            .headers(headers)
            .body(request.body)
            .send()
            .await
        {
            Ok(response) => {
                let status = response.status().as_u16();
                span.record("status", status);
                match excerpt(response, started + self.timeout).await {
                    Ok(body_excerpt) => SendOutcome::Answered {
                        status,
                        body_excerpt,
                    },
                    Err((kind, detail)) => {
                        span.record("error", kind.as_str());
                        SendOutcome::NoAnswer {
                            kind,
                            detail: format!("status {status}, body incomplete: {detail}"),
                        }
                    }
                }
            }
            Err(err) => {
                let kind = classify(&err);
                span.record("error", kind.as_str());
                SendOutcome::NoAnswer {
                    kind,
                    detail: describe(err),
                }
            }
        };
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis(),
            "webhook POST finished"
        );
        outcome
    }
}

#[cfg(test)]
mod tests;
