//! Signing in (the token form, which sets the session cookie) and signing out.

use super::forms::CsrfForm;
use super::page::{LoginPage, render};
use super::session::{self, Session};
use crate::router::HttpApi;
use absync_domain::Scope;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

pub(super) async fn login_form() -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            nav: None,
            error: None,
        },
    )
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    token: String,
}

#[tracing::instrument(name = "console_login", skip_all)]
pub(super) async fn login(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    let refused = |status: StatusCode, error: &str| {
        render(
            status,
            &LoginPage {
                nav: None,
                error: Some(error.to_owned()),
            },
        )
    };
    if token.is_empty() {
        return refused(StatusCode::BAD_REQUEST, "token: enter an API token.");
    }
    match api.tokens.authenticate(token).await {
        Ok(principal) if principal.require(Scope::DeliveriesRead).is_ok() => {
            tracing::info!(tenant = %principal.tenant, "console sign-in");
            let mut response = Redirect::to("/admin").into_response();
            let cookie =
                session::set_cookie(&session::cookie_value(token), session::is_https(&headers));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Ok(_) => refused(
            StatusCode::FORBIDDEN,
            "token: this token lacks the deliveries:read scope.",
        ),
        Err(absync_application::ApplicationError::Unavailable(_)) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store is unreachable; try again shortly.",
        ),
        Err(_) => refused(
            StatusCode::UNAUTHORIZED,
            "token: unknown, revoked or expired token.",
        ),
    }
}

pub(super) async fn logout(session: Session, Form(form): Form<CsrfForm>) -> Response {
    // Signing out needs the CSRF token but not the write scope.
    if let Err(failure) = session.check_csrf(&form.csrf) {
        return failure.with_nav(session.nav()).into_response();
    }
    let mut response = Redirect::to(session::LOGIN).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    response
}
