//! Bearer-token authentication: every call carries `authorization: Bearer <token>`, resolved to a tenant
//! and checked for the scope the method needs.

use crate::status::to_status;
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use tonic::{Request, Status};

/// Resolves callers to their tenant.
#[derive(Debug, Clone)]
pub(crate) struct Authenticator {
    tokens: TokenService,
}

impl Authenticator {
    pub(crate) fn new(tokens: TokenService) -> Self {
        Self { tokens }
    }

    /// The tenant of the caller, if its token is valid and carries `scope`.
    pub(crate) async fn tenant<T>(
        &self,
        request: &Request<T>,
        scope: Scope,
    ) -> Result<TenantId, Status> {
        let header = request
            .metadata()
            .get("authorization")
            .ok_or_else(|| Status::unauthenticated("missing authorization: Bearer <token>"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(|| Status::unauthenticated("authorization must be: Bearer <token>"))?;
        let principal = self.tokens.authenticate(token).await.map_err(to_status)?;
        principal.require(scope).cloned().map_err(to_status)
    }
}
