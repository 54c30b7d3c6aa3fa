//! Project automation, run as `cargo xtask <command>`:
//!
//! - `test [args…]`: make sure PostgreSQL is reachable and Chromium is installed, then run the whole
//!   test suite, and the e2e suite a second time on SQLite.
//! - `ci`: formatting check, clippy with `-D warnings`, the dependency rule, then `test`.
//! - `deps`: check the crate dependency rule over `cargo metadata`.
//! - `docs`: check that the documentation's relative links lead to files of the repository.
//! - `openapi`: write the HTTP API's OpenAPI document to `docs/openapi.json` (the test suite fails
//!   while the committed copy is stale).
//! - `bench [--store postgres|sqlite|both]`: build release, then measure throughput, latency, claim
//!   cost and memory on each store.

mod bench;
mod browser;
mod ci;
mod deps;
mod docs;
mod openapi;
mod postgres;
mod test;

use anyhow::Context;
use std::process::{Command, ExitCode, ExitStatus};

const USAGE: &str = "usage: cargo xtask <command>

commands:
  test [args…]  make sure PostgreSQL is reachable (DATABASE_URL, else 127.0.0.1:5432, started if stopped)
                and Chromium + ChromeDriver are installed (Debian's chromium, chromium-driver), then run
                every test of the workspace (the e2e suite on PostgreSQL), then the e2e suite again on
                SQLite (ABSYNC_E2E_STORE=sqlite); extra args go to the test runner
  ci            cargo fmt --check, clippy -D warnings, the dependency rule, then test
  deps          check that inner crates never depend on outer ones (domain stays free of I/O crates)
  docs          check that every relative link of README.md, ARCHITECTURE.md and docs/*.md leads to a file
  openapi       write the HTTP API's OpenAPI document, generated from the code, to docs/openapi.json
                (`test` fails while the committed copy differs)
  bench [--store postgres|sqlite|both]
                build absync and the benchmark in release mode, run them against fresh databases (both
                stores unless --store says one) and a local receiver, print (a)–(f) with one column
                per store and write target/bench/results.json";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let command = args.next();
    let rest: Vec<String> = args.collect();
    let result = match command.as_deref() {
        Some("test") => test::run(&rest),
        Some("ci") => ci::run(),
        Some("deps") => deps::run(),
        Some("docs") => docs::run(),
        Some("openapi") => openapi::run(),
        Some("bench") => bench::run(&rest),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => {
            eprintln!("unknown command {other:?}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err:#}");
            // Pass a failed command's own exit code on (e.g. the test runner's).
            err.downcast_ref::<Failed>()
                .and_then(|f| f.code)
                .and_then(|code| u8::try_from(code).ok())
                .filter(|&code| code != 0)
                .map_or(ExitCode::FAILURE, ExitCode::from)
        }
    }
}

/// A command that ran but did not succeed; `code` is its exit code (none if killed by a signal).
#[derive(Debug)]
pub(crate) struct Failed {
    what: String,
    status: ExitStatus,
    code: Option<i32>,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed ({})", self.what, self.status)
    }
}

impl std::error::Error for Failed {}

/// The cargo that runs us (`CARGO`), or `cargo`.
pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Runs a command, failing with its description when it does not succeed.
pub(crate) fn run_checked(mut command: Command, what: &str) -> anyhow::Result<()> {
    eprintln!("xtask: {what}");
    let status = command
        .status()
        .with_context(|| format!("cannot start {what}"))?;
    if status.success() {
        return Ok(());
    }
    Err(Failed {
        what: what.to_owned(),
        status,
        code: status.code(),
    }
    .into())
}
