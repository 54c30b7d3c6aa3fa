//! Absence store: current absences, the change log and the outbox, written in one transaction.

use crate::batch::ReadMany;
use crate::error::{decode_error, store_error};
use crate::store::PgStore;
use absync_application::logged;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AppliedEvent, CurrentLeave, LeaveQuery, StoreError, StoredAbsence,
};
use absync_domain::{AbsenceId, AbsenceNumber, TenantId};
use absync_store_core::rows::AbsenceRow;
use absync_store_core::stored_forms::LeaveForm;
use async_trait::async_trait;
use sqlx::PgPool;
use sqlx::types::Json;
use std::sync::Arc;

/// Absence numbers taken from the sequence per round trip.
const NUMBERS_PER_FETCH: i64 = 64;

/// A stored absence as read, with its position among the loads asked and its current leaves.
#[derive(sqlx::FromRow)]
struct LoadedRow {
    i: i64,
    #[sqlx(flatten)]
    absence: AbsenceRow,
    leaves: Json<Vec<LeaveForm>>,
}

/// Reads several absences in one statement (the loads asked meanwhile, coalesced): for each
/// (tenant, id), in order, the stored absence with its current leaves, if any.
pub(crate) fn load_many(pool: PgPool) -> ReadMany<(TenantId, AbsenceId), Option<StoredAbsence>> {
    Arc::new(move |keys: Vec<(TenantId, AbsenceId)>| {
        let pool = pool.clone();
        Box::pin(async move {
            let (tenants, ids): (Vec<&str>, Vec<&str>) =
                keys.iter().map(|(t, i)| (t.as_str(), i.as_str())).unzip();
            let rows: Vec<LoadedRow> = sqlx::query_as(
                "SELECT r.i, a.number, a.revision, a.row_version, a.body,
                        COALESCE((SELECT jsonb_agg(l.leave ORDER BY l.leave_date, l.half) FROM leaves l
                                  WHERE l.tenant_id = a.tenant_id AND l.absence_number = a.number),
                                 '[]'::jsonb) AS leaves
                 FROM UNNEST($1::text[], $2::text[]) WITH ORDINALITY AS r(tenant_id, absence_id, i)
                 JOIN absences a ON a.tenant_id = r.tenant_id AND a.absence_id = r.absence_id",
            )
            .bind(&tenants)
            .bind(&ids)
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
            let mut loaded: Vec<Option<StoredAbsence>> = keys.iter().map(|_| None).collect();
            for row in rows {
                let slot = usize::try_from(row.i - 1)
                    .ok()
                    .and_then(|i| loaded.get_mut(i))
                    .ok_or_else(|| decode_error("load position", row.i))?;
                *slot = Some(row.absence.with_leaves(row.leaves.0)?);
            }
            Ok(loaded)
        })
    })
}

#[async_trait]
impl AbsenceStore for PgStore {
    #[tracing::instrument(name = "pg.load_absence", skip_all, err, fields(tenant = %tenant, absence_id = %id))]
    async fn load(
        &self,
        tenant: &TenantId,
        id: &AbsenceId,
    ) -> Result<Option<StoredAbsence>, StoreError> {
        self.loads.get((tenant.clone(), id.clone())).await
    }

    #[tracing::instrument(name = "pg.allocate_absence_number", skip_all, err)]
    async fn allocate_number(&self) -> Result<AbsenceNumber, StoreError> {
        self.spare_numbers
            .next(|| async {
                sqlx::query_scalar("SELECT nextval('absence_numbers') FROM generate_series(1, $1)")
                    .bind(NUMBERS_PER_FETCH)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(store_error)
            })
            .await
    }

    // A conflict is a race the use case retries, not a fault: logged by its severity, not at ERROR.
    #[tracing::instrument(name = "pg.write_absence", skip_all,
        fields(tenant = %change.tenant, absence_id = %change.absence_id, events = change.events.len(),
               deliveries = change.deliveries()))]
    async fn write(&self, change: AbsenceWrite) -> Result<Vec<AppliedEvent>, StoreError> {
        logged(async {
            self.write_many(vec![change])
                .await
                .pop()
                .unwrap_or_else(|| Err(StoreError::Unexpected("a change was not written".into())))
        })
        .await
    }

    #[tracing::instrument(name = "pg.write_absences", skip_all, fields(changes = changes.len(),
        events = changes.iter().map(|c| c.events.len()).sum::<usize>(),
        deliveries = changes.iter().map(AbsenceWrite::deliveries).sum::<usize>()))]
    async fn write_many(
        &self,
        changes: Vec<AbsenceWrite>,
    ) -> Vec<Result<Vec<AppliedEvent>, StoreError>> {
        let queues: Vec<bool> = changes
            .iter()
            .map(|c| c.events.iter().any(|e| !e.subscriptions.is_empty()))
            .collect();
        let results = self.group.write(changes).await;
        if results.iter().zip(queues).any(|(r, q)| q && r.is_ok()) {
            self.signal_work();
            self.announce_work();
        }
        results
    }

    #[tracing::instrument(name = "pg.list_leaves", skip_all, err, fields(tenant = %query.tenant, limit = query.limit))]
    async fn list_leaves(&self, query: LeaveQuery) -> Result<Vec<CurrentLeave>, StoreError> {
        absync_store_core::absences::list_leaves(self, query).await
    }
}
