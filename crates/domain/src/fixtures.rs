//! Builders of absences, leaves and deletions for tests, shared by the tests of every crate (the
//! domain's own, the application's, the store contract's, the adapters'): one owner, one leave
//! account, one absence id and number unless a test says otherwise.
//!
//! Compiled for this crate's tests and, elsewhere, with the feature `test-fixtures`, which only test
//! code turns on (a dev-dependency, or the store contract, itself test code). They panic on values
//! a test got wrong: that is a test failing loudly.

#![allow(clippy::unwrap_used)]

use crate::absence::{Absence, AbsenceParts, AbsenceStatus, LeaveAccount, Owner};
use crate::calendar::WorkingCalendar;
use crate::event::{Deletion, DeletionReason};
use crate::ids::{AbsenceId, AbsenceNumber, Revision};
use crate::leave::{Leave, LeaveKey, LeaveState};
use crate::period::{Half, HalfDay, HalfDayRange, Period};
use crate::timestamp::LocalTimestamp;

/// The owner of every absence: 134, Luca.
#[must_use]
pub fn owner() -> Owner {
    Owner::new(134, "Luca".into(), "l@x".into(), "00001".into(), None).unwrap()
}

/// The leave account of every absence: 1718, Paid.
#[must_use]
pub fn leave_account() -> LeaveAccount {
    LeaveAccount {
        id: 1718,
        name: "Paid".into(),
        category_id: 1,
        category_name: "Paid".into(),
    }
}

/// Another leave account, `id`, named `Account {id}`.
#[must_use]
pub fn account(id: i64) -> LeaveAccount {
    LeaveAccount {
        id,
        name: format!("Account {id}"),
        ..leave_account()
    }
}

/// The number absync gave the absence, in tests that do not go through a store: 42.
#[must_use]
pub fn number() -> AbsenceNumber {
    AbsenceNumber::new(42).unwrap()
}

/// The half-day `half` of `date` (`"2024-03-04"`).
#[must_use]
pub fn half_day(date: &str, half: Half) -> HalfDay {
    HalfDay {
        date: date.parse().unwrap(),
        half,
    }
}

/// The half-days from `start` to `end`, each `("2024-03-04", Half::Am)`.
#[must_use]
pub fn half_days(start: (&str, Half), end: (&str, Half)) -> HalfDayRange {
    HalfDayRange::new(half_day(start.0, start.1), half_day(end.0, end.1)).unwrap()
}

/// What an absence `id` at `revision` says over `period`: of [`owner`], on [`leave_account`], the
/// default calendar, without definitions or timestamps. Change a field with struct update syntax.
#[must_use]
pub fn parts(id: &str, revision: u64, status: AbsenceStatus, period: Period) -> AbsenceParts {
    AbsenceParts {
        id: AbsenceId::parse(id).unwrap(),
        revision: Revision::new(revision).unwrap(),
        owner: owner(),
        leave_account: leave_account(),
        requested_definition: None,
        resulting_definition: None,
        shift_definition: None,
        period,
        status,
        created_at: None,
        approved_at: None,
        cancelled_at: None,
        calendar: WorkingCalendar::default(),
    }
}

/// The absence of [`parts`] over the half-days `range`.
#[must_use]
pub fn absence_over(
    id: &str,
    revision: u64,
    status: AbsenceStatus,
    range: HalfDayRange,
) -> Absence {
    Absence::from_parts(parts(id, revision, status, Period::HalfDays(range)))
}

/// An absence of four leaves: Monday 2024-03-04 AM to Tuesday PM.
#[must_use]
pub fn absence(id: &str, revision: u64, status: AbsenceStatus) -> Absence {
    let range = half_days(("2024-03-04", Half::Am), ("2024-03-05", Half::Pm));
    absence_over(id, revision, status, range)
}

/// An absence of one leave: Monday 2024-03-04 AM.
#[must_use]
pub fn one_leave(id: &str, revision: u64, status: AbsenceStatus) -> Absence {
    let range = half_days(("2024-03-04", Half::Am), ("2024-03-04", Half::Am));
    absence_over(id, revision, status, range)
}

/// An absence of 500 leaves: the 250 working days from Monday 2024-01-01 AM to Friday 2024-12-13 PM.
#[must_use]
pub fn long_absence(id: &str, revision: u64, status: AbsenceStatus) -> Absence {
    let range = half_days(("2024-01-01", Half::Am), ("2024-12-13", Half::Pm));
    absence_over(id, revision, status, range)
}

/// The leave of absence `number` on the half-day `half` of `date`, in `state`, with the owner and the
/// account of [`parts`] and nothing else.
#[must_use]
pub fn leave(number: AbsenceNumber, date: &str, half: Half, state: LeaveState) -> Leave {
    Leave {
        key: LeaveKey::new(number, date.parse().unwrap(), half),
        state,
        owner: owner(),
        leave_account: leave_account(),
        requested_definition: None,
        resulting_definition: None,
        shift_definition: None,
        hours: None,
        created_at: None,
        approved_at: None,
    }
}

/// A deletion for `reason` at 2024-03-01 12:00 (local time).
#[must_use]
pub fn deletion(reason: DeletionReason) -> Deletion {
    Deletion {
        reason,
        at: LocalTimestamp::parse("2024-03-01T12:00:00").unwrap(),
    }
}
