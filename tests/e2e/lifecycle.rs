//! Who receives what: event filters, expiry, disabling, deletion, and paging of subscriptions.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter, HalfDay};
use absync_e2e::fixtures::{half_days, monday_to_tuesday, one_morning};
use absync_e2e::receiver::Received;
use prost_types::FieldMask;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);
const QUIET: Duration = Duration::from_millis(400);

fn events_at(got: &[Received], path: &str) -> Vec<String> {
    got.iter()
        .filter(|r| r.uri == path)
        .map(|r| r.header("x-event").unwrap().to_owned())
        .collect()
}

async fn subscribe_path(
    app: &mut crate::app::TestApp,
    path: &str,
    filter: EventFilter,
    valid_until: String,
) -> proto::Subscription {
    let request = app.clients.request(proto::CreateSubscriptionRequest {
        destination_url: app.receiver.url(path),
        collection: proto::Collection::Leaves.into(),
        authorization: None,
        event_filter: filter.into(),
        valid_until,
        max_per_second: None,
    });
    app.clients
        .subscriptions
        .create_subscription(request)
        .await
        .unwrap()
        .into_inner()
        .subscription
        .unwrap()
}

#[tokio::test]
async fn validated_only_hears_of_approved_leaves_only() {
    let mut app = spawn_app().await;
    subscribe_path(
        &mut app,
        "/validated",
        EventFilter::ValidatedOnly,
        String::new(),
    )
    .await;
    subscribe_path(&mut app, "/all", EventFilter::All, String::new()).await;

    // Pending: only /all hears (4 created).
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    app.receiver.wait_for(4, WAIT).await;
    app.receiver.assert_stays_at(4, QUIET).await;
    // Approved: both (8 approved). Cancelled: both (8 deleted).
    app.put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.receiver.wait_for(12, WAIT).await;
    app.put(monday_to_tuesday("hr-1", 3, AbsenceStatus::Cancelled))
        .await
        .unwrap();
    app.receiver.wait_for(20, WAIT).await;
    // Pending then refused: /validated never hears of it; /all gets created then deleted.
    let one_day = |revision, status| {
        half_days(
            "hr-2",
            revision,
            status,
            ("2024-03-06", HalfDay::Am),
            ("2024-03-06", HalfDay::Pm),
        )
    };
    app.put(one_day(1, AbsenceStatus::Pending)).await.unwrap();
    app.receiver.wait_for(22, WAIT).await;
    app.put(one_day(2, AbsenceStatus::Refused)).await.unwrap();
    let got = app.receiver.wait_for(24, WAIT).await;
    app.receiver.assert_stays_at(24, QUIET).await;

    let validated = events_at(&got, "/validated");
    assert_eq!(validated.iter().filter(|e| *e == "approved").count(), 4);
    assert_eq!(validated.iter().filter(|e| *e == "deleted").count(), 4);
    assert_eq!(validated.len(), 8, "{validated:?}");
    let all = events_at(&got, "/all");
    assert_eq!(all.iter().filter(|e| *e == "created").count(), 6);
    assert_eq!(all.iter().filter(|e| *e == "approved").count(), 4);
    assert_eq!(all.iter().filter(|e| *e == "deleted").count(), 6);
}

#[tokio::test]
async fn expired_disabled_and_deleted_subscriptions_get_nothing_new() {
    let mut app = spawn_app().await;
    // Long enough for the first change to reach it on a loaded machine.
    let lifetime = Duration::from_secs(3);
    let expires = tokio::time::Instant::now() + lifetime;
    let soon = (chrono::Utc::now() + lifetime).to_rfc3339();
    subscribe_path(&mut app, "/expiring", EventFilter::All, soon).await;
    let disabled = subscribe_path(&mut app, "/disabled", EventFilter::All, String::new()).await;
    let deleted = subscribe_path(&mut app, "/deleted", EventFilter::All, String::new()).await;

    // Before: everyone hears.
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    app.receiver.wait_for(3, WAIT).await;

    let updated = app
        .clients
        .set_status(&disabled.id, proto::SubscriptionStatus::Disabled)
        .await
        .unwrap();
    assert_eq!(updated.status(), proto::SubscriptionStatus::Disabled);
    let delete = app.clients.request(proto::DeleteSubscriptionRequest {
        id: deleted.id.clone(),
    });
    app.clients
        .subscriptions
        .delete_subscription(delete)
        .await
        .unwrap();
    tokio::time::sleep_until(expires + Duration::from_millis(100)).await; // past the expiry

    app.put(one_morning(
        "hr-2",
        "2024-03-05",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    app.receiver
        .assert_stays_at(3, Duration::from_millis(600))
        .await;

    // The deleted subscription's history stays: its delivery is kept, succeeded.
    let (kept,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM deliveries WHERE CAST(subscription_id AS TEXT) = $1 AND status = 'succeeded'",
    )
    .bind(&deleted.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(kept, 1);

    // Re-enabled by an operator, the disabled one hears of the next change.
    app.clients
        .set_status(&disabled.id, proto::SubscriptionStatus::Enabled)
        .await
        .unwrap();
    app.put(one_morning(
        "hr-3",
        "2024-03-06",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    let got = app.receiver.wait_for(4, WAIT).await;
    assert_eq!(got[3].uri, "/disabled");
}

#[tokio::test]
async fn subscriptions_page_and_updates_are_checked() {
    let mut app = spawn_app().await;
    let mut made = Vec::new();
    for i in 0..3 {
        made.push(
            subscribe_path(&mut app, &format!("/s{i}"), EventFilter::All, String::new()).await,
        );
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let request = app.clients.request(proto::ListSubscriptionsRequest {
            page_size: 2,
            page_token: token,
        });
        let page = app
            .clients
            .subscriptions
            .list_subscriptions(request)
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.subscriptions.into_iter().map(|s| s.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, absync_e2e::client::oldest_first(&made));

    // An update is checked like a creation, and an unknown mask path is named.
    for (paths, destination, field) in [
        (
            vec!["destination_url"],
            "http://169.254.169.254/",
            "destination_url",
        ),
        (vec!["colour"], "", "update_mask"),
        (vec![], "", "update_mask"),
    ] {
        let request = app.clients.request(proto::UpdateSubscriptionRequest {
            subscription: Some(proto::Subscription {
                id: made[0].id.clone(),
                destination_url: destination.into(),
                ..Default::default()
            }),
            update_mask: Some(FieldMask {
                paths: paths.into_iter().map(String::from).collect(),
            }),
        });
        let status = app
            .clients
            .subscriptions
            .update_subscription(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains(field), "{}", status.message());
    }
    let request = app.clients.request(proto::UpdateSubscriptionRequest {
        subscription: Some(proto::Subscription {
            id: made[0].id.clone(),
            authorization: "Bearer rotated".into(),
            event_filter: EventFilter::ValidatedOnly.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["authorization".into(), "event_filter".into()],
        }),
    });
    let updated = app
        .clients
        .subscriptions
        .update_subscription(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(updated.authorization, "Bearer ****");
    assert_eq!(updated.event_filter(), EventFilter::ValidatedOnly);
    assert_eq!(updated.destination_url, app.receiver.url("/s0"));
}
