//! absync as a child process that logs every SQL statement it executes, for (h).
//!
//! The test kit's `AbsyncProcess` sets `RUST_LOG` itself and keeps the log in memory, so this starts
//! the binary the same way (ephemeral ports, loopback destinations allowed, JSON logs) but with
//! `RUST_LOG` letting through sqlx's `sqlx::query` events and the SQLite writer's
//! `absync_adapter_sqlite::statement` events — one per statement executed, its first words in the
//! `summary` field — and with stderr going to a file, where [`count`] reads them back.

use anyhow::Context;
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// What is logged: the line saying where the service listens, warnings, and every statement.
const LOG_FILTER: &str =
    "warn,absync_bootstrap=info,sqlx::query=debug,absync_adapter_sqlite::statement=debug";
/// How long the service has to come up, and to exit after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(30);

/// A running `absync serve` logging its statements to a file.
#[derive(Debug)]
pub(crate) struct LoggedAbsync {
    child: Child,
    /// Its gRPC address.
    pub(crate) grpc_addr: SocketAddr,
    log: PathBuf,
}

impl LoggedAbsync {
    /// Runs `binary serve` on `database_url` with `extra` flags, logging to `log` (replaced); returns
    /// once it logs that it is serving.
    pub(crate) async fn start(
        binary: &str,
        database_url: &str,
        log: &Path,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        let stderr = File::create(log).with_context(|| format!("create {}", log.display()))?;
        let mut child = Command::new(binary)
            .args(["serve", "--database-url", database_url])
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(["--allow-http", "--allow-destinations", "127.0.0.0/8"])
            .args(["--log-format", "json"])
            .args(extra)
            .env("RUST_LOG", LOG_FILTER)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("start {binary}"))?;
        match serving_at(&mut child, log).await {
            Ok(grpc_addr) => Ok(Self {
                child,
                grpc_addr,
                log: log.to_owned(),
            }),
            Err(err) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(err)
            }
        }
    }

    /// How many bytes it has logged so far: where [`count`] starts for what it logs from now on.
    pub(crate) fn log_position(&self) -> anyhow::Result<u64> {
        Ok(std::fs::metadata(&self.log)?.len())
    }

    /// Stops it with SIGTERM (it finishes the sends in flight and records them) and waits until it
    /// has exited.
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        // std has no SIGTERM, and the bench keeps to the workspace's dependencies: kill(1) sends it.
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("run kill -TERM")?;
        anyhow::ensure!(status.success(), "kill -TERM failed: {status}");
        let deadline = Instant::now() + PATIENCE;
        while self.child.try_wait()?.is_none() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "absync did not exit within {PATIENCE:?} of SIGTERM"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

impl Drop for LoggedAbsync {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the log of `child` says where it serves gRPC.
async fn serving_at(child: &mut Child, log: &Path) -> anyhow::Result<SocketAddr> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let serving = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find_map(|event| event["grpc_addr"].as_str()?.parse().ok());
        if let Some(addr) = serving {
            return Ok(addr);
        }
        if let Some(status) = child.try_wait()? {
            anyhow::bail!("absync exited ({status}) before serving:\n{text}");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "absync did not start within {PATIENCE:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The statements in a stretch of the log.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Statements {
    /// Statements logged (every `sqlx::query` event).
    pub(crate) logged: u64,
    /// Those starting with `BEGIN` (the SQLite adapter's `BEGIN IMMEDIATE`).
    pub(crate) begins: u64,
    /// `COMMIT`s.
    pub(crate) commits: u64,
    /// `ROLLBACK`s.
    pub(crate) rollbacks: u64,
    /// Statements run by triggers, which SQLite's trace reports as comments (`-- TRIGGER name`, then
    /// `-- ` and each statement of its body); not statements absync sent, so not in `logged`.
    pub(crate) in_triggers: u64,
}

impl Statements {
    /// Explicit transactions: the `BEGIN`s, or, where fewer `BEGIN`s than ends were logged, the ends.
    /// sqlx-postgres sends the `BEGIN` of `pool.begin()` without logging it (its `COMMIT` or
    /// `ROLLBACK` is logged), while the SQLite adapter's `BEGIN IMMEDIATE` is an ordinary logged query.
    pub(crate) fn transactions(&self) -> u64 {
        self.begins.max(self.commits + self.rollbacks)
    }

    /// Statements executed: the logged ones plus the `BEGIN`s sqlx sent without logging them.
    pub(crate) fn executed(&self) -> u64 {
        self.logged + (self.transactions() - self.begins)
    }

    fn add(&mut self, summary: &str) {
        if let Some(comment) = summary.strip_prefix("--") {
            if !comment.trim_start().starts_with("TRIGGER") {
                self.in_triggers += 1;
            }
            return;
        }
        self.logged += 1;
        let first = summary
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        match first.as_str() {
            "BEGIN" => self.begins += 1,
            "COMMIT" | "END" => self.commits += 1,
            "ROLLBACK" => self.rollbacks += 1,
            _ => {}
        }
    }
}

/// Counts the statements logged to `log` after its first `from` bytes.
pub(crate) fn count(log: &Path, from: u64) -> anyhow::Result<Statements> {
    let mut file = File::open(log).with_context(|| format!("open {}", log.display()))?;
    file.seek(SeekFrom::Start(from))?;
    let mut statements = Statements::default();
    for line in BufReader::new(file).lines() {
        let line = line?;
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        // sqlx's events, and those of the SQLite writer's own connection.
        if event["target"] == "sqlx::query" || event["target"] == "absync_adapter_sqlite::statement"
        {
            statements.add(event["summary"].as_str().unwrap_or_default());
        }
    }
    Ok(statements)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_explicit_transactions_whether_or_not_begin_is_logged() {
        let mut sqlite = Statements::default();
        for summary in ["BEGIN IMMEDIATE", "INSERT INTO absences …", "COMMIT"] {
            sqlite.add(summary);
        }
        assert_eq!((sqlite.transactions(), sqlite.executed()), (1, 3));
        for summary in [
            "-- TRIGGER delivery_counts_update",
            "-- UPDATE delivery_counts SET n = n - 1 WHERE status = OLD.status",
            "-- UPDATE delivery_counts SET n = n + 1 WHERE status = NEW.status",
        ] {
            sqlite.add(summary);
        }
        assert_eq!((sqlite.executed(), sqlite.in_triggers), (3, 2));

        let mut postgres = Statements::default();
        for summary in [
            "WITH written AS …",
            "INSERT INTO delivery_attempts …",
            "commit",
        ] {
            postgres.add(summary);
        }
        assert_eq!((postgres.transactions(), postgres.executed()), (1, 4));
    }
}
