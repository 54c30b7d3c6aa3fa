//! One subscription at `/admin/subscriptions/{id}`: its settings, charts of its attempts and their
//! latency hour by hour (the last 24 hours, or the last 7 days with `?window=week`) with their
//! table, its recent failures, and the pause and resume actions.

use super::chart;
use super::forms::{Notice, subscription_id};
use super::page::{
    Failure, FailureRow, HourRow, SubscriptionPage, SubscriptionRow, age, render, time,
};
use super::session::Session;
use crate::router::HttpApi;
use absync_application::HealthWindow;
use absync_domain::SubscriptionStatus;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

#[derive(Deserialize, Default)]
pub(super) struct WindowQuery {
    window: Option<String>,
}

impl WindowQuery {
    fn window(&self) -> Result<HealthWindow, Failure> {
        match self.window.as_deref().map(str::trim) {
            None | Some("" | "day") => Ok(HealthWindow::Day),
            Some("week") => Ok(HealthWindow::Week),
            Some(_) => Err(Failure::field("window", "must be day or week")),
        }
    }
}

#[tracing::instrument(name = "console_subscription", skip_all, fields(tenant = %session.tenant(), subscription_id = %id))]
pub(super) async fn subscription(
    State(api): State<HttpApi>,
    session: Session,
    Path(id): Path<String>,
    Query(window): Query<WindowQuery>,
    Query(notice): Query<Notice>,
) -> Result<Response, Failure> {
    session.require_subscriptions()?;
    let nav = session.nav();
    let id = subscription_id(&id).map_err(|f| f.with_nav(nav.clone()))?;
    let window = window.window().map_err(|f| f.with_nav(nav.clone()))?;
    let health = api
        .subscription_health
        .health(session.tenant(), &id, window)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(nav.clone()))?;
    let week = window == HealthWindow::Week;
    let s = &health.subscription;
    let open = s.deleted_at.is_none();
    Ok(render(
        StatusCode::OK,
        &SubscriptionPage {
            notice: notice.text(),
            row: SubscriptionRow::from(&health),
            week,
            attempts: chart::attempts(&health.hours, week),
            latency: chart::latency(&health.hours, week),
            hours: health.hours.iter().map(HourRow::from).collect(),
            failures: health
                .recent_failures
                .iter()
                .map(FailureRow::from)
                .collect(),
            taken_at: time(health.now),
            created: time(s.created_at),
            valid_until: s.valid_until.map_or_else(|| "never".to_owned(), time),
            max_per_second: s.max_per_second.map_or_else(
                || "unlimited".to_owned(),
                |rate| format!("{} deliveries per second", rate.get()),
            ),
            secret_age: age(s.secret_created_at, health.now),
            secret_created: time(s.secret_created_at),
            paused_since: s.paused_since.map(time),
            deleted: s.deleted_at.map(time),
            can_pause: nav.can_change_subscriptions
                && open
                && s.status == SubscriptionStatus::Enabled,
            can_resume: nav.can_change_subscriptions
                && open
                && s.status != SubscriptionStatus::Enabled,
            nav: Some(nav),
        },
    ))
}
