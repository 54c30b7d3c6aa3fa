//! Pause and resume over gRPC: a paused subscription's deliveries queue up and none is sent, while an
//! unpaused one beside it receives its own; after `ResumeSubscription` every one arrives, in change
//! order per leave. The same call re-enables a Protime (`absences`) subscription disabled by
//! exhausted retries.

use crate::app::{spawn_app, spawn_app_retrying};
use absync_adapter_grpc::proto::{self, AbsenceStatus, DeliveryStatus, EventFilter};
use absync_e2e::fixtures::{monday_to_tuesday, one_morning};
use absync_e2e::receiver::Received;
use absync_e2e::wait::{eventually, ready_when};
use std::collections::BTreeMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);
/// How long nothing may arrive for the paused subscription once the unpaused one has all of its own.
const QUIET: Duration = Duration::from_millis(400);

/// Per leave, its events in the order they arrived at `path`.
fn arrived_at(got: &[Received], path: &str) -> BTreeMap<String, Vec<String>> {
    let mut per_leave: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in got.iter().filter(|r| r.uri == path) {
        let leave = r.json()["id"].as_str().unwrap().to_owned();
        let event = r.header("x-event").unwrap().to_owned();
        per_leave.entry(leave).or_default().push(event);
    }
    per_leave
}

/// `LEAVE_EVENT_KIND_APPROVED` → `approved`, as the `X-Event` header spells it.
fn event_name(event: proto::LeaveEventKind) -> String {
    event
        .as_str_name()
        .trim_start_matches("LEAVE_EVENT_KIND_")
        .to_ascii_lowercase()
}

#[tokio::test]
async fn a_paused_subscription_gets_nothing_until_resumed_then_everything_in_order() {
    let mut app = spawn_app().await;
    let create = |path: &str| {
        let destination_url = app.receiver.url(path);
        let clients = app.clients.clone();
        async move {
            clients
                .create_subscription(proto::CreateSubscriptionRequest {
                    destination_url,
                    collection: proto::Collection::Leaves.into(),
                    event_filter: EventFilter::All.into(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .subscription
                .unwrap()
        }
    };
    let paused = create("/paused").await;
    let control = create("/control").await;
    let mut subscriptions = app.clients.subscriptions.clone();
    let request = app.clients.request(proto::PauseSubscriptionRequest {
        id: paused.id.clone(),
    });
    let answer = subscriptions
        .pause_subscription(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status(), proto::SubscriptionStatus::Paused);
    assert!(!answer.paused_since.is_empty(), "{answer:?}");
    let listed = app.clients.list_subscriptions().await.unwrap();
    let statuses: Vec<_> = listed.iter().map(|s| (&s.id, s.status())).collect();
    use proto::SubscriptionStatus::{Enabled, Paused};
    assert_eq!(statuses.len(), 2, "{listed:?}");
    assert!(statuses.contains(&(&paused.id, Paused)), "{listed:?}");
    assert!(statuses.contains(&(&control.id, Enabled)), "{listed:?}");

    // Several changes of one leave (created, approved, deleted), and several leaves.
    let mut changes = vec![
        app.put(one_morning("hr-1", "2024-03-04", 1, AbsenceStatus::Pending))
            .await
            .unwrap(),
        app.put(monday_to_tuesday("hr-2", 1, AbsenceStatus::Pending))
            .await
            .unwrap(),
        app.put(one_morning(
            "hr-1",
            "2024-03-04",
            2,
            AbsenceStatus::Approved,
        ))
        .await
        .unwrap(),
        app.put(one_morning(
            "hr-3",
            "2024-03-06",
            1,
            AbsenceStatus::Approved,
        ))
        .await
        .unwrap(),
        app.put(monday_to_tuesday("hr-2", 2, AbsenceStatus::Approved))
            .await
            .unwrap(),
    ];
    changes.push(app.clients.delete_absence("hr-1", 3).await.unwrap());
    let mut events: Vec<&proto::LeaveEventInfo> = changes.iter().flat_map(|c| &c.events).collect();
    events.sort_by_key(|e| e.change_version);
    let mut expected: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &events {
        expected
            .entry(e.leave_id.clone())
            .or_default()
            .push(event_name(e.event()));
    }
    let count = events.len();
    assert_eq!(expected.len(), 6, "six leaves: {expected:?}");
    assert!(
        expected
            .values()
            .any(|e| e == &["created", "approved", "deleted"]),
        "{expected:?}"
    );

    // The unpaused subscription receives all of its deliveries (the dispatcher is at work); the
    // paused one nothing, then or in the moments after.
    let got = app.receiver.wait_for(count, WAIT).await;
    assert!(got.iter().all(|r| r.uri == "/control"), "{got:?}");
    app.receiver.assert_stays_at(count, QUIET).await;
    assert_eq!(arrived_at(&got, "/control"), expected);
    // Queued, untried: not failures.
    let mut deliveries = app.deliveries().await;
    let request = app.clients.request(proto::ListDeliveriesRequest {
        subscription_id: paused.id.clone(),
        page_size: 100,
        ..Default::default()
    });
    let queued = deliveries
        .list_deliveries(request)
        .await
        .unwrap()
        .into_inner()
        .deliveries;
    assert_eq!(queued.len(), count);
    assert!(
        queued.iter().all(|d| d.attempts == 0
            && matches!(
                d.status(),
                DeliveryStatus::Pending | DeliveryStatus::Waiting
            )),
        "{queued:?}"
    );

    let request = app.clients.request(proto::ResumeSubscriptionRequest {
        id: paused.id.clone(),
    });
    let answer = subscriptions
        .resume_subscription(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.status(), Enabled);
    assert_eq!(answer.paused_since, "");
    let got = app.receiver.wait_for(2 * count, WAIT).await;
    app.receiver.assert_stays_at(2 * count, QUIET).await;
    assert_eq!(
        arrived_at(&got, "/paused"),
        expected,
        "every delivery, in change order per leave"
    );
    assert!(got[..count].iter().all(|r| r.uri == "/control"));
    let control = app.clients.get_subscription(&control.id).await.unwrap();
    assert_eq!(control.status(), Enabled);
}

#[tokio::test]
async fn resume_re_enables_a_protime_subscription_disabled_by_exhausted_retries() {
    let mut app = spawn_app_retrying("30ms,30ms,30ms,30ms").await;
    app.receiver.respond_with(500);
    let created = app
        .subscribe_to(proto::Collection::Absences, EventFilter::All)
        .await
        .subscription
        .unwrap();
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    // Five attempts (the first and four retries), then Protime's lifecycle disables it.
    app.receiver.wait_for(5, WAIT).await;
    let disabled = eventually("the subscription disabled", WAIT, async || {
        let found = app.clients.get_subscription(&created.id).await.unwrap();
        ready_when(found.status() == proto::SubscriptionStatus::Disabled, found)
    })
    .await;
    assert_eq!(disabled.paused_since, "");
    app.receiver.assert_stays_at(5, QUIET).await;

    app.receiver.respond_with(200);
    let mut subscriptions = app.clients.subscriptions.clone();
    let request = app.clients.request(proto::ResumeSubscriptionRequest {
        id: created.id.clone(),
    });
    let resumed = subscriptions
        .resume_subscription(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resumed.status(), proto::SubscriptionStatus::Enabled);
    let found = app.clients.get_subscription(&created.id).await.unwrap();
    assert_eq!(found, resumed);

    // Enabled again, it hears of the next change.
    app.put(one_morning(
        "hr-2",
        "2024-03-05",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    let got = app.receiver.wait_for(6, WAIT).await;
    assert_eq!(got[5].status, 200);
    assert_eq!(got[5].uri, "/hook");
    app.receiver.assert_stays_at(6, QUIET).await;
}
