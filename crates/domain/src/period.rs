//! The period an absence covers: a range of half-days, or some minutes within one day.

use chrono::{Datelike, NaiveDate};

/// Why a period was refused. Each variant names what is wrong so an adapter can point at the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    /// The end lies before the start.
    #[error("the end ({end}) lies before the start ({start})")]
    EndBeforeStart {
        /// Rendered start.
        start: String,
        /// Rendered end.
        end: String,
    },
    /// The range spans more than 366 days.
    #[error("a period may span at most 366 days")]
    TooLong,
    /// A date is outside 1970-01-01..=2149-06-06.
    #[error("dates must lie between 1970-01-01 and 2149-06-06")]
    DateOutOfRange,
    /// The start minute is not within the day.
    #[error("start_minute must be within 0..=1439")]
    StartMinute,
    /// The duration is zero, longer than a day or runs past midnight.
    #[error("duration_minutes must be 1..=1440 and end by midnight")]
    Duration,
}

/// Morning or afternoon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Half {
    /// Morning.
    Am,
    /// Afternoon.
    Pm,
}

impl Half {
    /// `AM` or `PM`, as in leave keys.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Am => "AM",
            Self::Pm => "PM",
        }
    }
}

/// One half of one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HalfDay {
    /// The date.
    pub date: NaiveDate,
    /// Which half.
    pub half: Half,
}

impl std::fmt::Display for HalfDay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.date, self.half.as_str())
    }
}

fn min_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The last date a leave number can carry: a leave number keeps `days since 1970-01-01 × 2 + half` in
/// its low 17 bits, so the day count must stay below 2^16 (65 535 days after 1970-01-01 is 2149-06-06).
/// A later date would carry into the absence number's bits and share its number with another leave.
fn max_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2149, 6, 6).unwrap_or(NaiveDate::MAX)
}

/// Checks that a date can be carried in a leave id (see `LeaveNumber`).
///
/// # Errors
/// [`PeriodError::DateOutOfRange`] outside 1970-01-01..=2149-06-06.
pub fn check_date(date: NaiveDate) -> Result<NaiveDate, PeriodError> {
    if date < min_date() || date > max_date() {
        Err(PeriodError::DateOutOfRange)
    } else {
        Ok(date)
    }
}

/// Days since 1970-01-01 of a date already checked with [`check_date`].
pub(crate) fn epoch_day(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce() - min_date().num_days_from_ce())
}

/// An inclusive range of half-days: start ≤ end, at most 366 calendar days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HalfDayRange {
    start: HalfDay,
    end: HalfDay,
}

impl HalfDayRange {
    /// Builds a range.
    ///
    /// # Errors
    /// [`PeriodError`] when the end is before the start, it spans more than 366 days or a date is out of range.
    pub fn new(start: HalfDay, end: HalfDay) -> Result<Self, PeriodError> {
        check_date(start.date)?;
        check_date(end.date)?;
        if end < start {
            return Err(PeriodError::EndBeforeStart {
                start: start.to_string(),
                end: end.to_string(),
            });
        }
        if (end.date - start.date).num_days() > 365 {
            return Err(PeriodError::TooLong);
        }
        Ok(Self { start, end })
    }

    /// First half-day.
    #[must_use]
    pub fn start(&self) -> HalfDay {
        self.start
    }

    /// Last half-day (inclusive).
    #[must_use]
    pub fn end(&self) -> HalfDay {
        self.end
    }

    /// Every half-day in the range, in order, worked or not.
    pub fn half_days(&self) -> impl Iterator<Item = HalfDay> + '_ {
        self.start
            .date
            .iter_days()
            .take_while(|d| *d <= self.end.date)
            .flat_map(|date| {
                [Half::Am, Half::Pm]
                    .into_iter()
                    .map(move |half| HalfDay { date, half })
            })
            .filter(|hd| *hd >= self.start && *hd <= self.end)
    }
}

/// Some minutes of one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourSlot {
    date: NaiveDate,
    start_minute: u16,
    duration_minutes: u16,
}

impl HourSlot {
    /// Builds a slot: start 0–1439, duration 1–1440, not past midnight.
    ///
    /// # Errors
    /// [`PeriodError`] naming what is out of bounds.
    pub fn new(
        date: NaiveDate,
        start_minute: u32,
        duration_minutes: u32,
    ) -> Result<Self, PeriodError> {
        check_date(date)?;
        let start = u16::try_from(start_minute)
            .ok()
            .filter(|m| *m < 1440)
            .ok_or(PeriodError::StartMinute)?;
        let duration = u16::try_from(duration_minutes)
            .ok()
            .filter(|m| (1..=1440).contains(m) && start + m <= 1440)
            .ok_or(PeriodError::Duration)?;
        Ok(Self {
            date,
            start_minute: start,
            duration_minutes: duration,
        })
    }

    /// The date.
    #[must_use]
    pub fn date(&self) -> NaiveDate {
        self.date
    }

    /// Minutes since midnight at which it starts.
    #[must_use]
    pub fn start_minute(&self) -> u16 {
        self.start_minute
    }

    /// Length in minutes.
    #[must_use]
    pub fn duration_minutes(&self) -> u16 {
        self.duration_minutes
    }

    /// The half it falls in: AM when it starts before noon.
    #[must_use]
    pub fn half(&self) -> Half {
        if self.start_minute < 12 * 60 {
            Half::Am
        } else {
            Half::Pm
        }
    }
}

/// What an absence covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Whole half-days.
    HalfDays(HalfDayRange),
    /// Minutes within one date.
    Hours(HourSlot),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn hd(s: &str, half: Half) -> HalfDay {
        HalfDay { date: d(s), half }
    }

    #[test]
    fn range_lists_half_days_inclusive() {
        let r = HalfDayRange::new(hd("2024-03-04", Half::Pm), hd("2024-03-05", Half::Am)).unwrap();
        let all: Vec<_> = r.half_days().collect();
        assert_eq!(
            all,
            vec![hd("2024-03-04", Half::Pm), hd("2024-03-05", Half::Am)]
        );
    }

    #[test]
    fn end_before_start_is_refused() {
        assert!(matches!(
            HalfDayRange::new(hd("2024-03-04", Half::Pm), hd("2024-03-04", Half::Am)),
            Err(PeriodError::EndBeforeStart { .. })
        ));
        assert!(matches!(
            HalfDayRange::new(hd("2024-03-05", Half::Am), hd("2024-03-04", Half::Pm)),
            Err(PeriodError::EndBeforeStart { .. })
        ));
    }

    #[test]
    fn at_most_366_days() {
        assert!(HalfDayRange::new(hd("2024-01-01", Half::Am), hd("2024-12-31", Half::Pm)).is_ok());
        assert_eq!(
            HalfDayRange::new(hd("2023-01-01", Half::Am), hd("2024-01-02", Half::Am)),
            Err(PeriodError::TooLong)
        );
    }

    #[test]
    fn dates_must_fit_leave_ids() {
        assert_eq!(
            HalfDayRange::new(hd("1969-12-31", Half::Am), hd("1970-01-01", Half::Pm)),
            Err(PeriodError::DateOutOfRange)
        );
        assert_eq!(
            HourSlot::new(d("2150-01-01"), 0, 60),
            Err(PeriodError::DateOutOfRange)
        );
    }

    #[test]
    fn hour_slots_are_bounded() {
        assert!(HourSlot::new(d("2024-03-04"), 0, 1440).is_ok());
        assert_eq!(
            HourSlot::new(d("2024-03-04"), 1440, 1),
            Err(PeriodError::StartMinute)
        );
        assert_eq!(
            HourSlot::new(d("2024-03-04"), 60, 0),
            Err(PeriodError::Duration)
        );
        assert_eq!(
            HourSlot::new(d("2024-03-04"), 1380, 61),
            Err(PeriodError::Duration)
        );
        assert_eq!(
            HourSlot::new(d("2024-03-04"), 719, 30).unwrap().half(),
            Half::Am
        );
        assert_eq!(
            HourSlot::new(d("2024-03-04"), 720, 30).unwrap().half(),
            Half::Pm
        );
    }
}
