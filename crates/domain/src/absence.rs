//! An absence as internal systems send it.

use crate::calendar::WorkingCalendar;
use crate::ids::{AbsenceId, Revision};
use crate::period::Period;
use crate::timestamp::LocalTimestamp;
use serde::{Deserialize, Serialize};

/// Why an absence was refused; the adapter maps each variant to the field it names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbsenceError {
    /// `owner.id` must be a positive number.
    #[error("owner id must be greater than 0")]
    OwnerId,
}

/// The person an absence is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    id: i64,
    /// Display name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Employee number in the HR system.
    pub employee_number: String,
    /// Badge number, when the person has one.
    pub badge_number: Option<String>,
}

impl Owner {
    /// Builds an owner.
    ///
    /// # Errors
    /// [`AbsenceError::OwnerId`] when `id` is not positive.
    pub fn new(
        id: i64,
        name: String,
        email: String,
        employee_number: String,
        badge_number: Option<String>,
    ) -> Result<Self, AbsenceError> {
        if id <= 0 {
            return Err(AbsenceError::OwnerId);
        }
        Ok(Self {
            id,
            name,
            email,
            employee_number,
            badge_number,
        })
    }

    /// The person's numeric id.
    #[must_use]
    pub fn id(&self) -> i64 {
        self.id
    }
}

/// The leave account an absence is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveAccount {
    /// Account id.
    pub id: i64,
    /// Account name.
    pub name: String,
    /// Category id.
    pub category_id: i64,
    /// Category name.
    pub category_name: String,
}

/// A reference to an absence or shift definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Definition {
    /// Internal id.
    pub id: i64,
    /// Code, when known (`@absence-code` / `@shift-code`).
    pub code: Option<String>,
}

/// Where the absence stands in its approval workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AbsenceStatus {
    /// Requested, awaiting validation.
    Pending,
    /// Validated.
    Approved,
    /// Refused by a manager: its leaves no longer exist.
    Refused,
    /// Cancelled: its leaves no longer exist.
    Cancelled,
}

/// An absence, validated. Everything but the id and revision is its *content*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Absence {
    id: AbsenceId,
    revision: Revision,
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
    /// What it covers.
    pub period: Period,
    /// Approval status.
    pub status: AbsenceStatus,
    /// When it was requested.
    pub created_at: Option<LocalTimestamp>,
    /// When it was approved.
    pub approved_at: Option<LocalTimestamp>,
    /// When it was cancelled or refused.
    pub cancelled_at: Option<LocalTimestamp>,
    /// Which days are worked.
    pub calendar: WorkingCalendar,
}

/// Everything an [`Absence`] is built from.
#[derive(Debug, Clone)]
pub struct AbsenceParts {
    /// See [`Absence`].
    pub id: AbsenceId,
    /// See [`Absence`].
    pub revision: Revision,
    /// See [`Absence`].
    pub owner: Owner,
    /// See [`Absence`].
    pub leave_account: LeaveAccount,
    /// See [`Absence`].
    pub requested_definition: Option<Definition>,
    /// See [`Absence`].
    pub resulting_definition: Option<Definition>,
    /// See [`Absence`].
    pub shift_definition: Option<Definition>,
    /// See [`Absence`].
    pub period: Period,
    /// See [`Absence`].
    pub status: AbsenceStatus,
    /// See [`Absence`].
    pub created_at: Option<LocalTimestamp>,
    /// See [`Absence`].
    pub approved_at: Option<LocalTimestamp>,
    /// See [`Absence`].
    pub cancelled_at: Option<LocalTimestamp>,
    /// See [`Absence`].
    pub calendar: WorkingCalendar,
}

impl Absence {
    /// Assembles an absence from parts that are each already valid.
    #[must_use]
    pub fn from_parts(parts: AbsenceParts) -> Self {
        Self {
            id: parts.id,
            revision: parts.revision,
            owner: parts.owner,
            leave_account: parts.leave_account,
            requested_definition: parts.requested_definition,
            resulting_definition: parts.resulting_definition,
            shift_definition: parts.shift_definition,
            period: parts.period,
            status: parts.status,
            created_at: parts.created_at,
            approved_at: parts.approved_at,
            cancelled_at: parts.cancelled_at,
            calendar: parts.calendar,
        }
    }

    /// The source's id.
    #[must_use]
    pub fn id(&self) -> &AbsenceId {
        &self.id
    }

    /// The source's revision.
    #[must_use]
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// True when both absences say the same thing, whatever their revisions.
    #[must_use]
    pub fn same_content(&self, other: &Self) -> bool {
        self.id == other.id
            && self.owner == other.owner
            && self.leave_account == other.leave_account
            && self.requested_definition == other.requested_definition
            && self.resulting_definition == other.resulting_definition
            && self.shift_definition == other.shift_definition
            && self.period == other.period
            && self.status == other.status
            && self.created_at == other.created_at
            && self.approved_at == other.approved_at
            && self.cancelled_at == other.cancelled_at
            && self.calendar == other.calendar
    }
}
