//! Marking one failed delivery processed: the confirmation page (with the note) and the action.

use super::forms::{delivery_id, require_write};
use super::page::{ConfirmPage, Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_domain::DeliveryId;
use absync_domain::limits::{self, check_length};
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// The confirmation page for marking delivery `id` processed, saying why when asked again.
fn confirm_page(session: &Session, id: DeliveryId, error: Option<String>) -> ConfirmPage {
    let back = format!("/admin/deliveries/{id}");
    ConfirmPage {
        nav: Some(session.nav()),
        title: format!("Mark delivery {id} processed"),
        question: "Take this failed delivery off the dashboard without sending it again? It stays listed, with your note, for audit.".to_owned(),
        action: format!("{back}/mark-processed"),
        button: "Mark processed",
        back,
        with_force: false,
        with_note: true,
        error,
    }
}

pub(super) async fn confirm(session: Session, Path(id): Path<String>) -> Result<Response, Failure> {
    require_write(&session)?;
    let id = delivery_id(&id).map_err(|f| f.with_nav(session.nav()))?;
    Ok(render(StatusCode::OK, &confirm_page(&session, id, None)))
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
        let page = confirm_page(&session, id, Some(format!("note: {too_long}.")));
        return Ok(render(StatusCode::BAD_REQUEST, &page));
    }
    let note = (!note.is_empty()).then(|| note.to_owned());
    api.tracking
        .mark_processed(session.tenant(), id, note)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
    Ok(Redirect::to(&format!("/admin/deliveries/{id}?done=processed")).into_response())
}
