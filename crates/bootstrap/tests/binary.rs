//! The built `absync` binary as a process: `token create`, then `serve`, a leave delivered, SIGTERM.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter};
use absync_e2e::client::Clients;
use absync_e2e::database::url_for;
use absync_e2e::fixtures::half_days;
use absync_e2e::receiver::Receiver;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// Kills the child if the test fails before it stops it.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[sqlx::test(migrations = false)]
async fn the_binary_delivers_a_leave_and_stops_on_sigterm(
    _pool: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let url = url_for(connect.get_database().unwrap());

    let output = Command::new(ABSYNC)
        .args([
            "token",
            "create",
            "--database-url",
            &url,
            "--tenant",
            "acme",
        ])
        .args(["--scope", "absences:write,webhooks:write,absences:read"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("absync_"), "{token}");

    let mut child = Command::new(ABSYNC)
        .args([
            "serve",
            "--database-url",
            &url,
            "--grpc-addr",
            "127.0.0.1:0",
            "--allow-http",
        ])
        .args([
            "--allow-destinations",
            "127.0.0.0/8",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .args(["--log-format", "json", "--shutdown-timeout", "5s"])
        .env("RUST_LOG", "debug")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut guard = Guard(child);

    // The service logs its address once it is serving.
    let (addr_tx, addr_rx) = std::sync::mpsc::channel::<SocketAddr>();
    let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let log_sink = logs.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let mut all = log_sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
            drop(all);
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                && let Some(addr) = event["grpc_addr"].as_str()
            {
                let _ = addr_tx.send(addr.parse().unwrap());
            }
        }
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("absync logs its gRPC address");

    let receiver = Receiver::start().await;
    let mut clients = Clients::connect(addr, Some(token.clone())).await;
    let request = clients.request(proto::CreateSubscriptionRequest {
        destination_url: receiver.url("/timmi"),
        collection: proto::Collection::Leaves.into(),
        authorization: Some("Basic c2VjcmV0LXZhbHVl".into()),
        event_filter: EventFilter::All.into(),
        valid_until: String::new(),
        max_per_second: None,
    });
    let signing_secret = clients
        .subscriptions
        .create_subscription(request)
        .await
        .unwrap()
        .into_inner()
        .signing_secret;
    let absence = half_days(
        "bin-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", proto::HalfDay::Pm),
        ("2024-03-04", proto::HalfDay::Pm),
    );
    let request = clients.request(proto::PutAbsenceRequest {
        absence: Some(absence),
    });
    let answer = clients
        .ingest
        .put_absence(request)
        .await
        .unwrap()
        .into_inner();

    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        got[0].json()["id"],
        format!("{}-20240304-PM", answer.absence_number)
    );
    assert_eq!(
        got[0].header("authorization"),
        Some("Basic c2VjcmV0LXZhbHVl")
    );
    assert_eq!(got[0].header("x-event"), Some("approved"));

    // `token list` shows the token (not its text); `token revoke` stops it at once.
    let listed = Command::new(ABSYNC)
        .args(["token", "list", "--database-url", &url, "--tenant", "acme"])
        .output()
        .unwrap();
    assert!(listed.status.success());
    let listing = String::from_utf8(listed.stdout).unwrap();
    assert!(!listing.contains(&token), "the token text is never listed");
    let line = listing.lines().nth(1).expect("one token listed");
    assert!(
        line.contains("active") && line.contains("absences:write"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap().to_owned();
    let revoked = Command::new(ABSYNC)
        .args(["token", "revoke", "--database-url", &url, &id])
        .output()
        .unwrap();
    assert!(
        revoked.status.success(),
        "{}",
        String::from_utf8_lossy(&revoked.stderr)
    );
    let request = clients.request(proto::GetAbsenceRequest {
        absence_id: "bin-1".into(),
    });
    let status = clients.ingest.get_absence(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let again = Command::new(ABSYNC)
        .args(["token", "revoke", "--database-url", &url, &id])
        .output()
        .unwrap();
    assert!(!again.status.success(), "revoking twice is an error");

    // SIGTERM: a clean exit well within the shutdown timeout.
    let started = Instant::now();
    kill(
        Pid::from_raw(i32::try_from(guard.0.id()).unwrap()),
        Signal::SIGTERM,
    )
    .unwrap();
    let status = loop {
        if let Some(status) = guard.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "absync did not stop after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status:?}");

    // Debug logs of the whole run never carry a secret.
    reader.join().unwrap();
    let logs = logs.lock().unwrap();
    assert!(logs.contains("deliver"), "debug logs were captured");
    for secret in [token.as_str(), "c2VjcmV0LXZhbHVl", &signing_secret[6..]] {
        assert!(!logs.contains(secret), "a secret leaked into the logs");
    }
}
