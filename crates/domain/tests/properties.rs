//! Properties of the leave rules, for any input proptest finds: splitting never yields a leave on a
//! non-working day; the events between two sets of leaves take a receiver from the first to the
//! second and say nothing when nothing changed; and for any sequence of puts and deletes, arriving
//! in any order and with any revisions, a receiver applying the rendered messages in order ends with
//! exactly the leaves of the last revision that was accepted.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_domain::absence::AbsenceParts;
use absync_domain::fixtures::{self, deletion, number};
use absync_domain::payload::timmi;
use absync_domain::{
    Absence, AbsenceStatus, DeletionReason, Half, HalfDay, HalfDayRange, Leave, LeaveState, Period,
    Revision, RevisionDecision, WorkingCalendar, decide_revision, derive_events, split_into_leaves,
};
use chrono::{Days, NaiveDate, Weekday};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn day(offset: u64) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 2, 26)
        .unwrap()
        .checked_add_days(Days::new(offset))
        .unwrap()
}

fn half(am: bool) -> Half {
    if am { Half::Am } else { Half::Pm }
}

fn status() -> impl Strategy<Value = AbsenceStatus> {
    prop_oneof![
        Just(AbsenceStatus::Pending),
        Just(AbsenceStatus::Approved),
        Just(AbsenceStatus::Refused),
        Just(AbsenceStatus::Cancelled),
    ]
}

/// A calendar: any non-empty set of working weekdays and up to five holidays in the window.
fn calendar() -> impl Strategy<Value = WorkingCalendar> {
    (
        proptest::sample::subsequence(WEEKDAYS.to_vec(), 1..=7),
        proptest::collection::btree_set(0u64..28, 0..5),
    )
        .prop_map(|(weekdays, holidays)| {
            WorkingCalendar::new(weekdays, holidays.into_iter().map(day).collect())
        })
}

/// A half-day range inside a four-week window.
fn range() -> impl Strategy<Value = HalfDayRange> {
    (0u64..28, any::<bool>(), 0u64..10, any::<bool>()).prop_filter_map(
        "the end is not before the start",
        |(start, start_am, length, end_am)| {
            HalfDayRange::new(
                HalfDay {
                    date: day(start),
                    half: half(start_am),
                },
                HalfDay {
                    date: day(start + length),
                    half: half(end_am),
                },
            )
            .ok()
        },
    )
}

/// What a put says, besides its id and revision.
#[derive(Debug, Clone)]
struct Content {
    range: HalfDayRange,
    status: AbsenceStatus,
    calendar: WorkingCalendar,
    account: i64,
}

fn content() -> impl Strategy<Value = Content> {
    (range(), status(), calendar(), 1i64..3).prop_map(|(range, status, calendar, account)| {
        Content {
            range,
            status,
            calendar,
            account,
        }
    })
}

fn absence(revision: u64, content: &Content) -> Absence {
    let period = Period::HalfDays(content.range);
    Absence::from_parts(AbsenceParts {
        leave_account: fixtures::account(content.account),
        calendar: content.calendar.clone(),
        ..fixtures::parts("hr-1", revision, content.status, period)
    })
}

/// A subscriber of the Timmi format: its leaves by id, with whether each is confirmed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Receiver(BTreeMap<String, bool>);

impl Receiver {
    /// Applies one message as a subscriber would: by `X-Event` and the body's `id`.
    fn apply(&mut self, message: &absync_domain::WebhookMessage) {
        let event = message
            .headers
            .iter()
            .find(|(name, _)| *name == "X-Event")
            .map(|(_, value)| value.as_str())
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&message.body).unwrap();
        let id = body["id"].as_str().unwrap().to_owned();
        match event {
            "created" | "approved" => {
                assert_eq!(body["isConfirmed"], event == "approved");
                self.0.insert(id, event == "approved");
            }
            "deleted" => {
                assert!(self.0.remove(&id).is_some(), "deleted {id} it never had");
            }
            other => panic!("unknown event {other}"),
        }
    }

    fn expected(leaves: &[Leave]) -> Self {
        Self(
            leaves
                .iter()
                .map(|l| (l.key.to_string(), l.state == LeaveState::Approved))
                .collect(),
        )
    }
}

/// One change arriving from the source.
#[derive(Debug, Clone)]
enum Change {
    Put(u64, Content),
    Delete(u64),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        8 => (0u64..6, content()).prop_map(|(revision, content)| Change::Put(revision, content)),
        1 => (0u64..6).prop_map(Change::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn splitting_never_yields_a_leave_on_a_non_working_day(
        content in content(),
    ) {
        let absence = absence(1, &content);
        let leaves = split_into_leaves(number(), &absence);
        let mut keys = BTreeSet::new();
        for leave in &leaves {
            prop_assert!(content.calendar.is_worked(leave.key.date()), "{} is not worked", leave.key);
            prop_assert!(leave.key.date() >= content.range.start().date);
            prop_assert!(leave.key.date() <= content.range.end().date);
            prop_assert!(keys.insert(leave.key), "{} twice", leave.key);
        }
        // Every worked half-day of the range is a leave, unless the absence is refused or cancelled.
        let worked = content.range.half_days().filter(|h| content.calendar.is_worked(h.date)).count();
        let expected = match content.status {
            AbsenceStatus::Pending | AbsenceStatus::Approved => worked,
            AbsenceStatus::Refused | AbsenceStatus::Cancelled => 0,
        };
        prop_assert_eq!(leaves.len(), expected);
    }

    #[test]
    fn events_take_a_receiver_from_the_old_leaves_to_the_new_and_say_nothing_of_no_change(
        before in content(),
        after in content(),
    ) {
        let old = split_into_leaves(number(), &absence(1, &before));
        let new = split_into_leaves(number(), &absence(2, &after));
        let mut receiver = Receiver::expected(&old);
        for record in derive_events(&old, &new, deletion(DeletionReason::Cancelled)) {
            receiver.apply(&timmi::render(&record));
        }
        prop_assert_eq!(receiver, Receiver::expected(&new));
        prop_assert!(derive_events(&new, &new, deletion(DeletionReason::Cancelled)).is_empty());
    }

    #[test]
    fn a_receiver_ends_with_the_leaves_of_the_last_accepted_revision(
        changes in proptest::collection::vec(change(), 1..12),
    ) {
        // What the ingest flow stores: the revision and the absence (None once deleted), and the
        // current leaves.
        let mut stored: Option<(Revision, Option<Absence>)> = None;
        let mut leaves: Vec<Leave> = Vec::new();
        let mut receiver = Receiver::default();
        for change in changes {
            let (revision, incoming) = match &change {
                Change::Put(revision, content) => (*revision, Some(absence(*revision, content))),
                Change::Delete(revision) => (*revision, None),
            };
            let revision = Revision::new(revision).unwrap();
            let decision = match (&stored, &incoming) {
                (None, None) | (Some((_, None)), None) => continue, // nothing to delete
                (None, Some(_)) => RevisionDecision::Apply,
                (Some((at, absence)), _) => decide_revision(
                    *at,
                    revision,
                    matches!((absence, &incoming), (Some(a), Some(i)) if a.same_content(i)),
                ),
            };
            let after = incoming.as_ref().map_or_else(Vec::new, |a| split_into_leaves(number(), a));
            let events = derive_events(&leaves, &after, deletion(DeletionReason::AbsenceDeleted));
            if decision == RevisionDecision::Unchanged {
                prop_assert!(events.is_empty(), "an unchanged put has no events");
            }
            if decision != RevisionDecision::Apply {
                continue; // stale, unchanged or contradicting: nothing is sent
            }
            for record in &events {
                receiver.apply(&timmi::render(record));
            }
            leaves = after;
            stored = Some((revision, incoming));
        }
        let expected = match &stored {
            Some((_, Some(absence))) => split_into_leaves(number(), absence),
            _ => Vec::new(),
        };
        prop_assert_eq!(receiver, Receiver::expected(&expected));
    }
}
