//! A local webhook receiver: answers every POST with a configurable status and records it.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, oneshot};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Path and query.
    pub uri: String,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
    /// The status it was answered with.
    pub status: u16,
}

impl Received {
    /// The value of a header, if present once.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// When the body is not JSON.
    #[must_use]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// Decides the status of a request from it and everything received before it.
pub type Responder = Box<dyn Fn(&Received, &[Received]) -> u16 + Send + Sync>;

struct Shared {
    received: Mutex<Vec<Received>>,
    arrived: Notify,
    status: AtomicU16,
    delay_ms: AtomicU16,
    responder: Mutex<Option<Responder>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// A running receiver. Stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    _stop: oneshot::Sender<()>,
}

async fn record(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let delay = shared.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(u64::from(delay))).await;
    }
    let headers = headers
        .iter()
        .map(|(k, v)| {
            let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_owned(), value)
        })
        .collect();
    let mut request = Received {
        uri: uri.to_string(),
        headers,
        body,
        at: Instant::now(),
        status: shared.status.load(Ordering::SeqCst),
    };
    let mut received = shared.received.lock().expect("receiver lock");
    if let Some(responder) = shared.responder.lock().expect("responder lock").as_ref() {
        request.status = responder(&request, &received);
    }
    let status = request.status;
    received.push(request);
    drop(received);
    shared.arrived.notify_waiters();
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

impl Receiver {
    /// Starts a receiver on 127.0.0.1 with an ephemeral port, answering 200.
    ///
    /// # Panics
    /// When it cannot bind.
    pub async fn start() -> Self {
        let shared = Arc::new(Shared {
            received: Mutex::new(Vec::new()),
            arrived: Notify::new(),
            status: AtomicU16::new(200),
            delay_ms: AtomicU16::new(0),
            responder: Mutex::new(None),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver address");
        let app = Router::new().fallback(record).with_state(shared.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        Self {
            addr,
            shared,
            _stop: stop,
        }
    }

    /// The URL of `path` on this receiver.
    #[must_use]
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers every later request with `status`.
    pub fn respond_with(&self, status: u16) {
        self.shared.status.store(status, Ordering::SeqCst);
    }

    /// Lets `responder` choose the status of every later request.
    ///
    /// # Panics
    /// When the lock is poisoned.
    pub fn respond_by(&self, responder: Responder) {
        *self.shared.responder.lock().expect("responder lock") = Some(responder);
    }

    /// Waits this long before answering each later request.
    pub fn delay_answers(&self, delay: Duration) {
        let ms = u16::try_from(delay.as_millis()).unwrap_or(u16::MAX);
        self.shared.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// Everything received so far.
    ///
    /// # Panics
    /// When the lock is poisoned.
    #[must_use]
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().expect("receiver lock").clone()
    }

    /// How many requests arrived so far.
    ///
    /// # Panics
    /// When the lock is poisoned.
    #[must_use]
    pub fn count(&self) -> usize {
        self.shared.received.lock().expect("receiver lock").len()
    }

    /// Waits until at least `count` requests arrived, or panics after `deadline`.
    ///
    /// # Panics
    /// When fewer arrived in time.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<Received> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let notified = self.shared.arrived.notified();
            if self.count() >= count {
                return self.received();
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let got = self.received();
                assert!(
                    got.len() >= count,
                    "expected {count} requests within {deadline:?}, got {}",
                    got.len()
                );
                return got;
            }
        }
    }

    /// Asserts nothing more than `count` requests arrive during `quiet`.
    ///
    /// # Panics
    /// When more arrived.
    pub async fn assert_stays_at(&self, count: usize, quiet: Duration) {
        tokio::time::sleep(quiet).await;
        let got = self.count();
        assert_eq!(
            got, count,
            "expected no more than {count} requests, got {got}"
        );
    }
}
