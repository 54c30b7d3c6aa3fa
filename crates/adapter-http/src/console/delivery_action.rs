//! What the two actions on one delivery (re-sync, mark processed) share: their confirmation page.

use super::forms::{delivery_id, require_write};
use super::page::{ConfirmPage, Failure, render};
use super::session::Session;
use absync_domain::DeliveryId;
use axum::http::StatusCode;
use axum::response::Response;

/// An action on one delivery, as its confirmation page asks for it.
pub(super) struct DeliveryAction {
    /// The page title, for a delivery id.
    pub(super) title: fn(DeliveryId) -> String,
    /// What the operator is asked.
    pub(super) question: &'static str,
    /// The action's path below the delivery's (`resync`).
    pub(super) path: &'static str,
    /// The confirm button.
    pub(super) button: &'static str,
    /// Whether the form has the force box.
    pub(super) with_force: bool,
    /// Whether the form has the note field.
    pub(super) with_note: bool,
}

impl DeliveryAction {
    /// The confirmation page for delivery `id`, saying why when asked again.
    pub(super) fn page(
        &self,
        session: &Session,
        id: DeliveryId,
        error: Option<String>,
    ) -> ConfirmPage {
        let back = format!("/admin/deliveries/{id}");
        ConfirmPage {
            nav: Some(session.nav()),
            title: (self.title)(id),
            question: self.question.to_owned(),
            action: format!("{back}/{}", self.path),
            button: self.button,
            back,
            with_force: self.with_force,
            with_note: self.with_note,
            error,
        }
    }

    /// The confirmation page for the delivery of path segment `id`, to a session that may write.
    pub(super) fn confirm(&self, session: &Session, id: &str) -> Result<Response, Failure> {
        require_write(session)?;
        let id = delivery_id(id).map_err(|f| f.with_nav(session.nav()))?;
        Ok(render(StatusCode::OK, &self.page(session, id, None)))
    }
}
