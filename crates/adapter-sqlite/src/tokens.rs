//! Token store: hashes and scopes.

use crate::error::{decode_error, store_error};
use crate::store::{SqliteStore, new_uuid, now};
use absync_application::ports::{StoreError, TokenRecord, TokenStore};
use absync_domain::{Scope, TenantId};
use absync_store_core::rows::TokenRow;
use async_trait::async_trait;

#[async_trait]
impl TokenStore for SqliteStore {
    #[tracing::instrument(name = "sqlite.create_token", skip_all, err, fields(tenant = %tenant))]
    async fn create(
        &self,
        tenant: &TenantId,
        hash: [u8; 32],
        scopes: &[Scope],
        label: Option<String>,
    ) -> Result<TokenRecord, StoreError> {
        let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
        let scopes = serde_json::to_string(&scopes).map_err(|e| decode_error("token scopes", e))?;
        let created = now();
        let mut write = self.write().await?;
        sqlx::query(
            "INSERT INTO tenants (id, created_at) VALUES (?1, ?2) ON CONFLICT (id) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(created)
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        let row: TokenRow = sqlx::query_as(
            "INSERT INTO api_tokens (id, tenant_id, token_hash, scopes, label, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING id, tenant_id, scopes, label, created_at, revoked_at",
        )
        .bind(new_uuid())
        .bind(tenant.as_str())
        .bind(hash.as_slice())
        .bind(&scopes)
        .bind(label)
        .bind(created)
        .fetch_one(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        TokenRecord::try_from(row)
    }

    #[tracing::instrument(name = "sqlite.find_token", skip_all, err)]
    async fn find_active(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<TokenRow> = sqlx::query_as(
            "SELECT id, tenant_id, scopes, label, created_at, revoked_at FROM api_tokens
             WHERE token_hash = ?1 AND revoked_at IS NULL",
        )
        .bind(hash.as_slice())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.map(TokenRecord::try_from).transpose()
    }

    #[tracing::instrument(name = "sqlite.list_tokens", skip_all, err)]
    async fn list_tokens(&self, tenant: Option<TenantId>) -> Result<Vec<TokenRecord>, StoreError> {
        let rows: Vec<TokenRow> = sqlx::query_as(
            "SELECT id, tenant_id, scopes, label, created_at, revoked_at FROM api_tokens
             WHERE ?1 IS NULL OR tenant_id = ?1
             ORDER BY created_at, id",
        )
        .bind(tenant.as_ref().map(TenantId::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        rows.into_iter().map(TokenRecord::try_from).collect()
    }

    #[tracing::instrument(name = "sqlite.revoke_token", skip_all, err, fields(token_id = %id))]
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError> {
        let mut write = self.write().await?;
        let done = sqlx::query(
            "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(now())
        .execute(&mut *write.tx)
        .await
        .map_err(store_error)?;
        write.commit().await?;
        Ok(done.rows_affected() == 1)
    }
}
