//! Delivery failures are recorded, not lost.

use crate::app::{spawn_app, spawn_app_retrying};
use absync_adapter_grpc::proto::{self, AbsenceStatus, DeliveryStatus, EventFilter};
use absync_e2e::fixtures::one_morning;
use absync_e2e::wait::{eventually, ready_when};
use std::time::Duration;

#[tokio::test]
async fn a_receiver_answering_500_leaves_a_recorded_failed_attempt() {
    let mut app = spawn_app().await;
    app.receiver.respond_with(500);
    app.subscribe(EventFilter::All).await;
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    app.receiver.wait_for(1, Duration::from_secs(10)).await;

    // The attempt is recorded once the dispatcher has written its batch.
    let mut tracking = app.deliveries().await;
    let delivery = eventually(
        "the attempt to be recorded",
        Duration::from_secs(10),
        async || {
            let request = app.clients.request(proto::ListDeliveriesRequest::default());
            let mut listed = tracking
                .list_deliveries(request)
                .await
                .unwrap()
                .into_inner()
                .deliveries;
            assert_eq!(listed.len(), 1);
            let delivery = listed.remove(0);
            ready_when(delivery.attempts > 0, delivery)
        },
    )
    .await;
    assert_eq!(
        delivery.status(),
        DeliveryStatus::Pending,
        "a failed attempt schedules a retry"
    );
    assert_eq!(delivery.attempts, 1);
    assert_eq!(delivery.last_http_status, 500);
    let next = chrono::DateTime::parse_from_rfc3339(&delivery.next_attempt_at).unwrap();
    assert!(
        next > chrono::Utc::now() + chrono::Duration::minutes(4),
        "the retry waits for the first step of the cascade (5 min): {next}"
    );
    let (recorded,): (Option<i32>,) = sqlx::query_as("SELECT http_status FROM delivery_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, Some(500));
    // Still serving.
    app.receiver.respond_with(200);
    app.put(one_morning(
        "hr-2",
        "2024-03-05",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    app.receiver.wait_for(2, Duration::from_secs(10)).await;
}

/// The id and event of a request.
fn leave_event(r: &absync_e2e::receiver::Received) -> (String, String) {
    (
        r.json()["id"].as_str().unwrap().to_owned(),
        r.header("x-event").unwrap().to_owned(),
    )
}

#[tokio::test]
async fn failures_are_retried_on_the_cascade_until_success_or_failed() {
    let schedule = [100_u64, 200, 300, 400];
    let mut app = spawn_app_retrying("100ms,200ms,300ms,400ms").await;
    // hr-1's leave fails four times, then succeeds; hr-2's always fails.
    let first = "20240304";
    app.receiver.respond_by(Box::new(move |request, before| {
        let id = request.json()["id"].as_str().unwrap().to_owned();
        let earlier = before
            .iter()
            .filter(|r| r.json()["id"] == id.as_str())
            .count();
        if id.contains(first) && earlier >= 4 {
            200
        } else {
            500
        }
    }));
    app.subscribe(EventFilter::All).await;
    app.put_two_mornings().await;
    let got = app.receiver.wait_for(10, Duration::from_secs(20)).await;
    app.receiver
        .assert_stays_at(10, Duration::from_millis(800))
        .await;

    for (day, last_status) in [("20240304", 200), ("20240305", 500)] {
        let attempts: Vec<_> = got
            .iter()
            .filter(|r| r.json()["id"].as_str().unwrap().contains(day))
            .collect();
        assert_eq!(attempts.len(), 5, "{day}: five attempts");
        assert_eq!(attempts[4].status, last_status);
        // The same webhook-id on every attempt.
        assert!(
            attempts
                .iter()
                .all(|a| a.header("webhook-id") == attempts[0].header("webhook-id"))
        );
        for (pair, delay) in attempts.windows(2).zip(schedule) {
            let gap = pair[1].at.duration_since(pair[0].at);
            let wanted = Duration::from_millis(delay);
            assert!(
                gap >= wanted && gap < wanted + Duration::from_millis(400),
                "{day}: gap {gap:?} for a {wanted:?} step"
            );
        }
    }
    let statuses: Vec<(String, i32)> =
        sqlx::query_as("SELECT status, attempt_count FROM deliveries ORDER BY change_version")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        statuses,
        [("succeeded".to_owned(), 5), ("failed".to_owned(), 5)]
    );
    let (attempts,): (i64,) = sqlx::query_as("SELECT count(*) FROM delivery_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(attempts, 10, "every attempt is recorded");
    // A leaves subscription stays enabled after a failure.
    let (status,): (String,) = sqlx::query_as("SELECT status FROM subscriptions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "Enabled");
}

#[tokio::test]
async fn a_failing_change_holds_back_later_changes_of_its_leave_only() {
    let mut app = spawn_app_retrying("300ms,300ms,300ms,300ms").await;
    // The first two attempts at hr-1's leave fail.
    app.receiver.respond_by(Box::new(|request, before| {
        let id = request.json()["id"].as_str().unwrap().to_owned();
        let earlier = before
            .iter()
            .filter(|r| r.json()["id"] == id.as_str())
            .count();
        if id.contains("20240304") && earlier < 2 {
            500
        } else {
            200
        }
    }));
    app.subscribe(EventFilter::All).await;
    let one = |id: &str, day: &str, revision, status| one_morning(id, day, revision, status);
    app.put(one("hr-1", "2024-03-04", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    app.receiver.wait_for(1, Duration::from_secs(10)).await;
    // Change 2 of the same leave, and another leave, while change 1 is retrying.
    app.put(one("hr-1", "2024-03-04", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.put(one("hr-2", "2024-03-05", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    let got = app.receiver.wait_for(5, Duration::from_secs(10)).await;
    app.receiver
        .assert_stays_at(5, Duration::from_millis(500))
        .await;

    let sequence: Vec<(String, String, u16)> = got
        .iter()
        .map(|r| {
            let (id, event) = leave_event(r);
            (id, event, r.status)
        })
        .collect();
    let first_leave: Vec<(&str, u16)> = sequence
        .iter()
        .filter(|(id, _, _)| id.contains("20240304"))
        .map(|(_, event, status)| (event.as_str(), *status))
        .collect();
    assert_eq!(
        first_leave,
        [
            ("created", 500),
            ("created", 500),
            ("created", 200),
            ("approved", 200)
        ]
    );
    // The other leave went out while the first one was still failing.
    let other = got
        .iter()
        .position(|r| leave_event(r).0.contains("20240305"))
        .unwrap();
    let first_success = got
        .iter()
        .position(|r| leave_event(r).0.contains("20240304") && r.status == 200)
        .unwrap();
    assert!(other < first_success, "{sequence:?}");
}
