//! `cargo xtask test`: PostgreSQL up, Chromium and ChromeDriver installed, then every test of the
//! workspace (nextest when installed, plus doctests; `cargo test` otherwise), the e2e suite on
//! PostgreSQL and again on SQLite (`ABSYNC_E2E_STORE=sqlite`).

use crate::{browser, cargo, postgres, run_checked};

fn nextest_available() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub(crate) fn run(extra: &[String]) -> anyhow::Result<()> {
    let url = postgres::ensure_reachable()?;
    browser::ensure_installed()?;
    eprintln!("xtask: tests use DATABASE_URL={url}");
    if nextest_available() {
        let mut tests = cargo();
        tests
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .args(extra)
            .env("DATABASE_URL", &url);
        let tests = run_checked(tests, "cargo nextest run --workspace --no-fail-fast");
        // The workspace run put the e2e suite on PostgreSQL; run it again on the embedded store.
        let mut sqlite = cargo();
        sqlite
            // --workspace with a filter, not -p: the same feature set, so nothing is built again.
            .args(["nextest", "run", "--workspace", "--no-fail-fast"])
            .args(["-E", "package(absync-e2e)", "--no-tests", "pass"])
            .args(extra)
            .env("DATABASE_URL", &url)
            .env("ABSYNC_E2E_STORE", "sqlite");
        let sqlite = run_checked(
            sqlite,
            "ABSYNC_E2E_STORE=sqlite cargo nextest run -E 'package(absync-e2e)'",
        );
        let tests = tests.and(sqlite);
        // nextest does not run doctests; run them even when a test failed, then report the first failure.
        let mut doc = cargo();
        doc.args(["test", "--workspace", "--doc"])
            .env("DATABASE_URL", &url);
        let doc = run_checked(doc, "cargo test --workspace --doc");
        tests.and(doc)
    } else {
        let mut tests = cargo();
        tests
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(extra)
            .env("DATABASE_URL", &url);
        let tests = run_checked(tests, "cargo test --workspace --no-fail-fast");
        let mut sqlite = cargo();
        sqlite
            .args(["test", "-p", "absync-e2e", "--no-fail-fast"])
            .args(extra)
            .env("DATABASE_URL", &url)
            .env("ABSYNC_E2E_STORE", "sqlite");
        let sqlite = run_checked(sqlite, "ABSYNC_E2E_STORE=sqlite cargo test -p absync-e2e");
        tests.and(sqlite)
    }
}
