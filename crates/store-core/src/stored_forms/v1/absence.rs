//! An absence in version 1, with its owner, leave account, definitions, status and calendar.

use super::period::PeriodV1;
use absync_application::ports::StoreError;
use absync_application::ports::stored::decode_error;
use absync_domain::{
    Absence, AbsenceError, AbsenceId, AbsenceParts, AbsenceStatus, Definition, LeaveAccount,
    LocalTimestamp, Owner, Revision, WorkingCalendar,
};
use chrono::{NaiveDate, NaiveDateTime, Weekday};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The problems a domain constructor listed, as one text (`name: must be at most 200 characters`).
pub(super) fn problems(errors: &[AbsenceError]) -> String {
    errors
        .iter()
        .map(|e| format!("{}: {e}", e.field()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The person an absence is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwnerV1<'a> {
    /// The person's numeric id.
    pub id: i64,
    /// Display name.
    pub name: Cow<'a, str>,
    /// E-mail address.
    pub email: Cow<'a, str>,
    /// Employee number in the HR system.
    pub employee_number: Cow<'a, str>,
    /// Badge number, when the person has one.
    pub badge_number: Option<Cow<'a, str>>,
}

impl<'a> From<&'a Owner> for OwnerV1<'a> {
    fn from(owner: &'a Owner) -> Self {
        Self {
            id: owner.id(),
            name: Cow::Borrowed(&owner.name),
            email: Cow::Borrowed(&owner.email),
            employee_number: Cow::Borrowed(&owner.employee_number),
            badge_number: owner.badge_number.as_deref().map(Cow::Borrowed),
        }
    }
}

impl TryFrom<OwnerV1<'_>> for Owner {
    type Error = StoreError;

    fn try_from(owner: OwnerV1<'_>) -> Result<Self, StoreError> {
        Self::new(
            owner.id,
            owner.name.into_owned(),
            owner.email.into_owned(),
            owner.employee_number.into_owned(),
            owner.badge_number.map(Cow::into_owned),
        )
        .map_err(|errors| decode_error("owner", problems(&errors)))
    }
}

/// The leave account an absence is taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveAccountV1<'a> {
    /// Account id.
    pub id: i64,
    /// Account name.
    pub name: Cow<'a, str>,
    /// Category id.
    pub category_id: i64,
    /// Category name.
    pub category_name: Cow<'a, str>,
}

impl<'a> From<&'a LeaveAccount> for LeaveAccountV1<'a> {
    fn from(account: &'a LeaveAccount) -> Self {
        Self {
            id: account.id,
            name: Cow::Borrowed(&account.name),
            category_id: account.category_id,
            category_name: Cow::Borrowed(&account.category_name),
        }
    }
}

impl TryFrom<LeaveAccountV1<'_>> for LeaveAccount {
    type Error = StoreError;

    fn try_from(account: LeaveAccountV1<'_>) -> Result<Self, StoreError> {
        Self::new(
            account.id,
            account.name.into_owned(),
            account.category_id,
            account.category_name.into_owned(),
        )
        .map_err(|errors| decode_error("leave account", problems(&errors)))
    }
}

/// A reference to an absence or shift definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefinitionV1<'a> {
    /// Internal id.
    pub id: i64,
    /// Code, when known.
    pub code: Option<Cow<'a, str>>,
}

impl<'a> From<&'a Definition> for DefinitionV1<'a> {
    fn from(definition: &'a Definition) -> Self {
        Self {
            id: definition.id,
            code: definition.code.as_deref().map(Cow::Borrowed),
        }
    }
}

impl TryFrom<DefinitionV1<'_>> for Definition {
    type Error = StoreError;

    fn try_from(definition: DefinitionV1<'_>) -> Result<Self, StoreError> {
        Self::new(definition.id, definition.code.map(Cow::into_owned))
            .map_err(|e| decode_error("definition", problems(&[e])))
    }
}

/// An optional definition, written.
pub(super) fn definition_v1(definition: Option<&Definition>) -> Option<DefinitionV1<'_>> {
    definition.map(DefinitionV1::from)
}

/// An optional definition, read.
pub(super) fn definition(
    definition: Option<DefinitionV1<'_>>,
) -> Result<Option<Definition>, StoreError> {
    definition.map(Definition::try_from).transpose()
}

/// Where the absence stands in its approval workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AbsenceStatusV1 {
    /// Requested, awaiting validation.
    Pending,
    /// Validated.
    Approved,
    /// Refused by a manager.
    Refused,
    /// Cancelled.
    Cancelled,
}

impl From<AbsenceStatus> for AbsenceStatusV1 {
    fn from(status: AbsenceStatus) -> Self {
        match status {
            AbsenceStatus::Pending => Self::Pending,
            AbsenceStatus::Approved => Self::Approved,
            AbsenceStatus::Refused => Self::Refused,
            AbsenceStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl From<AbsenceStatusV1> for AbsenceStatus {
    fn from(status: AbsenceStatusV1) -> Self {
        match status {
            AbsenceStatusV1::Pending => Self::Pending,
            AbsenceStatusV1::Approved => Self::Approved,
            AbsenceStatusV1::Refused => Self::Refused,
            AbsenceStatusV1::Cancelled => Self::Cancelled,
        }
    }
}

/// A day of the week: `"Mon"` to `"Sun"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeekdayV1 {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl From<Weekday> for WeekdayV1 {
    fn from(day: Weekday) -> Self {
        match day {
            Weekday::Mon => Self::Mon,
            Weekday::Tue => Self::Tue,
            Weekday::Wed => Self::Wed,
            Weekday::Thu => Self::Thu,
            Weekday::Fri => Self::Fri,
            Weekday::Sat => Self::Sat,
            Weekday::Sun => Self::Sun,
        }
    }
}

impl From<WeekdayV1> for Weekday {
    fn from(day: WeekdayV1) -> Self {
        match day {
            WeekdayV1::Mon => Self::Mon,
            WeekdayV1::Tue => Self::Tue,
            WeekdayV1::Wed => Self::Wed,
            WeekdayV1::Thu => Self::Thu,
            WeekdayV1::Fri => Self::Fri,
            WeekdayV1::Sat => Self::Sat,
            WeekdayV1::Sun => Self::Sun,
        }
    }
}

/// The working days of the person an absence is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarV1<'a> {
    /// Worked weekdays, Monday first.
    pub working_weekdays: Vec<WeekdayV1>,
    /// Holidays and other dates not worked, in date order.
    pub non_working_dates: Cow<'a, BTreeSet<NaiveDate>>,
}

impl<'a> From<&'a WorkingCalendar> for CalendarV1<'a> {
    fn from(calendar: &'a WorkingCalendar) -> Self {
        Self {
            working_weekdays: calendar
                .working_weekdays()
                .iter()
                .map(|&day| day.into())
                .collect(),
            non_working_dates: Cow::Borrowed(calendar.non_working_dates()),
        }
    }
}

impl From<CalendarV1<'_>> for WorkingCalendar {
    fn from(calendar: CalendarV1<'_>) -> Self {
        Self::new(
            calendar
                .working_weekdays
                .into_iter()
                .map(Weekday::from)
                .collect(),
            calendar.non_working_dates.into_owned(),
        )
    }
}

/// An absence as last put (`absences.body`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbsenceV1<'a> {
    /// The source's id.
    pub id: Cow<'a, str>,
    /// The source's revision.
    pub revision: u64,
    /// Who is absent.
    pub owner: OwnerV1<'a>,
    /// The account it is counted on.
    pub leave_account: LeaveAccountV1<'a>,
    /// The absence definition originally requested.
    pub requested_definition: Option<DefinitionV1<'a>>,
    /// The absence definition that resulted.
    pub resulting_definition: Option<DefinitionV1<'a>>,
    /// The shift definition concerned.
    pub shift_definition: Option<DefinitionV1<'a>>,
    /// What it covers.
    pub period: PeriodV1,
    /// Approval status.
    pub status: AbsenceStatusV1,
    /// When it was requested.
    pub created_at: Option<NaiveDateTime>,
    /// When it was approved.
    pub approved_at: Option<NaiveDateTime>,
    /// When it was cancelled or refused.
    pub cancelled_at: Option<NaiveDateTime>,
    /// Which days are worked.
    pub calendar: CalendarV1<'a>,
}

impl<'a> From<&'a Absence> for AbsenceV1<'a> {
    fn from(absence: &'a Absence) -> Self {
        Self {
            id: Cow::Borrowed(absence.id().as_str()),
            revision: absence.revision().get(),
            owner: (&absence.owner).into(),
            leave_account: (&absence.leave_account).into(),
            requested_definition: definition_v1(absence.requested_definition.as_ref()),
            resulting_definition: definition_v1(absence.resulting_definition.as_ref()),
            shift_definition: definition_v1(absence.shift_definition.as_ref()),
            period: absence.period.into(),
            status: absence.status.into(),
            created_at: absence.created_at.map(LocalTimestamp::naive),
            approved_at: absence.approved_at.map(LocalTimestamp::naive),
            cancelled_at: absence.cancelled_at.map(LocalTimestamp::naive),
            calendar: (&absence.calendar).into(),
        }
    }
}

impl TryFrom<AbsenceV1<'_>> for Absence {
    type Error = StoreError;

    fn try_from(absence: AbsenceV1<'_>) -> Result<Self, StoreError> {
        Ok(Self::from_parts(AbsenceParts {
            id: AbsenceId::parse(&absence.id).map_err(|e| decode_error("absence id", e))?,
            revision: Revision::new(absence.revision)
                .map_err(|e| decode_error("absence revision", e))?,
            owner: absence.owner.try_into()?,
            leave_account: absence.leave_account.try_into()?,
            requested_definition: definition(absence.requested_definition)?,
            resulting_definition: definition(absence.resulting_definition)?,
            shift_definition: definition(absence.shift_definition)?,
            period: absence.period.try_into()?,
            status: absence.status.into(),
            created_at: absence.created_at.map(LocalTimestamp::from_naive),
            approved_at: absence.approved_at.map(LocalTimestamp::from_naive),
            cancelled_at: absence.cancelled_at.map(LocalTimestamp::from_naive),
            calendar: absence.calendar.into(),
        }))
    }
}
