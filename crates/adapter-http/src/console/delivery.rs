//! One delivery at `/admin/deliveries/{id}`: its exact message (secrets redacted) and every attempt.

use super::forms::{Notice, delivery_id};
use super::page::{AttemptRow, DeliveryPage, DeliveryRow, Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_application::ports::DeliveryStatus;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;

fn pretty_json(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

#[tracing::instrument(name = "console_delivery", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
pub(super) async fn delivery(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Query(notice): Query<Notice>,
) -> Result<Response, Failure> {
    let nav = session.nav();
    let id = delivery_id(&id).map_err(|f| f.with_nav(nav.clone()))?;
    let detail = api
        .tracking
        .get(session.tenant(), id)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(nav.clone()))?;
    let message = detail.inspect();
    let status = detail.summary.status;
    Ok(render(
        StatusCode::OK,
        &DeliveryPage {
            can_resync: nav.can_write
                && matches!(
                    status,
                    DeliveryStatus::Failed
                        | DeliveryStatus::Succeeded
                        | DeliveryStatus::Processed
                        | DeliveryStatus::Cancelled
                ),
            can_mark: nav.can_write && status == DeliveryStatus::Failed,
            nav: Some(nav),
            notice: notice.text(),
            row: DeliveryRow::from(&detail.summary),
            destination: message.destination,
            headers: message.headers,
            body: pretty_json(&message.body),
            attempts: detail
                .attempts
                .iter()
                .enumerate()
                .map(|(i, a)| AttemptRow::new(i + 1, a))
                .collect(),
        },
    ))
}
