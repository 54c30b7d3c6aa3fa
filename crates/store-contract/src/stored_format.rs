//! The stored format: rows that an earlier version of absync wrote stay readable. The rows of [`v1`]
//! (copied from a database) are inserted into a fresh store with the store's own SQL, bypassing its
//! ports, then read back through the ports (an absence's lookup, the current leaves, a claim, a
//! delivery's detail) and compared with the domain values they were written from.
//!
//! Inserting bypasses the ports, so this body is not in [`suite!`](crate::suite): each adapter's
//! `tests/contract.rs` runs it with its own insert, which writes the [`Rows::inserts`] in its dialect
//! (placeholders, and the column type of each [`Cell`]).

mod insert;
pub mod v1;

pub use insert::{Cell, Insert};

use crate::ContractStore;
use crate::fixtures::{lease, subscribe, t0, tenant};
use absync_application::ports::{
    AbsenceStore, ClaimRequest, CurrentLeave, DeliveryFilter, LeaveQuery, StoredAbsence,
};
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceParts, AbsenceStatus, ChangeVersion, Definition,
    Deletion, DeletionReason, Half, HalfDay, HalfDayRange, HourSlot, LeaveAccount,
    LeaveEventRecord, LocalTimestamp, Owner, Period, Revision, SubscriptionId, TenantId,
    WorkingCalendar, derive_events, split_into_leaves,
};
use chrono::{DateTime, Duration, Utc, Weekday};
use std::collections::BTreeSet;

/// What a store's insert writes, with its own SQL: the rows of one version, their deliveries to
/// `subscription` (which exists, and so does its tenant), due at `due`.
#[derive(Debug, Clone)]
pub struct Rows {
    /// The tenant of every row.
    pub tenant: TenantId,
    /// The subscription of every delivery.
    pub subscription: SubscriptionId,
    /// When every delivery is due (`next_attempt_at`); also the time of every row.
    pub due: DateTime<Utc>,
    /// `absences` rows.
    pub absences: &'static [v1::AbsenceRow],
    /// `leaves` rows.
    pub leaves: &'static [v1::LeaveRow],
    /// `leave_events` rows.
    pub events: &'static [v1::EventRow],
    /// `deliveries` rows.
    pub deliveries: &'static [v1::DeliveryRow],
}

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

fn at(text: &str) -> LocalTimestamp {
    LocalTimestamp::parse(text).unwrap()
}

fn number(n: i64) -> AbsenceNumber {
    AbsenceNumber::new(n).unwrap()
}

/// The owner of `hr-1` and `hr-3`.
fn luca() -> Owner {
    Owner::new(
        134,
        "Lúca D'Angelo".into(),
        "luca@example.com".into(),
        "00001".into(),
        Some("B-17".into()),
    )
    .unwrap()
}

/// The leave account of `hr-1` and `hr-3`.
fn paid() -> LeaveAccount {
    LeaveAccount::new(1718, "Paid leave".into(), 1, "Paid".into()).unwrap()
}

/// `hr-1` as put at `revision`, from 2024-03-04 PM to `end`, worked Monday to Thursday.
fn hr_1(revision: u64, status: AbsenceStatus, end: HalfDay) -> Absence {
    let start = HalfDay {
        date: date("2024-03-04"),
        half: Half::Pm,
    };
    Absence::from_parts(AbsenceParts {
        id: AbsenceId::parse("hr-1").unwrap(),
        revision: Revision::new(revision).unwrap(),
        owner: luca(),
        leave_account: paid(),
        requested_definition: Some(Definition::new(11, Some("CP".into())).unwrap()),
        resulting_definition: Some(Definition::new(12, None).unwrap()),
        shift_definition: Some(Definition::new(3, Some("DAY".into())).unwrap()),
        period: Period::HalfDays(HalfDayRange::new(start, end).unwrap()),
        status,
        created_at: Some(at("2024-02-20T08:15:30.250")),
        approved_at: (status == AbsenceStatus::Approved).then(|| at("2024-02-21T10:00:00")),
        cancelled_at: None,
        calendar: WorkingCalendar::new(
            vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
            BTreeSet::from([date("2024-03-05"), date("2024-12-25")]),
        ),
    })
}

/// `hr-2` as put at `revision`: 225 minutes from 14:00 on 2024-03-07.
fn hr_2(revision: u64, status: AbsenceStatus) -> Absence {
    Absence::from_parts(AbsenceParts {
        id: AbsenceId::parse("hr-2").unwrap(),
        revision: Revision::new(revision).unwrap(),
        owner: Owner::new(
            135,
            "Mia".into(),
            "mia@example.com".into(),
            "00002".into(),
            None,
        )
        .unwrap(),
        leave_account: LeaveAccount::new(1719, "Training".into(), 2, "Other".into()).unwrap(),
        requested_definition: None,
        resulting_definition: None,
        shift_definition: None,
        period: Period::Hours(HourSlot::new(date("2024-03-07"), 14 * 60, 225).unwrap()),
        status,
        created_at: Some(at("2024-02-22T16:45:00.007")),
        approved_at: None,
        cancelled_at: (status == AbsenceStatus::Cancelled).then(|| at("2024-03-02T09:30:00.500")),
        calendar: WorkingCalendar::default(),
    })
}

/// `hr-3`: the morning of 2024-03-08, approved.
fn hr_3() -> Absence {
    let morning = HalfDay {
        date: date("2024-03-08"),
        half: Half::Am,
    };
    Absence::from_parts(AbsenceParts {
        id: AbsenceId::parse("hr-3").unwrap(),
        revision: Revision::new(1).unwrap(),
        owner: luca(),
        leave_account: paid(),
        requested_definition: None,
        resulting_definition: Some(Definition::new(12, Some("CP".into())).unwrap()),
        shift_definition: None,
        period: Period::HalfDays(HalfDayRange::new(morning, morning).unwrap()),
        status: AbsenceStatus::Approved,
        created_at: None,
        approved_at: Some(at("2024-02-23T11:00:00.999")),
        cancelled_at: None,
        calendar: WorkingCalendar::default(),
    })
}

/// The history [`v1`] holds: the absences as last put (by id), and the leave events in change-version
/// order (the ingest use case's deletions: when the absence says, else the time it ran).
struct History {
    hr_1: Absence,
    hr_2: Absence,
    events: Vec<LeaveEventRecord>,
}

fn history() -> History {
    let ran = at("2024-03-01T12:00:00.123");
    let gone = |reason| Deletion { reason, at: ran };
    let (one, two, three) = (number(1), number(2), number(3));
    let pending = hr_1(
        1,
        AbsenceStatus::Pending,
        HalfDay {
            date: date("2024-03-06"),
            half: Half::Pm,
        },
    );
    let approved = hr_1(
        2,
        AbsenceStatus::Approved,
        HalfDay {
            date: date("2024-03-06"),
            half: Half::Am,
        },
    );
    let cancelled = hr_2(2, AbsenceStatus::Cancelled);
    let leaves = |n, a: &Absence| split_into_leaves(n, a);
    let mut events = Vec::new();
    events.extend(derive_events(
        &[],
        &leaves(one, &pending),
        gone(DeletionReason::NoLongerCovered),
    ));
    events.extend(derive_events(
        &leaves(one, &pending),
        &leaves(one, &approved),
        gone(DeletionReason::NoLongerCovered),
    ));
    let hours = leaves(two, &hr_2(1, AbsenceStatus::Pending));
    events.extend(derive_events(
        &[],
        &hours,
        gone(DeletionReason::NoLongerCovered),
    ));
    events.extend(derive_events(
        &hours,
        &[],
        Deletion {
            reason: DeletionReason::Cancelled,
            at: cancelled.cancelled_at.unwrap(),
        },
    ));
    let morning = leaves(three, &hr_3());
    events.extend(derive_events(
        &[],
        &morning,
        gone(DeletionReason::NoLongerCovered),
    ));
    events.extend(derive_events(
        &morning,
        &[],
        gone(DeletionReason::AbsenceDeleted),
    ));
    History {
        hr_1: approved,
        hr_2: cancelled,
        events,
    }
}

impl History {
    /// The event of change version `version`.
    fn event(&self, version: ChangeVersion) -> &LeaveEventRecord {
        usize::try_from(version.get() - 1)
            .ok()
            .and_then(|i| self.events.get(i))
            .unwrap_or_else(|| panic!("no event of change version {version:?}"))
    }
}

/// Rows of version 1, inserted by `insert`, read back through the ports: the absences with their
/// current leaves (a deleted one without content), the current leaves with their change versions,
/// the pending deliveries' claims and every delivery's detail carry the domain values they were
/// written from.
pub async fn rows_of_version_1_read_back<S, F>(store: S, insert: F)
where
    S: ContractStore,
    F: AsyncFnOnce(Rows),
{
    let history = history();
    assert_eq!(history.events.len(), v1::EVENTS.len());
    for row in v1::EVENTS {
        let record = history.event(ChangeVersion::new(row.change_version));
        assert_eq!(
            (record.key().to_string().as_str(), record.event.as_str()),
            (row.leave_key, row.event),
            "the history holds the event of each row"
        );
    }
    let acme = tenant(v1::TENANT);
    let subscription = subscribe(&store, v1::TENANT).await;
    insert(Rows {
        tenant: acme.clone(),
        subscription: subscription.clone(),
        due: t0(),
        absences: v1::ABSENCES,
        leaves: v1::LEAVES,
        events: v1::EVENTS,
        deliveries: v1::DELIVERIES,
    })
    .await;

    let load = async |id: &str| {
        AbsenceStore::load(&store, &acme, &AbsenceId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap()
    };
    let approved = split_into_leaves(number(1), &history.hr_1);
    assert_eq!(approved.len(), 2, "a leave of each half");
    assert_eq!(
        load("hr-1").await,
        StoredAbsence {
            number: number(1),
            row_version: 2,
            revision: Revision::new(2).unwrap(),
            absence: Some(history.hr_1.clone()),
            leaves: approved.clone(),
        }
    );
    assert_eq!(
        load("hr-2").await,
        StoredAbsence {
            number: number(2),
            row_version: 2,
            revision: Revision::new(2).unwrap(),
            absence: Some(history.hr_2.clone()),
            leaves: Vec::new(),
        }
    );
    assert_eq!(
        load("hr-3").await,
        StoredAbsence {
            number: number(3),
            row_version: 2,
            revision: Revision::new(2).unwrap(),
            absence: None,
            leaves: Vec::new(),
        }
    );

    let current = store
        .list_leaves(LeaveQuery::new(acme.clone(), 10))
        .await
        .unwrap();
    let expected: Vec<CurrentLeave> = approved
        .into_iter()
        .zip([4, 5])
        .map(|(leave, version)| CurrentLeave {
            leave,
            change_version: ChangeVersion::new(version),
        })
        .collect();
    assert_eq!(current, expected);

    let now = t0() + Duration::minutes(1);
    let claimed = store
        .claim_due(ClaimRequest::new(now, 20, lease(now)))
        .await
        .unwrap();
    let pending = v1::DELIVERIES.iter().filter(|d| d.status == "pending");
    assert_eq!(claimed.len(), pending.count());
    for delivery in &claimed {
        assert_eq!(delivery.subscription, subscription);
        assert_eq!(&delivery.record, history.event(delivery.change_version));
        assert_eq!(
            delivery.traceparent, None,
            "written before traces were kept"
        );
    }

    let listed = store
        .list_deliveries(&acme, DeliveryFilter::default(), None, 50)
        .await
        .unwrap();
    assert_eq!(listed.len(), v1::DELIVERIES.len());
    for summary in listed {
        let detail = store
            .get_delivery(&acme, summary.id)
            .await
            .unwrap()
            .unwrap();
        let version = ChangeVersion::new(summary.change_version);
        assert_eq!(detail.message.change_version, version);
        assert_eq!(&detail.message.record, history.event(version));
    }
}
