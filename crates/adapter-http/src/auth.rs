//! Bearer tokens on the REST API: `Authorization: Bearer <token>`, resolved to a tenant with a scope.

use crate::problem::Problem;
use absync_application::TokenService;
use absync_domain::{Scope, TenantId};
use axum::http::HeaderMap;

/// The caller's tenant, if the request carries a valid token with `scope`; 401 otherwise (Protime
/// answers 401 for a missing scope as well).
pub(crate) async fn tenant(
    tokens: &TokenService,
    headers: &HeaderMap,
    scope: Scope,
) -> Result<TenantId, Problem> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| Problem::unauthorized("missing Authorization: Bearer <token>"))?;
    let principal = tokens
        .authenticate(token)
        .await
        .map_err(|e| Problem::from_application(&e))?;
    principal
        .require(scope)
        .cloned()
        .map_err(|e| Problem::from_application(&e))
}
