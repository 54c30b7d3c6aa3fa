//! Fewer allocator arenas for `serve`.
//!
//! glibc's `malloc` gives each thread that allocates an arena of its own, up to eight per core, and
//! every arena keeps the memory freed in it for later reuse. absync's threads (the runtime's
//! workers, the SQLite writer and readers, blocking tasks) all allocate, so under load those arenas
//! hold a few megabytes that nothing uses: the benchmark measured a peak RSS of 33.7 MB with glibc's
//! default and 30.7 MB with two arenas, at the same throughput.
//!
//! glibc reads its arena limit (`MALLOC_ARENA_MAX`, or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`)
//! once, when the process starts. So when neither is set, `serve` runs its own executable again in
//! the same process (`exec`: same PID, same arguments, same open files) with `MALLOC_ARENA_MAX=2`.
//! An operator's own setting is kept as it is. If the executable cannot be run again, `serve` goes on
//! with glibc's default and says so in its log.

use std::ffi::OsStr;

/// The variable glibc reads.
const VARIABLE: &str = "MALLOC_ARENA_MAX";
/// The arenas `serve` runs with unless told otherwise.
const ARENAS: &str = "2";

/// True when the environment already sets glibc's arena limit one way or the other.
fn arena_limit_set(arena_max: Option<&OsStr>, tunables: Option<&OsStr>) -> bool {
    arena_max.is_some()
        || tunables.is_some_and(|t| t.to_string_lossy().contains("glibc.malloc.arena_max"))
}

/// Runs this executable again with [`ARENAS`] arenas unless the environment sets a limit already.
/// Returns only if it does not re-run: `None` when nothing was to be done (or this is not glibc),
/// the error when the executable could not be run again.
#[must_use]
pub fn limit_arenas() -> Option<std::io::Error> {
    if arena_limit_set(
        std::env::var_os(VARIABLE).as_deref(),
        std::env::var_os("GLIBC_TUNABLES").as_deref(),
    ) {
        return None;
    }
    run_again_with_limit()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn run_again_with_limit() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(err) => return Some(err),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    // `exec` returns only when it failed.
    Some(command.args(args).env(VARIABLE, ARENAS).exec())
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn run_again_with_limit() -> Option<std::io::Error> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operators_own_limit_is_kept() {
        assert!(!arena_limit_set(None, None));
        assert!(arena_limit_set(Some(OsStr::new("8")), None));
        assert!(arena_limit_set(
            None,
            Some(OsStr::new(
                "glibc.malloc.arena_max=4:glibc.malloc.trim_threshold=0"
            ))
        ));
        assert!(!arena_limit_set(
            None,
            Some(OsStr::new("glibc.malloc.trim_threshold=0"))
        ));
    }
}
