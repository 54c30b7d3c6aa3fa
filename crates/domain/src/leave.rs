//! Leaves: the half-day pieces an absence is split into, one per worked date and half.

use crate::absence::{Absence, AbsenceStatus, Definition, LeaveAccount, Owner};
use crate::ids::{AbsenceNumber, LeaveNumber};
use crate::period::{Half, HalfDay, Period, check_date, epoch_day};
use crate::timestamp::LocalTimestamp;
use chrono::NaiveDate;
use std::fmt;

/// A leave key was not `{absence number}-{YYYYMMDD}-{AM|PM}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a leave id looks like 78287-20180424-PM")]
pub struct LeaveKeyError;

/// The identity of a leave: `{absence number}-{YYYYMMDD}-{AM|PM}`, e.g. `78287-20180424-PM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaveKey {
    absence: AbsenceNumber,
    date: NaiveDate,
    half: Half,
}

impl LeaveKey {
    /// Builds a key. `date` must be one [`check_date`] accepts (every leave's date is), or the key's
    /// [`number`](Self::number) is not its own.
    #[must_use]
    pub fn new(absence: AbsenceNumber, date: NaiveDate, half: Half) -> Self {
        Self {
            absence,
            date,
            half,
        }
    }

    /// Parses `78287-20180424-PM`.
    ///
    /// # Errors
    /// [`LeaveKeyError`] for anything else, and for a date outside the range of
    /// [`check_date`](crate::period::check_date).
    pub fn parse(text: &str) -> Result<Self, LeaveKeyError> {
        let mut parts = text.split('-');
        let (Some(number), Some(date), Some(half), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(LeaveKeyError);
        };
        let absence = number
            .parse::<i64>()
            .ok()
            .and_then(|n| AbsenceNumber::new(n).ok())
            .ok_or(LeaveKeyError)?;
        // Only dates a leave number can carry: any other key was never given out, and its number
        // would be another leave's (or overflow).
        let date = NaiveDate::parse_from_str(date, "%Y%m%d")
            .ok()
            .and_then(|d| check_date(d).ok())
            .ok_or(LeaveKeyError)?;
        let half = match half {
            "AM" => Half::Am,
            "PM" => Half::Pm,
            _ => return Err(LeaveKeyError),
        };
        Ok(Self {
            absence,
            date,
            half,
        })
    }

    /// The absence it belongs to.
    #[must_use]
    pub fn absence(&self) -> AbsenceNumber {
        self.absence
    }

    /// Its date.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Its half.
    #[must_use]
    pub fn half(&self) -> Half {
        self.half
    }

    /// The leave's stable numeric id (Protime `id`), derived from the key.
    #[must_use]
    pub fn number(&self) -> LeaveNumber {
        let half = match self.half {
            Half::Am => 0,
            Half::Pm => 1,
        };
        LeaveNumber::from_raw((self.absence.get() << 17) + epoch_day(self.date) * 2 + half)
    }
}

impl fmt::Display for LeaveKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{}",
            self.absence,
            self.date.format("%Y%m%d"),
            self.half.as_str()
        )
    }
}

/// Where a leave stands. A leave of a refused or cancelled absence does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaveState {
    /// Awaiting validation.
    Pending,
    /// Validated.
    Approved,
}

/// One leave and everything its payloads carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leave {
    /// Its identity.
    pub key: LeaveKey,
    /// Pending or approved.
    pub state: LeaveState,
    /// Who is absent.
    pub owner: Owner,
    /// The account it is counted on.
    pub leave_account: LeaveAccount,
    /// The absence definition originally requested.
    pub requested_definition: Option<Definition>,
    /// The absence definition that resulted.
    pub resulting_definition: Option<Definition>,
    /// The shift definition concerned.
    pub shift_definition: Option<Definition>,
    /// For an hours absence: start minute and duration. `None` for a half-day leave.
    pub hours: Option<(u16, u16)>,
    /// When the absence was requested.
    pub created_at: Option<LocalTimestamp>,
    /// When the absence was approved.
    pub approved_at: Option<LocalTimestamp>,
}

/// Splits an absence into its leaves, in date and half order. A refused or cancelled absence has none.
#[must_use]
pub fn split_into_leaves(number: AbsenceNumber, absence: &Absence) -> Vec<Leave> {
    let state = match absence.status {
        AbsenceStatus::Pending => LeaveState::Pending,
        AbsenceStatus::Approved => LeaveState::Approved,
        AbsenceStatus::Refused | AbsenceStatus::Cancelled => return Vec::new(),
    };
    let make = |slot: HalfDay, hours: Option<(u16, u16)>| Leave {
        key: LeaveKey::new(number, slot.date, slot.half),
        state,
        owner: absence.owner.clone(),
        leave_account: absence.leave_account.clone(),
        requested_definition: absence.requested_definition.clone(),
        resulting_definition: absence.resulting_definition.clone(),
        shift_definition: absence.shift_definition.clone(),
        hours,
        created_at: absence.created_at,
        approved_at: absence.approved_at,
    };
    match &absence.period {
        Period::HalfDays(range) => range
            .half_days()
            .filter(|slot| absence.calendar.is_worked(slot.date))
            .map(|slot| make(slot, None))
            .collect(),
        Period::Hours(slot) if absence.calendar.is_worked(slot.date()) => vec![make(
            HalfDay {
                date: slot.date(),
                half: slot.half(),
            },
            Some((slot.start_minute(), slot.duration_minutes())),
        )],
        Period::Hours(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::absence::AbsenceParts;
    use crate::calendar::WorkingCalendar;
    use crate::ids::Revision;
    use crate::period::{HalfDayRange, HourSlot};
    use std::collections::BTreeSet;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn absence(period: Period, calendar: WorkingCalendar, status: AbsenceStatus) -> Absence {
        Absence::from_parts(AbsenceParts {
            revision: Revision::default(),
            calendar,
            ..crate::fixtures::parts("a-1", 1, status, period)
        })
    }

    fn half_days(from: (&str, Half), to: (&str, Half)) -> Period {
        Period::HalfDays(
            HalfDayRange::new(
                HalfDay {
                    date: d(from.0),
                    half: from.1,
                },
                HalfDay {
                    date: d(to.0),
                    half: to.1,
                },
            )
            .unwrap(),
        )
    }

    fn keys(period: Period, calendar: WorkingCalendar) -> Vec<String> {
        let a = absence(period, calendar, AbsenceStatus::Approved);
        split_into_leaves(AbsenceNumber::new(78287).unwrap(), &a)
            .iter()
            .map(|l| l.key.to_string())
            .collect()
    }

    #[test]
    fn two_full_days_make_four_leaves() {
        // 2024-03-04 is a Monday.
        let got = keys(
            half_days(("2024-03-04", Half::Am), ("2024-03-05", Half::Pm)),
            WorkingCalendar::default(),
        );
        assert_eq!(
            got,
            [
                "78287-20240304-AM",
                "78287-20240304-PM",
                "78287-20240305-AM",
                "78287-20240305-PM"
            ]
        );
    }

    #[test]
    fn pm_start_and_am_end_are_honoured() {
        let got = keys(
            half_days(("2024-03-04", Half::Pm), ("2024-03-06", Half::Am)),
            WorkingCalendar::default(),
        );
        assert_eq!(
            got,
            [
                "78287-20240304-PM",
                "78287-20240305-AM",
                "78287-20240305-PM",
                "78287-20240306-AM"
            ]
        );
    }

    #[test]
    fn weekend_inside_is_skipped() {
        // Friday AM to Monday PM.
        let got = keys(
            half_days(("2024-03-08", Half::Am), ("2024-03-11", Half::Pm)),
            WorkingCalendar::default(),
        );
        assert_eq!(
            got,
            [
                "78287-20240308-AM",
                "78287-20240308-PM",
                "78287-20240311-AM",
                "78287-20240311-PM"
            ]
        );
    }

    #[test]
    fn holiday_is_skipped() {
        let cal = WorkingCalendar::new(Vec::new(), BTreeSet::from([d("2024-03-05")]));
        let got = keys(
            half_days(("2024-03-04", Half::Am), ("2024-03-06", Half::Pm)),
            cal,
        );
        assert_eq!(
            got,
            [
                "78287-20240304-AM",
                "78287-20240304-PM",
                "78287-20240306-AM",
                "78287-20240306-PM"
            ]
        );
    }

    #[test]
    fn leap_day_is_a_day_like_any_other() {
        // 2024-02-29 is a Thursday.
        let got = keys(
            half_days(("2024-02-28", Half::Pm), ("2024-03-01", Half::Am)),
            WorkingCalendar::default(),
        );
        assert_eq!(
            got,
            [
                "78287-20240228-PM",
                "78287-20240229-AM",
                "78287-20240229-PM",
                "78287-20240301-AM"
            ]
        );
    }

    #[test]
    fn single_half_day() {
        let got = keys(
            half_days(("2024-03-04", Half::Pm), ("2024-03-04", Half::Pm)),
            WorkingCalendar::default(),
        );
        assert_eq!(got, ["78287-20240304-PM"]);
    }

    #[test]
    fn absence_entirely_on_a_weekend_has_no_leaves() {
        let got = keys(
            half_days(("2024-03-09", Half::Am), ("2024-03-10", Half::Pm)),
            WorkingCalendar::default(),
        );
        assert!(got.is_empty());
    }

    #[test]
    fn hours_make_one_leave_with_its_half() {
        let slot = HourSlot::new(d("2024-03-04"), 14 * 60, 225).unwrap();
        let a = absence(
            Period::Hours(slot),
            WorkingCalendar::default(),
            AbsenceStatus::Pending,
        );
        let leaves = split_into_leaves(AbsenceNumber::new(5).unwrap(), &a);
        assert_eq!(leaves.len(), 1);
        assert_eq!(leaves[0].key.to_string(), "5-20240304-PM");
        assert_eq!(leaves[0].hours, Some((840, 225)));
        assert_eq!(leaves[0].state, LeaveState::Pending);
    }

    #[test]
    fn refused_and_cancelled_absences_have_no_leaves() {
        for status in [AbsenceStatus::Refused, AbsenceStatus::Cancelled] {
            let a = absence(
                half_days(("2024-03-04", Half::Am), ("2024-03-05", Half::Pm)),
                WorkingCalendar::default(),
                status,
            );
            assert!(split_into_leaves(AbsenceNumber::new(1).unwrap(), &a).is_empty());
        }
    }

    #[test]
    fn keys_parse_back_and_numbers_are_distinct() {
        let key = LeaveKey::parse("78287-20180424-PM").unwrap();
        assert_eq!(key.to_string(), "78287-20180424-PM");
        assert!(LeaveKey::parse("78287-20180424-XM").is_err());
        assert!(LeaveKey::parse("78287-2018-04-24-PM").is_err());
        let am = LeaveKey::parse("78287-20180424-AM").unwrap().number();
        let next = LeaveKey::parse("78287-20180425-AM").unwrap().number();
        let other = LeaveKey::parse("78288-20180424-AM").unwrap().number();
        assert_eq!(key.number().get(), am.get() + 1);
        assert_eq!(next.get(), am.get() + 2);
        assert_ne!(other, am);
    }

    /// Found by fuzzing (`fuzz/`, targets `put_absence` and `payload_renderers`): dates up to 2149-12-31
    /// were accepted, but from 2149-06-07 on the day count carried into the absence number's bits, so
    /// `1-21491230-AM` had the leave number of `2-19700726-AM` (262556).
    #[test]
    fn no_accepted_date_gives_a_leave_the_number_of_another_absences_leave() {
        let first = AbsenceNumber::new(1).unwrap();
        let second = AbsenceNumber::new(2).unwrap();
        assert_eq!(
            LeaveKey::new(second, d("1970-07-26"), Half::Am).number(),
            LeaveNumber::from_raw(262_556)
        );
        assert!(check_date(d("2149-12-30")).is_err());
        assert!(check_date(d("2149-06-07")).is_err());

        let last = check_date(d("2149-06-06")).unwrap();
        let last_of_first = LeaveKey::new(first, last, Half::Pm).number();
        let first_of_second = LeaveKey::new(second, d("1970-01-01"), Half::Am).number();
        assert!(last_of_first < first_of_second);
        let max = AbsenceNumber::new(AbsenceNumber::MAX).unwrap();
        assert_eq!(
            LeaveKey::new(max, last, Half::Pm).number().get() >> 17,
            AbsenceNumber::MAX
        );
    }

    /// Found by fuzzing (`fuzz/`, target `payload_renderers`): a key with a date no leave can have
    /// parsed, and its leave number was another absence's (`6232044659-00001024-AM` encoded absence
    /// 6232044648); with absence numbers near the maximum, the number overflowed.
    #[test]
    fn keys_with_dates_no_leave_number_can_carry_do_not_parse() {
        for text in [
            "6232044659-00001024-AM",
            "1-19691231-PM",
            "1-21490607-AM",
            "70368744177663-99991231-PM",
        ] {
            assert_eq!(LeaveKey::parse(text), Err(LeaveKeyError), "{text}");
        }
        for text in ["1-19700101-AM", "70368744177663-21490606-PM"] {
            let key = LeaveKey::parse(text).unwrap();
            assert_eq!(key.number().get() >> 17, key.absence().get(), "{text}");
        }
    }
}
