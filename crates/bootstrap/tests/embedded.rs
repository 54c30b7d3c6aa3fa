//! The built `absync` binary on its embedded store: with no database URL at all it serves from
//! `./absync-data/absync.db`, delivers, keeps pending deliveries across a SIGKILL, and refuses a second
//! `serve` on the same file.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_grpc::proto::{self, AbsenceStatus};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// An empty working folder of the test's own, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("embedded-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `absync token create` in `dir` on the default store, beside the running service.
fn token(dir: &Path) -> String {
    let output = Command::new(ABSYNC)
        .args(["token", "create", "--tenant", "acme"])
        .args(["--scope", "absences:write,webhooks:write"])
        .current_dir(dir)
        .env_remove("ABSYNC_DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Subscribes the receiver to `leaves` and puts hr-1 (Monday AM to Tuesday PM: 4 leaves).
async fn subscribe_and_put(clients: &mut Clients, receiver: &Receiver) {
    clients.subscribe_leaves(receiver.url("/hook")).await;
    let request = clients.request(proto::PutAbsenceRequest {
        absence: Some(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved)),
    });
    clients.ingest.put_absence(request).await.unwrap();
}

/// The distinct leave ids among the receiver's successfully answered requests, from `skip` on.
fn leaves(receiver: &Receiver, skip: usize) -> BTreeSet<String> {
    receiver
        .received()
        .iter()
        .skip(skip)
        .map(|r| r.json()["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn with_no_database_url_serve_uses_a_sqlite_file_and_delivers_the_four_leaves() {
    let folder = Folder::new("default");
    let absync = AbsyncProcess::start_on_default_store(ABSYNC, &folder.0, &[]);
    let database = folder.0.join("absync-data").join("absync.db");
    assert!(database.is_file(), "{} was created", database.display());

    let receiver = Receiver::start().await;
    let mut clients = Clients::connect(absync.grpc_addr, Some(token(&folder.0))).await;
    subscribe_and_put(&mut clients, &receiver).await;

    let got = receiver.wait_for(4, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 4);
    assert_eq!(leaves(&receiver, 0).len(), 4, "four distinct leaves");
    assert!(got.iter().all(|r| r.header("x-event") == Some("approved")));
    receiver
        .assert_stays_at(4, Duration::from_millis(300))
        .await;
    assert!(
        absync.logs().contains("sqlite"),
        "the log says which store: {}",
        absync.logs()
    );
}

#[tokio::test]
async fn pending_deliveries_survive_a_sigkill_on_sqlite() {
    let folder = Folder::new("sigkill");
    let flags = ["--retry-schedule", "1s,1s,1s,1s", "--dispatch-lease", "2s"];
    let first = AbsyncProcess::start_on_default_store(ABSYNC, &folder.0, &flags);
    let receiver = Receiver::start().await;
    receiver.respond_with(503);
    let mut clients = Clients::connect(first.grpc_addr, Some(token(&folder.0))).await;
    subscribe_and_put(&mut clients, &receiver).await;
    // Each leave's first attempt fails; the deliveries wait for their retry.
    receiver.wait_for(4, Duration::from_secs(15)).await;
    first.kill();
    let failed_before = receiver.count();

    receiver.respond_with(200);
    let second = AbsyncProcess::start_on_default_store(ABSYNC, &folder.0, &flags);
    receiver
        .wait_for(failed_before + 4, Duration::from_secs(30))
        .await;
    assert_eq!(
        leaves(&receiver, failed_before).len(),
        4,
        "every leave arrived after the restart"
    );

    // The store agrees: four deliveries, all succeeded.
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}",
        folder.0.join("absync-data").join("absync.db").display()
    );
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (succeeded, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM deliveries",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        if succeeded == 4 && total == 4 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{succeeded} of {total} succeeded"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pool.close().await;
    drop(second);
}

#[tokio::test]
async fn a_second_serve_on_the_same_file_exits_non_zero_naming_it() {
    let folder = Folder::new("second");
    let database = folder.0.join("data").join("absync.db");
    let url = format!("sqlite://{}", database.display());
    let _first = AbsyncProcess::start(ABSYNC, &url, &[]);

    let mut second = Command::new(ABSYNC)
        .args(["serve", "--database-url", &url])
        .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = second.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second serve on {} kept running", database.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "{status:?}");
    let mut message = String::new();
    second
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut message)
        .unwrap();
    assert!(
        message.contains(&database.display().to_string()),
        "the message names the file: {message}"
    );
    assert!(message.contains("in use"), "{message}");
}
