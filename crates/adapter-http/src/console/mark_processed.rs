//! Marking one failed delivery processed: the confirmation page (with the note) and the action.

use super::delivery_action::DeliveryAction;
use super::forms::delivery_id;
use super::page::{Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_domain::limits::{self, check_length};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What the confirmation page asks.
const MARK_PROCESSED: DeliveryAction = DeliveryAction {
    title: |id| format!("Mark delivery {id} processed"),
    question: "Take this failed delivery off the dashboard without sending it again? It stays listed, with your note, for audit.",
    path: "mark-processed",
    button: "Mark processed",
    with_force: false,
    with_note: true,
};

pub(super) async fn confirm(session: Session, Path(id): Path<String>) -> Result<Response, Failure> {
    MARK_PROCESSED.confirm(&session, &id)
}

#[derive(Deserialize)]
pub(super) struct MarkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

#[tracing::instrument(name = "console_mark_processed", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
pub(super) async fn mark_processed(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<MarkForm>,
) -> Result<Response, Failure> {
    session
        .authorize_action(&form.csrf)
        .map_err(|f| f.with_nav(session.nav()))?;
    let id = delivery_id(&id).map_err(|f| f.with_nav(session.nav()))?;
    let note = form.note.trim();
    if let Err(too_long) = check_length(note, limits::NOTE) {
        let page = MARK_PROCESSED.page(&session, id, Some(format!("note: {too_long}.")));
        return Ok(render(StatusCode::BAD_REQUEST, &page));
    }
    let note = (!note.is_empty()).then(|| note.to_owned());
    api.tracking
        .mark_processed(session.tenant(), id, note)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
    Ok(Redirect::to(&format!("/admin/deliveries/{id}?done=processed")).into_response())
}
