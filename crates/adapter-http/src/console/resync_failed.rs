//! Re-syncing every failed delivery of a subscription, from the dashboard: confirmation and action.

use super::forms::{CsrfForm, percent_encode, require_write};
use super::page::{ConfirmPage, Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_domain::SubscriptionId;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

pub(super) async fn confirm(session: Session, Path(id): Path<String>) -> Result<Response, Failure> {
    require_write(&session)?;
    let page = ConfirmPage {
        nav: Some(session.nav()),
        title: format!("Re-sync the failed deliveries of {id}"),
        question: "Send every failed delivery of this subscription again now? Only the latest change of each leave is sent; older ones stay failed.".to_owned(),
        action: format!("/admin/subscriptions/{}/resync-failed", percent_encode(&id)),
        button: "Re-sync all failed",
        back: "/admin".to_owned(),
        with_force: false,
        with_note: false,
        error: None,
    };
    Ok(render(StatusCode::OK, &page))
}

#[tracing::instrument(name = "console_resync_failed", skip_all, fields(tenant = %session.tenant(), subscription = %id))]
pub(super) async fn resync_failed(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    session
        .authorize_action(&form.csrf)
        .map_err(|f| f.with_nav(session.nav()))?;
    let count = api
        .tracking
        .resync_failed(session.tenant(), Some(SubscriptionId::new(id)))
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
    Ok(Redirect::to(&format!("/admin?done=resynced-failed&n={count}")).into_response())
}
