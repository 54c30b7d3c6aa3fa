//! `/metrics` parses as Prometheus text and its counters move with traffic.

use crate::app::{TestApp, spawn_app};
use absync_adapter_grpc::proto::{AbsenceStatus, EventFilter, HalfDay};
use absync_e2e::fixtures::half_days;
use absync_e2e::wait::eventually;
use std::time::Duration;

async fn scrape(app: &TestApp) -> prometheus_parse::Scrape {
    let text = reqwest::get(app.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text format")
}

fn value(scrape: &prometheus_parse::Scrape, name: &str, label: (&str, &str)) -> f64 {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && s.labels.get(label.0) == Some(label.1))
        .map_or(0.0, |s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
}

#[tokio::test]
async fn metrics_parse_and_count_traffic() {
    let mut app = spawn_app().await;
    app.subscribe(EventFilter::All).await;
    let before = scrape(&app).await;
    assert_eq!(
        value(&before, "absync_ingest_calls_total", ("outcome", "applied")),
        0.0
    );

    let absence = half_days(
        "hr-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Am),
        ("2024-03-05", HalfDay::Pm),
    );
    app.put(absence.clone()).await.unwrap();
    app.put(absence).await.unwrap();
    app.receiver.wait_for(4, Duration::from_secs(10)).await;
    // The attempts are counted once recorded.
    let after = eventually(
        "four deliveries counted as succeeded",
        Duration::from_secs(10),
        async || {
            let after = scrape(&app).await;
            let succeeded = value(&after, "absync_deliveries", ("state", "succeeded"));
            if succeeded >= 4.0 {
                Ok(after)
            } else {
                Err(format!("{succeeded} succeeded"))
            }
        },
    )
    .await;
    assert_eq!(
        value(&after, "absync_ingest_calls_total", ("outcome", "applied")),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "absync_ingest_calls_total",
            ("outcome", "unchanged")
        ),
        1.0
    );
    assert_eq!(
        value(
            &after,
            "absync_delivery_attempts_total",
            ("outcome", "succeeded")
        ),
        4.0
    );
    assert_eq!(
        value(&after, "absync_deliveries", ("state", "succeeded")),
        4.0
    );
    assert!(
        after.samples.iter().any(|s| s
            .metric
            .starts_with("absync_delivery_attempt_duration_seconds")),
        "the latency histogram is exposed"
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "absync_due_backlog")
    );
    assert!(
        after
            .samples
            .iter()
            .any(|s| s.metric == "absync_oldest_due_age_seconds")
    );
}
