//! Local-less timestamps, as the vendor formats carry them (`2018-04-04T22:34:47.797`).

use chrono::{NaiveDateTime, Timelike};
use std::fmt;

/// A date and time without offset, kept to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTimestamp(NaiveDateTime);

/// The text was not an ISO 8601 local date-time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a local date-time like 2018-04-04T22:34:47.797 (no offset)")]
pub struct TimestampError;

impl LocalTimestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS` with optional fractional seconds (truncated to milliseconds).
    ///
    /// # Errors
    /// [`TimestampError`] for anything else, including an offset or a `Z`.
    pub fn parse(text: &str) -> Result<Self, TimestampError> {
        let parsed = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
            .map_err(|_| TimestampError)?;
        // chrono also reads `2024-3-4T9:00:00`: the digits must be padded as the format shows them.
        if text.get(..19) != Some(parsed.format("%Y-%m-%dT%H:%M:%S").to_string().as_str()) {
            return Err(TimestampError);
        }
        Ok(Self::from_naive(parsed))
    }

    /// Wraps a date-time, truncating it to milliseconds.
    #[must_use]
    pub fn from_naive(value: NaiveDateTime) -> Self {
        let millis = value.nanosecond() / 1_000_000 * 1_000_000;
        Self(value.with_nanosecond(millis).unwrap_or(value))
    }

    /// The date-time.
    #[must_use]
    pub fn naive(self) -> NaiveDateTime {
        self.0
    }
}

impl fmt::Display for LocalTimestamp {
    /// Renders as the vendor does: `2018-04-04T22:34:47.797`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%dT%H:%M:%S%.3f"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_milliseconds() {
        let ts = LocalTimestamp::parse("2018-04-04T22:34:47.797").unwrap();
        assert_eq!(ts.to_string(), "2018-04-04T22:34:47.797");
        assert_eq!(
            LocalTimestamp::parse("2018-04-01T09:00:00")
                .unwrap()
                .to_string(),
            "2018-04-01T09:00:00.000"
        );
        assert_eq!(
            LocalTimestamp::parse("2018-04-01T09:00:00.123456")
                .unwrap()
                .to_string(),
            "2018-04-01T09:00:00.123"
        );
    }

    #[test]
    fn refuses_offsets_and_garbage() {
        assert!(LocalTimestamp::parse("2018-04-01T09:00:00Z").is_err());
        assert!(LocalTimestamp::parse("2018-04-01").is_err());
        assert!(LocalTimestamp::parse("yesterday").is_err());
        assert!(LocalTimestamp::parse("2018-4-1T9:00:00").is_err());
        assert!(LocalTimestamp::parse("2018-04-01T09:00:00.").is_err());
    }
}
