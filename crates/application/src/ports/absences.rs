//! The absence store: current absences and their leaves, and the outbox write.

use super::StoreError;
use super::trace::TraceParent;
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, ChangeVersion, Leave, LeaveEvent, LeaveEventRecord,
    LeaveKey, Revision, SubscriptionId, TenantId,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// Which current leaves to list: a tenant's, in (date, absence number, half) order, dated `from` or
/// later, starting after the leave `after`, at most `limit` (keyset paging: the last leave of a page
/// is the next page's `after`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaveQuery {
    /// Whose leaves.
    pub tenant: TenantId,
    /// The earliest date listed.
    pub from: Option<NaiveDate>,
    /// The leave the page starts after.
    pub after: Option<LeaveKey>,
    /// The most leaves listed.
    pub limit: u32,
}

impl LeaveQuery {
    /// The first `limit` leaves of `tenant`.
    #[must_use]
    pub fn new(tenant: TenantId, limit: u32) -> Self {
        Self {
            tenant,
            from: None,
            after: None,
            limit,
        }
    }

    /// The same, dated `from` or later.
    #[must_use]
    pub fn dated_from(self, from: Option<NaiveDate>) -> Self {
        Self { from, ..self }
    }

    /// The same, starting after `after`.
    #[must_use]
    pub fn after(self, after: Option<LeaveKey>) -> Self {
        Self { after, ..self }
    }
}

/// An absence as stored, with its current leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAbsence {
    /// absync's number for it.
    pub number: AbsenceNumber,
    /// Optimistic-concurrency token: changes on every write.
    pub row_version: i64,
    /// The last revision applied.
    pub revision: Revision,
    /// The current content; `None` once deleted at the source.
    pub absence: Option<Absence>,
    /// The current leaves.
    pub leaves: Vec<Leave>,
}

/// One leave event and the subscriptions that are to receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// The event.
    pub record: LeaveEventRecord,
    /// One delivery is written per subscription listed here.
    pub subscriptions: Vec<SubscriptionId>,
}

/// Everything one change writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct AbsenceWrite {
    /// Whose absence.
    pub tenant: TenantId,
    /// The source's id.
    pub absence_id: AbsenceId,
    /// absync's number for it.
    pub number: AbsenceNumber,
    /// `None`: the absence must not exist yet; `Some(v)`: its stored `row_version` must still be `v`.
    pub expected_row_version: Option<i64>,
    /// The revision now applied.
    pub revision: Revision,
    /// The new content; `None` when deleted.
    pub absence: Option<Absence>,
    /// The events, in order; each gets the next change version of the tenant. They are exactly the
    /// difference between the leaves before and after the change.
    pub events: Vec<OutboxEvent>,
    /// When the change is made: new deliveries are due from then.
    pub at: DateTime<Utc>,
    /// The trace of the change (its use case's span), stored with its events so that their
    /// delivery attempts can link to it; `None` when traces are not exported.
    pub traceparent: Option<TraceParent>,
}

impl AbsenceWrite {
    /// How many deliveries it queues: one per event and listed subscription.
    #[must_use]
    pub fn deliveries(&self) -> usize {
        self.events.iter().map(|e| e.subscriptions.len()).sum()
    }
}

/// An event as written, with its change version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppliedEvent {
    /// The leave.
    pub leave_key: LeaveKey,
    /// What happened to it.
    pub event: LeaveEvent,
    /// Its per-tenant change version.
    pub change_version: ChangeVersion,
}

/// A current leave and the change version of its latest event.
#[derive(Debug, Clone, PartialEq)]
pub struct CurrentLeave {
    /// The leave.
    pub leave: Leave,
    /// The change version of its latest event.
    pub change_version: ChangeVersion,
}

/// Current absences and their leaves; the write that also fills the outbox.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AbsenceStore: Send + Sync {
    /// Loads an absence of a tenant.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn load(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<Option<StoredAbsence>, StoreError>;

    /// Hands out a fresh absence number.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn allocate_number(&self) -> Result<AbsenceNumber, StoreError>;

    /// Writes the absence, its leaves, its events (with new change versions) and one delivery per event
    /// and listed subscription, all in one transaction. Returns the events with their versions, in order.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when `expected_row_version` no longer holds (nothing is written);
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`] otherwise (nothing is written).
    async fn write(&self, change: AbsenceWrite) -> Result<Vec<AppliedEvent>, StoreError>;

    /// Writes several changes, in order, together (one transaction where the store can): each gets its
    /// own result, as [`AbsenceStore::write`] would give it. A change that fails fails alone, with
    /// nothing of it written. Changes to the same absence apply in the order given: a later one's
    /// `expected_row_version` may count on the earlier one (it conflicts if that one failed).
    async fn write_many(
        &self,
        changes: Vec<AbsenceWrite>,
    ) -> Vec<Result<Vec<AppliedEvent>, StoreError>>;

    /// The current leaves that `query` asks for.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn list_leaves(&self, query: LeaveQuery) -> Result<Vec<CurrentLeave>, StoreError>;
}
