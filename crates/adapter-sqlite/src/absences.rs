//! Absence store: current absences, the change log and the outbox, written in one transaction.

use crate::error::{sqlite_error, store_error};
use crate::store::{SqliteStore, micros, now};
use crate::writer::Work;
use absync_application::logged;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, LeaveQuery, StoreError, StoredAbsence,
    TraceParent,
};
use absync_domain::{
    AbsenceId, AbsenceNumber, ChangeVersion, LeaveEvent, LeaveState, Revision, TenantId,
};
use absync_store_core::rows::AbsenceRow;
use absync_store_core::stored_forms::{LeaveForm, absence_json, leave_json, record_json};
use async_trait::async_trait;
use rusqlite::{Connection, params};
use sqlx::types::Json;
use std::sync::Arc;

/// Absence numbers taken from the counter per write.
const NUMBERS_PER_TAKE: i64 = 64;

fn revision_to_db(revision: Revision) -> i64 {
    i64::try_from(revision.get()).unwrap_or(i64::MAX)
}

/// Takes `count` values of counter `name`; returns the first.
pub(crate) fn take(conn: &Connection, name: &str, count: i64) -> Result<i64, StoreError> {
    let last: i64 = conn
        .prepare_cached("UPDATE counters SET value = value + ?1 WHERE name = ?2 RETURNING value")
        .and_then(|mut statement| statement.query_row(params![count, name], |row| row.get(0)))
        .map_err(sqlite_error)?;
    Ok(last - count + 1)
}

/// A change to write (possibly twice, if its group is rolled back for another change's failure and
/// runs again).
struct Prepared {
    change: AbsenceWrite,
}

impl Prepared {
    /// Writes the absence, its events, leaves and deliveries on `conn` (inside the group's
    /// transaction). Returns the applied events and whether deliveries were queued.
    ///
    /// The absence row decides first: if it was changed meanwhile, [`StoreError::Conflict`] with
    /// nothing written.
    ///
    /// The JSON columns are rendered here, on the writer's thread, row by row: the thousands of
    /// events of a batch call are never all held as text at once (they were the largest part of the
    /// service's peak memory), and rendering one costs a microsecond beside its row's statements.
    fn apply(&self, conn: &Connection) -> Result<(Vec<AppliedEvent>, bool), StoreError> {
        let change = &self.change;
        let body = change.absence.as_ref().map(absence_json).transpose()?;
        let tenant = change.tenant.as_str();
        let number = change.number.get();
        let at = micros(change.at);
        let written_at = now();
        let revision = revision_to_db(change.revision);
        let id = change.absence_id.as_str();
        let traceparent = change.traceparent.as_ref().map(TraceParent::as_str);
        let written = match change.expected_row_version {
            None => conn
                .prepare_cached(
                    "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6)
                     ON CONFLICT (tenant_id, absence_id) DO NOTHING",
                )
                .and_then(|mut s| {
                    s.execute(params![tenant, id, number, revision, body, written_at])
                }),
            Some(expected) => conn
                .prepare_cached(
                    "UPDATE absences SET revision = ?4, row_version = row_version + 1, body = ?5, updated_at = ?6
                     WHERE tenant_id = ?1 AND absence_id = ?2 AND number = ?3 AND row_version = ?7",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        tenant, id, number, revision, body, written_at, expected
                    ])
                }),
        }
        .map_err(sqlite_error)?;
        if written != 1 {
            return Err(StoreError::Conflict);
        }
        let count = i64::try_from(change.events.len()).unwrap_or(i64::MAX);
        let first = if count > 0 {
            take(conn, "change_version", count)?
        } else {
            0
        };
        let mut log = conn
            .prepare_cached(
                "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at, traceparent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .map_err(sqlite_error)?;
        let mut remove = conn
            .prepare_cached(
                "DELETE FROM leaves WHERE tenant_id = ?1 AND absence_number = ?2
                   AND leave_date = ?3 AND half = ?4",
            )
            .map_err(sqlite_error)?;
        let mut keep = conn
            .prepare_cached(
                "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (tenant_id, absence_number, leave_date, half)
                 DO UPDATE SET state = excluded.state, leave = excluded.leave,
                               change_version = excluded.change_version",
            )
            .map_err(sqlite_error)?;
        // Behind an unfinished delivery of the same (subscription, leave), it waits.
        let mut queue = conn
            .prepare_cached(
                "INSERT INTO deliveries
                     (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4,
                         CASE WHEN EXISTS (SELECT 1 FROM deliveries o
                                           WHERE o.subscription_id = ?2 AND o.leave_key = ?4
                                             AND o.status IN ('pending', 'waiting'))
                              THEN 'waiting' ELSE 'pending' END,
                         ?5, ?6, ?6)",
            )
            .map_err(sqlite_error)?;
        let mut applied = Vec::with_capacity(change.events.len());
        let mut queued = false;
        for (version, event) in (first..).zip(&change.events) {
            let leave = &event.record.leave;
            let record = record_json(&event.record)?;
            let key = leave.key.to_string();
            let date = leave.key.date().to_string();
            let half = leave.key.half().as_str();
            log.execute(params![
                tenant,
                version,
                number,
                key,
                event.record.event.as_str(),
                record,
                written_at,
                traceparent
            ])
            .map_err(sqlite_error)?;
            if event.record.event == LeaveEvent::Deleted {
                remove
                    .execute(params![tenant, number, date, half])
                    .map_err(sqlite_error)?;
            } else {
                let state = match leave.state {
                    LeaveState::Pending => "pending",
                    LeaveState::Approved => "approved",
                };
                let leave = leave_json(leave)?;
                keep.execute(params![tenant, number, date, half, state, leave, version])
                    .map_err(sqlite_error)?;
            }
            for subscription in &event.subscriptions {
                queue
                    .execute(params![
                        tenant,
                        subscription.as_str(),
                        version,
                        key,
                        at,
                        written_at
                    ])
                    .map_err(sqlite_error)?;
                queued = true;
            }
            applied.push(AppliedEvent {
                leave_key: event.record.key(),
                event: event.record.event,
                change_version: ChangeVersion::new(version),
            });
        }
        Ok((applied, queued))
    }
}

/// The writer's job for one prepared change.
fn apply_work(change: Arc<Prepared>) -> Work<(Vec<AppliedEvent>, bool)> {
    Box::new(move |conn| change.apply(conn))
}

#[async_trait]
impl AbsenceStore for SqliteStore {
    #[tracing::instrument(name = "sqlite.load_absence", skip_all, err, fields(tenant = %tenant, absence_id = %id))]
    async fn load(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<Option<StoredAbsence>, StoreError> {
        let row: Option<AbsenceRow> = sqlx::query_as(
            "SELECT number, revision, row_version, body FROM absences
             WHERE tenant_id = ?1 AND absence_id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let leaves: Vec<Json<LeaveForm>> = sqlx::query_scalar(
            "SELECT leave FROM leaves WHERE tenant_id = ?1 AND absence_number = ?2
             ORDER BY leave_date, half",
        )
        .bind(tenant.as_str())
        .bind(row.number)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        row.with_leaves(leaves.into_iter().map(|l| l.0)).map(Some)
    }

    #[tracing::instrument(name = "sqlite.allocate_absence_number", skip_all, err)]
    async fn allocate_number(&self) -> Result<AbsenceNumber, StoreError> {
        self.spare_numbers
            .next(|| async {
                let first = self
                    .writer
                    .run(Box::new(|conn| {
                        take(conn, "absence_number", NUMBERS_PER_TAKE)
                    }))
                    .await?;
                Ok((first..first + NUMBERS_PER_TAKE).collect())
            })
            .await
    }

    // A conflict is a race the use case retries, not a fault: logged by its severity, not at ERROR.
    #[tracing::instrument(name = "sqlite.write_absence", skip_all,
        fields(tenant = %change.tenant, absence_id = %change.absence_id, events = change.events.len(),
               deliveries = change.deliveries()))]
    async fn write(&self, change: AbsenceWrite) -> Result<Vec<AppliedEvent>, StoreError> {
        logged(async {
            let change = Arc::new(Prepared { change });
            let applied = self.writer.run(apply_work(change)).await?;
            if applied.1 {
                self.signal_work();
            }
            Ok(applied.0)
        })
        .await
    }

    #[tracing::instrument(name = "sqlite.write_absences", skip_all, fields(changes = changes.len(),
        events = changes.iter().map(|c| c.events.len()).sum::<usize>(),
        deliveries = changes.iter().map(AbsenceWrite::deliveries).sum::<usize>()))]
    async fn write_many(
        &self,
        changes: Vec<AbsenceWrite>,
    ) -> Vec<Result<Vec<AppliedEvent>, StoreError>> {
        let works = changes
            .into_iter()
            .map(|change| apply_work(Arc::new(Prepared { change })))
            .collect();
        let mut queued = false;
        let results = self
            .writer
            .run_all(works)
            .await
            .into_iter()
            .map(|written| {
                let (applied, q) = written?;
                queued |= q;
                Ok(applied)
            })
            .collect();
        if queued {
            self.signal_work();
        }
        results
    }

    #[tracing::instrument(name = "sqlite.list_leaves", skip_all, err, fields(tenant = %query.tenant, limit = query.limit))]
    async fn list_leaves(&self, query: LeaveQuery) -> Result<Vec<CurrentLeave>, StoreError> {
        absync_store_core::absences::list_leaves(self, query).await
    }
}
