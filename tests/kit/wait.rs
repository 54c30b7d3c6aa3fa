//! Waiting for what happens in the background (deliveries, recorded attempts, a page that changes):
//! one poll loop with a deadline, for every test.

use std::fmt::Display;
use std::time::Duration;

/// How often [`eventually`] looks again.
const EVERY: Duration = Duration::from_millis(50);

/// Looks with `probe` until it answers `Ok(value)`, every 50 ms, and returns that value.
///
/// `probe` answers `Err(state)` while what is awaited has not happened; the last state is part of the
/// panic message, after `what`, when `timeout` passes first.
///
/// ```ignore
/// let attempts = eventually("four attempts recorded", WAIT, async || {
///     let n = app.count("delivery_attempts").await;
///     if n >= 4 { Ok(n) } else { Err(format!("{n} recorded")) }
/// })
/// .await;
/// ```
///
/// # Panics
/// When `probe` has not answered `Ok` within `timeout`.
pub async fn eventually<T, E: Display>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, E>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match probe().await {
            Ok(value) => return value,
            Err(state) => assert!(
                tokio::time::Instant::now() < deadline,
                "waited {timeout:?} for {what}: {state}"
            ),
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// `Ok(value)` when `done`, else `Err` with `value` shown by `Debug`: a probe's answer for
/// [`eventually`] that shows what it last saw.
///
/// # Errors
/// When not `done`: the value, shown.
pub fn ready_when<T: std::fmt::Debug>(done: bool, value: T) -> Result<T, String> {
    if done {
        Ok(value)
    } else {
        Err(format!("{value:?}"))
    }
}
