use super::*;
use crate::ports::clock::MockClock;
use crate::ports::deliveries::MockDeliveryQueue;
use crate::ports::sender::MockWebhookSender;
use crate::ports::{OutboundRequest, SendErrorKind, SendOutcome, WebhookSender};
use absync_domain::{
    AbsenceNumber, AuthorizationValue, ChangeVersion, Collection, DeliveryId, DestinationUrl, Half,
    Leave, LeaveAccount, LeaveEvent, LeaveEventRecord, LeaveKey, LeaveState, Owner, SubscriptionId,
    TenantId,
};
use chrono::{DateTime, TimeZone, Utc};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

fn claimed(id: i64, attempts_made: u32) -> ClaimedDelivery {
    ClaimedDelivery {
        id: DeliveryId::new(id),
        tenant: TenantId::parse("acme").unwrap(),
        subscription: SubscriptionId::new("s1"),
        collection: Collection::Leaves,
        destination: DestinationUrl::from_trusted("https://example.com/hook".into()),
        authorization: Some(AuthorizationValue::parse("Basic abc").unwrap()),
        change_version: ChangeVersion::new(id),
        record: LeaveEventRecord {
            event: LeaveEvent::Approved,
            leave: Leave {
                key: LeaveKey::new(
                    AbsenceNumber::new(1).unwrap(),
                    "2024-03-04".parse().unwrap(),
                    Half::Am,
                ),
                state: LeaveState::Approved,
                owner: Owner::new(1, "A".into(), "a@x".into(), "1".into(), None).unwrap(),
                leave_account: LeaveAccount {
                    id: 1,
                    name: "Paid".into(),
                    category_id: 1,
                    category_name: "Paid".into(),
                },
                requested_definition: None,
                resulting_definition: None,
                shift_definition: None,
                hours: None,
                created_at: None,
                approved_at: None,
            },
            previous_state: None,
            deletion: None,
        },
        attempts_made,
        signing_secrets: vec![absync_domain::SigningSecret::from_key([7; 32])],
    }
}

fn dispatcher(queue: MockDeliveryQueue, sender: MockWebhookSender) -> Dispatcher {
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    Dispatcher::new(
        Arc::new(queue),
        Arc::new(sender),
        Arc::new(clock),
        DispatchSettings::default(),
    )
}

#[tokio::test]
async fn nothing_due_sends_nothing() {
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim_due()
        .returning(|_, _, _, _| Ok(Vec::new()));
    queue.expect_record().never();
    let mut sender = MockWebhookSender::new();
    sender.expect_send().never();
    assert_eq!(
        dispatcher(queue, sender)
            .dispatch_due(std::future::pending())
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn a_success_is_recorded_as_succeeded_with_the_rendered_message() {
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim_due()
        .withf(|at, limit, lease, skip| {
            *at == now()
                && *limit == 256
                && *lease == now() + chrono::Duration::seconds(60)
                && skip.is_empty()
        })
        .returning(|_, _, _, _| Ok(vec![claimed(1, 0)]));
    queue
        .expect_record()
        .withf(|reports| reports.len() == 1 && reports[0].next == NextStep::Succeeded)
        .times(1)
        .returning(|_| Ok(()));
    let mut sender = MockWebhookSender::new();
    sender
        .expect_send()
        .withf(|req| {
            let header = |name: &str| {
                req.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            req.url == "https://example.com/hook"
                && header("Authorization") == Some("Basic abc")
                && header("X-Event") == Some("approved")
                && header("X-Version") == Some("1")
                && header("X-Resource-Type") == Some("leave")
                && header("Content-Type") == Some("application/json")
                && header("webhook-id") == Some("1")
                && header("webhook-timestamp") == Some(&now().timestamp().to_string())
                && header("webhook-signature").is_some_and(|sig| {
                    sig == absync_domain::SigningSecret::from_key([7; 32]).sign(
                        "1",
                        now().timestamp(),
                        &req.body,
                    )
                })
                && req.body.starts_with(b"{\"id\":\"1-20240304-AM\"")
        })
        .returning(|_| SendOutcome::Answered {
            status: 204,
            body_excerpt: Vec::new(),
        });
    assert_eq!(
        dispatcher(queue, sender)
            .dispatch_due(std::future::pending())
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn a_failure_is_recorded_with_its_status_and_the_next_retry() {
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim_due()
        .returning(|_, _, _, _| Ok(vec![claimed(1, 0), claimed(2, 4)]));
    queue
        .expect_record()
        .withf(|reports| {
            let by_id = |id| reports.iter().find(|r| r.delivery == DeliveryId::new(id));
            let first = by_id(1).map(|r| (r.next, r.outcome.clone()));
            let last = by_id(2).map(|r| r.next);
            first
                == Some((
                    NextStep::RetryAt(now() + chrono::Duration::minutes(5)),
                    SendOutcome::Answered {
                        status: 500,
                        body_excerpt: b"boom".to_vec(),
                    },
                ))
                && last
                    == Some(NextStep::Failed {
                        disable_subscription: false,
                    })
        })
        .times(1)
        .returning(|_| Ok(()));
    let mut sender = MockWebhookSender::new();
    sender.expect_send().returning(|_| SendOutcome::Answered {
        status: 500,
        body_excerpt: b"boom".to_vec(),
    });
    assert_eq!(
        dispatcher(queue, sender)
            .dispatch_due(std::future::pending())
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn no_answer_is_a_failure_too() {
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim_due()
        .returning(|_, _, _, _| Ok(vec![claimed(1, 1)]));
    queue
        .expect_record()
        .withf(|reports| {
            reports[0].next == NextStep::RetryAt(now() + chrono::Duration::minutes(15))
        })
        .returning(|_| Ok(()));
    let mut sender = MockWebhookSender::new();
    sender.expect_send().returning(|_| SendOutcome::NoAnswer {
        kind: SendErrorKind::Timeout,
        detail: "timed out".into(),
    });
    dispatcher(queue, sender)
        .dispatch_due(std::future::pending())
        .await
        .unwrap();
}

#[tokio::test]
async fn exhausted_protime_deliveries_disable_their_subscription() {
    let mut queue = MockDeliveryQueue::new();
    let mut protime = claimed(9, 4);
    protime.collection = Collection::Absences;
    queue
        .expect_claim_due()
        .returning(move |_, _, _, _| Ok(vec![protime.clone()]));
    queue
        .expect_record()
        .withf(|reports| {
            reports[0].next
                == NextStep::Failed {
                    disable_subscription: true,
                }
        })
        .times(1)
        .returning(|_| Ok(()));
    let mut sender = MockWebhookSender::new();
    sender.expect_send().returning(|_| SendOutcome::Answered {
        status: 503,
        body_excerpt: Vec::new(),
    });
    dispatcher(queue, sender)
        .dispatch_due(std::future::pending())
        .await
        .unwrap();
}

/// Answers delivery 1 at once and never answers delivery 2.
struct HangsOnSecond;

#[async_trait::async_trait]
impl WebhookSender for HangsOnSecond {
    async fn send(&self, request: OutboundRequest) -> SendOutcome {
        if request
            .headers
            .iter()
            .any(|(k, v)| k == "webhook-id" && v == "2")
        {
            futures::future::pending::<()>().await;
        }
        SendOutcome::Answered {
            status: 200,
            body_excerpt: Vec::new(),
        }
    }
}

#[tokio::test]
async fn on_stop_unfinished_sends_release_their_lease() {
    let mut queue = MockDeliveryQueue::new();
    queue
        .expect_claim_due()
        .returning(|_, _, _, _| Ok(vec![claimed(1, 0), claimed(2, 0)]));
    queue
        .expect_record()
        .withf(|reports| reports.len() == 1 && reports[0].delivery == DeliveryId::new(1))
        .times(1)
        .returning(|_| Ok(()));
    queue
        .expect_release()
        .withf(|ids| ids == &[DeliveryId::new(2)])
        .times(1)
        .returning(|_| Ok(()));
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let dispatcher = Dispatcher::new(
        Arc::new(queue),
        Arc::new(HangsOnSecond),
        Arc::new(clock),
        DispatchSettings::default(),
    );
    let stop = tokio::time::sleep(std::time::Duration::from_millis(100));
    assert_eq!(dispatcher.dispatch_due(stop).await.unwrap(), 2);
}

/// A queue of `pending` deliveries that claims as a store does: due order, at most `limit`, none of
/// the skipped subscriptions, each delivery once (until released).
type Shared<T> = Arc<std::sync::Mutex<Vec<T>>>;

/// The queue, the ids of recorded attempts, and what is still claimable.
fn queue_of(
    pending: Vec<ClaimedDelivery>,
) -> (MockDeliveryQueue, Shared<i64>, Shared<ClaimedDelivery>) {
    let pending = Arc::new(std::sync::Mutex::new(pending));
    let recorded = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut queue = MockDeliveryQueue::new();
    let claimable = pending.clone();
    queue
        .expect_claim_due()
        .returning(move |_, limit, _, skip: &[SubscriptionId]| {
            let mut pending = claimable.lock().unwrap();
            let mut taken = Vec::new();
            let mut kept = Vec::new();
            for delivery in pending.drain(..) {
                if taken.len() < limit as usize && !skip.contains(&delivery.subscription) {
                    taken.push(delivery);
                } else {
                    kept.push(delivery);
                }
            }
            *pending = kept;
            Ok(taken)
        });
    let released = pending.clone();
    let originals: Vec<ClaimedDelivery> = pending.lock().unwrap().clone();
    queue.expect_release().returning(move |ids| {
        let mut pending = released.lock().unwrap();
        for id in ids {
            if let Some(d) = originals.iter().find(|d| d.id == id) {
                pending.push(d.clone());
            }
        }
        Ok(())
    });
    let sink = recorded.clone();
    queue.expect_record().returning(move |reports| {
        sink.lock()
            .unwrap()
            .extend(reports.iter().map(|r| r.delivery.get()));
        Ok(())
    });
    queue.expect_next_due().returning(|| Ok(None));
    (queue, recorded, pending)
}

/// A receiver per destination: `stuck` never answers; the others answer 200 at once.
#[derive(Default)]
struct Receivers {
    stuck_now: std::sync::atomic::AtomicUsize,
    stuck_most: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl WebhookSender for Receivers {
    async fn send(&self, request: OutboundRequest) -> SendOutcome {
        use std::sync::atomic::Ordering::SeqCst;
        if request.url.contains("stuck") {
            let now = self.stuck_now.fetch_add(1, SeqCst) + 1;
            self.stuck_most.fetch_max(now, SeqCst);
            futures::future::pending::<()>().await;
        }
        SendOutcome::Answered {
            status: 200,
            body_excerpt: Vec::new(),
        }
    }
}

/// Wakes after `at_most`, never earlier (no other process queues work here).
struct Timer;

#[async_trait::async_trait]
impl Wakeup for Timer {
    async fn wait(&self, at_most: Duration) {
        tokio::time::sleep(at_most.min(Duration::from_millis(10))).await;
    }
}

fn to(subscription: &str, id: i64) -> ClaimedDelivery {
    ClaimedDelivery {
        subscription: SubscriptionId::new(subscription),
        destination: DestinationUrl::from_trusted(format!("https://{subscription}.example.com/")),
        ..claimed(id, 0)
    }
}

#[tokio::test]
async fn a_stuck_subscription_holds_only_its_share_and_the_others_are_all_sent() {
    // Ten deliveries to a receiver that never answers come first in due order, then ten healthy.
    let mut pending: Vec<ClaimedDelivery> = (1..=10).map(|id| to("stuck", id)).collect();
    pending.extend((11..=20).map(|id| to("healthy", id)));
    let (queue, recorded, claimable) = queue_of(pending);
    let receivers = Arc::new(Receivers::default());
    let mut clock = MockClock::new();
    clock.expect_now().returning(now);
    let dispatcher = Dispatcher::new(
        Arc::new(queue),
        receivers.clone(),
        Arc::new(clock),
        DispatchSettings {
            concurrency: 4,
            per_subscription: 2,
            ..DispatchSettings::default()
        },
    );
    let all_healthy_recorded = {
        let recorded = recorded.clone();
        async move {
            while recorded.lock().unwrap().len() < 10 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let stopping = async {
        tokio::select! {
            () = all_healthy_recorded => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    };
    dispatcher
        .run(&Timer, Duration::from_millis(50), stopping, async {})
        .await;

    let mut sent: Vec<i64> = recorded.lock().unwrap().clone();
    sent.sort_unstable();
    assert_eq!(
        sent,
        (11..=20).collect::<Vec<_>>(),
        "every healthy delivery"
    );
    let most = receivers
        .stuck_most
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        most, 2,
        "the stuck subscription had its share of the slots, no more"
    );
    // At the stop, its sends in flight and its claimed-but-waiting deliveries were released.
    let mut left: Vec<i64> = claimable
        .lock()
        .unwrap()
        .iter()
        .map(|d| d.id.get())
        .collect();
    left.sort_unstable();
    assert_eq!(
        left,
        (1..=10).collect::<Vec<_>>(),
        "nothing lost at the stop"
    );
}
