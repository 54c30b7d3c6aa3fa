//! The rows of a stored format as `INSERT`s: the table, the columns and typed values, so that each
//! store only says how it writes a placeholder and binds a value ([`Insert::sql`], [`Cell`]).

use super::Rows;
use chrono::{DateTime, Utc};

/// A value of a row, typed so that each store binds it in its own column type.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// An integer.
    Int(i64),
    /// A JSON document as text (`jsonb` in PostgreSQL), or `NULL`.
    Json(Option<&'static str>),
    /// A date as `YYYY-MM-DD` (`date` in PostgreSQL).
    Date(&'static str),
    /// A UUID as text (`uuid` in PostgreSQL).
    Uuid(String),
    /// A point in time (`timestamptz` in PostgreSQL, microseconds in SQLite).
    Time(DateTime<Utc>),
}

/// One row to insert.
#[derive(Debug, Clone, PartialEq)]
pub struct Insert {
    /// The table.
    pub table: &'static str,
    /// Its columns, in the order of `values`.
    pub columns: &'static [&'static str],
    /// One value per column.
    pub values: Vec<Cell>,
}

impl Insert {
    /// The statement, with each placeholder written by `placeholder(n, cell)` for the `n`th value
    /// (from 1), e.g. `$3::date` in PostgreSQL.
    pub fn sql(&self, placeholder: impl Fn(usize, &Cell) -> String) -> String {
        let values: Vec<String> = self
            .values
            .iter()
            .enumerate()
            .map(|(i, cell)| placeholder(i + 1, cell))
            .collect();
        format!(
            "INSERT INTO {} ({}) VALUES ({})",
            self.table,
            self.columns.join(", "),
            values.join(", ")
        )
    }
}

impl Rows {
    /// Every row as an [`Insert`], in an order that satisfies the foreign keys: absences, leaves,
    /// leave events, deliveries. Every row is stamped at [`Rows::due`].
    #[must_use]
    pub fn inserts(&self) -> Vec<Insert> {
        let tenant = || Cell::Text(self.tenant.as_str().to_owned());
        let at = Cell::Time(self.due);
        let absences = self.absences.iter().map(|row| Insert {
            table: "absences",
            columns: &[
                "tenant_id",
                "absence_id",
                "number",
                "revision",
                "row_version",
                "body",
                "created_at",
                "updated_at",
            ],
            values: vec![
                tenant(),
                Cell::Text(row.absence_id.to_owned()),
                Cell::Int(row.number),
                Cell::Int(row.revision),
                Cell::Int(row.row_version),
                Cell::Json(row.body),
                at.clone(),
                at.clone(),
            ],
        });
        let leaves = self.leaves.iter().map(|row| Insert {
            table: "leaves",
            columns: &[
                "tenant_id",
                "absence_number",
                "leave_date",
                "half",
                "state",
                "leave",
                "change_version",
            ],
            values: vec![
                tenant(),
                Cell::Int(row.absence_number),
                Cell::Date(row.leave_date),
                Cell::Text(row.half.to_owned()),
                Cell::Text(row.state.to_owned()),
                Cell::Json(Some(row.leave)),
                Cell::Int(row.change_version),
            ],
        });
        let events = self.events.iter().map(|row| Insert {
            table: "leave_events",
            columns: &[
                "tenant_id",
                "change_version",
                "absence_number",
                "leave_key",
                "event",
                "record",
                "created_at",
            ],
            values: vec![
                tenant(),
                Cell::Int(row.change_version),
                Cell::Int(row.absence_number),
                Cell::Text(row.leave_key.to_owned()),
                Cell::Text(row.event.to_owned()),
                Cell::Json(Some(row.record)),
                at.clone(),
            ],
        });
        let deliveries = self.deliveries.iter().map(|row| Insert {
            table: "deliveries",
            columns: &[
                "tenant_id",
                "subscription_id",
                "change_version",
                "leave_key",
                "status",
                "next_attempt_at",
                "created_at",
                "updated_at",
            ],
            values: vec![
                tenant(),
                Cell::Uuid(self.subscription.as_str().to_owned()),
                Cell::Int(row.change_version),
                Cell::Text(row.leave_key.to_owned()),
                Cell::Text(row.status.to_owned()),
                at.clone(),
                at.clone(),
                at.clone(),
            ],
        });
        absences
            .chain(leaves)
            .chain(events)
            .chain(deliveries)
            .collect()
    }
}
