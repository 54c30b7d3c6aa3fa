//! Ingest: PutAbsence, DeleteAbsence and GetAbsence.
//!
//! A change is read, compared with what is stored (revision rules), split into leaves, turned into leave
//! events, and written with one delivery per event and interested subscription — in one store write.

use crate::error::ApplicationError;
use crate::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, Clock, Metrics, OutboxEvent, StoreError,
    StoredAbsence, SubscriptionStore,
};
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceStatus, Deletion, DeletionReason, Leave,
    LocalTimestamp, Revision, RevisionDecision, TenantId, decide_revision, derive_events,
    split_into_leaves,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;

/// How often a change is retried when another writer changed the same absence meanwhile.
const MAX_WRITE_ATTEMPTS: usize = 5;

/// What a change came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeOutcome {
    /// Written (possibly with no leave events, when only the revision moved).
    Applied,
    /// Nothing to do: same revision and content, or already deleted.
    Unchanged,
    /// Older than what is stored: ignored.
    Stale,
}

/// The answer to a put or delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeResult {
    /// What happened.
    pub outcome: ChangeOutcome,
    /// The revision stored after the call.
    pub revision: Revision,
    /// absync's number for the absence.
    pub absence_number: AbsenceNumber,
    /// The leave events written, in order.
    pub events: Vec<AppliedEvent>,
}

/// The ingest use cases.
#[derive(Clone)]
pub struct IngestService {
    absences: Arc<dyn AbsenceStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
    metrics: Option<Arc<dyn Metrics>>,
}

impl std::fmt::Debug for IngestService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestService").finish_non_exhaustive()
    }
}

/// What a change does to the stored absence.
enum Target<'a> {
    Put(&'a Absence),
    Delete(Revision),
}

impl Target<'_> {
    fn revision(&self) -> Revision {
        match self {
            Self::Put(absence) => absence.revision(),
            Self::Delete(revision) => *revision,
        }
    }
}

impl IngestService {
    /// Builds the service.
    #[must_use]
    pub fn new(
        absences: Arc<dyn AbsenceStore>,
        subscriptions: Arc<dyn SubscriptionStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            absences,
            subscriptions,
            clock,
            metrics: None,
        }
    }

    /// Counts every put and delete in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn count(&self, result: &Result<ChangeResult, ApplicationError>) {
        if let Some(metrics) = &self.metrics {
            metrics.ingest(match result {
                Ok(r) if r.outcome == ChangeOutcome::Applied => "applied",
                Ok(r) if r.outcome == ChangeOutcome::Unchanged => "unchanged",
                Ok(_) => "stale",
                Err(_) => "error",
            });
        }
    }

    /// Creates or updates an absence (PutAbsence).
    ///
    /// # Errors
    /// [`ApplicationError::RevisionConflict`] when the same revision arrives with other content;
    /// [`ApplicationError::Contended`] when concurrent writers keep winning; store errors otherwise.
    /// Nothing is written on error.
    #[tracing::instrument(name = "put_absence", skip_all, err,
        fields(tenant = %tenant, absence_id = %absence.id(), revision = absence.revision().get(), outcome, events))]
    pub async fn put_absence(
        &self,
        tenant: &TenantId,
        absence: &Absence,
    ) -> Result<ChangeResult, ApplicationError> {
        let result = self
            .change(tenant, absence.id(), Target::Put(absence))
            .await;
        self.count(&result);
        let result = result?;
        record_on_span(&result);
        Ok(result)
    }

    /// Puts several absences: each gets its own result, in order. Changes to the same absence are applied
    /// in order; different absences are applied concurrently (at most `concurrency` at once).
    pub async fn put_absences(
        &self,
        tenant: &TenantId,
        absences: Vec<Absence>,
        concurrency: usize,
    ) -> Vec<Result<ChangeResult, ApplicationError>> {
        let mut groups: Vec<Vec<(usize, Absence)>> = Vec::new();
        let mut group_of: HashMap<AbsenceId, usize> = HashMap::new();
        for (index, absence) in absences.into_iter().enumerate() {
            let group = *group_of.entry(absence.id().clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[group].push((index, absence));
        }
        let total = group_of.values().map(|g| groups[*g].len()).sum::<usize>();
        let done: Vec<Vec<(usize, Result<ChangeResult, ApplicationError>)>> =
            futures::stream::iter(groups)
                .map(|group| async move {
                    let mut results = Vec::with_capacity(group.len());
                    for (index, absence) in group {
                        results.push((index, self.put_absence(tenant, &absence).await));
                    }
                    results
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        let mut ordered: Vec<Option<Result<ChangeResult, ApplicationError>>> =
            (0..total).map(|_| None).collect();
        for (index, result) in done.into_iter().flatten() {
            ordered[index] = Some(result);
        }
        ordered.into_iter().flatten().collect()
    }

    /// Deletes an absence at the source (DeleteAbsence): every leave gets `deleted`.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] for an unknown absence; otherwise as [`IngestService::put_absence`].
    #[tracing::instrument(name = "delete_absence", skip_all, err,
        fields(tenant = %tenant, absence_id = %id, revision = revision.get(), outcome, events))]
    pub async fn delete_absence(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
        revision: Revision,
    ) -> Result<ChangeResult, ApplicationError> {
        let result = self.change(tenant, id, Target::Delete(revision)).await;
        self.count(&result);
        let result = result?;
        record_on_span(&result);
        Ok(result)
    }

    /// Reads an absence and its current leaves (GetAbsence).
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] for an absence the tenant does not have; store errors otherwise.
    #[tracing::instrument(name = "get_absence", skip_all, err, fields(tenant = %tenant, absence_id = %id))]
    pub async fn get_absence(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<StoredAbsence, ApplicationError> {
        self.absences
            .load(tenant, id)
            .await?
            .ok_or(ApplicationError::NotFound("absence"))
    }

    /// The tenant's current leaves, dated `from` or later, after the leave `after`, at most `limit`
    /// (the Protime initial sync).
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_leaves", skip_all, err, fields(tenant = %tenant, limit))]
    pub async fn list_leaves(
        &self,
        tenant: &TenantId,
        from: Option<chrono::NaiveDate>,
        after: Option<absync_domain::LeaveKey>,
        limit: u32,
    ) -> Result<Vec<crate::ports::CurrentLeave>, ApplicationError> {
        Ok(self
            .absences
            .list_leaves(tenant, from, after, limit)
            .await?)
    }

    async fn change(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
        target: Target<'_>,
    ) -> Result<ChangeResult, ApplicationError> {
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let stored = self.absences.load(tenant, id).await?;
            if let Some(s) = &stored {
                let decision = match &target {
                    Target::Delete(_) if s.absence.is_none() => RevisionDecision::Unchanged,
                    Target::Delete(revision) => decide_revision(s.revision, *revision, false),
                    Target::Put(absence) => decide_revision(
                        s.revision,
                        absence.revision(),
                        s.absence.as_ref().is_some_and(|a| a.same_content(absence)),
                    ),
                };
                let untouched = |outcome| ChangeResult {
                    outcome,
                    revision: s.revision,
                    absence_number: s.number,
                    events: Vec::new(),
                };
                match decision {
                    RevisionDecision::Apply => {}
                    RevisionDecision::Unchanged => return Ok(untouched(ChangeOutcome::Unchanged)),
                    RevisionDecision::Stale => return Ok(untouched(ChangeOutcome::Stale)),
                    RevisionDecision::Conflict => {
                        return Err(ApplicationError::conflict(s.revision, target.revision()));
                    }
                }
            } else if matches!(target, Target::Delete(_)) {
                return Err(ApplicationError::NotFound("absence"));
            }
            let write = self.plan(tenant, id, stored.as_ref(), &target).await?;
            let (number, revision) = (write.number, write.revision);
            match self.absences.write(write).await {
                Ok(events) => {
                    return Ok(ChangeResult {
                        outcome: ChangeOutcome::Applied,
                        revision,
                        absence_number: number,
                        events,
                    });
                }
                Err(StoreError::Conflict) => {
                    tracing::debug!("absence changed concurrently; reading it again");
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(ApplicationError::Contended)
    }

    /// Works out everything a change writes: new leaves, events, and who receives each event.
    async fn plan(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
        stored: Option<&StoredAbsence>,
        target: &Target<'_>,
    ) -> Result<AbsenceWrite, ApplicationError> {
        let number = match stored {
            Some(s) => s.number,
            None => self.absences.allocate_number().await?,
        };
        let now = self.clock.now();
        let (absence, after, deletion) = match target {
            Target::Put(absence) => {
                let reason = match absence.status {
                    AbsenceStatus::Refused => DeletionReason::Refused,
                    AbsenceStatus::Cancelled => DeletionReason::Cancelled,
                    AbsenceStatus::Pending | AbsenceStatus::Approved => {
                        DeletionReason::NoLongerCovered
                    }
                };
                let at = absence
                    .cancelled_at
                    .unwrap_or_else(|| LocalTimestamp::from_naive(now.naive_utc()));
                (
                    Some((*absence).clone()),
                    split_into_leaves(number, absence),
                    Deletion { reason, at },
                )
            }
            Target::Delete(_) => (
                None,
                Vec::new(),
                Deletion {
                    reason: DeletionReason::AbsenceDeleted,
                    at: LocalTimestamp::from_naive(now.naive_utc()),
                },
            ),
        };
        let before: &[Leave] = stored.map_or(&[], |s| &s.leaves);
        let records = derive_events(before, &after, deletion);
        let subscriptions = if records.is_empty() {
            Vec::new()
        } else {
            self.subscriptions.list(tenant).await?
        };
        let events = records
            .into_iter()
            .map(|record| OutboxEvent {
                subscriptions: subscriptions
                    .iter()
                    .filter(|s| s.receives_at(now) && s.event_filter.accepts(&record))
                    .map(|s| s.id.clone())
                    .collect(),
                record,
            })
            .collect();
        Ok(AbsenceWrite {
            tenant: tenant.clone(),
            absence_id: id.clone(),
            number,
            expected_row_version: stored.map(|s| s.row_version),
            revision: target.revision(),
            absence,
            events,
            at: now,
        })
    }
}

fn record_on_span(result: &ChangeResult) {
    let span = tracing::Span::current();
    span.record("outcome", tracing::field::debug(result.outcome));
    span.record("events", result.events.len());
}

#[cfg(test)]
mod tests;
