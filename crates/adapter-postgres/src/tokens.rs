//! Token store: hashes and scopes.

use crate::batch::ReadMany;
use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::{StoreError, TokenRecord, TokenStore};
use absync_domain::{Scope, TenantId};
use absync_store_core::rows::TokenRow;
use async_trait::async_trait;
use sqlx::PgPool;
use std::sync::Arc;

/// A [`TokenRow`] with the hash it was found by.
#[derive(sqlx::FromRow)]
struct HashedRow {
    token_hash: Vec<u8>,
    #[sqlx(flatten)]
    token: TokenRow,
}

/// Finds the active tokens of several hashes in one statement (the look-ups asked meanwhile,
/// coalesced: every call authenticates, and concurrent calls mostly carry the same few tokens). Each
/// statement starts after the calls it answers were made, so a token revoked before a call is
/// refused to it.
pub(crate) fn find_many(pool: PgPool) -> ReadMany<[u8; 32], Option<TokenRecord>> {
    Arc::new(move |hashes: Vec<[u8; 32]>| {
        let pool = pool.clone();
        Box::pin(async move {
            let keys: Vec<&[u8]> = hashes.iter().map(<[u8; 32]>::as_slice).collect();
            let rows: Vec<HashedRow> = sqlx::query_as(
                "SELECT token_hash, id::text, tenant_id, scopes, label, created_at, revoked_at
                     FROM api_tokens
                     WHERE token_hash = ANY($1::bytea[]) AND revoked_at IS NULL",
            )
            .bind(&keys)
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
            let mut found: Vec<Option<TokenRecord>> = hashes.iter().map(|_| None).collect();
            for row in rows {
                let hash = row.token_hash;
                let record = TokenRecord::try_from(row.token)?;
                for (asked, slot) in hashes.iter().zip(&mut found) {
                    if asked.as_slice() == hash.as_slice() {
                        *slot = Some(record.clone());
                    }
                }
            }
            Ok(found)
        })
    })
}

#[async_trait]
impl TokenStore for PgStore {
    #[tracing::instrument(name = "pg.create_token", skip_all, err, fields(tenant = %tenant))]
    async fn create(
        &self,
        tenant: &TenantId,
        hash: [u8; 32],
        scopes: &[Scope],
        label: Option<String>,
    ) -> Result<TokenRecord, StoreError> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let row: TokenRow = sqlx::query_as(
            "WITH tenant AS (INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING)
             INSERT INTO api_tokens (tenant_id, token_hash, scopes, label) VALUES ($1, $2, $3, $4)
             RETURNING id::text, tenant_id, scopes, label, created_at, revoked_at",
        )
        .bind(tenant.as_str())
        .bind(hash.as_slice())
        .bind(&scopes)
        .bind(label)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        TokenRecord::try_from(row)
    }

    #[tracing::instrument(name = "pg.find_token", skip_all, err)]
    async fn find_active(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        self.token_lookups.get(hash).await
    }

    #[tracing::instrument(name = "pg.list_tokens", skip_all, err)]
    async fn list_tokens(&self, tenant: Option<TenantId>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id::text, tenant_id, scopes, label, created_at, revoked_at FROM api_tokens
             WHERE $1::text IS NULL OR tenant_id = $1
             ORDER BY created_at, id",
        )
        .bind(tenant.as_ref().map(TenantId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    #[tracing::instrument(name = "pg.revoke_token", skip_all, err, fields(token_id = %id))]
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        // A token id is a UUID; anything else names no token (and would break the `uuid` cast).
        if !absync_domain::ids::is_uuid(id) {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = now() WHERE id = $1::uuid AND revoked_at IS NULL",
        )
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }
}
