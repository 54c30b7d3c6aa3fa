//! The dispatcher's tests drive `Dispatcher::run` itself: a fake queue that claims, records and
//! releases as a store does, receivers that answer (late, or never), a wakeup the test can trigger,
//! a clock that follows tokio's time, and `stopping` / `abandon` futures the test resolves. Most run
//! in paused time, so waits are exact and nothing sleeps.

use super::*;
use crate::ports::sender::MockWebhookSender;
use crate::ports::trace::MockTraceContext;
use crate::ports::{OutboundRequest, SendErrorKind, SendOutcome, WebhookSender};
use absync_domain::{
    AbsenceNumber, AuthorizationValue, ChangeVersion, DeliveryId, DestinationUrl, Half, LeaveEvent,
    LeaveEventRecord, LeaveState, PayloadFormat, SubscriptionId, TenantId, fixtures,
};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant as TokioInstant;

/// The poll interval of most tests: long, so that only the waits a test expects happen.
const POLL: Duration = Duration::from_secs(3600);

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

fn claimed(id: i64, attempts_made: u32) -> ClaimedDelivery {
    ClaimedDelivery {
        id: DeliveryId::new(id),
        tenant: TenantId::parse("acme").unwrap(),
        subscription: SubscriptionId::new("s1"),
        payload_format: PayloadFormat::Leaves,
        destination: DestinationUrl::from_trusted("https://example.com/hook".into()),
        authorization: Some(AuthorizationValue::parse("Basic abc").unwrap()),
        change_version: ChangeVersion::new(id),
        record: LeaveEventRecord {
            event: LeaveEvent::Approved,
            leave: fixtures::leave(
                AbsenceNumber::new(1).unwrap(),
                "2024-03-04",
                Half::Am,
                LeaveState::Approved,
            ),
            previous_state: None,
            deletion: None,
        },
        attempts_made,
        signing_secrets: vec![absync_domain::SigningSecret::from_key([7; 32])],
        traceparent: None,
    }
}

fn to(subscription: &str, id: i64) -> ClaimedDelivery {
    ClaimedDelivery {
        subscription: SubscriptionId::new(subscription),
        destination: DestinationUrl::from_trusted(format!("https://{subscription}.example.com/")),
        ..claimed(id, 0)
    }
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

/// Starts at `now()` and follows tokio's time: paused time moves it.
struct TestClock {
    start: TokioInstant,
}

impl TestClock {
    fn new() -> Self {
        Self {
            start: TokioInstant::now(),
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        now() + chrono::Duration::from_std(self.start.elapsed()).unwrap()
    }
}

/// A delivery queue as a store keeps one: pending deliveries are claimed in due order when due (at
/// most `limit`, none of the skipped subscriptions) and leased; recorded retries and released ones
/// are pending again. It keeps every call.
#[derive(Default)]
struct Queue {
    pending: Mutex<Vec<(DateTime<Utc>, ClaimedDelivery)>>,
    leased: Mutex<HashMap<DeliveryId, (DateTime<Utc>, ClaimedDelivery)>>,
    claims: Mutex<Vec<ClaimRequest>>,
    records: Mutex<Vec<Vec<AttemptReport>>>,
    recorded_at: Mutex<Vec<TokioInstant>>,
    releases: Mutex<Vec<Vec<DeliveryId>>>,
    failing_claims: Mutex<usize>,
}

impl Queue {
    /// `deliveries`, due now.
    fn of(deliveries: impl IntoIterator<Item = ClaimedDelivery>) -> Arc<Self> {
        let queue = Arc::new(Self::default());
        for delivery in deliveries {
            queue.add(now(), delivery);
        }
        queue
    }

    fn add(&self, due: DateTime<Utc>, delivery: ClaimedDelivery) {
        let mut pending = self.pending.lock().unwrap();
        pending.push((due, delivery));
        pending.sort_by_key(|(due, d)| (*due, d.id.get()));
    }

    /// Every recorded attempt: (delivery, next step).
    fn recorded(&self) -> Vec<(i64, NextStep)> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .flatten()
            .map(|r| (r.delivery.get(), r.next))
            .collect()
    }

    fn recorded_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.recorded().into_iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    }

    fn releases(&self) -> Vec<Vec<i64>> {
        let releases = self.releases.lock().unwrap();
        releases
            .iter()
            .map(|ids| {
                let mut ids: Vec<i64> = ids.iter().map(|id| id.get()).collect();
                ids.sort_unstable();
                ids
            })
            .collect()
    }

    fn claims(&self) -> Vec<ClaimRequest> {
        self.claims.lock().unwrap().clone()
    }

    fn pending_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = (self.pending.lock().unwrap().iter())
            .map(|(_, d)| d.id.get())
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[async_trait::async_trait]
impl DeliveryQueue for Queue {
    async fn claim_due(&self, claim: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        self.claims.lock().unwrap().push(claim.clone());
        let ClaimRequest {
            now, limit, skip, ..
        } = claim;
        {
            let mut failing = self.failing_claims.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(StoreError::Unavailable("the store is down".into()));
            }
        }
        let mut pending = self.pending.lock().unwrap();
        let mut leased = self.leased.lock().unwrap();
        let mut taken = Vec::new();
        pending.retain(|(due, delivery)| {
            let take = *due <= now
                && taken.len() < limit as usize
                && !skip.contains(&delivery.subscription);
            if take {
                taken.push(delivery.clone());
                leased.insert(delivery.id, (*due, delivery.clone()));
            }
            !take
        });
        Ok(taken)
    }

    async fn record(&self, reports: Vec<AttemptReport>) -> Result<(), StoreError> {
        for report in &reports {
            let leased = self.leased.lock().unwrap().remove(&report.delivery);
            if let (NextStep::RetryAt(at), Some((_, mut delivery))) = (report.next, leased) {
                delivery.attempts_made += 1;
                self.add(at, delivery);
            }
        }
        self.records.lock().unwrap().push(reports);
        self.recorded_at.lock().unwrap().push(TokioInstant::now());
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.pending.lock().unwrap().first().map(|(due, _)| *due))
    }

    async fn release(&self, deliveries: Vec<DeliveryId>) -> Result<(), StoreError> {
        for id in &deliveries {
            if let Some((due, delivery)) = self.leased.lock().unwrap().remove(id) {
                self.add(due, delivery);
            }
        }
        self.releases.lock().unwrap().push(deliveries);
        Ok(())
    }

    async fn purge_finished(&self, _before: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn cancel_expired(&self, _now: DateTime<Utc>) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// Receivers by host: `stuck` never answers, `slow` answers after `slow_for` (tokio time), the others
/// at once; each answers with the next of `answers`, or 200 when there are none left. Keeps when each
/// send started and the most sends in flight to one host.
struct Receivers {
    slow_for: Duration,
    answers: Mutex<Vec<SendOutcome>>,
    sent: Mutex<Vec<(i64, TokioInstant)>>,
    in_flight: Mutex<HashMap<String, (usize, usize)>>,
}

impl Receivers {
    fn new() -> Arc<Self> {
        Self::answering(Vec::new())
    }

    fn answering(answers: Vec<SendOutcome>) -> Arc<Self> {
        Arc::new(Self {
            slow_for: Duration::from_secs(1),
            answers: Mutex::new(answers),
            sent: Mutex::new(Vec::new()),
            in_flight: Mutex::new(HashMap::new()),
        })
    }

    /// (delivery, when its send started, after `start`), in order.
    fn sent(&self, start: TokioInstant) -> Vec<(i64, Duration)> {
        let sent = self.sent.lock().unwrap();
        sent.iter().map(|(id, at)| (*id, *at - start)).collect()
    }

    fn most_in_flight(&self, host: &str) -> usize {
        let in_flight = self.in_flight.lock().unwrap();
        in_flight.get(host).map_or(0, |(_, most)| *most)
    }
}

#[async_trait::async_trait]
impl WebhookSender for Receivers {
    async fn send(&self, request: OutboundRequest) -> SendOutcome {
        let id = request
            .headers
            .iter()
            .find(|(name, _)| name == "webhook-id")
            .map(|(_, id)| id.parse().unwrap())
            .unwrap();
        self.sent.lock().unwrap().push((id, TokioInstant::now()));
        let host = request.url.clone();
        {
            let mut in_flight = self.in_flight.lock().unwrap();
            let (now, most) = in_flight.entry(host.clone()).or_default();
            *now += 1;
            *most = (*most).max(*now);
        }
        if host.contains("stuck") {
            std::future::pending::<()>().await;
        }
        if host.contains("slow") {
            tokio::time::sleep(self.slow_for).await;
        }
        self.in_flight.lock().unwrap().entry(host).or_default().0 -= 1;
        let mut answers = self.answers.lock().unwrap();
        if answers.is_empty() {
            SendOutcome::Answered {
                status: 200,
                body_excerpt: Vec::new(),
            }
        } else {
            answers.remove(0)
        }
    }
}

/// Wakes when the test says new work was queued, or once `at_most` has passed; keeps every
/// `at_most` it was given.
#[derive(Default)]
struct TestWakeup {
    work: Notify,
    waits: Mutex<Vec<Duration>>,
}

impl TestWakeup {
    fn waits(&self) -> Vec<Duration> {
        self.waits.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Wakeup for TestWakeup {
    async fn wait(&self, at_most: Duration) {
        {
            let mut waits = self.waits.lock().unwrap();
            assert!(waits.len() < 10_000, "the dispatcher spins");
            waits.push(at_most);
        }
        tokio::select! {
            () = self.work.notified() => {}
            () = tokio::time::sleep(at_most) => {}
        }
    }
}

fn dispatcher(
    queue: Arc<Queue>,
    sender: Arc<dyn WebhookSender>,
    settings: DispatchSettings,
) -> Dispatcher {
    Dispatcher::new(queue, sender, Arc::new(TestClock::new()), settings)
}

/// Runs `dispatcher` until `stop_after`; sends in flight then have until `abandon_after`.
async fn run(
    dispatcher: &Dispatcher,
    wakeup: &TestWakeup,
    stop_after: Duration,
    abandon_after: Duration,
) {
    let start = TokioInstant::now();
    dispatcher
        .run(
            wakeup,
            POLL,
            tokio::time::sleep_until(start + stop_after),
            tokio::time::sleep_until(start + abandon_after),
        )
        .await;
}

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(start_paused = true)]
async fn a_success_is_recorded_as_succeeded_with_the_rendered_message() {
    let queue = Queue::of([claimed(1, 0)]);
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
                && req.traceparent.is_none()
        })
        .times(1)
        .returning(|_| SendOutcome::Answered {
            status: 204,
            body_excerpt: Vec::new(),
        });
    let dispatcher = dispatcher(queue.clone(), Arc::new(sender), DispatchSettings::default());
    let start = TokioInstant::now();
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;

    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
    assert_eq!(
        *queue.recorded_at.lock().unwrap(),
        [start],
        "recorded once sent, not at the stop"
    );
    assert_eq!(
        queue.claims()[0],
        ClaimRequest {
            now: now(),
            // A subscription's share of the free slots.
            limit: 64,
            lease_until: now() + chrono::Duration::seconds(60),
            skip: Vec::new(),
        }
    );
    assert!(queue.releases().is_empty());
}

/// The name of `span`'s callsite (`None` for a disabled span).
fn span_name(span: &tracing::Span) -> Option<&'static str> {
    span.metadata().map(tracing::Metadata::name)
}

#[tokio::test(start_paused = true)]
async fn a_traced_attempt_is_linked_to_its_change_and_sends_its_own_traceparent() {
    let _spans = tracing::subscriber::set_default(tracing_subscriber::registry());
    let cause =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let own =
        TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
    let queue = Queue::of([ClaimedDelivery {
        traceparent: Some(cause.clone()),
        ..claimed(1, 0)
    }]);
    let mut trace = MockTraceContext::new();
    trace
        .expect_link()
        .withf(move |span, to| span_name(span) == Some("deliver") && *to == cause)
        .times(1)
        .return_const(());
    let named = own.clone();
    trace
        .expect_traceparent()
        .withf(|span| span_name(span) == Some("deliver"))
        .times(1)
        .returning(move |_| Some(named.clone()));
    trace.expect_set_parent().never();
    let mut sender = MockWebhookSender::new();
    sender
        .expect_send()
        .withf(move |req| req.traceparent.as_ref() == Some(&own))
        .times(1)
        .returning(|_| SendOutcome::Answered {
            status: 204,
            body_excerpt: Vec::new(),
        });
    let dispatcher = dispatcher(queue.clone(), Arc::new(sender), DispatchSettings::default())
        .with_tracing(Arc::new(trace));
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;
    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
}

#[tokio::test(start_paused = true)]
async fn failures_are_recorded_together_with_their_status_and_the_next_retry() {
    let queue = Queue::of([claimed(1, 0), claimed(2, 4)]);
    let boom = SendOutcome::Answered {
        status: 500,
        body_excerpt: b"boom".to_vec(),
    };
    let receivers = Receivers::answering(vec![boom.clone(), boom.clone()]);
    let dispatcher = dispatcher(queue.clone(), receivers, DispatchSettings::default());
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;

    let records = queue.records.lock().unwrap().clone();
    assert_eq!(
        records.len(),
        1,
        "attempts finished together, recorded in one call"
    );
    let by_id = |id| {
        let report = records[0]
            .iter()
            .find(|r| r.delivery == DeliveryId::new(id))
            .unwrap();
        (report.next, report.outcome.clone(), report.started_at)
    };
    assert_eq!(
        by_id(1),
        (NextStep::RetryAt(now() + minutes(5)), boom.clone(), now())
    );
    assert_eq!(
        by_id(2),
        (
            NextStep::Failed {
                disable_subscription: false
            },
            boom,
            now()
        )
    );
}

#[tokio::test(start_paused = true)]
async fn no_answer_is_a_failure_too() {
    let queue = Queue::of([claimed(1, 1)]);
    let receivers = Receivers::answering(vec![SendOutcome::NoAnswer {
        kind: SendErrorKind::Timeout,
        detail: "timed out".into(),
    }]);
    let dispatcher = dispatcher(queue.clone(), receivers, DispatchSettings::default());
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;

    assert_eq!(
        queue.recorded(),
        [(1, NextStep::RetryAt(now() + minutes(15)))]
    );
}

#[tokio::test(start_paused = true)]
async fn exhausted_protime_deliveries_disable_their_subscription() {
    let mut protime = claimed(9, 4);
    protime.payload_format = PayloadFormat::Absences;
    let queue = Queue::of([protime]);
    let receivers = Receivers::answering(vec![SendOutcome::Answered {
        status: 503,
        body_excerpt: Vec::new(),
    }]);
    let dispatcher = dispatcher(queue.clone(), receivers, DispatchSettings::default());
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;

    assert_eq!(
        queue.recorded(),
        [(
            9,
            NextStep::Failed {
                disable_subscription: true
            }
        )]
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_dispatcher_sleeps_until_the_retry_is_due_and_sends_it_again() {
    let queue = Queue::of([claimed(1, 0)]);
    let receivers = Receivers::answering(vec![SendOutcome::Answered {
        status: 500,
        body_excerpt: Vec::new(),
    }]);
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings::default(),
    );
    let wakeup = TestWakeup::default();
    let start = TokioInstant::now();
    run(&dispatcher, &wakeup, 10 * 60 * SECOND, 10 * 60 * SECOND).await;

    assert_eq!(
        queue.recorded(),
        [
            (1, NextStep::RetryAt(now() + minutes(5))),
            (1, NextStep::Succeeded)
        ]
    );
    assert_eq!(
        receivers.sent(start),
        [(1, Duration::ZERO), (1, 300 * SECOND)]
    );
    assert_eq!(
        wakeup.waits(),
        [300 * SECOND, POLL],
        "idle until the retry is due, then until the poll"
    );
    assert_eq!(
        queue.claims().len(),
        4,
        "a short claim is not repeated until something changes: the first, the one after the \
         record, at the retry, after its record"
    );
}

#[tokio::test(start_paused = true)]
async fn new_work_wakes_the_dispatcher_at_once() {
    let queue = Queue::of([]);
    let receivers = Receivers::new();
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings::default(),
    );
    let wakeup = TestWakeup::default();
    let start = TokioInstant::now();
    let queued = async {
        tokio::time::sleep(SECOND).await;
        queue.add(now(), claimed(1, 0));
        wakeup.work.notify_one();
    };
    tokio::join!(run(&dispatcher, &wakeup, 60 * SECOND, 60 * SECOND), queued);

    assert_eq!(receivers.sent(start), [(1, SECOND)]);
    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
    assert_eq!(
        queue.claims().len(),
        3,
        "at the start, on the wakeup, after the record"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_claim_is_not_repeated_when_a_send_finishes() {
    let queue = Queue::of([to("fast", 1), to("stuck", 2)]);
    let dispatcher = dispatcher(queue.clone(), Receivers::new(), DispatchSettings::default());
    run(&dispatcher, &TestWakeup::default(), SECOND, SECOND).await;

    assert_eq!(
        queue.claims().iter().filter(|c| c.now == now()).count(),
        1,
        "the claim that came back short took everything due: 1 finishing changes nothing"
    );
    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
}

#[tokio::test(start_paused = true)]
async fn waits_the_poll_after_a_store_error_until_the_next_due_when_idle_and_briefly_while_sending()
{
    let queue = Queue::of([]);
    *queue.failing_claims.lock().unwrap() = 1;
    queue.add(now() + chrono::Duration::seconds(3600 + 3), to("slow", 1));
    let receivers = Receivers::new();
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings::default(),
    );
    let wakeup = TestWakeup::default();
    let start = TokioInstant::now();
    run(&dispatcher, &wakeup, 2 * POLL, 2 * POLL).await;

    let mut expected = vec![POLL, 3 * SECOND];
    expected.extend([Duration::from_millis(100); 10]);
    expected.push(POLL);
    assert_eq!(
        wakeup.waits(),
        expected,
        "the poll after the failed claim, until the delivery is due, the busy poll during its 1 s \
         send, then the poll with nothing pending"
    );
    assert_eq!(receivers.sent(start), [(1, POLL + 3 * SECOND)]);
    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
}

#[tokio::test(start_paused = true)]
async fn held_deliveries_are_sent_when_their_subscription_has_a_free_slot() {
    let queue = Queue::of((1..=4).map(|id| to("slow", id)));
    let receivers = Receivers::new();
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings {
            concurrency: 4,
            per_subscription: 2,
            ..DispatchSettings::default()
        },
    );
    let start = TokioInstant::now();
    run(
        &dispatcher,
        &TestWakeup::default(),
        10 * SECOND,
        10 * SECOND,
    )
    .await;

    assert_eq!(
        receivers.sent(start),
        [
            (1, Duration::ZERO),
            (2, Duration::ZERO),
            (3, SECOND),
            (4, SECOND)
        ],
        "3 and 4 were claimed at once, held, and sent when 1 and 2 finished"
    );
    assert_eq!(receivers.most_in_flight("https://slow.example.com/"), 2);
    let claims = queue.claims();
    assert_eq!(
        claims.iter().map(|c| c.limit).collect::<Vec<_>>()[..3],
        [2, 2, 2],
        "a subscription's share at a time"
    );
    assert_eq!(
        claims[2].skip,
        [SubscriptionId::new("slow")],
        "with its slots busy and a slot's worth held, claims skip it"
    );
    assert_eq!(queue.recorded_ids(), [1, 2, 3, 4]);
    assert!(queue.releases().is_empty());
}

#[tokio::test(start_paused = true)]
async fn on_stop_held_deliveries_are_released_and_sends_in_flight_have_until_abandon() {
    // One slot per subscription: 1 and 3 are sent, 2 and 4 held.
    let queue = Queue::of([to("slow", 1), to("slow", 2), to("stuck", 3), to("stuck", 4)]);
    let receivers = Receivers::new();
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings {
            concurrency: 4,
            per_subscription: 1,
            ..DispatchSettings::default()
        },
    );
    let start = TokioInstant::now();
    // Stopping after 0.5 s; the slow send finishes after 1 s, the stuck one never.
    run(&dispatcher, &TestWakeup::default(), SECOND / 2, 5 * SECOND).await;

    assert_eq!(
        receivers.sent(start),
        [(1, Duration::ZERO), (3, Duration::ZERO)]
    );
    assert_eq!(queue.recorded(), [(1, NextStep::Succeeded)]);
    assert_eq!(
        queue.releases(),
        [vec![2, 4], vec![3]],
        "the held at the stop, the unfinished at the abandon"
    );
    assert_eq!(queue.pending_ids(), [2, 3, 4], "nothing lost");
}

#[tokio::test]
async fn a_delivery_held_past_half_its_lease_is_released_and_claimed_again() {
    // Real time: the hold limit is measured with the system's monotonic clock.
    let queue = Queue::of([to("slow", 1), to("slow", 2)]);
    let receivers = Arc::new(Receivers {
        slow_for: Duration::from_millis(50),
        ..Arc::into_inner(Receivers::new()).unwrap()
    });
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings {
            concurrency: 4,
            per_subscription: 1,
            lease: Duration::from_millis(20),
            ..DispatchSettings::default()
        },
    );
    run(
        &dispatcher,
        &TestWakeup::default(),
        Duration::from_millis(500),
        Duration::from_millis(500),
    )
    .await;

    assert_eq!(queue.releases(), [vec![2]], "held 50 ms, past its 10 ms");
    assert_eq!(
        queue.recorded_ids(),
        [1, 2],
        "and sent after its claim again"
    );
}

#[tokio::test]
async fn a_stuck_subscription_holds_only_its_share_and_the_others_are_all_sent() {
    // Real time. Ten deliveries to a receiver that never answers come first in due order, then ten
    // healthy.
    let mut pending: Vec<ClaimedDelivery> = (1..=10).map(|id| to("stuck", id)).collect();
    pending.extend((11..=20).map(|id| to("healthy", id)));
    let queue = Queue::of(pending);
    let receivers = Receivers::new();
    let dispatcher = dispatcher(
        queue.clone(),
        receivers.clone(),
        DispatchSettings {
            concurrency: 4,
            per_subscription: 2,
            ..DispatchSettings::default()
        },
    );
    let wakeup = TestWakeup::default();
    let all_healthy_recorded = async {
        while queue.recorded().len() < 10 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let stopping = async {
        tokio::select! {
            () = all_healthy_recorded => {}
            () = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    };
    dispatcher
        .run(&wakeup, Duration::from_millis(50), stopping, async {})
        .await;

    assert_eq!(
        queue.recorded_ids(),
        (11..=20).collect::<Vec<_>>(),
        "every healthy delivery"
    );
    assert_eq!(
        receivers.most_in_flight("https://stuck.example.com/"),
        2,
        "the stuck subscription had its share of the slots, no more"
    );
    assert!(
        queue
            .claims()
            .iter()
            .any(|c| c.skip == [SubscriptionId::new("stuck")]),
        "claims skipped it once it had a slot's worth held"
    );
    // At the stop, its sends in flight and its claimed-but-waiting deliveries were released.
    assert_eq!(
        queue.pending_ids(),
        (1..=10).collect::<Vec<_>>(),
        "nothing lost at the stop"
    );
}
