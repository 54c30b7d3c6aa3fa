//! Pausing and resuming a subscription from its page: the confirmation pages and the actions.
//! Resume also re-enables a disabled subscription (Protime's disable after exhausted retries
//! included).

use super::forms::{CsrfForm, subscription_id};
use super::page::{ConfirmPage, Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_domain::SubscriptionId;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

/// What an action does to the subscription.
#[derive(Clone, Copy)]
enum Change {
    Pause,
    Resume,
}

/// An action on one subscription, as its confirmation page asks for it.
struct SubscriptionAction {
    /// What it does.
    change: Change,
    /// The page title, for a subscription id.
    title: fn(&SubscriptionId) -> String,
    /// What the operator is asked.
    question: &'static str,
    /// The action's path below the subscription's (`pause`).
    path: &'static str,
    /// The confirm button.
    button: &'static str,
    /// The notice the subscription's page shows after it (`?done=…`).
    done: &'static str,
}

const PAUSE: SubscriptionAction = SubscriptionAction {
    change: Change::Pause,
    title: |id| format!("Pause subscription {id}"),
    question: "Stop sending to this subscriber? New deliveries queue up and nothing is sent until it is resumed; then they go in change order per leave.",
    path: "pause",
    button: "Pause",
    done: "paused",
};

const RESUME: SubscriptionAction = SubscriptionAction {
    change: Change::Resume,
    title: |id| format!("Resume subscription {id}"),
    question: "Send to this subscriber again? What queued up is sent now, in change order per leave. A disabled subscription is enabled again.",
    path: "resume",
    button: "Resume",
    done: "resumed",
};

impl SubscriptionAction {
    /// The confirmation page for the tenant's subscription of path segment `id`, to a session
    /// that may change subscriptions.
    async fn confirm(
        &self,
        api: &HttpApi,
        session: &Session,
        id: &str,
    ) -> Result<Response, Failure> {
        session.require_subscriptions()?;
        session.require_subscription_change()?;
        let id = subscription_id(id).map_err(|f| f.with_nav(session.nav()))?;
        // Another tenant's, or a deleted one, is not there to act on.
        api.subscriptions
            .get(session.tenant(), &id)
            .await
            .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
        let back = format!("/admin/subscriptions/{id}");
        let page = ConfirmPage {
            nav: Some(session.nav()),
            title: (self.title)(&id),
            question: self.question.to_owned(),
            action: format!("{back}/{}", self.path),
            button: self.button,
            back,
            with_force: false,
            with_note: false,
            error: None,
        };
        Ok(render(StatusCode::OK, &page))
    }

    /// Checks the form and the scope, runs the action, and goes back to the subscription's page.
    async fn act(
        &self,
        api: &HttpApi,
        session: &Session,
        id: &str,
        form: &CsrfForm,
    ) -> Result<Response, Failure> {
        session
            .check_csrf(&form.csrf)
            .map_err(|f| f.with_nav(session.nav()))?;
        session.require_subscription_change()?;
        let id = subscription_id(id).map_err(|f| f.with_nav(session.nav()))?;
        let done = match self.change {
            Change::Pause => api.subscriptions.pause(session.tenant(), &id).await,
            Change::Resume => api.subscriptions.resume(session.tenant(), &id).await,
        };
        done.map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
        Ok(Redirect::to(&format!("/admin/subscriptions/{id}?done={}", self.done)).into_response())
    }
}

pub(super) async fn confirm_pause(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    PAUSE.confirm(&api, &session, &id).await
}

#[tracing::instrument(name = "console_pause", skip_all, fields(tenant = %session.tenant(), subscription_id = %id))]
pub(super) async fn pause(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    PAUSE.act(&api, &session, &id, &form).await
}

pub(super) async fn confirm_resume(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    RESUME.confirm(&api, &session, &id).await
}

#[tracing::instrument(name = "console_resume", skip_all, fields(tenant = %session.tenant(), subscription_id = %id))]
pub(super) async fn resume(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, Failure> {
    RESUME.act(&api, &session, &id, &form).await
}
