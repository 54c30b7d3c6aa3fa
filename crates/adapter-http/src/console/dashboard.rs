//! The pending-tasks dashboard at `/admin`: failed deliveries by subscription.

use super::forms::Notice;
use super::page::{DashboardPage, Failure, TaskRow, render};
use super::session::Session;
use crate::router::HttpApi;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

#[tracing::instrument(name = "console_dashboard", skip_all, fields(tenant = %session.tenant()))]
pub(super) async fn dashboard(
    State(api): State<HttpApi>,
    session: Session,
    Query(notice): Query<Notice>,
) -> Result<Response, Failure> {
    let tasks = api
        .tracking
        .pending_tasks(session.tenant())
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
    let total = tasks.iter().map(|t| t.failed).sum();
    Ok(render(
        StatusCode::OK,
        &DashboardPage {
            nav: Some(session.nav()),
            notice: notice.text(),
            tasks: tasks.into_iter().map(TaskRow::from).collect(),
            total,
        },
    ))
}
