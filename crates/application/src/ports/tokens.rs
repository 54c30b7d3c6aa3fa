//! The token store: API tokens are kept only as hashes.

use super::StoreError;
use absync_domain::{Scope, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// A stored token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The token's public id.
    pub id: String,
    /// The tenant it acts for.
    pub tenant: TenantId,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// A note for operators.
    pub label: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Token hashes and what they grant.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token's hash (creating the tenant on first use).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn create(
        &self,
        tenant: &TenantId,
        hash: [u8; 32],
        scopes: &[Scope],
        label: Option<String>,
    ) -> Result<TokenRecord, StoreError>;

    /// Finds the unrevoked token with this hash.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn find_active(&self, hash: [u8; 32]) -> Result<Option<TokenRecord>, StoreError>;

    /// Every token (of one tenant, if given), oldest first, revoked ones included.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn list_tokens(&self, tenant: Option<TenantId>) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes a token by its id; it stops working at once. False when there is no such active token.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn revoke_token(&self, id: &str) -> Result<bool, StoreError>;
}
