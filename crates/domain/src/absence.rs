//! An absence as internal systems send it.

use crate::calendar::WorkingCalendar;
use crate::ids::{AbsenceId, Revision};
use crate::limits::{self, check_length};
use crate::period::Period;
use crate::timestamp::LocalTimestamp;

/// Why a part of an absence was refused. [`AbsenceError::field`] names the field of the part
/// (`name` of an [`Owner`]); the adapter puts it on its path in the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbsenceError {
    /// `owner.id` must be a positive number.
    #[error("owner id must be greater than 0")]
    OwnerId,
    /// A text is longer than its limit (see [`crate::limits`]).
    #[error("must be at most {max} characters")]
    TooLong {
        /// The field, as the part names it (`email`).
        field: &'static str,
        /// The limit, in characters.
        max: usize,
    },
}

impl AbsenceError {
    /// The field of the part that is wrong: `id`, `name`, `email`, `employee_number`,
    /// `badge_number`, `category_name` or `code`.
    #[must_use]
    pub fn field(&self) -> &'static str {
        match self {
            Self::OwnerId => "id",
            Self::TooLong { field, .. } => field,
        }
    }
}

/// Checks each `(field, text, limit)`, collecting an error for every text over its limit.
fn check_texts(errors: &mut Vec<AbsenceError>, texts: &[(&'static str, &str, usize)]) {
    for (field, text, max) in texts {
        if check_length(text, *max).is_err() {
            errors.push(AbsenceError::TooLong { field, max: *max });
        }
    }
}

/// The person an absence is for. Built from outside input with [`Owner::new`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Every problem: [`AbsenceError::OwnerId`] when `id` is not positive, [`AbsenceError::TooLong`]
    /// for each text over its limit ([`limits::OWNER_NAME`], [`limits::EMAIL`],
    /// [`limits::EMPLOYEE_NUMBER`], [`limits::BADGE_NUMBER`]).
    pub fn new(
        id: i64,
        name: String,
        email: String,
        employee_number: String,
        badge_number: Option<String>,
    ) -> Result<Self, Vec<AbsenceError>> {
        let mut errors = Vec::new();
        if id <= 0 {
            errors.push(AbsenceError::OwnerId);
        }
        check_texts(
            &mut errors,
            &[
                ("name", &name, limits::OWNER_NAME),
                ("email", &email, limits::EMAIL),
                ("employee_number", &employee_number, limits::EMPLOYEE_NUMBER),
                (
                    "badge_number",
                    badge_number.as_deref().unwrap_or_default(),
                    limits::BADGE_NUMBER,
                ),
            ],
        );
        if !errors.is_empty() {
            return Err(errors);
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

/// The leave account an absence is taken from. Built from outside input with
/// [`LeaveAccount::new`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
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

impl LeaveAccount {
    /// Builds a leave account.
    ///
    /// # Errors
    /// An [`AbsenceError::TooLong`] for each name over [`limits::ACCOUNT_NAME`].
    pub fn new(
        id: i64,
        name: String,
        category_id: i64,
        category_name: String,
    ) -> Result<Self, Vec<AbsenceError>> {
        let mut errors = Vec::new();
        check_texts(
            &mut errors,
            &[
                ("name", &name, limits::ACCOUNT_NAME),
                ("category_name", &category_name, limits::ACCOUNT_NAME),
            ],
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            id,
            name,
            category_id,
            category_name,
        })
    }
}

/// A reference to an absence or shift definition. Built from outside input with
/// [`Definition::new`], which checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// Internal id.
    pub id: i64,
    /// Code, when known (`@absence-code` / `@shift-code`).
    pub code: Option<String>,
}

impl Definition {
    /// Builds a definition reference.
    ///
    /// # Errors
    /// [`AbsenceError::TooLong`] naming `code` when it is over [`limits::DEFINITION_CODE`].
    pub fn new(id: i64, code: Option<String>) -> Result<Self, AbsenceError> {
        if let Some(code) = &code {
            check_length(code, limits::DEFINITION_CODE).map_err(|e| AbsenceError::TooLong {
                field: "code",
                max: e.max,
            })?;
        }
        Ok(Self { id, code })
    }
}

/// Where the absence stands in its approval workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, PartialEq, Eq)]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(
        name: &str,
        email: &str,
        number: &str,
        badge: Option<&str>,
    ) -> Result<Owner, Vec<AbsenceError>> {
        Owner::new(
            1,
            name.into(),
            email.into(),
            number.into(),
            badge.map(Into::into),
        )
    }

    #[test]
    fn owners_name_every_field_over_its_limit() {
        assert!(
            owner(
                &"é".repeat(200),
                &"e".repeat(254),
                &"1".repeat(64),
                Some(&"b".repeat(64))
            )
            .is_ok()
        );
        let errors = owner(
            &"x".repeat(201),
            &"e".repeat(255),
            &"1".repeat(65),
            Some(&"b".repeat(65)),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(AbsenceError::field).collect();
        assert_eq!(fields, ["name", "email", "employee_number", "badge_number"]);
        assert_eq!(errors[1].to_string(), "must be at most 254 characters");
        let errors =
            Owner::new(0, "x".repeat(201), String::new(), String::new(), None).unwrap_err();
        assert_eq!(
            errors.iter().map(AbsenceError::field).collect::<Vec<_>>(),
            ["id", "name"]
        );
    }

    #[test]
    fn accounts_and_definitions_are_checked() {
        assert!(LeaveAccount::new(1, "a".repeat(200), 2, "c".repeat(200)).is_ok());
        let errors = LeaveAccount::new(1, "a".repeat(201), 2, "c".repeat(201)).unwrap_err();
        assert_eq!(
            errors.iter().map(AbsenceError::field).collect::<Vec<_>>(),
            ["name", "category_name"]
        );
        assert!(Definition::new(1, Some("c".repeat(64))).is_ok());
        assert!(Definition::new(1, None).is_ok());
        assert_eq!(
            Definition::new(1, Some("c".repeat(65))),
            Err(AbsenceError::TooLong {
                field: "code",
                max: limits::DEFINITION_CODE
            })
        );
    }
}
