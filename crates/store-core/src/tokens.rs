//! The token store, written once for every store: hashes and scopes, never a token itself.

use crate::engine::{Dialect, Engine, WriteTx, read_all};
use crate::rows::TokenRow;
use crate::subscriptions::insert_tenant;
use crate::{Arg, Statement, new_uuid};
use absync_application::ports::{StoreError, TokenRecord};
use absync_domain::{Scope, TenantId};

/// The columns of a [`TokenRow`].
#[must_use]
pub fn columns<D: Dialect>() -> String {
    format!(
        "{} AS id, tenant_id, scopes, label, created_at, revoked_at",
        D::uuid_text("id")
    )
}

fn tokens<E: Engine>(rows: &[E::Row]) -> Result<Vec<TokenRecord>, StoreError> {
    read_all::<E, TokenRow>(rows)?
        .into_iter()
        .map(TokenRecord::try_from)
        .collect()
}

/// Records a token by its hash (and its tenant, the first time).
///
/// # Errors
/// [`StoreError`] when the store cannot be written (a hash already recorded included).
pub async fn create<E: Engine>(
    store: &E,
    tenant: &TenantId,
    hash: [u8; 32],
    scopes: &[Scope],
    label: Option<String>,
) -> Result<TokenRecord, StoreError> {
    let insert = Statement::new(format!(
        "INSERT INTO api_tokens (id, tenant_id, token_hash, scopes, label, created_at)
         VALUES ({}, $2, $3, $4, $5, {})
         RETURNING {}",
        E::uuid(1),
        E::NOW,
        columns::<E>()
    ))
    .arg(new_uuid())
    .arg(tenant.as_str())
    .arg(Arg::Bytes(hash.to_vec()))
    .arg(Arg::Names(
        scopes.iter().map(|s| s.as_str().to_owned()).collect(),
    ))
    .arg(label);
    let mut tx = store.write().await?;
    tx.execute(Statement::new(insert_tenant::<E>()).arg(tenant.as_str()))
        .await?;
    let created = tokens::<E>(&tx.fetch_all(insert).await?)?
        .into_iter()
        .next();
    tx.commit().await?;
    created.ok_or_else(|| StoreError::Unexpected("the new token was not returned".into()))
}

/// The active token of a hash.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn find_active<E: Engine>(
    store: &E,
    hash: [u8; 32],
) -> Result<Option<TokenRecord>, StoreError> {
    let statement = Statement::new(format!(
        "SELECT {} FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        columns::<E>()
    ))
    .arg(Arg::Bytes(hash.to_vec()));
    Ok(tokens::<E>(&store.fetch_all(statement).await?)?
        .into_iter()
        .next())
}

/// The tokens of a tenant, or of all tenants, oldest first.
///
/// # Errors
/// [`StoreError`] when the store cannot be read.
pub async fn list<E: Engine>(
    store: &E,
    tenant: Option<TenantId>,
) -> Result<Vec<TokenRecord>, StoreError> {
    let statement = Statement::new(format!(
        "SELECT {} FROM api_tokens WHERE $1 IS NULL OR tenant_id = $1 ORDER BY created_at, id",
        columns::<E>()
    ))
    .arg(tenant.as_ref().map(TenantId::as_str));
    tokens::<E>(&store.fetch_all(statement).await?)
}

/// Revokes a token; `false` when no active token has that id.
///
/// # Errors
/// [`StoreError`] when the store cannot be written.
pub async fn revoke<E: Engine>(store: &E, id: &str) -> Result<bool, StoreError> {
    // A token id is a UUID; anything else names no token (and would break a `uuid` cast).
    if !absync_domain::ids::is_uuid(id) {
        return Ok(false);
    }
    let statement = Statement::new(format!(
        "UPDATE api_tokens SET revoked_at = {} WHERE id = {} AND revoked_at IS NULL",
        E::NOW,
        E::uuid(1)
    ))
    .arg(id);
    let mut tx = store.write().await?;
    let done = tx.execute(statement).await?;
    tx.commit().await?;
    Ok(done == 1)
}
