//! Hostile receivers: raw loopback servers that misbehave on purpose, and what the sender makes of
//! them. Each case proves the POST ends as one classified `SendOutcome` within the total timeout:
//! a receiver that never answers, or trickles its headers or body, is a `Timeout` at the deadline (not
//! an idle timeout it could stretch); an answer cut short, a connection closed at once or garbage
//! instead of HTTP is `Other` (never a 2xx success); an untrusted certificate is `Tls`; a 30x is a
//! plain answer whose target is never contacted; a 10 MB answer is read no further than the 4 KiB
//! excerpt.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_webhook_http::{EXCERPT_LIMIT, HttpWebhookSender, SenderSettings};
use absync_application::ports::{OutboundRequest, SendErrorKind, SendOutcome, WebhookSender};
use absync_domain::DestinationPolicy;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The sender's deadline in the timing cases: short, so the tests are quick.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How much later than [`TIMEOUT`] a send may end on a loaded machine. A sender with only an idle
/// timeout would go on for as long as the trickle lasts ([`TRICKLE_FOR`]), far beyond it.
const SLACK: Duration = Duration::from_millis(1500);
/// The pace of a trickle: well inside any idle timeout.
const TRICKLE_EVERY: Duration = Duration::from_millis(50);
/// How long a trickle goes on when nobody hangs up.
const TRICKLE_FOR: Duration = Duration::from_secs(30);
/// Size of the huge answer.
const HUGE: usize = 10 * 1024 * 1024;

/// A sender allowed to reach loopback, with `timeout`.
fn sender(timeout: Duration) -> HttpWebhookSender {
    HttpWebhookSender::new(SenderSettings {
        timeout,
        policy: DestinationPolicy::with_allowlist(&["127.0.0.0/8"]).unwrap(),
        ..SenderSettings::default()
    })
    .unwrap()
}

fn post(url: String) -> OutboundRequest {
    OutboundRequest {
        url,
        headers: vec![("Content-Type".into(), "application/json".into())],
        body: br#"{"id":"1-20240304-AM"}"#.to_vec(),
        traceparent: None,
    }
}

/// Sends one POST to `url` and times it.
async fn send(timeout: Duration, url: String) -> (SendOutcome, Duration) {
    let started = Instant::now();
    let outcome = sender(timeout).send(post(url)).await;
    (outcome, started.elapsed())
}

fn assert_no_answer(outcome: &SendOutcome, expected: SendErrorKind) {
    match outcome {
        SendOutcome::NoAnswer { kind, .. } if *kind == expected => {}
        other => panic!("expected no answer ({}), got {other:?}", expected.as_str()),
    }
}

/// A TCP server on 127.0.0.1 that hands every connection to `behave`, and counts them.
struct RawServer {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    acceptor: JoinHandle<()>,
}

impl RawServer {
    async fn start<B, F>(behave: B) -> Self
    where
        B: Fn(TcpStream) -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(behave(stream));
            }
        });
        Self {
            addr,
            accepted,
            acceptor,
        }
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/hook", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.acceptor.abort();
    }
}

/// Reads one HTTP request (head, then a `Content-Length` body); returns its bytes, or what came
/// before the peer closed.
async fn read_request(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut request = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        if let Some(head_end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..head_end]).to_ascii_lowercase();
            let body_len: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .map_or(0, |value| value.trim().parse().unwrap());
            if request.len() >= head_end + 4 + body_len {
                return request;
            }
        }
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => return request,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
}

/// Reads and discards until the peer closes; returns how long that took.
async fn hold_until_closed(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    let mut buffer = [0_u8; 1024];
    while let Ok(read) = stream.read(&mut buffer).await {
        if read == 0 {
            break;
        }
    }
    started.elapsed()
}

/// Writes `bytes` one at a time, [`TRICKLE_EVERY`] apart, for at most [`TRICKLE_FOR`]; stops when
/// the peer is gone.
async fn trickle(stream: &mut TcpStream, bytes: impl Iterator<Item = u8>) {
    let until = Instant::now() + TRICKLE_FOR;
    for byte in bytes {
        if Instant::now() > until || stream.write_all(&[byte]).await.is_err() {
            return;
        }
        tokio::time::sleep(TRICKLE_EVERY).await;
    }
}

#[tokio::test]
async fn a_receiver_that_never_answers_times_out_and_is_hung_up_on() {
    let (held_tx, mut held) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream| {
        let held_tx = held_tx.clone();
        async move {
            let request = read_request(&mut stream).await;
            let held_for = hold_until_closed(&mut stream).await;
            let _ = held_tx.send((request, held_for));
        }
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT, server.url("http")).await;

    assert_no_answer(&outcome, SendErrorKind::Timeout);
    assert!(
        elapsed >= TIMEOUT && elapsed < TIMEOUT + SLACK,
        "{elapsed:?}"
    );
    // The whole request arrived, and the sender closed the connection at the deadline: no socket is
    // left to the stuck receiver.
    let (request, held_for) = tokio::time::timeout(SLACK, held.recv())
        .await
        .expect("the sender hangs up at the deadline")
        .unwrap();
    assert!(request.ends_with(br#"{"id":"1-20240304-AM"}"#));
    assert!(held_for < TIMEOUT + SLACK, "{held_for:?}");
}

#[tokio::test]
async fn headers_trickled_byte_by_byte_time_out_at_the_total_deadline() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let endless_header = b"HTTP/1.1 200 OK\r\nX-Trickle: "
            .iter()
            .copied()
            .chain(std::iter::repeat(b'a'));
        trickle(&mut stream, endless_header).await;
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT, server.url("http")).await;

    assert_no_answer(&outcome, SendErrorKind::Timeout);
    assert!(elapsed < TIMEOUT + SLACK, "{elapsed:?}");
}

#[tokio::test]
async fn a_body_trickled_byte_by_byte_times_out_at_the_total_deadline_and_is_no_success() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n";
        if stream.write_all(head).await.is_ok() {
            trickle(&mut stream, std::iter::repeat(b'a')).await;
        }
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT, server.url("http")).await;

    // The 200 came in time but the answer did not: the receiver may not have taken the delivery.
    assert_no_answer(&outcome, SendErrorKind::Timeout);
    assert!(!outcome.is_success());
    assert!(elapsed < TIMEOUT + SLACK, "{elapsed:?}");
}

#[tokio::test]
async fn a_10_mb_answer_is_cut_at_the_excerpt_and_read_no_further() {
    let pattern = |i: usize| u8::try_from(i % 251).unwrap();
    let (written_tx, mut written) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut stream| {
        let written_tx = written_tx.clone();
        async move {
            read_request(&mut stream).await;
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {HUGE}\r\n\r\n");
            let mut sent = 0;
            if stream.write_all(head.as_bytes()).await.is_ok() {
                let piece: Vec<u8> = (0..16 * 1024).map(pattern).collect();
                while sent < HUGE && stream.write_all(&piece).await.is_ok() {
                    sent += piece.len();
                }
            }
            let _ = written_tx.send(sent);
        }
    })
    .await;

    let (outcome, elapsed) = send(Duration::from_secs(10), server.url("http")).await;

    let SendOutcome::Answered {
        status,
        body_excerpt,
    } = outcome
    else {
        panic!("expected an answer, got {outcome:?}")
    };
    assert_eq!(status, 200);
    let expected: Vec<u8> = (0..EXCERPT_LIMIT).map(pattern).collect();
    assert_eq!(body_excerpt, expected);
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    // The sender hung up after the excerpt: the receiver could not push the whole answer through
    // (the socket buffers hold a few MB at most), so it was never read, let alone buffered.
    let sent = tokio::time::timeout(Duration::from_secs(10), written.recv())
        .await
        .expect("the receiver's writes fail once the sender hangs up")
        .unwrap();
    assert!(sent < HUGE, "the receiver wrote all {sent} bytes");
}

#[tokio::test]
async fn an_answer_cut_short_is_a_broken_answer_not_a_success() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
            .await;
        // Dropped: the connection closes 990 bytes short.
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT * 10, server.url("http")).await;

    assert_no_answer(&outcome, SendErrorKind::Other);
    assert!(elapsed < TIMEOUT * 10, "{elapsed:?}");
}

#[tokio::test]
async fn a_connection_closed_at_once_is_a_broken_answer() {
    let server = RawServer::start(|stream| async move { drop(stream) }).await;

    let (outcome, elapsed) = send(TIMEOUT * 10, server.url("http")).await;

    // The connection was made, so it is not a connect error.
    assert_no_answer(&outcome, SendErrorKind::Other);
    assert!(elapsed < TIMEOUT * 10, "{elapsed:?}");
    assert!(server.accepted() >= 1);
}

#[tokio::test]
async fn garbage_instead_of_a_status_line_is_a_broken_answer() {
    let server = RawServer::start(|mut stream| async move {
        read_request(&mut stream).await;
        if stream
            .write_all(b"\x00\xff\x13garbage, not HTTP at all\r\n\r\n")
            .await
            .is_ok()
        {
            // Kept open: the sender gives up on the bytes, not on a close.
            hold_until_closed(&mut stream).await;
        }
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT * 10, server.url("http")).await;

    assert_no_answer(&outcome, SendErrorKind::Other);
    assert!(elapsed < TIMEOUT * 10, "{elapsed:?}");
}

#[tokio::test]
async fn a_certificate_the_sender_cannot_trust_is_a_tls_failure() {
    // A self-signed certificate, for the very address the sender connects to: only its issuer is wrong.
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![certified.cert.der().clone()],
            tokio_rustls::rustls::pki_types::PrivateKeyDer::Pkcs8(
                certified.key_pair.serialize_der().into(),
            ),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (handshake_tx, mut handshakes) = mpsc::unbounded_channel();
    let server = RawServer::start(move |stream| {
        let acceptor = acceptor.clone();
        let handshake_tx = handshake_tx.clone();
        async move {
            let request = match acceptor.accept(stream).await {
                Ok(mut tls) => Some(read_request(&mut tls).await),
                Err(_) => None,
            };
            let _ = handshake_tx.send(request);
        }
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT * 10, server.url("https")).await;

    assert_no_answer(&outcome, SendErrorKind::Tls);
    let SendOutcome::NoAnswer { detail, .. } = &outcome else {
        unreachable!()
    };
    assert!(
        detail.to_ascii_lowercase().contains("certificate"),
        "{detail}"
    );
    assert!(elapsed < TIMEOUT * 10, "{elapsed:?}");
    let request = tokio::time::timeout(TIMEOUT * 10, handshakes.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        request, None,
        "the handshake must fail before any request is sent"
    );
}

#[tokio::test]
async fn a_tls_handshake_that_never_completes_times_out() {
    // Accepts the connection and stays silent: the sender's ClientHello is never answered.
    let server = RawServer::start(|mut stream| async move {
        hold_until_closed(&mut stream).await;
    })
    .await;

    let (outcome, elapsed) = send(TIMEOUT, server.url("https")).await;

    assert_no_answer(&outcome, SendErrorKind::Timeout);
    assert!(elapsed < TIMEOUT + SLACK, "{elapsed:?}");
}
