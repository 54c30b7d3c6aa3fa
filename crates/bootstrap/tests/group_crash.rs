//! Group commit under a crash, with the built `absync` binary on both stores: absync is SIGKILLed while
//! groups of concurrent PutAbsence calls (new absences and second revisions of them) are in flight under
//! load. Every acknowledged change is delivered after the restart, and no change leaves half of itself
//! behind: read straight from the database after the kill, every absence row has exactly the leave
//! events, current leaves and deliveries (one per event: one subscription) its revision implies, every
//! acknowledged change is there with its events, and nothing exists for an absence without its row.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

mod common;

use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use absync_e2e::receiver::Receiver;
use common::token;
use sqlx::AnyPool;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::time::Instant;

const ABSYNC: &str = env!("CARGO_BIN_EXE_absync");

/// Concurrent PutAbsence callers.
const CALLERS: usize = 32;
/// Absences each caller puts, one after the other (every other one twice: revision 1, then 2).
const ABSENCES_PER_CALLER: usize = 40;
/// Acknowledged calls before the kill: well before the callers are done.
const ACKS_BEFORE_KILL: usize = 300;
/// Generous bounds for a slow 2-core machine; nothing is timed.
const LOAD_DEADLINE: Duration = Duration::from_secs(120);
const DELIVERY_DEADLINE: Duration = Duration::from_secs(240);

/// A short lease, so that deliveries claimed before the kill are sent again soon after the restart; a
/// long acquire timeout, so that the load itself answers no call UNAVAILABLE.
const FLAGS: [&str; 6] = [
    "--dispatch-lease",
    "2s",
    "--dispatch-poll-interval",
    "200ms",
    "--database-acquire-timeout",
    "60s",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_amid_group_commits_loses_no_acknowledged_change_and_halves_none_on_postgres() {
    a_sigkill_amid_group_commits(StoreKind::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_amid_group_commits_loses_no_acknowledged_change_and_halves_none_on_sqlite() {
    a_sigkill_amid_group_commits(StoreKind::Sqlite).await;
}

async fn a_sigkill_amid_group_commits(store: StoreKind) {
    let database = TestDatabase::create_on(store).await;
    let url = database.url();
    let first = AbsyncProcess::start(ABSYNC, url, &FLAGS);
    let receiver = Receiver::start().await;
    let mut clients = Clients::connect(first.grpc_addr, Some(token(url).await)).await;
    clients.subscribe_leaves(receiver.url("/hook")).await;

    let load = Load::start(&clients);
    load.wait_for_acks(ACKS_BEFORE_KILL).await;
    let (acks, unanswered) = load.kill(first).await;
    assert!(
        unanswered > 0,
        "the kill came while calls were in flight ({} acknowledged)",
        acks.len()
    );
    assert!(
        acks.iter().any(|ack| ack.revision == 2),
        "second revisions were acknowledged too"
    );

    let pool = database.pool().await;
    let stored = Stored::read(&pool).await;
    stored.assert_every_absence_complete();
    stored.assert_holds(&acks);
    eprintln!(
        "{store:?}: {} calls acknowledged, {unanswered} unanswered; {} absences, {} leave events stored; \
         {} requests received before the restart",
        acks.len(),
        stored.absences.len(),
        stored.events.len(),
        receiver.count()
    );

    let _second = AbsyncProcess::start(ABSYNC, url, &FLAGS);
    let expected = stored.deliveries_of(&acks);
    wait_for_deliveries(&receiver, &expected).await;
    wait_all_succeeded(&pool, stored.deliveries.len()).await;
    let known: HashSet<String> = stored.deliveries.iter().map(|d| d.id.to_string()).collect();
    assert!(
        receiver
            .received()
            .iter()
            .all(|r| known.contains(r.header("webhook-id").unwrap())),
        "the receiver got nothing the store does not hold"
    );
}

/// The working week of the test, Monday 2024-03-04 to Friday 2024-03-08; slot `2d` is day `d`'s
/// morning, `2d + 1` its afternoon.
const WEEK: [&str; 5] = [
    "2024-03-04",
    "2024-03-05",
    "2024-03-06",
    "2024-03-07",
    "2024-03-08",
];

fn half_day(slot: usize) -> (&'static str, HalfDay) {
    let half = if slot.is_multiple_of(2) {
        HalfDay::Am
    } else {
        HalfDay::Pm
    };
    (WEEK[slot / 2], half)
}

/// The leave id of `slot` of absence `number`: `{number}-{YYYYMMDD}-{AM|PM}`.
fn leave_id(number: i64, slot: usize) -> String {
    let half = if slot.is_multiple_of(2) { "AM" } else { "PM" };
    format!("{number}-{}-{half}", WEEK[slot / 2].replace('-', ""))
}

/// Absence `g-{n}` of the test. Revision 1 is pending and covers 2 to 4 half-days from Monday, Tuesday
/// or Wednesday morning; revision 2 (every other absence) is approved and covers as many half-days one
/// half-day later: its first half-day is `deleted`, the others `approved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan(usize);

impl Plan {
    fn from_id(id: &str) -> Self {
        Self(id.strip_prefix("g-").unwrap().parse().unwrap())
    }

    fn id(self) -> String {
        format!("g-{}", self.0)
    }

    fn revisions(self) -> &'static [u64] {
        if self.0.is_multiple_of(2) {
            &[1, 2]
        } else {
            &[1]
        }
    }

    fn slots(self, revision: u64) -> Range<usize> {
        let start = 2 * (self.0 % 3) + usize::from(revision == 2);
        start..start + 2 + (self.0 / 3) % 3
    }

    fn absence(self, revision: u64) -> proto::Absence {
        let slots = self.slots(revision);
        let status = if revision == 1 {
            AbsenceStatus::Pending
        } else {
            AbsenceStatus::Approved
        };
        half_days(
            &self.id(),
            revision,
            status,
            half_day(slots.start),
            half_day(slots.end - 1),
        )
    }

    /// The current leaves once `revision` is stored: (leave id, state).
    fn leaves(self, number: i64, revision: u64) -> BTreeSet<(String, String)> {
        let state = if revision == 1 { "pending" } else { "approved" };
        self.slots(revision)
            .map(|slot| (leave_id(number, slot), state.to_owned()))
            .collect()
    }

    /// The leave events `revision` writes: (leave id, event).
    fn events(self, number: i64, revision: u64) -> BTreeSet<(String, String)> {
        if revision == 1 {
            return self
                .slots(1)
                .map(|slot| (leave_id(number, slot), "created".to_owned()))
                .collect();
        }
        let (before, after) = (self.slots(1), self.slots(2));
        (before.start..after.end)
            .map(|slot| {
                let event = if after.contains(&slot) {
                    "approved"
                } else {
                    "deleted"
                };
                (leave_id(number, slot), event.to_owned())
            })
            .collect()
    }
}

/// A leave event, as an acknowledgement or the database names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Event {
    change_version: i64,
    leave_id: String,
    event: String,
}

/// A PutAbsence call answered OK.
#[derive(Debug)]
struct Ack {
    plan: Plan,
    revision: u64,
    number: i64,
    events: Vec<Event>,
}

/// `CALLERS` tasks putting absences concurrently, counting acknowledgements as they come.
struct Load {
    acked: Arc<AtomicUsize>,
    /// Set just before the kill: a caller whose call then fails stops.
    killed: Arc<AtomicBool>,
    callers: Vec<tokio::task::JoinHandle<(Vec<Ack>, usize)>>,
}

impl Load {
    /// Caller `c` puts absences `c`, `c + CALLERS`, … one after the other.
    fn start(clients: &Clients) -> Self {
        let acked = Arc::new(AtomicUsize::new(0));
        let killed = Arc::new(AtomicBool::new(false));
        let callers = (0..CALLERS)
            .map(|c| {
                let plans = (0..ABSENCES_PER_CALLER)
                    .map(|i| Plan(c + i * CALLERS))
                    .collect();
                tokio::spawn(caller(
                    clients.clone(),
                    plans,
                    acked.clone(),
                    killed.clone(),
                ))
            })
            .collect();
        Self {
            acked,
            killed,
            callers,
        }
    }

    async fn wait_for_acks(&self, count: usize) {
        let until = Instant::now() + LOAD_DEADLINE;
        while self.acked.load(Ordering::SeqCst) < count {
            assert!(
                Instant::now() < until,
                "only {} of {count} calls acknowledged within {LOAD_DEADLINE:?}",
                self.acked.load(Ordering::SeqCst)
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILLs `absync` in the middle of the load; returns every acknowledged call, and how many calls
    /// got no OK answer.
    async fn kill(self, absync: AbsyncProcess) -> (Vec<Ack>, usize) {
        self.killed.store(true, Ordering::SeqCst);
        absync.kill();
        let mut acks = Vec::new();
        let mut unanswered = 0;
        for caller in self.callers {
            let (mine, failed) = tokio::time::timeout(LOAD_DEADLINE, caller)
                .await
                .expect("the callers stop once absync is gone")
                .unwrap();
            acks.extend(mine);
            unanswered += failed;
        }
        let calls = CALLERS * ABSENCES_PER_CALLER * 3 / 2;
        assert!(acks.len() < calls, "the kill came before the last call");
        (acks, unanswered)
    }
}

/// Puts each absence's revisions in turn (revision 2 only once revision 1 was acknowledged); returns
/// the acknowledged calls and the number of failed ones.
async fn caller(
    mut clients: Clients,
    plans: Vec<Plan>,
    acked: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
) -> (Vec<Ack>, usize) {
    let mut acks = Vec::new();
    let mut failed = 0;
    for plan in plans {
        for &revision in plan.revisions() {
            if let Some(ack) = put(&mut clients, plan, revision).await {
                acks.push(ack);
                acked.fetch_add(1, Ordering::SeqCst);
            } else {
                failed += 1;
                if killed.load(Ordering::SeqCst) {
                    return (acks, failed);
                }
                break;
            }
        }
    }
    (acks, failed)
}

/// One PutAbsence call; `None` unless answered OK.
async fn put(clients: &mut Clients, plan: Plan, revision: u64) -> Option<Ack> {
    let request = clients.request(proto::PutAbsenceRequest {
        absence: Some(plan.absence(revision)),
    });
    let answer = clients.ingest.put_absence(request).await.ok()?.into_inner();
    assert_eq!(
        answer.outcome(),
        proto::ChangeOutcome::Applied,
        "{answer:?}"
    );
    assert_eq!(answer.revision, revision);
    let events = answer
        .events
        .iter()
        .map(|e| Event {
            change_version: i64::try_from(e.change_version).unwrap(),
            leave_id: e.leave_id.clone(),
            event: match e.event() {
                proto::LeaveEventKind::Created => "created",
                proto::LeaveEventKind::Approved => "approved",
                proto::LeaveEventKind::Deleted => "deleted",
                proto::LeaveEventKind::Unspecified => panic!("{answer:?}"),
            }
            .to_owned(),
        })
        .collect();
    Some(Ack {
        plan,
        revision,
        number: answer.absence_number,
        events,
    })
}

#[derive(Debug)]
struct AbsenceRow {
    id: String,
    number: i64,
    revision: i64,
}

#[derive(Debug)]
struct EventRow {
    absence_number: i64,
    event: Event,
}

#[derive(Debug)]
struct LeaveRow {
    absence_number: i64,
    leave_id: String,
    state: String,
    change_version: i64,
}

#[derive(Debug)]
struct DeliveryRow {
    id: i64,
    change_version: i64,
    leave_id: String,
}

/// What the database holds after the kill (portable SQL on either store).
#[derive(Debug)]
struct Stored {
    absences: Vec<AbsenceRow>,
    events: Vec<EventRow>,
    leaves: Vec<LeaveRow>,
    deliveries: Vec<DeliveryRow>,
}

impl Stored {
    async fn read(pool: &AnyPool) -> Self {
        let absences = sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT absence_id, number, revision FROM absences",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, number, revision)| AbsenceRow {
            id,
            number,
            revision,
        })
        .collect();
        let events = sqlx::query_as::<_, (i64, i64, String, String)>(
            "SELECT change_version, absence_number, leave_key, event FROM leave_events",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(
            |(change_version, absence_number, leave_id, event)| EventRow {
                absence_number,
                event: Event {
                    change_version,
                    leave_id,
                    event,
                },
            },
        )
        .collect();
        let leaves = sqlx::query_as::<_, (i64, String, String, String, i64)>(
            "SELECT absence_number, CAST(leave_date AS TEXT), half, state, change_version FROM leaves",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(
            |(absence_number, date, half, state, change_version)| LeaveRow {
                absence_number,
                leave_id: format!("{absence_number}-{}-{half}", date.replace('-', "")),
                state,
                change_version,
            },
        )
        .collect();
        let deliveries = sqlx::query_as::<_, (i64, i64, String)>(
            "SELECT id, change_version, leave_key FROM deliveries",
        )
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(id, change_version, leave_id)| DeliveryRow {
            id,
            change_version,
            leave_id,
        })
        .collect();
        Self {
            absences,
            events,
            leaves,
            deliveries,
        }
    }

    /// Every stored change is whole: each absence row has exactly the events, current leaves and
    /// deliveries of its revision, and no event, leave or delivery exists without its absence row.
    fn assert_every_absence_complete(&self) {
        let numbers: HashSet<i64> = self.absences.iter().map(|a| a.number).collect();
        for row in &self.events {
            assert!(
                numbers.contains(&row.absence_number),
                "no absence row for {row:?}"
            );
        }
        for leave in &self.leaves {
            assert!(
                numbers.contains(&leave.absence_number),
                "no absence row for {leave:?}"
            );
        }
        self.assert_one_delivery_per_event();
        for absence in &self.absences {
            self.assert_complete(absence);
        }
    }

    fn assert_one_delivery_per_event(&self) {
        let mut deliveries: HashMap<i64, Vec<&DeliveryRow>> = HashMap::new();
        for delivery in &self.deliveries {
            deliveries
                .entry(delivery.change_version)
                .or_default()
                .push(delivery);
        }
        for row in &self.events {
            let Some([delivery]) = deliveries.get(&row.event.change_version).map(Vec::as_slice)
            else {
                panic!("{row:?} has not exactly one delivery");
            };
            assert_eq!(delivery.leave_id, row.event.leave_id, "{delivery:?}");
        }
        assert_eq!(
            self.deliveries.len(),
            self.events.len(),
            "no delivery without its event"
        );
    }

    fn assert_complete(&self, absence: &AbsenceRow) {
        let plan = Plan::from_id(&absence.id);
        let number = absence.number;
        let revision = u64::try_from(absence.revision).unwrap();
        assert!(
            plan.revisions().contains(&revision),
            "{absence:?} has a revision never put"
        );
        let mut events: Vec<&Event> = self
            .events
            .iter()
            .filter(|row| row.absence_number == number)
            .map(|row| &row.event)
            .collect();
        events.sort();
        // Revision 1's events come first (lower change versions), then revision 2's.
        let first = plan.events(number, 1);
        let (of_first, of_second) = events.split_at(first.len().min(events.len()));
        let as_set = |events: &[&Event]| -> BTreeSet<(String, String)> {
            events
                .iter()
                .map(|e| (e.leave_id.clone(), e.event.clone()))
                .collect()
        };
        assert_eq!(as_set(of_first), first, "{absence:?}: revision 1's events");
        let second = if revision == 2 {
            plan.events(number, 2)
        } else {
            BTreeSet::new()
        };
        assert_eq!(
            as_set(of_second),
            second,
            "{absence:?}: revision 2's events"
        );
        assert_eq!(
            events.len(),
            first.len() + second.len(),
            "{absence:?}: no event twice"
        );

        let leaves: Vec<&LeaveRow> = self
            .leaves
            .iter()
            .filter(|leave| leave.absence_number == number)
            .collect();
        let current: BTreeSet<(String, String)> = leaves
            .iter()
            .map(|leave| (leave.leave_id.clone(), leave.state.clone()))
            .collect();
        assert_eq!(
            current,
            plan.leaves(number, revision),
            "{absence:?}: current leaves"
        );
        for leave in leaves {
            let latest = events
                .iter()
                .filter(|e| e.leave_id == leave.leave_id)
                .map(|e| e.change_version)
                .max();
            assert_eq!(
                latest,
                Some(leave.change_version),
                "{leave:?} carries its latest event's change version"
            );
        }
    }

    /// Every acknowledged change is stored: its absence at that revision or later, its events as
    /// acknowledged.
    fn assert_holds(&self, acks: &[Ack]) {
        let absences: HashMap<&str, &AbsenceRow> =
            self.absences.iter().map(|a| (a.id.as_str(), a)).collect();
        let events: HashSet<(i64, &Event)> = self
            .events
            .iter()
            .map(|row| (row.absence_number, &row.event))
            .collect();
        for ack in acks {
            let id = ack.plan.id();
            let absence = absences
                .get(id.as_str())
                .unwrap_or_else(|| panic!("acknowledged {ack:?} is missing"));
            assert_eq!(absence.number, ack.number, "{ack:?}");
            assert!(
                u64::try_from(absence.revision).unwrap() >= ack.revision,
                "{absence:?} is older than acknowledged {ack:?}"
            );
            let acknowledged: BTreeSet<(String, String)> = ack
                .events
                .iter()
                .map(|e| (e.leave_id.clone(), e.event.clone()))
                .collect();
            assert_eq!(
                acknowledged,
                ack.plan.events(ack.number, ack.revision),
                "{ack:?}"
            );
            for event in &ack.events {
                assert!(
                    events.contains(&(ack.number, event)),
                    "acknowledged {event:?} of {id} is missing"
                );
            }
        }
    }

    /// The deliveries of every acknowledged event: webhook-id → (leave id, event).
    fn deliveries_of(&self, acks: &[Ack]) -> BTreeMap<String, (String, String)> {
        let by_version: HashMap<i64, i64> = self
            .deliveries
            .iter()
            .map(|d| (d.change_version, d.id))
            .collect();
        acks.iter()
            .flat_map(|ack| &ack.events)
            .map(|e| {
                (
                    by_version[&e.change_version].to_string(),
                    (e.leave_id.clone(), e.event.clone()),
                )
            })
            .collect()
    }
}

/// Waits until every `expected` delivery arrived at least once, then checks each arrival of them names
/// its leave and event.
async fn wait_for_deliveries(receiver: &Receiver, expected: &BTreeMap<String, (String, String)>) {
    let until = Instant::now() + DELIVERY_DEADLINE;
    loop {
        let got = receiver.received();
        let arrived: HashSet<&str> = got
            .iter()
            .map(|r| r.header("webhook-id").unwrap())
            .collect();
        let missing = expected
            .keys()
            .filter(|id| !arrived.contains(id.as_str()))
            .count();
        if missing == 0 {
            for request in &got {
                if let Some((leave, event)) = expected.get(request.header("webhook-id").unwrap()) {
                    assert_eq!(request.json()["id"].as_str(), Some(leave.as_str()));
                    assert_eq!(request.header("x-event"), Some(event.as_str()));
                }
            }
            return;
        }
        assert!(
            Instant::now() < until,
            "{missing} of {} acknowledged leave events not delivered within {DELIVERY_DEADLINE:?}",
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the database shows `count` deliveries, all succeeded.
async fn wait_all_succeeded(pool: &AnyPool, count: usize) {
    let count = i64::try_from(count).unwrap();
    let until = Instant::now() + DELIVERY_DEADLINE;
    loop {
        let (succeeded, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'succeeded'), count(*) FROM deliveries",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if succeeded == count && total == count {
            return;
        }
        assert!(
            Instant::now() < until,
            "{succeeded} of {total} succeeded, {count} expected"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
