//! Metrics: what the use cases count. The adapter decides how they are exposed (Prometheus).

use std::time::Duration;

/// Counts ingest calls and delivery attempts.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Metrics: Send + Sync {
    /// One PutAbsence or DeleteAbsence finished: `applied`, `unchanged`, `stale` or `error`.
    fn ingest(&self, outcome: &'static str);

    /// One delivery attempt finished: `succeeded`, `retry` (failed, retry scheduled) or `failed` (out
    /// of attempts), after `duration`.
    fn attempt(&self, outcome: &'static str, duration: Duration);
}
