//! `cargo xtask bench [--store postgres|sqlite|both]`: PostgreSQL up (when measured), release builds of
//! `absync` and `absync-bench`, then the benchmark (`bench/`), which prints one column per store and
//! writes `target/bench/results.json`.

use crate::{cargo, postgres, run_checked};
use std::path::PathBuf;
use std::process::Command;

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let store = match args {
        [] => "both",
        [flag, store] if flag == "--store" => store.as_str(),
        _ => anyhow::bail!("usage: cargo xtask bench [--store postgres|sqlite|both]"),
    };
    anyhow::ensure!(
        matches!(store, "postgres" | "sqlite" | "both"),
        "--store {store:?}: expected postgres, sqlite or both"
    );
    let url = if store == "sqlite" {
        None
    } else {
        Some(postgres::ensure_reachable()?)
    };
    let mut build = cargo();
    build.args(["build", "--release", "-p", "absync", "-p", "absync-bench"]);
    run_checked(build, "cargo build --release")?;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let release = target.join("release");
    let mut bench = Command::new(release.join("absync-bench"));
    bench
        .arg("--absync")
        .arg(release.join("absync"))
        .args(["--store", store])
        .arg("--out")
        .arg(target.join("bench").join("results.json"))
        .current_dir(&root);
    if let Some(url) = url {
        bench.arg("--database-url").arg(url);
    }
    run_checked(bench, "absync-bench")
}
