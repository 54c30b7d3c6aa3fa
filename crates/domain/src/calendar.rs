//! Which dates are worked: leaves are made only for worked days *(ours)*.

use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeSet;

/// The working days of the person an absence is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingCalendar {
    /// Worked weekdays, Monday first.
    working_weekdays: Vec<Weekday>,
    /// Holidays and other dates not worked.
    non_working_dates: BTreeSet<NaiveDate>,
}

impl Default for WorkingCalendar {
    /// Monday to Friday, no holidays.
    fn default() -> Self {
        Self::new(Vec::new(), BTreeSet::new())
    }
}

impl WorkingCalendar {
    /// Builds a calendar. An empty `working_weekdays` means Monday to Friday.
    #[must_use]
    pub fn new(working_weekdays: Vec<Weekday>, non_working_dates: BTreeSet<NaiveDate>) -> Self {
        let mut days = if working_weekdays.is_empty() {
            vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
        } else {
            working_weekdays
        };
        days.sort_by_key(Weekday::num_days_from_monday);
        days.dedup();
        Self {
            working_weekdays: days,
            non_working_dates,
        }
    }

    /// True when `date` is worked.
    #[must_use]
    pub fn is_worked(&self, date: NaiveDate) -> bool {
        self.working_weekdays.contains(&date.weekday()) && !self.non_working_dates.contains(&date)
    }

    /// The worked weekdays, Monday first.
    #[must_use]
    pub fn working_weekdays(&self) -> &[Weekday] {
        &self.working_weekdays
    }

    /// The listed non-working dates.
    #[must_use]
    pub fn non_working_dates(&self) -> &BTreeSet<NaiveDate> {
        &self.non_working_dates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekends_and_holidays_are_not_worked() {
        let holiday: NaiveDate = "2024-05-01".parse().unwrap();
        let cal = WorkingCalendar::new(Vec::new(), BTreeSet::from([holiday]));
        assert!(cal.is_worked("2024-04-30".parse().unwrap()));
        assert!(!cal.is_worked(holiday));
        assert!(!cal.is_worked("2024-05-04".parse().unwrap())); // Saturday
    }

    #[test]
    fn explicit_weekdays_replace_the_default() {
        let cal = WorkingCalendar::new(vec![Weekday::Sat, Weekday::Sat], BTreeSet::new());
        assert_eq!(cal.working_weekdays(), &[Weekday::Sat]);
        assert!(cal.is_worked("2024-05-04".parse().unwrap()));
        assert!(!cal.is_worked("2024-05-06".parse().unwrap()));
    }
}
