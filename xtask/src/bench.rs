//! `cargo xtask bench`: PostgreSQL up, release builds of `absync` and `absync-bench`, then the benchmark
//! (`bench/`), which prints its table and writes `target/bench/results.json`.

use crate::{cargo, postgres, run_checked};
use std::path::PathBuf;
use std::process::Command;

pub(crate) fn run() -> anyhow::Result<()> {
    let url = postgres::ensure_reachable()?;
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
        .arg("--database-url")
        .arg(&url)
        .arg("--out")
        .arg(target.join("bench").join("results.json"))
        .current_dir(&root);
    run_checked(bench, "absync-bench")
}
