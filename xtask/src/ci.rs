//! `cargo xtask ci`: everything CI checks, stopping at the first failure.

use crate::{cargo, deps, run_checked, test};

pub(crate) fn run() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_checked(fmt, "cargo fmt --check")?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);
    run_checked(clippy, "cargo clippy -D warnings")?;
    deps::run()?;
    test::run(&[])
}
