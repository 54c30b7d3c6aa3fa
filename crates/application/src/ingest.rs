//! Ingest: PutAbsence, DeleteAbsence and GetAbsence.
//!
//! A change is read, compared with what is stored (revision rules), split into leaves, turned into leave
//! events, and written with one delivery per event and interested subscription — in one store write.

use crate::error::ApplicationError;
use crate::failure::{log_failure, logged};
use crate::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, Clock, Metrics, OutboxEvent, StoreError,
    StoredAbsence, Subscription, SubscriptionStore, TraceContext,
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
    trace: Option<Arc<dyn TraceContext>>,
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
            trace: None,
        }
    }

    /// Counts every put and delete in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Stores with every change the trace of its use case's span, as `trace` tells it, for the
    /// delivery attempts to link to.
    #[must_use]
    pub fn with_tracing(mut self, trace: Arc<dyn TraceContext>) -> Self {
        self.trace = Some(trace);
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
    #[tracing::instrument(name = "put_absence", skip_all,
        fields(tenant = %tenant, absence_id = %absence.id(), revision = absence.revision().get(), outcome, events,
               deliveries))]
    pub async fn put_absence(
        &self,
        tenant: &TenantId,
        absence: &Absence,
    ) -> Result<ChangeResult, ApplicationError> {
        let result = logged(self.change(tenant, absence.id(), Target::Put(absence))).await;
        self.count(&result);
        let result = result?;
        record_on_span(&result);
        Ok(result)
    }

    /// Puts several absences (PutAbsences): each gets its own result, in order, and every change
    /// that applies is written in one store write. Changes to the same absence apply in order, each on
    /// top of the one before. The stored absences are read at most `concurrency` at a time. A change
    /// that cannot be planned or whose write fails is tried again on its own, with every later change
    /// of the same absence, as [`IngestService::put_absence`] does.
    #[tracing::instrument(name = "put_absences", skip_all,
        fields(tenant = %tenant, absences = absences.len(), written, deliveries))]
    pub async fn put_absences(
        &self,
        tenant: &TenantId,
        absences: Vec<Absence>,
        concurrency: usize,
    ) -> Vec<Result<ChangeResult, ApplicationError>> {
        let total = absences.len();
        let mut groups: Vec<Vec<(usize, Absence)>> = Vec::new();
        let mut group_of: HashMap<AbsenceId, usize> = HashMap::new();
        for (index, absence) in absences.into_iter().enumerate() {
            let group = *group_of.entry(absence.id().clone()).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[group].push((index, absence));
        }
        let mut results: Vec<Option<Result<ChangeResult, ApplicationError>>> =
            (0..total).map(|_| None).collect();
        // Per group, the position from which its changes go the one-by-one way.
        let mut one_by_one: Vec<Option<usize>> = vec![None; groups.len()];
        let planned = self
            .plan_groups(tenant, &groups, concurrency, &mut results, &mut one_by_one)
            .await;
        let (places, writes): (Vec<(usize, usize)>, Vec<AbsenceWrite>) =
            planned.into_iter().unzip();
        tracing::Span::current().record("written", writes.len());
        tracing::Span::current().record(
            "deliveries",
            writes.iter().map(AbsenceWrite::deliveries).sum::<usize>(),
        );
        let meta: Vec<(Revision, AbsenceNumber)> =
            writes.iter().map(|w| (w.revision, w.number)).collect();
        let written = self.absences.write_many(writes).await;
        for (((g, position), (revision, number)), outcome) in
            places.into_iter().zip(meta).zip(written)
        {
            match outcome {
                Ok(events) if one_by_one[g].is_none_or(|from| position < from) => {
                    let result = Ok(ChangeResult {
                        outcome: ChangeOutcome::Applied,
                        revision,
                        absence_number: number,
                        events,
                    });
                    self.count(&result);
                    results[groups[g][position].0] = Some(result);
                }
                _ => {
                    let from = one_by_one[g].get_or_insert(position);
                    *from = (*from).min(position);
                }
            }
        }
        let left: Vec<Vec<(usize, Absence)>> = groups
            .into_iter()
            .zip(one_by_one)
            .filter_map(|(mut group, from)| from.map(|from| group.split_off(from)))
            .collect();
        let again: Vec<Vec<(usize, Result<ChangeResult, ApplicationError>)>> =
            futures::stream::iter(left)
                .map(|changes| async move {
                    let mut answers = Vec::with_capacity(changes.len());
                    for (index, absence) in changes {
                        answers.push((index, self.put_absence(tenant, &absence).await));
                    }
                    answers
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        for (index, result) in again.into_iter().flatten() {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(ApplicationError::Contended)))
            .collect()
    }

    /// Reads the groups' stored absences and plans their changes in order, each on top of the one
    /// before. Answers the changes that write nothing in `results`; marks in `one_by_one` where a
    /// group could not be planned. Returns the writes with their (group, position).
    async fn plan_groups(
        &self,
        tenant: &TenantId,
        groups: &[Vec<(usize, Absence)>],
        concurrency: usize,
        results: &mut [Option<Result<ChangeResult, ApplicationError>>],
        one_by_one: &mut [Option<usize>],
    ) -> Vec<((usize, usize), AbsenceWrite)> {
        let ids: Vec<AbsenceId> = groups.iter().map(|g| g[0].1.id().clone()).collect();
        let stored: Vec<Result<Option<StoredAbsence>, StoreError>> = futures::stream::iter(ids)
            .map(|id| async move { self.absences.load(tenant, &id).await })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let mut subscriptions = None;
        let mut planned = Vec::new();
        for (g, (group, stored)) in groups.iter().zip(stored).enumerate() {
            let Ok(mut current) = stored else {
                one_by_one[g] = Some(0);
                continue;
            };
            for (position, (index, absence)) in group.iter().enumerate() {
                let target = Target::Put(absence);
                if let Some(answer) = current.as_ref().and_then(|s| decide(s, &target)) {
                    self.count(&answer);
                    if let Err(err) = &answer {
                        log_failure(err);
                    }
                    results[*index] = Some(answer);
                    continue;
                }
                let subs = match &subscriptions {
                    Some(subs) => subs,
                    None => match self.subscriptions.list(tenant).await {
                        Ok(list) => subscriptions.insert(list),
                        Err(_) => {
                            one_by_one[g] = Some(position);
                            break;
                        }
                    },
                };
                let Ok((write, leaves)) = self
                    .plan(tenant, absence.id(), current.as_ref(), &target, Some(subs))
                    .await
                else {
                    one_by_one[g] = Some(position);
                    break;
                };
                current = Some(StoredAbsence {
                    number: write.number,
                    row_version: write.expected_row_version.map_or(1, |v| v + 1),
                    revision: write.revision,
                    absence: write.absence.clone(),
                    leaves,
                });
                planned.push(((g, position), write));
            }
        }
        planned
    }

    /// Deletes an absence at the source (DeleteAbsence): every leave gets `deleted`.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] for an unknown absence; otherwise as [`IngestService::put_absence`].
    #[tracing::instrument(name = "delete_absence", skip_all,
        fields(tenant = %tenant, absence_id = %id, revision = revision.get(), outcome, events, deliveries))]
    pub async fn delete_absence(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
        revision: Revision,
    ) -> Result<ChangeResult, ApplicationError> {
        let result = logged(self.change(tenant, id, Target::Delete(revision))).await;
        self.count(&result);
        let result = result?;
        record_on_span(&result);
        Ok(result)
    }

    /// Reads an absence and its current leaves (GetAbsence).
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] for an absence the tenant does not have; store errors otherwise.
    #[tracing::instrument(name = "get_absence", skip_all, fields(tenant = %tenant, absence_id = %id))]
    pub async fn get_absence(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<StoredAbsence, ApplicationError> {
        logged(async {
            self.absences
                .load(tenant, id)
                .await?
                .ok_or(ApplicationError::NotFound("absence"))
        })
        .await
    }

    /// The current leaves that `query` asks for (the Protime initial sync).
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_leaves", skip_all, fields(tenant = %query.tenant, limit = query.limit))]
    pub async fn list_leaves(
        &self,
        query: crate::ports::LeaveQuery,
    ) -> Result<Vec<crate::ports::CurrentLeave>, ApplicationError> {
        logged(async { Ok(self.absences.list_leaves(query).await?) }).await
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
                if let Some(answer) = decide(s, &target) {
                    return answer;
                }
            } else if matches!(target, Target::Delete(_)) {
                return Err(ApplicationError::NotFound("absence"));
            }
            let (write, _) = self
                .plan(tenant, id, stored.as_ref(), &target, None)
                .await?;
            let (number, revision) = (write.number, write.revision);
            let deliveries = write.deliveries();
            match self.absences.write(write).await {
                Ok(events) => {
                    tracing::Span::current().record("deliveries", deliveries);
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

    /// Works out everything a change writes: new leaves, events, and who receives each event (among
    /// `subscriptions`, or the tenant's subscriptions as listed now). Returns the write and the
    /// absence's leaves after it.
    async fn plan(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
        stored: Option<&StoredAbsence>,
        target: &Target<'_>,
        subscriptions: Option<&[Subscription]>,
    ) -> Result<(AbsenceWrite, Vec<Leave>), ApplicationError> {
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
        let listed;
        let subscriptions = match subscriptions {
            _ if records.is_empty() => &[][..],
            Some(subscriptions) => subscriptions,
            None => {
                listed = self.subscriptions.list(tenant).await?;
                &listed[..]
            }
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
        Ok((
            AbsenceWrite {
                tenant: tenant.clone(),
                absence_id: id.clone(),
                number,
                expected_row_version: stored.map(|s| s.row_version),
                revision: target.revision(),
                absence,
                events,
                at: now,
                traceparent: self
                    .trace
                    .as_ref()
                    .and_then(|trace| trace.traceparent(&tracing::Span::current())),
            },
            after,
        ))
    }
}

/// What the revision rules make of `target` against the stored absence: `None` when it is to be
/// written, or the answer when it writes nothing (unchanged, stale) or is refused (conflict).
fn decide(
    stored: &StoredAbsence,
    target: &Target<'_>,
) -> Option<Result<ChangeResult, ApplicationError>> {
    let decision = match target {
        Target::Delete(_) if stored.absence.is_none() => RevisionDecision::Unchanged,
        Target::Delete(revision) => decide_revision(stored.revision, *revision, false),
        Target::Put(absence) => decide_revision(
            stored.revision,
            absence.revision(),
            stored
                .absence
                .as_ref()
                .is_some_and(|a| a.same_content(absence)),
        ),
    };
    let untouched = |outcome| {
        Some(Ok(ChangeResult {
            outcome,
            revision: stored.revision,
            absence_number: stored.number,
            events: Vec::new(),
        }))
    };
    match decision {
        RevisionDecision::Apply => None,
        RevisionDecision::Unchanged => untouched(ChangeOutcome::Unchanged),
        RevisionDecision::Stale => untouched(ChangeOutcome::Stale),
        RevisionDecision::Conflict => Some(Err(ApplicationError::conflict(
            stored.revision,
            target.revision(),
        ))),
    }
}

fn record_on_span(result: &ChangeResult) {
    let span = tracing::Span::current();
    span.record("outcome", tracing::field::debug(result.outcome));
    span.record("events", result.events.len());
}

#[cfg(test)]
mod tests;
