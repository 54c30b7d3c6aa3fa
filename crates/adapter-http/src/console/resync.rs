//! Re-syncing one delivery: the confirmation page (with the force box) and the action.

use super::delivery_action::DeliveryAction;
use super::forms::delivery_id;
use super::page::{Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What the confirmation page asks.
const RESYNC: DeliveryAction = DeliveryAction {
    title: |id| format!("Re-sync delivery {id}"),
    question: "Send this delivery's message again now? It goes through the usual retries if the receiver fails.",
    path: "resync",
    button: "Re-sync now",
    with_force: true,
    with_note: false,
};

pub(super) async fn confirm(session: Session, Path(id): Path<String>) -> Result<Response, Failure> {
    RESYNC.confirm(&session, &id)
}

#[derive(Deserialize)]
pub(super) struct ResyncForm {
    #[serde(default)]
    csrf: String,
    force: Option<String>,
}

#[tracing::instrument(name = "console_resync", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
pub(super) async fn resync(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<ResyncForm>,
) -> Result<Response, Failure> {
    session
        .authorize_action(&form.csrf)
        .map_err(|f| f.with_nav(session.nav()))?;
    let id = delivery_id(&id).map_err(|f| f.with_nav(session.nav()))?;
    let force = form.force.is_some();
    match api.tracking.resync(session.tenant(), id, force).await {
        Ok(_) => Ok(Redirect::to(&format!("/admin/deliveries/{id}?done=resynced")).into_response()),
        Err(err) => {
            let failure = Failure::from_application(&err);
            if failure.status() == StatusCode::CONFLICT {
                // Ask again, saying why; the force box is there.
                let page = RESYNC.page(&session, id, Some(failure.detail().to_owned()));
                Ok(render(StatusCode::CONFLICT, &page))
            } else {
                Err(failure.with_nav(session.nav()))
            }
        }
    }
}
