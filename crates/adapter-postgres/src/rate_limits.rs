//! Whether some subscription may be rate-limited: the claim spends token buckets only then.
//!
//! The claim's rate-limit part (the `budgets`, `limited` and `spent` steps of
//! [`CLAIM`](crate::deliveries::CLAIM)) costs time on every claim even when no subscription has a
//! limit, which is the usual case (about a third of an empty queue's claim on the server). So each store keeps a flag, "some live subscription may have a
//! limit", and while it is false claims with [`CLAIM_UNLIMITED`](crate::deliveries::CLAIM_UNLIMITED)
//! (and reads the next due time with `NEXT_DUE_UNLIMITED`) instead.
//!
//! **A stale flag is safe.** The unlimited statements serve only subscriptions without a limit
//! (`max_per_second IS NULL`), exactly as the full claim's `open` step does. A stale *false* (a limit
//! set since, elsewhere) therefore never sends a limited subscription's deliveries past its limit:
//! they are left pending, and delayed until the flag is refreshed. A stale *true* (the last limit
//! lifted since) only costs the full statement's time: its rate-limit part finds nothing to spend.
//!
//! **Refreshes** (one `SELECT EXISTS` on the partial index `subscriptions_rate_limited`):
//! - before the store's first claim (the flag starts true, the full statement, until then);
//! - after this store sets a limit (a new subscription with one, or an update giving one) the flag
//!   is true at once, with no query; after it lifts a limit or deletes a subscription the next claim
//!   checks again;
//! - other instances hear of it through `NOTIFY absync_subscriptions`, sent after every such write
//!   (see [`PgStore::relay_notifications`]): their next claim checks again. So do they after their
//!   `LISTEN` connection is (re)established, since notifications may have been missed meanwhile;
//! - as a backstop against a lost notification, a claim (or next-due read) checks again when the
//!   last check is older than [`RECHECK_EVERY`]: one cheap query every 5 seconds at most, so a
//!   limit set elsewhere takes effect within 5 seconds (and the dispatcher's poll) at worst.
//!
//! A check during which this store set a limit, or heard of a change, may have read the database
//! from before it: it then neither clears the flag nor counts as fresh, so no news is lost to a race.

use crate::store::PgStore;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How old a check may be before a claim checks again, whatever the notifications said.
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// Whether a live subscription has a rate limit: what the partial index `subscriptions_rate_limited`
/// holds.
const ANY_LIMITED: &str = "SELECT EXISTS (
    SELECT 1 FROM subscriptions WHERE max_per_second IS NOT NULL AND deleted_at IS NULL)";

/// The flag, shared by the clones of a store.
#[derive(Debug)]
pub(crate) struct LimitedSubscriptions {
    /// Some live subscription may have a limit: claims must spend token buckets. Read freely,
    /// written with `checks` held.
    may_exist: AtomicBool,
    checks: Mutex<Checks>,
}

#[derive(Debug, Default)]
struct Checks {
    /// When the flag was last checked; `None`: before the next claim.
    at: Option<Instant>,
    /// Counts the limits set and the rechecks asked for: a check during which it moved may have
    /// read the database from before them, and must neither clear the flag nor count as fresh.
    news: u64,
}

impl Default for LimitedSubscriptions {
    fn default() -> Self {
        Self {
            may_exist: AtomicBool::new(true),
            checks: Mutex::default(),
        }
    }
}

impl LimitedSubscriptions {
    /// Whether the claim must spend token buckets; checks the database first when the last check is
    /// older than [`RECHECK_EVERY`] or a recheck was asked for.
    pub(crate) async fn may_exist(&self, pool: &PgPool) -> bool {
        let news = {
            let checks = self.checks();
            checks
                .at
                .is_none_or(|at| at.elapsed() >= RECHECK_EVERY)
                .then_some(checks.news)
        };
        if let Some(news) = news {
            self.check(pool, news).await;
        }
        self.may_exist.load(Ordering::Acquire)
    }

    /// This store has set a limit: claims spend token buckets from now on.
    pub(crate) fn limit_set(&self) {
        let mut checks = self.checks();
        checks.news += 1;
        self.may_exist.store(true, Ordering::Release);
    }

    /// A limit may have been lifted or set (here or elsewhere): the next claim checks again.
    pub(crate) fn recheck(&self) {
        let mut checks = self.checks();
        checks.news += 1;
        checks.at = None;
    }

    fn checks(&self) -> MutexGuard<'_, Checks> {
        self.checks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the flag from the database, unless news came in `news`' stead meanwhile. If it cannot,
    /// claims spend buckets (always right) until the next check.
    #[tracing::instrument(name = "pg.check_rate_limits", skip_all, fields(limited))]
    async fn check(&self, pool: &PgPool, news: u64) {
        let started = Instant::now();
        let limited = match sqlx::query_scalar::<_, bool>(ANY_LIMITED)
            .fetch_one(pool)
            .await
        {
            Ok(limited) => limited,
            Err(err) => {
                tracing::debug!(error = %err, "cannot check for rate-limited subscriptions; spending buckets");
                true
            }
        };
        tracing::Span::current().record("limited", limited);
        let mut checks = self.checks();
        if checks.news == news {
            self.may_exist.store(limited, Ordering::Release);
            checks.at = Some(started);
        } else if limited {
            self.may_exist.store(true, Ordering::Release);
        }
    }
}

impl PgStore {
    /// Whether some subscription may be rate-limited, as this store knows it (for tests: the claim
    /// asks [`LimitedSubscriptions::may_exist`], which checks when due).
    #[doc(hidden)]
    #[must_use]
    pub fn may_have_rate_limits(&self) -> bool {
        self.limited.may_exist.load(Ordering::Acquire)
    }
}
