//! A receiver down for 28 hours, time-compressed 10,000 times (the cascade 5m,15m,1h,24h becomes
//! 30ms,90ms,360ms,8.64s; 28 h becomes 10.08 s): every delivery ends either succeeded after the
//! receiver returns or failed and on the pending-tasks dashboard. None is lost, and per leave the
//! deliveries that arrive do so in change-version order.

use crate::app::spawn_app_retrying;
use absync_adapter_grpc::proto::{self, AbsenceStatus, DeliveryStatus, EventFilter};
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::wait::eventually;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// 28 hours, compressed: the first change's whole cascade (25 h 20 min) ends 2 h 40 min (0.96 s)
/// before the receiver is back, so that a slow first attempt on a loaded machine still fails.
const OUTAGE: Duration = Duration::from_millis(10_080);

#[tokio::test]
async fn a_receiver_down_for_28_hours_loses_nothing_and_keeps_order_per_leave() {
    let mut app = spawn_app_retrying("30ms,90ms,360ms,8640ms").await;
    let back_at = std::time::Instant::now() + OUTAGE;
    app.receiver.respond_by(Box::new(
        move |request, _| {
            if request.at < back_at { 503 } else { 200 }
        },
    ));
    let subscription = app.subscribe(EventFilter::All).await;

    // Changes through the outage: two revisions of hr-1 at its start (the second waits behind the
    // first, leave by leave), hr-2 a third of the way in, a revision of hr-2 two thirds in.
    let start = Instant::now();
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    app.put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    tokio::time::sleep_until(start + OUTAGE / 3).await;
    app.put(monday_to_tuesday("hr-2", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    tokio::time::sleep_until(start + OUTAGE * 2 / 3).await;
    app.put(monday_to_tuesday("hr-2", 2, AbsenceStatus::Approved))
        .await
        .unwrap();

    // Wait until nothing is pending or waiting any more.
    let mut tracking = app.deliveries().await;
    let deliveries = eventually(
        "no delivery open after the outage",
        OUTAGE + Duration::from_secs(20),
        async || {
            let request = app.clients.request(proto::ListDeliveriesRequest {
                page_size: 100,
                ..Default::default()
            });
            let all = tracking
                .list_deliveries(request)
                .await
                .unwrap()
                .into_inner()
                .deliveries;
            let open = all
                .iter()
                .filter(|d| {
                    matches!(
                        d.status(),
                        DeliveryStatus::Pending | DeliveryStatus::Waiting
                    )
                })
                .count();
            if open == 0 {
                Ok(all)
            } else {
                Err(format!("{open} deliveries still open"))
            }
        },
    )
    .await;
    assert_eq!(deliveries.len(), 16, "4 changes of 4 leaves each");

    // What the receiver answered, by delivery (webhook-id).
    let received = app.receiver.received();
    let mut answers: HashMap<i64, Vec<u16>> = HashMap::new();
    for request in &received {
        let id: i64 = request.header("webhook-id").unwrap().parse().unwrap();
        answers.entry(id).or_default().push(request.status);
    }
    let mut failed = 0;
    for delivery in &deliveries {
        let got = answers.get(&delivery.id).cloned().unwrap_or_default();
        match delivery.status() {
            DeliveryStatus::Succeeded => assert_eq!(
                got.last(),
                Some(&200),
                "delivery {} succeeded on a 200: {got:?}",
                delivery.id
            ),
            DeliveryStatus::Failed => {
                failed += 1;
                assert_eq!(got, [503; 5], "delivery {} used the cascade", delivery.id);
            }
            other => panic!("delivery {} ended {other:?}", delivery.id),
        }
    }
    // The first change's cascade (25 h 20 min) ends before the receiver is back.
    assert!(failed >= 4, "hr-1's first revision failed: {failed}");

    // Every failed delivery is on the dashboard.
    let request = app.clients.request(proto::GetPendingTasksRequest {});
    let tasks = tracking
        .get_pending_tasks(request)
        .await
        .unwrap()
        .into_inner()
        .tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].subscription_id, subscription.id);
    assert_eq!(tasks[0].failed, failed);

    // Per leave, what was accepted arrived in change-version order, and the last change of every
    // leave was delivered.
    let version: HashMap<i64, (String, u64)> = deliveries
        .iter()
        .map(|d| (d.id, (d.leave_id.clone(), d.change_version)))
        .collect();
    let mut accepted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for request in received.iter().filter(|r| r.status == 200) {
        let id: i64 = request.header("webhook-id").unwrap().parse().unwrap();
        let (leave, change) = version[&id].clone();
        accepted.entry(leave).or_default().push(change);
    }
    assert_eq!(accepted.len(), 8, "every leave heard of its last change");
    for (leave, changes) in &accepted {
        assert!(
            changes.windows(2).all(|w| w[0] < w[1]),
            "{leave}: {changes:?} out of order"
        );
        let last = deliveries
            .iter()
            .filter(|d| &d.leave_id == leave)
            .map(|d| d.change_version)
            .max();
        assert_eq!(
            changes.last().copied(),
            last,
            "{leave}: the last change arrived"
        );
    }
}
