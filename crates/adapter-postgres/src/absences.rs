//! Absence store: current absences, the change log and the outbox, written in one transaction.

use crate::error::{decode_error, store_error};
use crate::store::PgStore;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, OutboxEvent, StoreError, StoredAbsence,
};
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, ChangeVersion, Leave, LeaveKey, LeaveState, Revision,
    TenantId,
};
use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::types::Json;

/// Absence numbers taken from the sequence per round trip.
const NUMBERS_PER_FETCH: i64 = 64;

fn revision_to_db(revision: Revision) -> i64 {
    // Revision::new caps revisions at i64::MAX, so this never saturates.
    i64::try_from(revision.get()).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| decode_error(what, e))
}

/// The column arrays one write sends: an event per position (1-based, in event order), and a delivery
/// per (subscription, event position).
#[derive(Default)]
struct EventColumns {
    keys: Vec<String>,
    kinds: Vec<&'static str>,
    records: Vec<String>,
    dates: Vec<NaiveDate>,
    halves: Vec<&'static str>,
    states: Vec<&'static str>,
    leaves: Vec<String>,
    delivery_subscriptions: Vec<String>,
    delivery_positions: Vec<i64>,
}

impl EventColumns {
    fn push(&mut self, position: i64, event: &OutboxEvent) -> Result<(), StoreError> {
        let leave = &event.record.leave;
        self.keys.push(leave.key.to_string());
        self.kinds.push(event.record.event.as_str());
        self.records.push(json("leave event", &event.record)?);
        self.dates.push(leave.key.date());
        self.halves.push(leave.key.half().as_str());
        self.states.push(match leave.state {
            LeaveState::Pending => "pending",
            LeaveState::Approved => "approved",
        });
        self.leaves.push(json("leave", leave)?);
        for subscription in &event.subscriptions {
            self.delivery_subscriptions
                .push(subscription.as_str().to_owned());
            self.delivery_positions.push(position);
        }
        Ok(())
    }
}

/// The part of a write after the absence row: `written` (the absence CTE) says whether it may go on.
/// Events get versions from the sequence in event order; created/approved leaves are upserted and
/// deleted ones removed (the events are exactly the leave diff); each delivery waits behind an
/// unfinished one of its (subscription, leave) — the share lock waits for a dispatcher finishing that
/// one and re-reads it, so either its promotion sees the new row or the new row is first in line.
macro_rules! write_rest {
    () => {
        "
, taken AS MATERIALIZED (
    SELECT nextval('change_versions') AS version
    FROM generate_series(1, cardinality($7::text[]))
    WHERE EXISTS (SELECT 1 FROM written)
), versions AS MATERIALIZED (
    SELECT version, row_number() OVER (ORDER BY version) AS position FROM taken
), events AS MATERIALIZED (
    SELECT e.position, v.version, e.leave_key, e.event, e.record, e.leave_date, e.half, e.state, e.leave
    FROM UNNEST($7::text[], $8::text[], $9::text[], $10::date[], $11::text[], $12::text[], $13::text[])
         WITH ORDINALITY AS e(leave_key, event, record, leave_date, half, state, leave, position)
    JOIN versions v ON v.position = e.position
), logged AS (
    INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
    SELECT $1, version, $3, leave_key, event, record::jsonb FROM events
), gone AS (
    DELETE FROM leaves l USING events e
    WHERE e.event = 'deleted' AND l.tenant_id = $1 AND l.absence_number = $3
      AND l.leave_date = e.leave_date AND l.half = e.half
), kept AS (
    INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
    SELECT $1, $3, leave_date, half, state, leave::jsonb, version FROM events WHERE event <> 'deleted'
    ON CONFLICT (tenant_id, absence_number, leave_date, half)
    DO UPDATE SET state = EXCLUDED.state, leave = EXCLUDED.leave, change_version = EXCLUDED.change_version
), queued AS (
    INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
    SELECT $1, d.subscription::uuid, e.version, e.leave_key,
           CASE WHEN EXISTS (
                    SELECT 1 FROM deliveries o
                    WHERE o.subscription_id = d.subscription::uuid AND o.leave_key = e.leave_key
                      AND o.status IN ('pending', 'waiting')
                    FOR SHARE)
                THEN 'waiting' ELSE 'pending' END,
           $16
    FROM UNNEST($14::text[], $15::bigint[]) AS d(subscription, position)
    JOIN events e ON e.position = d.position
)
SELECT (SELECT count(*) FROM written),
       COALESCE((SELECT array_agg(version ORDER BY position) FROM versions), '{}')"
    };
}

/// A first write: the absence must not exist yet.
const WRITE_NEW: &str = concat!(
    "WITH written AS (
    INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body)
    SELECT $1, $2, $3, $4, 1, $5::jsonb WHERE $6::bigint = 0
    ON CONFLICT (tenant_id, absence_id) DO NOTHING
    RETURNING 1
)",
    write_rest!()
);

/// A later write: the absence's row version must still be the one read.
const WRITE_EXISTING: &str = concat!(
    "WITH written AS (
    UPDATE absences SET revision = $4, row_version = row_version + 1, body = $5::jsonb, updated_at = now()
    WHERE tenant_id = $1 AND absence_id = $2 AND row_version = $6 AND number = $3
    RETURNING 1
)",
    write_rest!()
);

#[async_trait]
impl AbsenceStore for PgStore {
    #[tracing::instrument(name = "pg.load_absence", skip_all, err, fields(tenant = %tenant, absence_id = %id))]
    async fn load(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<Option<StoredAbsence>, StoreError> {
        let row: Option<(i64, i64, i64, Option<Json<Absence>>, Json<Vec<Leave>>)> = sqlx::query_as(
            "SELECT a.number, a.revision, a.row_version, a.body,
                    COALESCE((SELECT jsonb_agg(l.leave ORDER BY l.leave_date, l.half) FROM leaves l
                              WHERE l.tenant_id = a.tenant_id AND l.absence_number = a.number), '[]'::jsonb)
             FROM absences a
             WHERE a.tenant_id = $1 AND a.absence_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some((number, revision, row_version, body, leaves)) = row else {
            return Ok(None);
        };
        Ok(Some(StoredAbsence {
            number: AbsenceNumber::new(number).map_err(|e| decode_error("absence number", e))?,
            row_version,
            revision: u64::try_from(revision)
                .ok()
                .and_then(|r| Revision::new(r).ok())
                .ok_or_else(|| decode_error("revision", revision))?,
            absence: body.map(|b| b.0),
            leaves: leaves.0,
        }))
    }

    #[tracing::instrument(name = "pg.allocate_absence_number", skip_all, err)]
    async fn allocate_number(&self) -> Result<AbsenceNumber, StoreError> {
        let spare = self
            .spare_numbers
            .lock()
            .map(|mut spare| spare.pop())
            .unwrap_or(None);
        let number = match spare {
            Some(number) => number,
            None => {
                let mut taken: Vec<i64> = sqlx::query_scalar(
                    "SELECT nextval('absence_numbers') FROM generate_series(1, $1)",
                )
                .bind(NUMBERS_PER_FETCH)
                .fetch_all(&self.pool)
                .await
                .map_err(store_error)?;
                // Hand out the smallest first; keep the rest for later absences.
                taken.sort_unstable_by(|a, b| b.cmp(a));
                let first = taken
                    .pop()
                    .ok_or_else(|| decode_error("absence number", "none returned"))?;
                if let Ok(mut spare) = self.spare_numbers.lock() {
                    spare.extend(taken);
                    spare.sort_unstable_by(|a, b| b.cmp(a));
                }
                first
            }
        };
        AbsenceNumber::new(number).map_err(|e| decode_error("absence number", e))
    }

    #[tracing::instrument(name = "pg.write_absence", skip_all, err,
        fields(tenant = %change.tenant, absence_id = %change.absence_id, events = change.events.len()))]
    async fn write(&self, change: AbsenceWrite) -> Result<Vec<AppliedEvent>, StoreError> {
        let body = change
            .absence
            .as_ref()
            .map(|a| json("absence", a))
            .transpose()?;
        let mut events = EventColumns::default();
        for (position, event) in (1_i64..).zip(&change.events) {
            events.push(position, event)?;
        }
        // One statement, so one round trip and atomic: the absence write decides (0 rows: someone else
        // changed it; nothing else is written), then the events with fresh change versions, the current
        // leaves and the deliveries.
        let statement = if change.expected_row_version.is_none() {
            WRITE_NEW
        } else {
            WRITE_EXISTING
        };
        let (written, versions): (i64, Vec<i64>) = sqlx::query_as(statement)
            .bind(change.tenant.as_str())
            .bind(change.absence_id.as_str())
            .bind(change.number.get())
            .bind(revision_to_db(change.revision))
            .bind(&body)
            .bind(change.expected_row_version.unwrap_or_default())
            .bind(&events.keys)
            .bind(&events.kinds)
            .bind(&events.records)
            .bind(&events.dates)
            .bind(&events.halves)
            .bind(&events.states)
            .bind(&events.leaves)
            .bind(&events.delivery_subscriptions)
            .bind(&events.delivery_positions)
            .bind(change.at)
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        if written != 1 {
            return Err(StoreError::Conflict);
        }
        let applied = change
            .events
            .iter()
            .zip(versions)
            .map(|(event, version)| AppliedEvent {
                leave_key: event.record.key(),
                event: event.record.event,
                change_version: ChangeVersion::new(version),
            })
            .collect();
        if !events.delivery_positions.is_empty() {
            self.signal_work();
            self.announce_work();
        }
        Ok(applied)
    }

    #[tracing::instrument(name = "pg.write_absences", skip_all, fields(changes = changes.len()))]
    async fn write_many(
        &self,
        changes: Vec<AbsenceWrite>,
    ) -> Vec<Result<Vec<AppliedEvent>, StoreError>> {
        let mut results = Vec::with_capacity(changes.len());
        for change in changes {
            results.push(self.write(change).await);
        }
        results
    }

    #[tracing::instrument(name = "pg.list_leaves", skip_all, err, fields(tenant = %tenant, limit))]
    async fn list_leaves(
        &self,
        tenant: &TenantId,
        from: Option<NaiveDate>,
        after: Option<LeaveKey>,
        limit: u32,
    ) -> Result<Vec<CurrentLeave>, StoreError> {
        let rows: Vec<(Json<Leave>, i64)> = sqlx::query_as(
            "SELECT leave, change_version FROM leaves
             WHERE tenant_id = $1
               AND ($2::date IS NULL OR leave_date >= $2)
               AND ($3::date IS NULL OR (leave_date, absence_number, half) > ($3, $4, $5))
             ORDER BY leave_date, absence_number, half
             LIMIT $6",
        )
        .bind(tenant.as_str())
        .bind(from)
        .bind(after.map(|k| k.date()))
        .bind(after.map(|k| k.absence().get()))
        .bind(after.map(|k| k.half().as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(rows
            .into_iter()
            .map(|(leave, version)| CurrentLeave {
                leave: leave.0,
                change_version: ChangeVersion::new(version),
            })
            .collect())
    }
}
