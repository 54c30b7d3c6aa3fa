//! The console's session.
//!
//! Signing in puts `<issued-at>.<token>` in an `HttpOnly`, `SameSite=Strict` cookie scoped to
//! `/admin`. Every request checks the token again, so a revoked token ends its sessions at once, and
//! a session older than [`SESSION_LIFETIME`] is refused whatever the browser keeps. Forms that change
//! something carry a CSRF token derived from the cookie, which another site can neither read nor
//! compute; `SameSite=Strict` and an `Origin` check stand behind it.

use super::page::{Failure, Nav};
use crate::router::HttpApi;
use absync_application::{ApplicationError, Principal};
use absync_domain::{Scope, TenantId};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "absync_admin";
/// How long a sign-in lasts.
pub(crate) const SESSION_LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// Where a signed-out operator is sent.
pub(crate) const LOGIN: &str = "/admin/login";

/// A signed-in operator.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    principal: Principal,
    csrf: String,
}

impl Session {
    /// The operator's tenant: every page shows this tenant's deliveries only.
    pub(crate) fn tenant(&self) -> &TenantId {
        &self.principal.tenant
    }

    /// Whether the token may re-sync and mark processed.
    pub(crate) fn can_write(&self) -> bool {
        self.principal.has(Scope::DeliveriesWrite)
    }

    /// Whether the token may see the subscriptions pages.
    pub(crate) fn can_read_subscriptions(&self) -> bool {
        self.principal.has(Scope::WebhooksRead)
    }

    /// Whether the token may pause and resume subscriptions.
    pub(crate) fn can_change_subscriptions(&self) -> bool {
        self.principal.has(Scope::WebhooksWrite)
    }

    /// What the page layout shows of the session.
    pub(crate) fn nav(&self) -> Nav {
        Nav {
            tenant: self.principal.tenant.to_string(),
            csrf: self.csrf.clone(),
            can_write: self.can_write(),
            subscriptions: self.can_read_subscriptions(),
            can_change_subscriptions: self.can_change_subscriptions(),
        }
    }

    /// Refuses a subscriptions page to a token without `webhooks:read`.
    pub(crate) fn require_subscriptions(&self) -> Result<(), Failure> {
        if self.can_read_subscriptions() {
            Ok(())
        } else {
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                "This token may not see subscriptions (scope webhooks:read).",
            )
            .with_nav(self.nav()))
        }
    }

    /// Refuses a subscription's action (its confirmation page or its form) to a token without
    /// `webhooks:write`.
    pub(crate) fn require_subscription_change(&self) -> Result<(), Failure> {
        if self.can_change_subscriptions() {
            Ok(())
        } else {
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                "This token may see subscriptions but not pause or resume them (scope webhooks:write).",
            )
            .with_nav(self.nav()))
        }
    }

    /// Checks a form's CSRF token.
    pub(crate) fn check_csrf(&self, submitted: &str) -> Result<(), Failure> {
        if constant_time_eq(submitted.as_bytes(), self.csrf.as_bytes()) {
            Ok(())
        } else {
            Err(Failure::new(
                StatusCode::FORBIDDEN,
                "The form has expired or did not come from this console. Go back, reload the page and try again.",
            ))
        }
    }

    /// Checks a form's CSRF token and the write scope before an action.
    pub(crate) fn authorize_action(&self, submitted: &str) -> Result<(), Failure> {
        self.check_csrf(submitted)?;
        if !self.can_write() {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "This token may read deliveries but not change them (scope deliveries:write).",
            ));
        }
        Ok(())
    }
}

/// The cookie value for a sign-in with `token` now.
pub(crate) fn cookie_value(token: &str) -> String {
    format!("{}.{token}", now_secs())
}

/// `Set-Cookie` for a new session; `secure` when the console is reached over HTTPS.
pub(crate) fn set_cookie(value: &str, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE}={value}; Path=/admin; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        SESSION_LIFETIME.as_secs()
    );
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| clear_cookie())
}

/// `Set-Cookie` that ends the session.
pub(crate) fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static("absync_admin=; Path=/admin; Max-Age=0; HttpOnly; SameSite=Strict")
}

/// Whether the request reached us over HTTPS (through a proxy that says so).
pub(crate) fn is_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// The session cookie's value, if the request carries one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(name, value)| (name == COOKIE).then_some(value))
}

/// The token of a cookie value that has not expired.
fn token_of(value: &str) -> Option<&str> {
    let (issued, token) = value.split_once('.')?;
    let issued: u64 = issued.parse().ok()?;
    let age = now_secs().checked_sub(issued)?;
    (age < SESSION_LIFETIME.as_secs()).then_some(token)
}

/// The CSRF token of a session: a hash of its cookie value.
fn csrf_of(value: &str) -> String {
    let digest = Sha256::new()
        .chain_update(b"absync-admin-csrf\0")
        .chain_update(value.as_bytes())
        .finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The browser's `Sec-Fetch-Site` and `Origin`, when it sent them, must say this site: a cross-site
/// form post is refused even if a browser ignored `SameSite`.
fn same_origin(parts: &Parts) -> bool {
    let fetch_site = parts
        .headers
        .get("sec-fetch-site")
        .map(HeaderValue::as_bytes);
    if fetch_site.is_some_and(|site| site != b"same-origin" && site != b"none") {
        return false;
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let Some(host) = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    else {
        return false;
    };
    origin.to_str().ok().is_some_and(|origin| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == host)
    })
}

/// Signed out (or the session ended): go to the sign-in page, forgetting the cookie.
fn to_login() -> Response {
    let mut response = Redirect::to(LOGIN).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    response
}

impl FromRequestParts<HttpApi> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &HttpApi) -> Result<Self, Response> {
        if parts.method != axum::http::Method::GET && !same_origin(parts) {
            return Err(
                Failure::new(StatusCode::FORBIDDEN, "Cross-site requests are refused.")
                    .into_response(),
            );
        }
        let value = cookie(&parts.headers).ok_or_else(to_login)?;
        let token = token_of(value).ok_or_else(to_login)?;
        let principal = match api.tokens.authenticate(token).await {
            Ok(principal) => principal,
            Err(ApplicationError::Unavailable(_)) => {
                return Err(Failure::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The store is unreachable; try again shortly.",
                )
                .into_response());
            }
            Err(_) => return Err(to_login()),
        };
        if principal.require(Scope::DeliveriesRead).is_err() {
            return Err(to_login());
        }
        Ok(Self {
            principal,
            csrf: csrf_of(value),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_read_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; absync_admin=123.absync_x; b=2"),
        );
        assert_eq!(cookie(&headers), Some("123.absync_x"));
    }

    #[test]
    fn an_old_or_malformed_session_has_no_token() {
        let fresh = cookie_value("absync_t");
        assert_eq!(token_of(&fresh), Some("absync_t"));
        let old = format!("{}.absync_t", now_secs() - SESSION_LIFETIME.as_secs());
        assert_eq!(token_of(&old), None);
        assert_eq!(token_of("absync_t"), None);
        assert_eq!(token_of("later.absync_t"), None);
    }

    #[test]
    fn the_csrf_token_depends_on_the_session() {
        assert_ne!(csrf_of("1.absync_a"), csrf_of("2.absync_a"));
        assert_eq!(csrf_of("1.absync_a"), csrf_of("1.absync_a"));
        assert!(!csrf_of("1.absync_a").contains("absync_a"));
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_scoped() {
        let cookie = set_cookie("1.absync_a", true);
        let text = cookie.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/admin",
            "Secure",
            "Max-Age=28800",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(
            !set_cookie("1.a", false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
