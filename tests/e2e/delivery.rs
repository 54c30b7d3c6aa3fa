//! Delivery failures are recorded, not lost.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::HalfDay;
use absync_adapter_grpc::proto::{AbsenceStatus, EventFilter};
use absync_e2e::fixtures::half_days;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;

#[sqlx::test(migrations = false)]
async fn a_receiver_answering_500_leaves_a_recorded_failed_attempt(
    pool: PgPoolOptions,
    connect: PgConnectOptions,
) {
    let mut app = spawn_app(pool, connect).await;
    app.receiver.respond_with(500);
    app.subscribe(EventFilter::All).await;
    app.put(half_days(
        "hr-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Am),
        ("2024-03-04", HalfDay::Am),
    ))
    .await
    .unwrap();
    app.receiver.wait_for(1, Duration::from_secs(10)).await;

    // The attempt is recorded once the dispatcher has written its batch.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let (status, attempts, http_status, next_in_future): (String, i32, Option<i32>, bool) = loop {
        let row: (String, i32, Option<i32>, bool) = sqlx::query_as(
            "SELECT status, attempt_count, last_http_status, next_attempt_at > now() FROM deliveries",
        )
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if row.1 > 0 || tokio::time::Instant::now() > deadline {
            break row;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, "pending", "a failed attempt schedules a retry");
    assert_eq!(attempts, 1);
    assert_eq!(http_status, Some(500));
    assert!(
        next_in_future,
        "the retry waits for the first step of the cascade (5 min)"
    );
    let (recorded,): (Option<i32>,) = sqlx::query_as("SELECT http_status FROM delivery_attempts")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(recorded, Some(500));
    // Still serving.
    app.receiver.respond_with(200);
    app.put(half_days(
        "hr-2",
        1,
        AbsenceStatus::Approved,
        ("2024-03-05", HalfDay::Am),
        ("2024-03-05", HalfDay::Am),
    ))
    .await
    .unwrap();
    app.receiver.wait_for(2, Duration::from_secs(10)).await;
}
