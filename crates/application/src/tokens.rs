//! API tokens: issued once in clear, stored as a SHA-256 hash, resolved to a tenant and scopes.

use crate::error::{ApplicationError, Field};
use crate::failure::{log_failure, logged};
use crate::ports::{TokenRecord, TokenStore};
use absync_domain::{Scope, TenantId};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The prefix of every token, so leaked tokens are recognisable.
pub const TOKEN_PREFIX: &str = "absync_";

/// A freshly issued token: the only time its text exists.
#[derive(Clone)]
pub struct IssuedToken {
    /// The token to hand to the caller.
    pub token: String,
    /// What was stored.
    pub record: TokenRecord,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("token", &"****")
            .field("record", &self.record)
            .finish()
    }
}

/// Who is calling: a tenant and what its token may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The tenant.
    pub tenant: TenantId,
    /// The token's scopes.
    pub scopes: Vec<Scope>,
}

impl Principal {
    /// True when the token carries `scope`: a question, not a refusal (nothing is logged).
    #[must_use]
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Succeeds when the token carries `scope`.
    ///
    /// # Errors
    /// [`ApplicationError::PermissionDenied`] otherwise (and logs it, as every refusal is).
    pub fn require(&self, scope: Scope) -> Result<&TenantId, ApplicationError> {
        if self.has(scope) {
            Ok(&self.tenant)
        } else {
            let err = ApplicationError::PermissionDenied(scope);
            log_failure(&err);
            Err(err)
        }
    }
}

/// Issues and checks tokens.
#[derive(Clone)]
pub struct TokenService {
    store: Arc<dyn TokenStore>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").finish_non_exhaustive()
    }
}

fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl TokenService {
    /// Builds the service.
    #[must_use]
    pub fn new(store: Arc<dyn TokenStore>) -> Self {
        Self { store }
    }

    /// Issues a token for `tenant` with `scopes` (at least one).
    ///
    /// # Errors
    /// [`ApplicationError::InvalidInput`] naming `scope` when none is given; store errors otherwise.
    #[tracing::instrument(name = "issue_token", skip_all, fields(tenant = %tenant))]
    pub async fn issue(
        &self,
        tenant: &TenantId,
        scopes: &[Scope],
        label: Option<String>,
    ) -> Result<IssuedToken, ApplicationError> {
        logged(async {
            if scopes.is_empty() {
                return Err(ApplicationError::invalid(
                    Field::Scope,
                    "give at least one scope",
                ));
            }
            let mut scopes = scopes.to_vec();
            scopes.sort_unstable();
            scopes.dedup();
            let mut secret = [0_u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let token = format!(
                "{TOKEN_PREFIX}{}",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
            );
            let record = self
                .store
                .create(tenant, hash(&token), &scopes, label)
                .await?;
            Ok(IssuedToken { token, record })
        })
        .await
    }

    /// Lists tokens (never their text), of one tenant if given.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_tokens", skip_all)]
    pub async fn list(
        &self,
        tenant: Option<TenantId>,
    ) -> Result<Vec<TokenRecord>, ApplicationError> {
        logged(async { Ok(self.store.list_tokens(tenant).await?) }).await
    }

    /// Revokes a token: every later call with it is unauthenticated.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when no active token has this id; store errors otherwise.
    #[tracing::instrument(name = "revoke_token", skip_all, fields(token_id = %id))]
    pub async fn revoke(&self, id: &str) -> Result<(), ApplicationError> {
        logged(async {
            if self.store.revoke_token(id).await? {
                Ok(())
            } else {
                Err(ApplicationError::NotFound("token"))
            }
        })
        .await
    }

    /// Resolves a bearer token to its tenant and scopes.
    ///
    /// # Errors
    /// [`ApplicationError::Unauthenticated`] for an empty, unknown or revoked token; store errors otherwise.
    #[tracing::instrument(name = "authenticate", skip_all, fields(tenant))]
    pub async fn authenticate(&self, token: &str) -> Result<Principal, ApplicationError> {
        logged(async {
            if !token.starts_with(TOKEN_PREFIX) {
                return Err(ApplicationError::Unauthenticated);
            }
            let record = self
                .store
                .find_active(hash(token))
                .await?
                .ok_or(ApplicationError::Unauthenticated)?;
            tracing::Span::current().record("tenant", tracing::field::display(&record.tenant));
            Ok(Principal {
                tenant: record.tenant,
                scopes: record.scopes,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::tokens::MockTokenStore;
    use chrono::Utc;

    fn record(scopes: Vec<Scope>) -> TokenRecord {
        TokenRecord {
            id: "t1".into(),
            tenant: TenantId::parse("acme").unwrap(),
            scopes,
            label: None,
            created_at: Utc::now(),
            revoked_at: None,
        }
    }

    #[tokio::test]
    async fn issued_tokens_are_stored_as_their_hash_only() {
        let mut store = MockTokenStore::new();
        store
            .expect_create()
            .withf(|tenant, hash, scopes, _| {
                tenant.as_str() == "acme" && *hash != [0; 32] && scopes == [Scope::AbsencesWrite]
            })
            .returning(|_, _, scopes, _| Ok(record(scopes.to_vec())));
        let service = TokenService::new(Arc::new(store));
        let issued = service
            .issue(
                &TenantId::parse("acme").unwrap(),
                &[Scope::AbsencesWrite, Scope::AbsencesWrite],
                None,
            )
            .await
            .unwrap();
        assert!(issued.token.starts_with(TOKEN_PREFIX));
        assert!(issued.token.len() > 40);
        assert!(!format!("{issued:?}").contains(&issued.token));
    }

    #[tokio::test]
    async fn no_scope_is_refused() {
        let service = TokenService::new(Arc::new(MockTokenStore::new()));
        let err = service
            .issue(&TenantId::parse("acme").unwrap(), &[], None)
            .await
            .unwrap_err();
        assert!(matches!(err, ApplicationError::InvalidInput(v) if v[0].field == Field::Scope));
    }

    #[tokio::test]
    async fn tokens_resolve_by_hash_and_unknown_ones_are_unauthenticated() {
        let token = "absync_known";
        let known = hash(token);
        let mut store = MockTokenStore::new();
        store
            .expect_find_active()
            .returning(move |h| Ok((h == known).then(|| record(vec![Scope::WebhooksRead]))));
        let service = TokenService::new(Arc::new(store));
        let principal = service.authenticate(token).await.unwrap();
        assert_eq!(principal.tenant.as_str(), "acme");
        assert!(principal.require(Scope::WebhooksRead).is_ok());
        assert!(matches!(
            principal.require(Scope::WebhooksWrite),
            Err(ApplicationError::PermissionDenied(Scope::WebhooksWrite))
        ));
        assert!(matches!(
            service.authenticate("absync_other").await,
            Err(ApplicationError::Unauthenticated)
        ));
        assert!(matches!(
            service.authenticate("").await,
            Err(ApplicationError::Unauthenticated)
        ));
    }
}
