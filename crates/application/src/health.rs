//! Subscription health: what an operator asks first when a customer calls ("is this subscriber
//! healthy, and since when not?"), from the attempt history read by time.

use crate::error::ApplicationError;
use crate::failure::logged;
use crate::ports::{
    AttemptTally, Clock, FailedAttempt, HealthStore, Subscription, SubscriptionStore,
};
use absync_domain::{SubscriptionId, TenantId};
use chrono::{DateTime, Duration, DurationRound, Utc};
use std::sync::Arc;

/// How many recent failures a health report lists.
pub const RECENT_FAILURES: u32 = 10;

/// How far back a health report looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthWindow {
    /// The last 24 hours, hour by hour.
    Day,
    /// The last 7 days, hour by hour.
    Week,
}

impl HealthWindow {
    /// The hours covered, the current one included.
    #[must_use]
    pub fn hours(self) -> i64 {
        match self {
            Self::Day => 24,
            Self::Week => 24 * 7,
        }
    }
}

/// The attempts of one hour (or of a whole window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourFigures {
    /// The start of the hour (of the first hour, for a window).
    pub start: DateTime<Utc>,
    /// Attempts answered 2xx.
    pub succeeded: u64,
    /// Other attempts.
    pub failed: u64,
    /// Median attempt latency, in milliseconds; `None` without attempts.
    pub p50_ms: Option<u32>,
    /// 99th percentile attempt latency, in milliseconds; `None` without attempts.
    pub p99_ms: Option<u32>,
}

impl HourFigures {
    /// Every attempt.
    #[must_use]
    pub fn attempts(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Succeeded attempts out of all, as a percentage; `None` without attempts.
    #[must_use]
    pub fn success_rate(&self) -> Option<f64> {
        let all = self.attempts();
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        (all > 0).then(|| self.succeeded as f64 * 100.0 / all as f64)
    }

    fn of(start: DateTime<Utc>, tallies: &[&AttemptTally]) -> Self {
        let count = |ok: bool| {
            tallies
                .iter()
                .filter(|t| t.succeeded == ok)
                .map(|t| t.count)
                .sum()
        };
        let mut durations: Vec<(u32, u64)> =
            tallies.iter().map(|t| (t.duration_ms, t.count)).collect();
        durations.sort_unstable();
        Self {
            start,
            succeeded: count(true),
            failed: count(false),
            p50_ms: percentile(&durations, 50),
            p99_ms: percentile(&durations, 99),
        }
    }
}

/// The smallest duration that at least `pct` percent of the attempts took no longer than (nearest
/// rank), from (duration, count) pairs in duration order.
fn percentile(sorted: &[(u32, u64)], pct: u64) -> Option<u32> {
    let total: u64 = sorted.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    let rank = (total * pct).div_ceil(100).max(1);
    let mut seen = 0;
    sorted.iter().find_map(|&(ms, n)| {
        seen += n;
        (seen >= rank).then_some(ms)
    })
}

/// A subscription's health over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionHealth {
    /// The subscription.
    pub subscription: Subscription,
    /// When the figures were taken.
    pub now: DateTime<Utc>,
    /// Hour by hour, oldest first; the last is the current hour.
    pub hours: Vec<HourFigures>,
    /// The last 24 hours together.
    pub day: HourFigures,
    /// When the last successful attempt started.
    pub last_success: Option<DateTime<Utc>>,
    /// The latest failed attempts, newest first: the first is the last error.
    pub recent_failures: Vec<FailedAttempt>,
    /// Deliveries waiting to be sent.
    pub unsent: u64,
}

/// A subscription's figures over the last 24 hours, as a list of subscriptions shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionSummary {
    /// The subscription.
    pub subscription: Subscription,
    /// When the figures were taken.
    pub now: DateTime<Utc>,
    /// The last 24 hours together.
    pub day: HourFigures,
    /// When the last successful attempt started.
    pub last_success: Option<DateTime<Utc>>,
    /// The latest failed attempt: the last error.
    pub last_failure: Option<FailedAttempt>,
    /// Deliveries waiting to be sent.
    pub unsent: u64,
}

/// Reads subscriptions' health figures.
#[derive(Clone)]
pub struct HealthService {
    subscriptions: Arc<dyn SubscriptionStore>,
    store: Arc<dyn HealthStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

impl HealthService {
    /// Wires the use case.
    #[must_use]
    pub fn new(
        subscriptions: Arc<dyn SubscriptionStore>,
        store: Arc<dyn HealthStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            subscriptions,
            store,
            clock,
        }
    }

    /// The health of one of the tenant's subscriptions (deleted ones included) over `window`.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "subscription_health", skip_all,
        fields(tenant = %tenant, subscription_id = %id, hours = window.hours()))]
    pub async fn health(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        window: HealthWindow,
    ) -> Result<SubscriptionHealth, ApplicationError> {
        logged(async {
            let subscription = self
                .subscriptions
                .get(tenant, id)
                .await?
                .ok_or(ApplicationError::NotFound("subscription"))?;
            self.of(tenant, subscription, window).await
        })
        .await
    }

    /// The figures of the last 24 hours of subscriptions already read (a page of a list), in their
    /// order: one store read per figure for them all, however many they are, and none without any.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "subscription_summaries", skip_all,
        fields(tenant = %tenant, subscriptions = subscriptions.len()))]
    pub async fn summaries(
        &self,
        tenant: &TenantId,
        subscriptions: Vec<Subscription>,
    ) -> Result<Vec<SubscriptionSummary>, ApplicationError> {
        logged(async {
            if subscriptions.is_empty() {
                return Ok(Vec::new());
            }
            let now = self.clock.now();
            let current_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
            let day_start = current_hour - Duration::hours(23);
            let ids: Vec<SubscriptionId> = subscriptions.iter().map(|s| s.id.clone()).collect();
            let tallies = self
                .store
                .attempt_tallies_of(tenant, &ids, day_start)
                .await?;
            let last_successes = self.store.last_successes(tenant, &ids).await?;
            let last_failures = self.store.last_failures(tenant, &ids).await?;
            let unsent = self.store.unsent_counts(tenant, &ids).await?;
            Ok(subscriptions
                .into_iter()
                .map(|subscription| {
                    let id = &subscription.id;
                    let of_day: Vec<&AttemptTally> = tallies
                        .get(id)
                        .into_iter()
                        .flatten()
                        .filter(|t| t.hour >= day_start)
                        .collect();
                    SubscriptionSummary {
                        now,
                        day: HourFigures::of(day_start, &of_day),
                        last_success: last_successes.get(id).copied(),
                        last_failure: last_failures.get(id).cloned(),
                        unsent: unsent.get(id).copied().unwrap_or(0),
                        subscription,
                    }
                })
                .collect())
        })
        .await
    }

    /// The health of a subscription already read, over `window`.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "subscription_health", skip_all,
        fields(tenant = %tenant, subscription_id = %subscription.id, hours = window.hours()))]
    pub async fn of(
        &self,
        tenant: &TenantId,
        subscription: Subscription,
        window: HealthWindow,
    ) -> Result<SubscriptionHealth, ApplicationError> {
        let now = self.clock.now();
        let current_hour = now.duration_trunc(Duration::hours(1)).unwrap_or(now);
        let first_hour = current_hour - Duration::hours(window.hours() - 1);
        let day_start = current_hour - Duration::hours(23);
        let id = &subscription.id;
        let tallies = self.store.attempt_tallies(tenant, id, first_hour).await?;
        let last_success = self.store.last_success(tenant, id).await?;
        let recent_failures = self
            .store
            .recent_failures(tenant, id, RECENT_FAILURES)
            .await?;
        let unsent = self.store.unsent(tenant, id).await?;
        let hours = (0..window.hours())
            .map(|i| {
                let start = first_hour + Duration::hours(i);
                let of_hour: Vec<&AttemptTally> =
                    tallies.iter().filter(|t| t.hour == start).collect();
                HourFigures::of(start, &of_hour)
            })
            .collect();
        let of_day: Vec<&AttemptTally> = tallies.iter().filter(|t| t.hour >= day_start).collect();
        Ok(SubscriptionHealth {
            subscription,
            now,
            hours,
            day: HourFigures::of(day_start, &of_day),
            last_success,
            recent_failures,
            unsent,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::subscription;
    use crate::ports::clock::MockClock;
    use crate::ports::health::MockHealthStore;
    use crate::ports::subscriptions::MockSubscriptionStore;
    use absync_domain::{EventFilter, TenantId};
    use chrono::TimeZone;
    use std::collections::HashMap;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, h, m, 0).unwrap()
    }

    fn tally(hour: DateTime<Utc>, succeeded: bool, duration_ms: u32, count: u64) -> AttemptTally {
        AttemptTally {
            hour,
            succeeded,
            duration_ms,
            count,
        }
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[(5, 1)], 99), Some(5));
        let spread: Vec<(u32, u64)> = (1..=100).map(|ms| (ms, 1)).collect();
        assert_eq!(percentile(&spread, 50), Some(50));
        assert_eq!(percentile(&spread, 99), Some(99));
        assert_eq!(percentile(&[(1, 98), (500, 2)], 99), Some(500));
        assert_eq!(percentile(&[(1, 99), (500, 1)], 99), Some(1));
    }

    #[tokio::test]
    async fn hours_and_the_day_are_counted_from_the_tallies() {
        let tenant = TenantId::parse("acme").unwrap();
        let sub = subscription("s1", tenant.clone(), EventFilter::All);
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| at(15, 20));
        let mut store = MockHealthStore::new();
        store
            .expect_attempt_tallies()
            .withf(|_, _, since| *since == at(15, 0) - Duration::hours(23))
            .returning(|_, _, _| {
                Ok(vec![
                    tally(at(15, 0), true, 4, 12),
                    tally(at(15, 0), false, 30, 3),
                    tally(at(9, 0), true, 10, 1),
                ])
            });
        store
            .expect_last_success()
            .returning(|_, _| Ok(Some(at(15, 10))));
        store
            .expect_recent_failures()
            .returning(|_, _, _| Ok(Vec::new()));
        store.expect_unsent().returning(|_, _| Ok(7));
        let service = HealthService::new(
            Arc::new(MockSubscriptionStore::new()),
            Arc::new(store),
            Arc::new(clock),
        );
        let health = service.of(&tenant, sub, HealthWindow::Day).await.unwrap();
        assert_eq!(health.hours.len(), 24);
        let current = health.hours.last().unwrap();
        assert_eq!(
            (current.start, current.succeeded, current.failed),
            (at(15, 0), 12, 3)
        );
        assert_eq!((current.p50_ms, current.p99_ms), (Some(4), Some(30)));
        assert_eq!(health.hours[17].succeeded, 1); // 09:00, 17 hours after 16:00 the day before
        assert_eq!((health.day.succeeded, health.day.failed), (13, 3));
        assert_eq!(health.day.success_rate(), Some(1300.0 / 16.0));
        assert_eq!(health.unsent, 7);
    }

    fn failure(delivery: i64, at: DateTime<Utc>, status: u16) -> FailedAttempt {
        FailedAttempt {
            delivery: absync_domain::DeliveryId::new(delivery),
            at,
            http_status: Some(status),
            error: None,
        }
    }

    /// A page of three subscriptions is summed up with one store read per figure, each over the
    /// page's ids; the per-subscription reads are never made.
    #[tokio::test]
    async fn a_page_is_summed_up_with_one_read_per_figure() {
        let tenant = TenantId::parse("acme").unwrap();
        let page: Vec<Subscription> = ["s1", "s2", "s3"]
            .into_iter()
            .map(|id| subscription(id, tenant.clone(), EventFilter::All))
            .collect();
        let ids: Vec<SubscriptionId> = page.iter().map(|s| s.id.clone()).collect();
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| at(15, 20));
        let day_start = at(15, 0) - Duration::hours(23);
        let mut store = MockHealthStore::new();
        let (asked, acme) = (ids.clone(), tenant.clone());
        store
            .expect_attempt_tallies_of()
            .times(1)
            .withf(move |t, subs, since| *t == acme && subs == asked && *since == day_start)
            .returning(move |_, _, _| {
                Ok(HashMap::from([
                    (
                        SubscriptionId::new("s1"),
                        vec![tally(at(15, 0), true, 4, 12), tally(at(9, 0), false, 30, 3)],
                    ),
                    (
                        SubscriptionId::new("s3"),
                        vec![tally(at(10, 0), true, 8, 2)],
                    ),
                ]))
            });
        let asked = ids.clone();
        store
            .expect_last_successes()
            .times(1)
            .withf(move |_, subs| subs == asked)
            .returning(|_, _| Ok(HashMap::from([(SubscriptionId::new("s1"), at(15, 10))])));
        let asked = ids.clone();
        store
            .expect_last_failures()
            .times(1)
            .withf(move |_, subs| subs == asked)
            .returning(|_, _| {
                Ok(HashMap::from([(
                    SubscriptionId::new("s1"),
                    failure(9, at(9, 30), 503),
                )]))
            });
        let asked = ids.clone();
        store
            .expect_unsent_counts()
            .times(1)
            .withf(move |_, subs| subs == asked)
            .returning(|_, _| Ok(HashMap::from([(SubscriptionId::new("s3"), 5)])));
        store.expect_attempt_tallies().never();
        store.expect_last_success().never();
        store.expect_recent_failures().never();
        store.expect_unsent().never();
        let service = HealthService::new(
            Arc::new(MockSubscriptionStore::new()),
            Arc::new(store),
            Arc::new(clock),
        );

        let summaries = service.summaries(&tenant, page).await.unwrap();

        let ids_back: Vec<&str> = summaries
            .iter()
            .map(|s| s.subscription.id.as_str())
            .collect();
        assert_eq!(ids_back, ["s1", "s2", "s3"], "in the page's order");
        let [s1, s2, s3] = &summaries[..] else {
            panic!("three summaries: {summaries:?}");
        };
        assert_eq!(s1.now, at(15, 20));
        assert_eq!(
            (s1.day.start, s1.day.succeeded, s1.day.failed),
            (day_start, 12, 3)
        );
        assert_eq!((s1.day.p50_ms, s1.day.p99_ms), (Some(4), Some(30)));
        assert_eq!(s1.last_success, Some(at(15, 10)));
        assert_eq!(s1.last_failure, Some(failure(9, at(9, 30), 503)));
        assert_eq!(s1.unsent, 0);
        assert_eq!((s2.day.attempts(), s2.day.p50_ms), (0, None));
        assert_eq!(
            (s2.last_success, &s2.last_failure, s2.unsent),
            (None, &None, 0)
        );
        assert_eq!((s3.day.succeeded, s3.day.failed, s3.unsent), (2, 0, 5));
        assert_eq!((s3.last_success, &s3.last_failure), (None, &None));
    }

    /// An empty page reads nothing.
    #[tokio::test]
    async fn an_empty_page_reads_nothing() {
        let mut store = MockHealthStore::new();
        store.expect_attempt_tallies_of().never();
        store.expect_last_successes().never();
        store.expect_last_failures().never();
        store.expect_unsent_counts().never();
        let mut clock = MockClock::new();
        clock.expect_now().returning(|| at(15, 20));
        let service = HealthService::new(
            Arc::new(MockSubscriptionStore::new()),
            Arc::new(store),
            Arc::new(clock),
        );
        let tenant = TenantId::parse("acme").unwrap();
        assert!(
            service
                .summaries(&tenant, Vec::new())
                .await
                .unwrap()
                .is_empty()
        );
    }
}
