//! absync keeps running through a PostgreSQL restart: calls during the outage answer UNAVAILABLE and
//! write nothing; afterwards it reconnects and delivers everything. The test runs its own throwaway
//! cluster (initdb in a temporary directory, its own port), so the shared server is never touched.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_adapter_postgres::{PgStore, PoolSettings};
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// The directory of the newest installed PostgreSQL server binaries.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop()
}

/// A PostgreSQL cluster of its own, removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    /// Runs a server tool; as root, as the `postgres` user (the server refuses to run as root).
    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let status = if nix::unistd::geteuid().is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&program)
                .args(args)
                .status()
        } else {
            Command::new(&program).args(args).status()
        }
        .unwrap();
        assert!(status.success(), "{tool} {args:?} failed");
    }

    fn create(bin: PathBuf) -> Self {
        let dir = std::env::temp_dir().join(format!("absync-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if nix::unistd::geteuid().is_root() {
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir)
                .status()
                .unwrap();
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cluster = Self { bin, dir, port };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &["-D", &data, "-A", "trust", "-U", "postgres", "--no-sync"],
        );
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "start",
            ],
        );
    }

    fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/absync", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(self.bin.join("pg_ctl"))
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .status();
        if nix::unistd::geteuid().is_root() {
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args(["-D", &self.data(), "-m", "immediate", "stop"])
                .status();
        }
        let _ = std::fs::remove_dir_all(Path::new(&self.dir));
    }
}

fn one_day(id: &str, day: &str) -> proto::Absence {
    half_days(
        id,
        1,
        AbsenceStatus::Approved,
        (day, HalfDay::Am),
        (day, HalfDay::Pm),
    )
}

#[tokio::test]
async fn a_postgres_restart_is_survived_and_nothing_is_lost() {
    let Some(bin) = postgres_bin() else {
        eprintln!(
            "skipped: no PostgreSQL server binaries under /usr/lib/postgresql to run a private cluster"
        );
        return;
    };
    let cluster = Cluster::create(bin);
    cluster.start();
    let flags = [
        "--database-acquire-timeout",
        "1s",
        "--dispatch-poll-interval",
        "100ms",
    ];
    let absync = AbsyncProcess::start(ABSYNC, &cluster.url(), &flags);
    let token = {
        let store = PgStore::connect(&cluster.url(), &PoolSettings::default())
            .await
            .unwrap();
        let issued = TokenService::new(Arc::new(store.clone()))
            .issue(&TenantId::parse("acme").unwrap(), &Scope::ALL, None)
            .await
            .unwrap();
        store.close().await;
        issued.token
    };
    let receiver = Receiver::start().await;
    let mut clients = Clients::connect(absync.grpc_addr, Some(token)).await;
    clients.subscribe_leaves(receiver.url("/hook")).await;
    let request = clients.request(proto::PutAbsenceRequest {
        absence: Some(one_day("before", "2024-03-04")),
    });
    clients.ingest.put_absence(request).await.unwrap();
    receiver.wait_for(2, Duration::from_secs(10)).await;

    cluster.stop();
    let request = clients.request(proto::PutAbsenceRequest {
        absence: Some(one_day("during", "2024-03-05")),
    });
    let status = clients.ingest.put_absence(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.start();

    // The service is still up; calls succeed again once it has reconnected (UNAVAILABLE is safe to retry).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let request = clients.request(proto::PutAbsenceRequest {
            absence: Some(one_day("after", "2024-03-06")),
        });
        match clients.ingest.put_absence(request).await {
            Ok(_) => break,
            Err(status)
                if status.code() == tonic::Code::Unavailable
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(status) => panic!("after the restart: {status:?}"),
        }
    }
    let got = receiver.wait_for(4, Duration::from_secs(20)).await;
    receiver
        .assert_stays_at(4, Duration::from_millis(500))
        .await;
    let days: Vec<String> = got
        .iter()
        .map(|r| r.json()["date"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        days.iter().all(|d| d != "2024-03-05"),
        "the call during the outage wrote nothing: {days:?}"
    );
    let request = clients.request(proto::GetAbsenceRequest {
        absence_id: "during".into(),
    });
    assert_eq!(
        clients
            .ingest
            .get_absence(request)
            .await
            .unwrap_err()
            .code(),
        tonic::Code::NotFound
    );
    drop(absync);
}
