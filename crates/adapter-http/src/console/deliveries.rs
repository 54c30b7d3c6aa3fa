//! The deliveries list at `/admin/deliveries`: filtered, newest first, a page at a time.

use super::filter::{ListQuery, list_href};
use super::page::{DeliveriesPage, DeliveryRow, Failure, render};
use super::session::Session;
use crate::router::HttpApi;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

/// Deliveries per page of the list.
const PAGE_SIZE: u32 = 50;

#[tracing::instrument(name = "console_deliveries", skip_all, fields(tenant = %session.tenant()))]
pub(super) async fn deliveries(
    State(api): State<HttpApi>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, Failure> {
    let nav = session.nav();
    let filter = query.filter().map_err(|f| f.with_nav(nav.clone()))?;
    let before = query.before().map_err(|f| f.with_nav(nav.clone()))?;
    let mut listed = api
        .tracking
        .list(session.tenant(), filter, before, PAGE_SIZE + 1)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(nav.clone()))?;
    let more = listed.len() > PAGE_SIZE as usize;
    listed.truncate(PAGE_SIZE as usize);
    let form = query.form();
    let older = listed
        .last()
        .filter(|_| more)
        .map(|last| list_href(&form, Some(&last.id.to_string())));
    let newer = before.map(|_| list_href(&form, None));
    Ok(render(
        StatusCode::OK,
        &DeliveriesPage {
            nav: Some(nav),
            rows: listed.iter().map(DeliveryRow::from).collect(),
            filter: form,
            newer,
            older,
        },
    ))
}
