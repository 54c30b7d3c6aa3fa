//! What an absence covers, in version 1: half-days (`Am` / `Pm`) and hour slots.

use absync_application::ports::StoreError;
use absync_application::ports::stored::decode_error;
use absync_domain::{Half, HalfDay, HalfDayRange, HourSlot, Period};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// Morning or afternoon: `"Am"` or `"Pm"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HalfV1 {
    /// Morning.
    Am,
    /// Afternoon.
    Pm,
}

impl From<Half> for HalfV1 {
    fn from(half: Half) -> Self {
        match half {
            Half::Am => Self::Am,
            Half::Pm => Self::Pm,
        }
    }
}

impl From<HalfV1> for Half {
    fn from(half: HalfV1) -> Self {
        match half {
            HalfV1::Am => Self::Am,
            HalfV1::Pm => Self::Pm,
        }
    }
}

/// One half of one date: `{"date": "2024-03-04", "half": "Pm"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfDayV1 {
    /// The date.
    pub date: NaiveDate,
    /// Which half.
    pub half: HalfV1,
}

impl From<HalfDay> for HalfDayV1 {
    fn from(half_day: HalfDay) -> Self {
        Self {
            date: half_day.date,
            half: half_day.half.into(),
        }
    }
}

impl From<HalfDayV1> for HalfDay {
    fn from(half_day: HalfDayV1) -> Self {
        Self {
            date: half_day.date,
            half: half_day.half.into(),
        }
    }
}

/// An inclusive range of half-days: `{"start": …, "end": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HalfDayRangeV1 {
    /// First half-day.
    pub start: HalfDayV1,
    /// Last half-day (inclusive).
    pub end: HalfDayV1,
}

/// Some minutes of one date: `{"date": …, "start_minute": 840, "duration_minutes": 225}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourSlotV1 {
    /// The date.
    pub date: NaiveDate,
    /// Minutes since midnight at which it starts.
    pub start_minute: u16,
    /// Length in minutes.
    pub duration_minutes: u16,
}

/// What an absence covers: `{"HalfDays": {…}}` or `{"Hours": {…}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PeriodV1 {
    /// Whole half-days.
    HalfDays(HalfDayRangeV1),
    /// Minutes within one date.
    Hours(HourSlotV1),
}

impl From<Period> for PeriodV1 {
    fn from(period: Period) -> Self {
        match period {
            Period::HalfDays(range) => Self::HalfDays(HalfDayRangeV1 {
                start: range.start().into(),
                end: range.end().into(),
            }),
            Period::Hours(slot) => Self::Hours(HourSlotV1 {
                date: slot.date(),
                start_minute: slot.start_minute(),
                duration_minutes: slot.duration_minutes(),
            }),
        }
    }
}

impl TryFrom<PeriodV1> for Period {
    type Error = StoreError;

    fn try_from(period: PeriodV1) -> Result<Self, StoreError> {
        match period {
            PeriodV1::HalfDays(range) => {
                HalfDayRange::new(range.start.into(), range.end.into()).map(Self::HalfDays)
            }
            PeriodV1::Hours(slot) => HourSlot::new(
                slot.date,
                slot.start_minute.into(),
                slot.duration_minutes.into(),
            )
            .map(Self::Hours),
        }
        .map_err(|e| decode_error("absence period", e))
    }
}
