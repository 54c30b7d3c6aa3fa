//! The `absync` binary as a child process: started with its JSON logs read for its addresses, stopped
//! with SIGTERM or SIGKILL, killed if a test fails before stopping it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A running `absync serve`.
#[derive(Debug)]
pub struct AbsyncProcess {
    child: Child,
    /// Its gRPC address.
    pub grpc_addr: SocketAddr,
    /// Its HTTP address.
    pub http_addr: SocketAddr,
    logs: Arc<Mutex<String>>,
}

impl AbsyncProcess {
    /// Runs `binary serve` on `database_url` with ephemeral ports, http destinations on loopback
    /// allowed, JSON logs, and `extra` flags; returns once it logs that it is serving.
    ///
    /// # Panics
    /// When it cannot start or does not come up within 30 s.
    #[must_use]
    pub fn start(binary: &str, database_url: &str, extra: &[&str]) -> Self {
        Self::start_with_env(binary, database_url, extra, &[])
    }

    /// Runs `binary serve` as [`AbsyncProcess::start`] does, with the environment variables `env`
    /// set.
    ///
    /// # Panics
    /// When it cannot start or does not come up within 30 s.
    #[must_use]
    pub fn start_with_env(
        binary: &str,
        database_url: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let mut command = Command::new(binary);
        command
            .args(["serve", "--database-url", database_url])
            .envs(env.iter().copied());
        Self::launch(command, extra)
    }

    /// Runs `binary serve` as [`AbsyncProcess::start`] does, but in the folder `dir` with no database
    /// URL at all (neither flag nor `ABSYNC_DATABASE_URL`): on the default store.
    ///
    /// # Panics
    /// When it cannot start or does not come up within 30 s.
    #[must_use]
    pub fn start_on_default_store(binary: &str, dir: &Path, extra: &[&str]) -> Self {
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(dir)
            .env_remove("ABSYNC_DATABASE_URL");
        Self::launch(command, extra)
    }

    fn launch(mut command: Command, extra: &[&str]) -> Self {
        // Traces only where a test asks for them, whatever the environment of the test run.
        for variable in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "ABSYNC_OTLP_ENDPOINT",
        ] {
            if !command.get_envs().any(|(name, _)| name == variable) {
                command.env_remove(variable);
            }
        }
        let mut child = command
            .args(["--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args([
                "--allow-http",
                "--allow-destinations",
                "127.0.0.0/8",
                "--log-format",
                "json",
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(Stdio::piped())
            .spawn()
            .expect("start absync");
        let stderr = child.stderr.take().expect("piped stderr");
        let logs = Arc::new(Mutex::new(String::new()));
        let sink = logs.clone();
        let (tx, rx) = mpsc::channel::<(SocketAddr, SocketAddr)>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line)
                    && let (Some(grpc), Some(http)) =
                        (event["grpc_addr"].as_str(), event["http_addr"].as_str())
                    && let (Ok(grpc), Ok(http)) = (grpc.parse(), http.parse())
                {
                    let _ = tx.send((grpc, http));
                }
                let mut all = sink.lock().expect("log lock");
                all.push_str(&line);
                all.push('\n');
            }
        });
        let Ok((grpc_addr, http_addr)) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            panic!("absync did not start: {}", logs.lock().expect("log lock"));
        };
        Self {
            child,
            grpc_addr,
            http_addr,
            logs,
        }
    }

    /// Its process id.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it logged so far.
    ///
    /// # Panics
    /// When the lock is poisoned.
    #[must_use]
    pub fn logs(&self) -> String {
        self.logs.lock().expect("log lock").clone()
    }

    /// Kills it at once (SIGKILL): a crash.
    ///
    /// # Panics
    /// When it cannot be killed.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits at most `limit` for it to exit; returns its status and how long it took.
    ///
    /// # Panics
    /// When it does not exit in time.
    pub fn terminate(mut self, limit: Duration) -> (ExitStatus, Duration) {
        let pid = nix::unistd::Pid::from_raw(i32::try_from(self.child.id()).expect("pid fits"));
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < limit,
                "absync did not exit within {limit:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for AbsyncProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
