//! A stored time, whichever way its store keeps it.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Type};

/// A time read from a store: a `timestamptz` in PostgreSQL, microseconds since the Unix epoch in an
/// SQLite `INTEGER`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub DateTime<Utc>);

impl Stamp {
    /// The time of `micros` microseconds since the Unix epoch (the epoch itself when out of range).
    #[must_use]
    pub fn from_micros(micros: i64) -> Self {
        Self(DateTime::from_timestamp_micros(micros).unwrap_or_default())
    }
}

impl From<Stamp> for DateTime<Utc> {
    fn from(stamp: Stamp) -> Self {
        stamp.0
    }
}

impl Type<Postgres> for Stamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Stamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <DateTime<Utc> as Decode<'r, Postgres>>::decode(value).map(Self)
    }
}

impl Type<Sqlite> for Stamp {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for Stamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <i64 as Decode<'r, Sqlite>>::decode(value).map(Self::from_micros)
    }
}

#[cfg(test)]
mod tests {
    use super::Stamp;
    use chrono::{DateTime, Utc};

    #[test]
    fn microseconds_are_read_as_the_time_they_count() {
        let at: DateTime<Utc> = "2024-03-04T10:30:15.250001Z".parse().unwrap_or_default();
        assert_eq!(Stamp::from_micros(at.timestamp_micros()).0, at);
        assert_eq!(Stamp::from_micros(i64::MAX).0, DateTime::<Utc>::default());
    }
}
