//! Absence store: current absences, the change log and the outbox, written in one transaction.

use crate::error::{decode_error, store_error};
use crate::store::PgStore;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, StoreError, StoredAbsence,
};
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, ChangeVersion, Leave, LeaveEvent, LeaveKey, LeaveState,
    Revision, TenantId,
};
use async_trait::async_trait;
use chrono::NaiveDate;
use sqlx::types::Json;

fn revision_to_db(revision: Revision) -> i64 {
    // Revision::new caps revisions at i64::MAX, so this never saturates.
    i64::try_from(revision.get()).unwrap_or(i64::MAX)
}

fn json<T: serde::Serialize>(what: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| decode_error(what, e))
}

/// Column arrays of the leaves an ingest upserts.
#[derive(Default)]
struct CurrentLeaves {
    dates: Vec<NaiveDate>,
    halves: Vec<&'static str>,
    states: Vec<&'static str>,
    leaves: Vec<String>,
    versions: Vec<i64>,
}

impl CurrentLeaves {
    fn push(&mut self, leave: &Leave, version: i64) -> Result<(), StoreError> {
        self.dates.push(leave.key.date());
        self.halves.push(leave.key.half().as_str());
        self.states.push(match leave.state {
            LeaveState::Pending => "pending",
            LeaveState::Approved => "approved",
        });
        self.leaves.push(json("leave", leave)?);
        self.versions.push(version);
        Ok(())
    }
}

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
        let (n,): (i64,) = sqlx::query_as("SELECT nextval('absence_numbers')")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        AbsenceNumber::new(n).map_err(|e| decode_error("absence number", e))
    }

    #[tracing::instrument(name = "pg.write_absence", skip_all, err,
        fields(tenant = %change.tenant, absence_id = %change.absence_id, events = change.events.len()))]
    async fn write(&self, change: AbsenceWrite) -> Result<Vec<AppliedEvent>, StoreError> {
        let body = change
            .absence
            .as_ref()
            .map(|a| json("absence", a))
            .transpose()?;
        let mut tx = self.pool.begin().await.map_err(store_error)?;

        let written = match change.expected_row_version {
            None => sqlx::query(
                "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body)
                 VALUES ($1, $2, $3, $4, 1, $5::jsonb)
                 ON CONFLICT (tenant_id, absence_id) DO NOTHING",
            )
            .bind(change.tenant.as_str())
            .bind(change.absence_id.as_str())
            .bind(change.number.get())
            .bind(revision_to_db(change.revision))
            .bind(&body)
            .execute(&mut *tx)
            .await,
            Some(expected) => sqlx::query(
                "UPDATE absences SET revision = $3, row_version = row_version + 1, body = $4::jsonb,
                        updated_at = now()
                 WHERE tenant_id = $1 AND absence_id = $2 AND row_version = $5",
            )
            .bind(change.tenant.as_str())
            .bind(change.absence_id.as_str())
            .bind(revision_to_db(change.revision))
            .bind(&body)
            .bind(expected)
            .execute(&mut *tx)
            .await,
        }
        .map_err(store_error)?;
        if written.rows_affected() != 1 {
            return Err(StoreError::Conflict);
        }

        if change.events.is_empty() {
            tx.commit().await.map_err(store_error)?;
            return Ok(Vec::new());
        }

        // One version per event, from the sequence (no lock is held until commit), in event order.
        let count = i64::try_from(change.events.len()).unwrap_or(i64::MAX);
        let mut versions_taken: Vec<i64> =
            sqlx::query_scalar("SELECT nextval('change_versions') FROM generate_series(1, $1)")
                .bind(count)
                .fetch_all(&mut *tx)
                .await
                .map_err(store_error)?;
        versions_taken.sort_unstable();

        let mut versions = Vec::with_capacity(change.events.len());
        let mut keys = Vec::with_capacity(change.events.len());
        let mut kinds = Vec::with_capacity(change.events.len());
        let mut records = Vec::with_capacity(change.events.len());
        let mut delivery_subscriptions = Vec::new();
        let mut delivery_versions = Vec::new();
        let mut delivery_keys = Vec::new();
        let mut applied = Vec::with_capacity(change.events.len());
        // The events are exactly the leave diff: created/approved leaves are upserted, deleted ones go.
        let mut kept = CurrentLeaves::default();
        let mut gone_dates = Vec::new();
        let mut gone_halves = Vec::new();
        for (event, version) in change.events.iter().zip(versions_taken) {
            let key = event.record.key();
            versions.push(version);
            keys.push(key.to_string());
            kinds.push(event.record.event.as_str());
            records.push(json("leave event", &event.record)?);
            if event.record.event == LeaveEvent::Deleted {
                gone_dates.push(key.date());
                gone_halves.push(key.half().as_str());
            } else {
                kept.push(&event.record.leave, version)?;
            }
            for subscription in &event.subscriptions {
                delivery_subscriptions.push(subscription.as_str().to_owned());
                delivery_versions.push(version);
                delivery_keys.push(key.to_string());
            }
            applied.push(AppliedEvent {
                leave_key: key,
                event: event.record.event,
                change_version: ChangeVersion::new(version),
            });
        }
        sqlx::query(
            "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
             SELECT $1, v, $2, k, e, r::jsonb FROM UNNEST($3::bigint[], $4::text[], $5::text[], $6::text[]) AS t(v, k, e, r)",
        )
        .bind(change.tenant.as_str())
        .bind(change.number.get())
        .bind(&versions)
        .bind(&keys)
        .bind(&kinds)
        .bind(&records)
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;

        if !gone_dates.is_empty() {
            sqlx::query(
                "DELETE FROM leaves l USING UNNEST($3::date[], $4::text[]) AS g(d, h)
                 WHERE l.tenant_id = $1 AND l.absence_number = $2 AND l.leave_date = g.d AND l.half = g.h",
            )
            .bind(change.tenant.as_str())
            .bind(change.number.get())
            .bind(&gone_dates)
            .bind(&gone_halves)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        if !kept.dates.is_empty() {
            sqlx::query(
                "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
                 SELECT $1, $2, d, h, st, l::jsonb, v
                 FROM UNNEST($3::date[], $4::text[], $5::text[], $6::text[], $7::bigint[]) AS t(d, h, st, l, v)
                 ON CONFLICT (tenant_id, absence_number, leave_date, half)
                 DO UPDATE SET state = EXCLUDED.state, leave = EXCLUDED.leave, change_version = EXCLUDED.change_version",
            )
            .bind(change.tenant.as_str())
            .bind(change.number.get())
            .bind(&kept.dates)
            .bind(&kept.halves)
            .bind(&kept.states)
            .bind(&kept.leaves)
            .bind(&kept.versions)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }

        let deliveries = delivery_subscriptions.len();
        if deliveries > 0 {
            sqlx::query(
                "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
                     SELECT $1, s::uuid, v, k,
                            -- FOR SHARE waits for a dispatcher finishing the one in line and
                            -- re-reads it: it is then either still unfinished (we wait behind it
                            -- and its promotion will see us) or finished (we are next in line).
                            CASE WHEN EXISTS (
                                     SELECT 1 FROM deliveries o
                                     WHERE o.subscription_id = s::uuid AND o.leave_key = k
                                       AND o.status IN ('pending', 'waiting')
                                     FOR SHARE)
                                 THEN 'waiting' ELSE 'pending' END,
                            $5
                     FROM UNNEST($2::text[], $3::bigint[], $4::text[]) AS t(s, v, k)",
            )
            .bind(change.tenant.as_str())
            .bind(&delivery_subscriptions)
            .bind(&delivery_versions)
            .bind(&delivery_keys)
            .bind(change.at)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        if deliveries > 0 {
            self.signal_work();
            self.announce_work();
        }
        Ok(applied)
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
