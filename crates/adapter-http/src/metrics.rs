//! `/metrics` in the Prometheus text format: counters the use cases feed through the application's
//! `Metrics` port, and queue gauges read from the store at scrape time.

use absync_application::TrackingService;
use absync_application::ports::{DeliveryStatus, Metrics};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

/// The Prometheus side of the application's `Metrics` port, and the registry `/metrics` encodes.
#[derive(Debug)]
pub struct PrometheusMetrics {
    registry: Registry,
    ingest: Family<Outcome, Counter>,
    attempts: Family<Outcome, Counter>,
    attempt_seconds: Family<Outcome, Histogram>,
    deliveries: Family<State, Gauge>,
    due: Gauge,
    oldest_due_seconds: Gauge<f64, AtomicU64>,
}

impl Default for PrometheusMetrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("absync");
        let ingest = Family::<Outcome, Counter>::default();
        registry.register(
            "ingest_calls",
            "PutAbsence and DeleteAbsence calls by outcome (applied, unchanged, stale, error)",
            ingest.clone(),
        );
        let attempts = Family::<Outcome, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts by outcome (succeeded, retry, failed)",
            attempts.clone(),
        );
        let attempt_seconds = Family::<Outcome, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.001, 2.0, 15))
        });
        registry.register(
            "delivery_attempt_duration_seconds",
            "How long delivery attempts took, by outcome",
            attempt_seconds.clone(),
        );
        let deliveries = Family::<State, Gauge>::default();
        registry.register("deliveries", "Deliveries by state", deliveries.clone());
        let due = Gauge::default();
        registry.register("due_backlog", "Pending deliveries due now", due.clone());
        let oldest_due_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_due_age_seconds",
            "How long the oldest due delivery has been due",
            oldest_due_seconds.clone(),
        );
        Self {
            registry,
            ingest,
            attempts,
            attempt_seconds,
            deliveries,
            due,
            oldest_due_seconds,
        }
    }
}

impl Metrics for PrometheusMetrics {
    fn ingest(&self, outcome: &'static str) {
        self.ingest.get_or_create(&Outcome { outcome }).inc();
    }

    fn attempt(&self, outcome: &'static str, duration: Duration) {
        self.attempts.get_or_create(&Outcome { outcome }).inc();
        self.attempt_seconds
            .get_or_create(&Outcome { outcome })
            .observe(duration.as_secs_f64());
    }
}

impl PrometheusMetrics {
    /// Refreshes the queue gauges from the store and encodes everything.
    pub(crate) async fn render(
        &self,
        tracking: &TrackingService,
    ) -> Result<String, std::fmt::Error> {
        match tracking.queue_stats().await {
            Ok(stats) => {
                // Every state, 0 included, so a state that empties reads 0 rather than vanishing.
                for status in DeliveryStatus::ALL {
                    let count = stats
                        .by_status
                        .iter()
                        .find(|(s, _)| *s == status)
                        .map_or(0, |(_, n)| *n);
                    self.deliveries
                        .get_or_create(&State {
                            state: status.as_str(),
                        })
                        .set(count);
                }
                self.due.set(stats.due);
                let age = stats.oldest_due.map_or(0.0, |at| {
                    (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                });
                self.oldest_due_seconds.set(age);
            }
            Err(err) => tracing::warn!(error = %err, "queue gauges not refreshed"),
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}
