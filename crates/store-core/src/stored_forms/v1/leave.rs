//! A leave in version 1: its key, its state and what its payloads carry.

use super::absence::{DefinitionV1, LeaveAccountV1, OwnerV1, definition, definition_v1};
use super::period::HalfV1;
use absync_application::ports::StoreError;
use absync_application::ports::stored::decode_error;
use absync_domain::period::check_date;
use absync_domain::{AbsenceNumber, HourSlot, Leave, LeaveKey, LeaveState, LocalTimestamp};
use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// The identity of a leave: `{"absence": 78287, "date": "2018-04-24", "half": "Pm"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveKeyV1 {
    /// The number of the absence it belongs to.
    pub absence: i64,
    /// Its date.
    pub date: NaiveDate,
    /// Its half.
    pub half: HalfV1,
}

impl From<LeaveKey> for LeaveKeyV1 {
    fn from(key: LeaveKey) -> Self {
        Self {
            absence: key.absence().get(),
            date: key.date(),
            half: key.half().into(),
        }
    }
}

impl TryFrom<LeaveKeyV1> for LeaveKey {
    type Error = StoreError;

    fn try_from(key: LeaveKeyV1) -> Result<Self, StoreError> {
        let absence =
            AbsenceNumber::new(key.absence).map_err(|e| decode_error("leave key's absence", e))?;
        let date = check_date(key.date).map_err(|e| decode_error("leave key's date", e))?;
        Ok(Self::new(absence, date, key.half.into()))
    }
}

/// Where a leave stands: `"Pending"` or `"Approved"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaveStateV1 {
    /// Awaiting validation.
    Pending,
    /// Validated.
    Approved,
}

impl From<LeaveState> for LeaveStateV1 {
    fn from(state: LeaveState) -> Self {
        match state {
            LeaveState::Pending => Self::Pending,
            LeaveState::Approved => Self::Approved,
        }
    }
}

impl From<LeaveStateV1> for LeaveState {
    fn from(state: LeaveStateV1) -> Self {
        match state {
            LeaveStateV1::Pending => Self::Pending,
            LeaveStateV1::Approved => Self::Approved,
        }
    }
}

/// One leave and everything its payloads carry (`leaves.leave`, and the leave of a leave event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveV1<'a> {
    /// Its identity.
    pub key: LeaveKeyV1,
    /// Pending or approved.
    pub state: LeaveStateV1,
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
    /// For an hours absence: `[start minute, duration]`; `null` for a half-day leave.
    pub hours: Option<(u16, u16)>,
    /// When the absence was requested.
    pub created_at: Option<NaiveDateTime>,
    /// When the absence was approved.
    pub approved_at: Option<NaiveDateTime>,
}

impl<'a> From<&'a Leave> for LeaveV1<'a> {
    fn from(leave: &'a Leave) -> Self {
        Self {
            key: leave.key.into(),
            state: leave.state.into(),
            owner: (&leave.owner).into(),
            leave_account: (&leave.leave_account).into(),
            requested_definition: definition_v1(leave.requested_definition.as_ref()),
            resulting_definition: definition_v1(leave.resulting_definition.as_ref()),
            shift_definition: definition_v1(leave.shift_definition.as_ref()),
            hours: leave.hours,
            created_at: leave.created_at.map(LocalTimestamp::naive),
            approved_at: leave.approved_at.map(LocalTimestamp::naive),
        }
    }
}

impl TryFrom<LeaveV1<'_>> for Leave {
    type Error = StoreError;

    fn try_from(leave: LeaveV1<'_>) -> Result<Self, StoreError> {
        let key = LeaveKey::try_from(leave.key)?;
        if let Some((start, duration)) = leave.hours {
            HourSlot::new(key.date(), start.into(), duration.into())
                .map_err(|e| decode_error("leave hours", e))?;
        }
        Ok(Self {
            key,
            state: leave.state.into(),
            owner: leave.owner.try_into()?,
            leave_account: leave.leave_account.try_into()?,
            requested_definition: definition(leave.requested_definition)?,
            resulting_definition: definition(leave.resulting_definition)?,
            shift_definition: definition(leave.shift_definition)?,
            hours: leave.hours,
            created_at: leave.created_at.map(LocalTimestamp::from_naive),
            approved_at: leave.approved_at.map(LocalTimestamp::from_naive),
        })
    }
}
