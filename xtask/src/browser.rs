//! Chromium and ChromeDriver for the web console's browser test: installed from Debian's packages
//! (`chromium`, `chromium-driver`) when missing.

use crate::run_checked;
use anyhow::{Context, bail};
use std::path::Path;
use std::process::Command;

const DRIVER: &str = "/usr/bin/chromedriver";
const BROWSER: &str = "/usr/bin/chromium";
const PACKAGES: [&str; 2] = ["chromium", "chromium-driver"];

fn installed() -> bool {
    let given = |var: &str, default: &str| {
        std::env::var_os(var)
            .map_or_else(|| Path::new(default).exists(), |p| Path::new(&p).exists())
    };
    given("CHROMEDRIVER", DRIVER) && given("CHROMIUM", BROWSER)
}

fn is_root() -> bool {
    effective_uid() == Some(0)
}

/// The effective uid, read from `/proc` (xtask keeps no libc binding).
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .and_then(|uid| uid.parse().ok())
}

/// `apt-get <args>`, through sudo when not root.
fn apt_get(args: &[&str]) -> Command {
    let mut command = if is_root() {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    };
    command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    command
}

/// Makes sure Chromium and ChromeDriver are installed, installing Debian's packages if not.
pub(crate) fn ensure_installed() -> anyhow::Result<()> {
    if installed() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing {} for the browser test",
        PACKAGES.join(" ")
    );
    let mut install = apt_get(&["install", "-y", "--no-install-recommends"]);
    install.args(PACKAGES);
    if run_checked(install, "apt-get install chromium chromium-driver").is_err() {
        // The package lists may be missing or stale on a fresh machine.
        run_checked(apt_get(&["update"]), "apt-get update")?;
        let mut install = apt_get(&["install", "-y", "--no-install-recommends"]);
        install.args(PACKAGES);
        run_checked(install, "apt-get install chromium chromium-driver")
            .context("the browser test needs Debian's chromium and chromium-driver")?;
    }
    if !installed() {
        bail!("chromium and chromium-driver were installed but {DRIVER} or {BROWSER} is missing");
    }
    Ok(())
}
