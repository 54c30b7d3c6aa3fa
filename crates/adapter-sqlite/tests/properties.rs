//! The ingest pipeline's promises for any sequence of changes proptest finds, on the real use cases
//! and a real (in-memory) SQLite store: puts and deletes of a few absences, with any periods, statuses
//! and revisions (older ones arriving after newer ones, revision 0 for arrival order), dispatched in
//! small batches between changes, with receivers failing some attempts. The changes come in waves:
//! in each, one caller per absence sends that absence's changes in order (consecutive puts in one
//! PutAbsences call) while the other absences' callers run at the same time, so their writes meet in
//! the store's groups. Checked:
//! - a receiver that applies the delivered leave messages in order ends with exactly the leaves of
//!   each absence's last accepted revision;
//! - change versions strictly increase from one written event of an absence to the next;
//! - a put that changes nothing writes no event;
//! - each outcome (applied, unchanged, stale, conflict) is the one the revision rules give.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_sqlite::SqliteStore;
use absync_application::fixtures::new_subscription;
use absync_application::ports::{
    AttemptReport, ClaimRequest, ClaimedDelivery, Clock, DeliveryQueue, OutboundRequest,
    SendOutcome, StoreError, SubscriptionStore, TokenStore, WebhookSender,
};
use absync_application::{
    ApplicationError, ChangeOutcome, ChangeResult, DispatchSettings, Dispatcher, IngestService,
    Wakeup,
};
use absync_domain::DeliveryId;
use absync_domain::absence::AbsenceParts;
use absync_domain::fixtures;
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceStatus, Half, HalfDay, HalfDayRange, LeaveState,
    Period, Revision, RevisionDecision, Scope, TenantId, decide_revision, split_into_leaves,
};
use chrono::{DateTime, Days, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A clock the test moves forward.
#[derive(Debug)]
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The store's delivery queue, with claims rationed: once `claims_left` is spent, claims find nothing.
/// Counts what was claimed.
struct Rationed {
    store: Arc<SqliteStore>,
    claims_left: Mutex<usize>,
    claimed: Mutex<usize>,
}

#[async_trait::async_trait]
impl DeliveryQueue for Rationed {
    async fn claim_due(&self, claim: ClaimRequest) -> Result<Vec<ClaimedDelivery>, StoreError> {
        {
            let mut left = self.claims_left.lock().unwrap();
            if *left == 0 {
                return Ok(Vec::new());
            }
            *left -= 1;
        }
        let claimed = self.store.claim_due(claim).await?;
        *self.claimed.lock().unwrap() += claimed.len();
        Ok(claimed)
    }

    async fn record(&self, reports: Vec<AttemptReport>) -> Result<(), StoreError> {
        self.store.record(reports).await
    }

    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.next_due().await
    }

    async fn release(&self, deliveries: Vec<DeliveryId>) -> Result<(), StoreError> {
        self.store.release(deliveries).await
    }

    async fn purge_finished(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.store.purge_finished(before).await
    }

    async fn cancel_expired(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.store.cancel_expired(now).await
    }
}

/// Says when the dispatcher first has nothing to claim, and keeps it waiting.
#[derive(Default)]
struct Idle(tokio::sync::Notify);

#[async_trait::async_trait]
impl Wakeup for Idle {
    async fn wait(&self, _at_most: std::time::Duration) {
        self.0.notify_one();
        std::future::pending::<()>().await;
    }
}

/// Runs the dispatcher for `claims` claims at most (fewer when nothing more is due): it stops when it
/// first has nothing to claim, and every send finishes and is recorded. Returns how many deliveries
/// were claimed.
async fn dispatch(dispatcher: &Dispatcher, queue: &Rationed, claims: usize) -> usize {
    *queue.claims_left.lock().unwrap() = claims;
    *queue.claimed.lock().unwrap() = 0;
    let idle = Idle::default();
    dispatcher
        .run(
            &idle,
            std::time::Duration::from_secs(1),
            idle.0.notified(),
            std::future::pending(),
        )
        .await;
    *queue.claimed.lock().unwrap()
}

/// A Timmi subscriber: its leaves by id (confirmed or not). It answers 503 to the first
/// `failures(delivery)` attempts at each delivery, then 200, and applies only what it accepted.
struct Subscriber {
    leaves: Mutex<BTreeMap<String, bool>>,
    attempts: Mutex<HashMap<String, u32>>,
    failures: Box<dyn Fn(&str) -> u32 + Send + Sync>,
    problems: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl WebhookSender for Subscriber {
    async fn send(&self, request: OutboundRequest) -> SendOutcome {
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        let delivery = header("webhook-id");
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap();
            let n = attempts.entry(delivery.clone()).or_insert(0);
            *n += 1;
            *n
        };
        if attempt <= (self.failures)(&delivery) {
            return SendOutcome::Answered {
                status: 503,
                body_excerpt: Vec::new(),
            };
        }
        let body: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        let mut leaves = self.leaves.lock().unwrap();
        match header("X-Event").as_str() {
            "created" => {
                leaves.insert(id, false);
            }
            "approved" => {
                leaves.insert(id, true);
            }
            "deleted" => {
                if leaves.remove(&id).is_none() {
                    self.problems
                        .lock()
                        .unwrap()
                        .push(format!("{id} deleted before it was created"));
                }
            }
            other => panic!("unknown event {other}"),
        }
        SendOutcome::Answered {
            status: 200,
            body_excerpt: Vec::new(),
        }
    }
}

fn day(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 3, 4)
        .unwrap()
        .checked_add_days(Days::new(offset))
        .unwrap()
}

/// What a put says besides its id and revision.
#[derive(Debug, Clone)]
struct Content {
    start: (u64, bool),
    length: u64,
    end_am: bool,
    status: AbsenceStatus,
    account: i64,
}

#[derive(Debug, Clone)]
enum Change {
    Put(usize, u64, Content),
    Delete(usize, u64),
}

fn content() -> impl Strategy<Value = Content> {
    (
        (0u64..10, any::<bool>()),
        0u64..5,
        any::<bool>(),
        prop_oneof![
            Just(AbsenceStatus::Pending),
            Just(AbsenceStatus::Approved),
            Just(AbsenceStatus::Refused),
            Just(AbsenceStatus::Cancelled),
        ],
        1i64..3,
    )
        .prop_map(|(start, length, end_am, status, account)| Content {
            start,
            length,
            end_am,
            status,
            account,
        })
}

/// A change to one of three absences, with a revision from 0 (arrival order) to 5, and how many
/// dispatcher claims run after it.
fn step() -> impl Strategy<Value = (Change, u8)> {
    (
        prop_oneof![
            8 => (0usize..3, 0u64..6, content()).prop_map(|(a, r, c)| Change::Put(a, r, c)),
            1 => (0usize..3, 0u64..6).prop_map(|(a, r)| Change::Delete(a, r)),
        ],
        0u8..3,
    )
}

fn half(am: bool) -> Half {
    if am { Half::Am } else { Half::Pm }
}

fn absence(index: usize, revision: u64, content: &Content) -> Absence {
    let (start, start_am) = content.start;
    let end_am = if content.length == 0 && !start_am {
        false
    } else {
        content.end_am
    };
    let range = HalfDayRange::new(
        HalfDay {
            date: day(start),
            half: half(start_am),
        },
        HalfDay {
            date: day(start + content.length),
            half: half(end_am),
        },
    )
    .unwrap();
    let id = format!("hr-{index}");
    Absence::from_parts(AbsenceParts {
        leave_account: fixtures::account(content.account),
        ..fixtures::parts(&id, revision, content.status, Period::HalfDays(range))
    })
}

/// What the revision rules say the store holds for one absence: its revision and content (None
/// once deleted), and its number.
#[derive(Debug, Clone)]
struct Expected {
    revision: Revision,
    absence: Option<Absence>,
    number: Option<AbsenceNumber>,
}

async fn run(
    steps: Vec<(Change, u8)>,
    waves: Vec<u8>,
    failures: Vec<u8>,
) -> Result<(), TestCaseError> {
    let store = SqliteStore::open_temporary().await.unwrap();
    let tenant = TenantId::parse("acme").unwrap();
    TokenStore::create(&store, &tenant, [1; 32], &[Scope::AbsencesWrite], None)
        .await
        .unwrap();
    SubscriptionStore::create(
        &store,
        new_subscription(tenant.clone(), "https://example.com/hook"),
    )
    .await
    .unwrap();
    let store = Arc::new(store);
    let clock = Arc::new(TestClock(Mutex::new(
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap(),
    )));
    let subscriber = Arc::new(Subscriber {
        leaves: Mutex::new(BTreeMap::new()),
        attempts: Mutex::new(HashMap::new()),
        // At most three failures in a row: never the end of the cascade.
        failures: Box::new(move |delivery: &str| {
            let n: usize = delivery.parse().unwrap();
            u32::from(failures[n % failures.len()] % 4)
        }),
        problems: Mutex::new(Vec::new()),
    });
    let ingest = IngestService::new(store.clone(), store.clone(), clock.clone());
    let queue = Arc::new(Rationed {
        store: store.clone(),
        claims_left: Mutex::new(0),
        claimed: Mutex::new(0),
    });
    let dispatcher = Dispatcher::new(
        queue.clone(),
        subscriber.clone(),
        clock.clone(),
        DispatchSettings {
            batch_size: 3,
            concurrency: 2,
            ..DispatchSettings::default()
        },
    );

    let mut expected: [Option<Expected>; 3] = [None, None, None];
    let mut last_version = [0i64; 3];
    let mut steps = steps.into_iter();
    for size in waves.iter().cycle() {
        let wave: Vec<(Change, u8)> = steps.by_ref().take(usize::from(*size)).collect();
        if wave.is_empty() {
            break;
        }
        // One caller per absence, all at once; each sends its changes in order, consecutive puts
        // in one PutAbsences call. Their writes meet in the store's groups.
        let callers = (0..3).map(|index| {
            let changes: Vec<Change> = wave
                .iter()
                .map(|(change, _)| change.clone())
                .filter(|change| change.index() == index)
                .collect();
            caller(&ingest, &tenant, changes)
        });
        let answered = futures::future::join_all(callers).await;
        for (change, result) in answered.into_iter().flatten() {
            let index = change.index();
            check(
                &mut expected[index],
                &mut last_version[index],
                &change,
                result,
            )?;
        }
        for (_, claims) in &wave {
            dispatch(&dispatcher, &queue, usize::from(*claims)).await;
        }
        clock.advance(Duration::minutes(1));
    }

    // Let every retry come due and every delivery finish.
    for _ in 0..200 {
        if dispatch(&dispatcher, &queue, 1).await == 0 {
            let Some(_) = absync_application::ports::DeliveryQueue::next_due(&*store)
                .await
                .unwrap()
            else {
                break;
            };
            clock.advance(Duration::hours(25));
        }
    }
    prop_assert!(
        absync_application::ports::DeliveryQueue::next_due(&*store)
            .await
            .unwrap()
            .is_none(),
        "every delivery finished"
    );

    let mut want = BTreeMap::new();
    for e in expected.iter().flatten() {
        if let (Some(absence), Some(number)) = (&e.absence, e.number) {
            for leave in split_into_leaves(number, absence) {
                want.insert(leave.key.to_string(), leave.state == LeaveState::Approved);
            }
        }
    }
    let problems = subscriber.problems.lock().unwrap().clone();
    prop_assert!(problems.is_empty(), "{:?}", problems);
    let got = subscriber.leaves.lock().unwrap().clone();
    prop_assert_eq!(got, want);
    Ok(())
}

impl Change {
    fn index(&self) -> usize {
        match self {
            Self::Put(index, ..) | Self::Delete(index, _) => *index,
        }
    }
}

/// Sends one absence's changes in order: consecutive puts in one PutAbsences call, deletes alone.
async fn caller(
    ingest: &IngestService,
    tenant: &TenantId,
    changes: Vec<Change>,
) -> Vec<(Change, Result<ChangeResult, ApplicationError>)> {
    let mut answered = Vec::with_capacity(changes.len());
    let mut puts: Vec<Change> = Vec::new();
    for change in changes
        .into_iter()
        .chain(std::iter::once(Change::Delete(usize::MAX, 0)))
    {
        if let Change::Put(..) = change {
            puts.push(change);
            continue;
        }
        if !puts.is_empty() {
            let absences = puts
                .iter()
                .map(|p| match p {
                    Change::Put(i, r, c) => absence(*i, *r, c),
                    Change::Delete(..) => unreachable!("only puts"),
                })
                .collect();
            let results = ingest.put_absences(tenant, absences, 4).await;
            answered.extend(std::mem::take(&mut puts).into_iter().zip(results));
        }
        if let Change::Delete(index, revision) = change
            && index != usize::MAX
        {
            let id = AbsenceId::parse(&format!("hr-{index}")).unwrap();
            let revision_value = Revision::new(revision).unwrap();
            let result = ingest.delete_absence(tenant, &id, revision_value).await;
            answered.push((Change::Delete(index, revision), result));
        }
    }
    answered
}

/// Checks one answer against the revision rules and what the store holds for its absence (then
/// moves that on), and that its events' change versions come after the absence's earlier ones.
fn check(
    expected: &mut Option<Expected>,
    last_version: &mut i64,
    change: &Change,
    result: Result<ChangeResult, ApplicationError>,
) -> Result<(), TestCaseError> {
    let (revision, incoming) = match change {
        Change::Put(i, r, c) => (*r, Some(absence(*i, *r, c))),
        Change::Delete(_, r) => (*r, None),
    };
    let revision = Revision::new(revision).unwrap();
    let decision = match (&*expected, &incoming) {
        (None, None) => None, // unknown absence: not found
        (Some(e), None) if e.absence.is_none() => Some(RevisionDecision::Unchanged),
        (None, Some(_)) => Some(RevisionDecision::Apply),
        (Some(e), _) => Some(decide_revision(
            e.revision,
            revision,
            matches!((&e.absence, &incoming), (Some(a), Some(i)) if a.same_content(i)),
        )),
    };
    match (decision, result) {
        (None, Err(ApplicationError::NotFound(_)))
        | (Some(RevisionDecision::Conflict), Err(ApplicationError::RevisionConflict { .. })) => {}
        (Some(decision), Ok(result)) => {
            let outcome = match decision {
                RevisionDecision::Apply => ChangeOutcome::Applied,
                RevisionDecision::Unchanged => ChangeOutcome::Unchanged,
                RevisionDecision::Stale => ChangeOutcome::Stale,
                RevisionDecision::Conflict => unreachable!("answered with an error"),
            };
            prop_assert_eq!(result.outcome, outcome, "{:?}", change);
            if outcome != ChangeOutcome::Applied {
                prop_assert!(result.events.is_empty(), "no event for {:?}", change);
            }
            for event in &result.events {
                prop_assert!(
                    event.change_version.get() > *last_version,
                    "change version {} after {}",
                    event.change_version.get(),
                    last_version
                );
                *last_version = event.change_version.get();
            }
            if outcome == ChangeOutcome::Applied {
                *expected = Some(Expected {
                    revision,
                    absence: incoming,
                    number: Some(result.absence_number),
                });
            }
        }
        (decision, result) => {
            return Err(TestCaseError::fail(format!(
                "{change:?}: expected {decision:?}, got {result:?}"
            )));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_receiver_applying_deliveries_in_order_ends_with_the_last_accepted_leaves(
        steps in proptest::collection::vec(step(), 1..16),
        waves in proptest::collection::vec(1u8..6, 1..6),
        failures in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(run(steps, waves, failures))?;
    }
}
