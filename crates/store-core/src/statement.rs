//! A statement and its arguments, in the ports' terms: each store binds them in its own column types.

use chrono::{DateTime, NaiveDate, Utc};

/// A value bound to a statement. The store decides how it is kept: a [`Arg::Time`] is a
/// `timestamptz` in PostgreSQL and microseconds in an SQLite `INTEGER`; [`Arg::Names`] a `text[]` or a
/// JSON array.
#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    /// Text, or `NULL`.
    Text(Option<String>),
    /// An integer, or `NULL`.
    Int(Option<i64>),
    /// A boolean.
    Bool(bool),
    /// A point in time, or `NULL`.
    Time(Option<DateTime<Utc>>),
    /// A calendar date, or `NULL`.
    Date(Option<NaiveDate>),
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// A list of names (a token's scopes).
    Names(Vec<String>),
}

/// SQL text with `$1`, `$2`… placeholders, and the arguments they stand for, in order.
///
/// Both stores accept `$n` placeholders; what differs between them (UUID casts, the clock) comes from
/// the store's [`crate::Dialect`] when the text is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    sql: String,
    args: Vec<Arg>,
}

impl Statement {
    /// A statement of `sql`, with no argument yet.
    #[must_use]
    pub fn new(sql: impl Into<String>) -> Self {
        Self {
            sql: sql.into(),
            args: Vec::new(),
        }
    }

    /// Binds the next placeholder.
    #[must_use]
    pub fn arg(mut self, value: impl Into<Arg>) -> Self {
        self.args.push(value.into());
        self
    }

    /// The SQL text.
    #[must_use]
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The arguments, in placeholder order.
    #[must_use]
    pub fn args(&self) -> &[Arg] {
        &self.args
    }
}

impl From<&str> for Arg {
    fn from(value: &str) -> Self {
        Self::Text(Some(value.to_owned()))
    }
}

impl From<String> for Arg {
    fn from(value: String) -> Self {
        Self::Text(Some(value))
    }
}

impl From<Option<&str>> for Arg {
    fn from(value: Option<&str>) -> Self {
        Self::Text(value.map(str::to_owned))
    }
}

impl From<Option<String>> for Arg {
    fn from(value: Option<String>) -> Self {
        Self::Text(value)
    }
}

impl From<i64> for Arg {
    fn from(value: i64) -> Self {
        Self::Int(Some(value))
    }
}

impl From<Option<i64>> for Arg {
    fn from(value: Option<i64>) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Arg {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<DateTime<Utc>> for Arg {
    fn from(value: DateTime<Utc>) -> Self {
        Self::Time(Some(value))
    }
}

impl From<Option<DateTime<Utc>>> for Arg {
    fn from(value: Option<DateTime<Utc>>) -> Self {
        Self::Time(value)
    }
}

impl From<Option<NaiveDate>> for Arg {
    fn from(value: Option<NaiveDate>) -> Self {
        Self::Date(value)
    }
}

#[cfg(test)]
mod tests {
    use super::{Arg, Statement};

    #[test]
    fn arguments_keep_their_placeholder_order() {
        let statement = Statement::new("SELECT $1, $2, $3")
            .arg("a")
            .arg(Some(2_i64))
            .arg(None::<String>);
        assert_eq!(statement.sql(), "SELECT $1, $2, $3");
        assert_eq!(
            statement.args(),
            [
                Arg::Text(Some("a".into())),
                Arg::Int(Some(2)),
                Arg::Text(None)
            ]
        );
    }
}
