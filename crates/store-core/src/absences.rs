//! The current leaves, listed the same way by every store (the Protime initial sync).

use crate::Statement;
use crate::engine::{Engine, read_all};
use crate::rows::LeaveRow;
use absync_application::ports::{CurrentLeave, LeaveQuery, StoreError};

/// The current leaves that `query` asks for, in (date, absence number, half) order: keyset paging
/// on that order.
///
/// # Errors
/// [`StoreError`] when the store cannot be read, or a leave does not decode.
pub async fn list_leaves<E: Engine>(
    store: &E,
    query: LeaveQuery,
) -> Result<Vec<CurrentLeave>, StoreError> {
    let after = query.after;
    let statement = Statement::new(
        "SELECT leave, change_version FROM leaves
         WHERE tenant_id = $1
           AND ($2 IS NULL OR leave_date >= $2)
           AND ($3 IS NULL OR (leave_date, absence_number, half) > ($3, $4, $5))
         ORDER BY leave_date, absence_number, half
         LIMIT $6",
    )
    .arg(query.tenant.as_str())
    .arg(query.from)
    .arg(after.map(|k| k.date()))
    .arg(after.map(|k| k.absence().get()))
    .arg(after.map(|k| k.half().as_str()))
    .arg(i64::from(query.limit));
    read_all::<E, LeaveRow>(&store.fetch_all(statement).await?)?
        .into_iter()
        .map(CurrentLeave::try_from)
        .collect()
}
