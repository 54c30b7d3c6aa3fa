//! A fast webhook receiver (hyper, HTTP/1.1 keep-alive): answers 200 at once and records when each
//! leave id arrived.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the receiver saw.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// Requests received.
    pub(crate) count: AtomicUsize,
    /// First arrival of each leave id (the body's `"id"`).
    pub(crate) first_seen: Mutex<HashMap<String, Instant>>,
    /// Woken on every arrival.
    pub(crate) arrived: Notify,
}

impl Arrivals {
    /// Waits until `count` requests arrived; returns when the last of them did.
    pub(crate) async fn wait_for(&self, count: usize) -> Instant {
        loop {
            let notified = self.arrived.notified();
            if self.count.load(Ordering::SeqCst) >= count {
                return Instant::now();
            }
            notified.await;
        }
    }

    pub(crate) fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.first_seen.lock().expect("arrivals lock").clear();
    }
}

/// The leave id of a Timmi body: `{"id":"…"`.
fn leave_id(body: &[u8]) -> Option<String> {
    let rest = body.strip_prefix(br#"{"id":""#)?;
    let end = rest.iter().position(|b| *b == b'"')?;
    String::from_utf8(rest[..end].to_vec()).ok()
}

async fn handle(
    arrivals: Arc<Arrivals>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let body = request.into_body().collect().await?.to_bytes();
    if let Some(id) = leave_id(&body) {
        let now = Instant::now();
        arrivals
            .first_seen
            .lock()
            .expect("arrivals lock")
            .entry(id)
            .or_insert(now);
    }
    arrivals.count.fetch_add(1, Ordering::SeqCst);
    arrivals.arrived.notify_waiters();
    Ok(Response::new(Full::new(Bytes::new())))
}

/// Starts the receiver on 127.0.0.1 with an ephemeral port.
pub(crate) async fn start() -> anyhow::Result<(SocketAddr, Arc<Arrivals>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let arrivals = Arc::new(Arrivals::default());
    let shared = arrivals.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let arrivals = shared.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request| handle(arrivals.clone(), request));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, arrivals))
}
