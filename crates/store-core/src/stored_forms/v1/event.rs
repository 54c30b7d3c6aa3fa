//! A leave event in version 1: what happened to a leave, and for a deletion when and why.

use super::leave::{LeaveStateV1, LeaveV1};
use absync_application::ports::StoreError;
use absync_domain::{Deletion, DeletionReason, LeaveEvent, LeaveEventRecord, LocalTimestamp};
use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

/// The event: `"Created"`, `"Approved"` or `"Deleted"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeaveEventV1 {
    /// The leave exists and is pending.
    Created,
    /// The leave exists and is approved.
    Approved,
    /// The leave no longer exists.
    Deleted,
}

impl From<LeaveEvent> for LeaveEventV1 {
    fn from(event: LeaveEvent) -> Self {
        match event {
            LeaveEvent::Created => Self::Created,
            LeaveEvent::Approved => Self::Approved,
            LeaveEvent::Deleted => Self::Deleted,
        }
    }
}

impl From<LeaveEventV1> for LeaveEvent {
    fn from(event: LeaveEventV1) -> Self {
        match event {
            LeaveEventV1::Created => Self::Created,
            LeaveEventV1::Approved => Self::Approved,
            LeaveEventV1::Deleted => Self::Deleted,
        }
    }
}

/// Why a leave stopped existing: `"Refused"`, `"Cancelled"`, `"AbsenceDeleted"` or
/// `"NoLongerCovered"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeletionReasonV1 {
    /// The absence was refused.
    Refused,
    /// The absence was cancelled.
    Cancelled,
    /// The absence was deleted at the source.
    AbsenceDeleted,
    /// The absence no longer covers this half-day.
    NoLongerCovered,
}

impl From<DeletionReason> for DeletionReasonV1 {
    fn from(reason: DeletionReason) -> Self {
        match reason {
            DeletionReason::Refused => Self::Refused,
            DeletionReason::Cancelled => Self::Cancelled,
            DeletionReason::AbsenceDeleted => Self::AbsenceDeleted,
            DeletionReason::NoLongerCovered => Self::NoLongerCovered,
        }
    }
}

impl From<DeletionReasonV1> for DeletionReason {
    fn from(reason: DeletionReasonV1) -> Self {
        match reason {
            DeletionReasonV1::Refused => Self::Refused,
            DeletionReasonV1::Cancelled => Self::Cancelled,
            DeletionReasonV1::AbsenceDeleted => Self::AbsenceDeleted,
            DeletionReasonV1::NoLongerCovered => Self::NoLongerCovered,
        }
    }
}

/// When and why a leave was deleted: `{"reason": "Cancelled", "at": "2024-03-02T09:30:00.500"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionV1 {
    /// Why.
    pub reason: DeletionReasonV1,
    /// The cancellation date subscribers see.
    pub at: NaiveDateTime,
}

impl From<Deletion> for DeletionV1 {
    fn from(deletion: Deletion) -> Self {
        Self {
            reason: deletion.reason.into(),
            at: deletion.at.naive(),
        }
    }
}

impl From<DeletionV1> for Deletion {
    fn from(deletion: DeletionV1) -> Self {
        Self {
            reason: deletion.reason.into(),
            at: LocalTimestamp::from_naive(deletion.at),
        }
    }
}

/// One leave event (`leave_events.record`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaveEventRecordV1<'a> {
    /// What happened.
    pub event: LeaveEventV1,
    /// The leave as it now is; for `Deleted`, as it last was.
    pub leave: LeaveV1<'a>,
    /// The leave's state before the change (`null` when it did not exist).
    pub previous_state: Option<LeaveStateV1>,
    /// For `Deleted`: when and why.
    pub deletion: Option<DeletionV1>,
}

impl<'a> From<&'a LeaveEventRecord> for LeaveEventRecordV1<'a> {
    fn from(record: &'a LeaveEventRecord) -> Self {
        Self {
            event: record.event.into(),
            leave: (&record.leave).into(),
            previous_state: record.previous_state.map(Into::into),
            deletion: record.deletion.map(Into::into),
        }
    }
}

impl TryFrom<LeaveEventRecordV1<'_>> for LeaveEventRecord {
    type Error = StoreError;

    fn try_from(record: LeaveEventRecordV1<'_>) -> Result<Self, StoreError> {
        Ok(Self {
            event: record.event.into(),
            leave: record.leave.try_into()?,
            previous_state: record.previous_state.map(Into::into),
            deletion: record.deletion.map(Into::into),
        })
    }
}
