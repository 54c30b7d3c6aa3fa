//! Tracking and the pending-tasks dashboard over gRPC.

use crate::app::{TestApp, spawn_app_retrying, spawn_app_with};
use absync_adapter_grpc::proto::deliveries_client::DeliveriesClient;
use absync_adapter_grpc::proto::{self, AbsenceStatus, DeliveryStatus, EventFilter, HalfDay};
use absync_domain::Scope;
use absync_e2e::fixtures::{half_days, one_morning};
use absync_e2e::wait::{eventually, ready_when};
use std::time::Duration;
use tonic::Code;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(15);

async fn deliveries(app: &TestApp) -> DeliveriesClient<Channel> {
    app.deliveries().await
}

async fn list(
    app: &TestApp,
    client: &mut DeliveriesClient<Channel>,
    status: DeliveryStatus,
) -> Vec<proto::Delivery> {
    let request = app.clients.request(proto::ListDeliveriesRequest {
        status: status.into(),
        ..Default::default()
    });
    client
        .list_deliveries(request)
        .await
        .unwrap()
        .into_inner()
        .deliveries
}

/// Waits until the deliveries in `status` are as `done` wants them; returns them.
async fn wait_until(
    app: &TestApp,
    client: &mut DeliveriesClient<Channel>,
    status: DeliveryStatus,
    what: &str,
    done: impl Fn(&[proto::Delivery]) -> bool,
) -> Vec<proto::Delivery> {
    eventually(&format!("{what} ({status:?})"), WAIT, async || {
        let listed = list(app, client, status).await;
        ready_when(done(&listed), listed)
    })
    .await
}

/// Waits until `count` deliveries are in `status`.
async fn wait_status(
    app: &TestApp,
    client: &mut DeliveriesClient<Channel>,
    status: DeliveryStatus,
    count: usize,
) -> Vec<proto::Delivery> {
    let what = format!("{count} deliveries");
    wait_until(app, client, status, &what, |listed| listed.len() >= count).await
}

#[tokio::test]
async fn failed_deliveries_are_inspected_resynced_and_marked_processed() {
    let mut app = spawn_app_retrying("30ms,30ms,30ms,30ms").await;
    let mut client = deliveries(&app).await;
    app.receiver.respond_with(500);
    let created = app
        .subscribe_to(proto::Collection::Leaves, EventFilter::All)
        .await;
    app.put_two_mornings().await;
    let failed = wait_status(&app, &mut client, DeliveryStatus::Failed, 2).await;
    assert!(
        failed
            .iter()
            .all(|d| d.attempts == 5 && d.last_http_status == 500)
    );

    // The dashboard.
    let request = app.clients.request(proto::GetPendingTasksRequest {});
    let tasks = client
        .get_pending_tasks(request)
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].failed, 2);
    assert_eq!(tasks[0].latest_error, "500");
    assert_eq!(
        tasks[0].subscription_id,
        created.subscription.as_ref().unwrap().id
    );

    // The exact message, secrets redacted, and every attempt.
    let request = app
        .clients
        .request(proto::GetDeliveryRequest { id: failed[0].id });
    let detail = client.get_delivery(request).await.unwrap().into_inner();
    let header = |name: &str| {
        detail
            .headers
            .iter()
            .find(|h| h.name == name)
            .map(|h| h.value.clone())
    };
    assert_eq!(header("Authorization").as_deref(), Some("Basic ****"));
    assert_eq!(header("X-Event").as_deref(), Some("approved"));
    assert_eq!(header("webhook-id"), Some(failed[0].id.to_string()));
    let shown = format!("{detail:?}");
    assert!(
        !shown.contains("YWxhZGRpbjpvcGVuc2VzYW1l"),
        "the Authorization value is never shown"
    );
    assert!(
        !shown.contains(&created.signing_secret[6..]),
        "the signing secret is never shown"
    );
    let body: serde_json::Value = serde_json::from_str(&detail.body).unwrap();
    assert_eq!(body["id"], serde_json::json!(failed[0].leave_id));
    assert_eq!(detail.attempts.len(), 5);
    assert!(detail.attempts.iter().all(|a| a.http_status == 500));

    // Another tenant sees none of it.
    let beta = app.token_with("beta", &Scope::ALL).await;
    let foreign = absync_e2e::client::Clients::connect(app.grpc_addr, Some(beta)).await;
    let request = foreign.request(proto::ListDeliveriesRequest::default());
    assert!(
        client
            .list_deliveries(request)
            .await
            .unwrap()
            .into_inner()
            .deliveries
            .is_empty()
    );
    let request = foreign.request(proto::GetDeliveryRequest { id: failed[0].id });
    assert_eq!(
        client.get_delivery(request).await.unwrap_err().code(),
        Code::NotFound
    );
    let request = foreign.request(proto::ResyncDeliveryRequest {
        id: failed[0].id,
        force: true,
    });
    assert_eq!(
        client.resync_delivery(request).await.unwrap_err().code(),
        Code::NotFound
    );

    // Re-sync against a receiver that now answers 200: it succeeds and leaves the dashboard.
    app.receiver.respond_with(200);
    let before = app.receiver.count();
    let request = app.clients.request(proto::ResyncDeliveryRequest {
        id: failed[0].id,
        force: false,
    });
    client.resync_delivery(request).await.unwrap();
    app.receiver.wait_for(before + 1, WAIT).await;
    wait_status(&app, &mut client, DeliveryStatus::Succeeded, 1).await;
    let request = app.clients.request(proto::GetPendingTasksRequest {});
    let tasks = client
        .get_pending_tasks(request)
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!(tasks[0].failed, 1);

    // Mark the other processed: it leaves the dashboard and stays listed with its note.
    let request = app.clients.request(proto::MarkProcessedRequest {
        id: failed[1].id,
        note: "entered by hand in the payroll tool".into(),
    });
    let processed = client.mark_processed(request).await.unwrap().into_inner();
    assert_eq!(processed.status(), DeliveryStatus::Processed);
    let request = app.clients.request(proto::GetPendingTasksRequest {});
    assert!(
        client
            .get_pending_tasks(request)
            .await
            .unwrap()
            .into_inner()
            .tasks
            .is_empty()
    );
    let listed = list(&app, &mut client, DeliveryStatus::Processed).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].processed_note,
        "entered by hand in the payroll tool"
    );
    let request = app.clients.request(proto::MarkProcessedRequest {
        id: failed[1].id,
        note: String::new(),
    });
    assert_eq!(
        client.mark_processed(request).await.unwrap_err().code(),
        Code::NotFound
    );
}

#[tokio::test]
async fn a_superseded_delivery_needs_force_to_be_resent() {
    let mut app = spawn_app_retrying("30ms,30ms,30ms,30ms").await;
    let mut client = deliveries(&app).await;
    app.subscribe(EventFilter::All).await;
    // The pending state fails for good; then the approval is delivered.
    app.receiver.respond_with(500);
    app.put(one_morning("hr-1", "2024-03-04", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    let failed = wait_status(&app, &mut client, DeliveryStatus::Failed, 1).await;
    app.receiver.respond_with(200);
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        2,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    wait_status(&app, &mut client, DeliveryStatus::Succeeded, 1).await;

    let request = app.clients.request(proto::ResyncDeliveryRequest {
        id: failed[0].id,
        force: false,
    });
    let status = client.resync_delivery(request).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("force"), "{}", status.message());

    let before = app.receiver.count();
    let request = app.clients.request(proto::ResyncDeliveryRequest {
        id: failed[0].id,
        force: true,
    });
    client.resync_delivery(request).await.unwrap();
    let got = app.receiver.wait_for(before + 1, WAIT).await;
    assert_eq!(
        got[before].header("x-event"),
        Some("created"),
        "the forced re-send is the old state"
    );
}

#[tokio::test]
async fn watch_streams_a_new_delivery_succeeding_within_a_second() {
    let mut app = spawn_app_with(&["--allow-destinations", "127.0.0.0/8"]).await;
    let mut client = deliveries(&app).await;
    app.subscribe(EventFilter::All).await;
    let request = app
        .clients
        .request(proto::WatchDeliveriesRequest::default());
    let mut stream = client.watch_deliveries(request).await.unwrap().into_inner();
    let started = tokio::time::Instant::now();
    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    let succeeded = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            let delivery = stream
                .message()
                .await
                .unwrap()
                .expect("the stream stays open");
            if delivery.status() == DeliveryStatus::Succeeded {
                return delivery;
            }
        }
    })
    .await
    .expect("the succeeded state streams within a second");
    assert!(succeeded.leave_id.ends_with("-20240304-AM"));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn resync_failed_resends_the_latest_failed_delivery_of_each_leave() {
    let mut app = spawn_app_retrying("30ms,30ms,30ms,30ms").await;
    let mut client = deliveries(&app).await;
    app.subscribe(EventFilter::All).await;
    app.receiver.respond_with(500);
    app.put_two_mornings().await;
    wait_status(&app, &mut client, DeliveryStatus::Failed, 2).await;
    app.receiver.respond_with(200);
    let request = app.clients.request(proto::ResyncFailedRequest::default());
    let answer = client.resync_failed(request).await.unwrap().into_inner();
    assert_eq!(answer.resynced, 2);
    wait_status(&app, &mut client, DeliveryStatus::Succeeded, 2).await;
}

#[tokio::test]
async fn a_deleted_subscriptions_unsent_deliveries_are_listed_cancelled_with_the_reason() {
    // Retries far apart: the deliveries stay pending after their first failed attempt.
    let mut app = spawn_app_retrying("1h,1h,1h,1h").await;
    let mut client = deliveries(&app).await;
    app.receiver.respond_with(503);
    let created = app
        .subscribe_to(proto::Collection::Leaves, EventFilter::All)
        .await;
    let id = created.subscription.unwrap().id;
    app.put(half_days(
        "hr-1",
        1,
        AbsenceStatus::Approved,
        ("2024-03-04", HalfDay::Am),
        ("2024-03-05", HalfDay::Pm),
    ))
    .await
    .unwrap();
    app.receiver.wait_for(4, WAIT).await;
    // Each attempt recorded: pending again, due in an hour.
    wait_until(
        &app,
        &mut client,
        DeliveryStatus::Pending,
        "4 deliveries of one attempt each",
        |pending| pending.len() == 4 && pending.iter().all(|d| d.attempts == 1),
    )
    .await;

    let delete = app
        .clients
        .request(proto::DeleteSubscriptionRequest { id: id.clone() });
    app.clients
        .subscriptions
        .delete_subscription(delete)
        .await
        .unwrap();

    assert!(
        list(&app, &mut client, DeliveryStatus::Pending)
            .await
            .is_empty()
    );
    let cancelled = list(&app, &mut client, DeliveryStatus::Cancelled).await;
    assert_eq!(cancelled.len(), 4);
    assert!(cancelled.iter().all(|d| {
        d.subscription_id == id && d.cancel_reason == "subscription deleted" && d.attempts == 1
    }));
    // Not failures: the dashboard stays empty.
    let request = app.clients.request(proto::GetPendingTasksRequest {});
    let tasks = client
        .get_pending_tasks(request)
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert!(tasks.is_empty());
    // Nor work: the gauge counts them apart.
    let metrics = reqwest::get(app.http("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("absync_deliveries{state=\"cancelled\"} 4"),
        "{metrics}"
    );
    assert!(
        metrics.contains("absync_deliveries{state=\"pending\"} 0"),
        "{metrics}"
    );
}
