//! Makes sure a PostgreSQL server is reachable for the tests: `DATABASE_URL` if set, else the local
//! server on 127.0.0.1:5432, starting its cluster with `pg_ctlcluster` if it is installed but stopped.

use anyhow::{Context, bail};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The URL used when `DATABASE_URL` is not set.
pub(crate) const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Host and port of a `postgres://` URL (default port 5432).
fn host_port(url: &str) -> anyhow::Result<(String, u16)> {
    let rest = url
        .split_once("://")
        .map(|(_, rest)| rest)
        .context("DATABASE_URL must look like postgres://user@host:port/database")?;
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    if host_port.is_empty() {
        bail!("DATABASE_URL names no host: use postgres://user@host:port/database");
    }
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .context("unclosed [ in DATABASE_URL host")?;
        let port = after
            .strip_prefix(':')
            .map_or(Ok(5432), str::parse)
            .context("bad port in DATABASE_URL")?;
        return Ok((host.to_owned(), port));
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) => Ok((
            host.to_owned(),
            port.parse().context("bad port in DATABASE_URL")?,
        )),
        None => Ok((host_port.to_owned(), 5432)),
    }
}

fn reachable(host: &str, port: u16) -> bool {
    let Ok(addrs) = (host, port).to_socket_addrs() else {
        return false;
    };
    addrs
        .collect::<Vec<SocketAddr>>()
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok())
}

/// Whether `pg_ctlcluster` (Debian/Ubuntu's cluster manager) can be run.
fn pg_ctlcluster_installed() -> bool {
    Command::new("pg_ctlcluster")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Installed PostgreSQL versions that have a `main` cluster (`ls /etc/postgresql`).
fn installed_versions() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/etc/postgresql") else {
        return Vec::new();
    };
    let mut versions: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().join("main").is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    versions
}

const NOT_INSTALLED: &str = "PostgreSQL is not running on 127.0.0.1:5432 and no local installation \
    (pg_ctlcluster, /etc/postgresql/<version>/main) was found to start: start it yourself, or set \
    DATABASE_URL to a reachable server (e.g. postgres://postgres@db-host:5432/postgres)";

fn start_local_cluster() -> anyhow::Result<()> {
    let versions = installed_versions();
    if versions.is_empty() || !pg_ctlcluster_installed() {
        bail!(NOT_INSTALLED);
    }
    let mut started = false;
    for version in &versions {
        eprintln!("xtask: starting PostgreSQL {version} (cluster main)");
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", version, "main", "start"])
            .status()
            .context("cannot run pg_ctlcluster; start PostgreSQL yourself or set DATABASE_URL")?;
        started |= status.success();
    }
    anyhow::ensure!(
        started,
        "pg_ctlcluster could not start PostgreSQL {}; start it yourself or set DATABASE_URL",
        versions.join(", ")
    );
    Ok(())
}

/// Returns the URL tests should use, once its server accepts connections.
pub(crate) fn ensure_reachable() -> anyhow::Result<String> {
    if let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        let (host, port) = host_port(&url)?;
        anyhow::ensure!(
            reachable(&host, port),
            "DATABASE_URL is set but {host}:{port} does not accept connections; start that server \
             or unset DATABASE_URL to use the local one on 127.0.0.1:5432"
        );
        return Ok(url);
    }
    if !reachable("127.0.0.1", 5432) {
        start_local_cluster()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !reachable("127.0.0.1", 5432) {
            anyhow::ensure!(
                Instant::now() < deadline,
                "PostgreSQL was started but did not accept connections on 127.0.0.1:5432 within 30 s"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    Ok(LOCAL_URL.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port_come_out_of_urls() {
        assert_eq!(
            host_port("postgres://postgres@127.0.0.1:5432/x").unwrap(),
            ("127.0.0.1".into(), 5432)
        );
        assert_eq!(
            host_port("postgres://u:p@db.example:6000").unwrap(),
            ("db.example".into(), 6000)
        );
        assert_eq!(
            host_port("postgresql://localhost/db?sslmode=disable").unwrap(),
            ("localhost".into(), 5432)
        );
        assert_eq!(
            host_port("postgres://u@[::1]:5433/db").unwrap(),
            ("::1".into(), 5433)
        );
        assert!(host_port("nonsense").is_err());
    }
}
