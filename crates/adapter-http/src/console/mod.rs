//! The `/admin` web console: server-rendered pages over the tracking use cases.
//!
//! Sign in with an API token that has `deliveries:read` (and `deliveries:write` for the actions);
//! the pending-tasks dashboard, the deliveries list with filters and paging, a delivery's exact
//! message and attempts, and the re-sync / mark-processed actions, each behind a confirmation page.
//! Everything is plain HTML forms and links: no script, nothing loaded from another origin.

mod page;
mod session;

use crate::router::HttpApi;
use absync_application::ports::{DeliveryFilter, DeliveryStatus};
use absync_domain::limits::{self, check_length};
use absync_domain::{DeliveryId, Scope, SubscriptionId};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chrono::{DateTime, NaiveDate, Utc};
use page::{
    AttemptRow, ConfirmPage, DashboardPage, DeliveriesPage, DeliveryPage, DeliveryRow, Failure,
    FilterForm, LoginPage, TaskRow, render,
};
use serde::Deserialize;
use session::Session;
use std::fmt::Write as _;

/// Deliveries per page of the list.
const PAGE_SIZE: u32 = 50;
/// The stylesheet, served from the console's own origin.
const STYLESHEET: &str = include_str!("../../templates/console/console.css");

/// The console's routes, under `/admin`.
pub(crate) fn routes() -> Router<HttpApi> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/", get(|| async { Redirect::to("/admin") }))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", axum::routing::post(logout))
        .route("/admin/console.css", get(stylesheet))
        .route("/admin/deliveries", get(deliveries))
        .route("/admin/deliveries/{id}", get(delivery))
        .route(
            "/admin/deliveries/{id}/resync",
            get(confirm_resync).post(resync),
        )
        .route(
            "/admin/deliveries/{id}/mark-processed",
            get(confirm_mark_processed).post(mark_processed),
        )
        .route(
            "/admin/subscriptions/{id}/resync-failed",
            get(confirm_resync_failed).post(resync_failed),
        )
}

async fn stylesheet() -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLESHEET,
    )
        .into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

async fn login_form() -> Response {
    render(
        StatusCode::OK,
        &LoginPage {
            nav: None,
            error: None,
        },
    )
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    token: String,
}

#[tracing::instrument(name = "console_login", skip_all)]
async fn login(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let token = form.token.trim();
    let refused = |status: StatusCode, error: &str| {
        render(
            status,
            &LoginPage {
                nav: None,
                error: Some(error.to_owned()),
            },
        )
    };
    if token.is_empty() {
        return refused(StatusCode::BAD_REQUEST, "token: enter an API token.");
    }
    match api.tokens.authenticate(token).await {
        Ok(principal) if principal.require(Scope::DeliveriesRead).is_ok() => {
            tracing::info!(tenant = %principal.tenant, "console sign-in");
            let mut response = Redirect::to("/admin").into_response();
            let cookie =
                session::set_cookie(&session::cookie_value(token), session::is_https(&headers));
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            response
        }
        Ok(_) => refused(
            StatusCode::FORBIDDEN,
            "token: this token lacks the deliveries:read scope.",
        ),
        Err(absync_application::ApplicationError::Unavailable(_)) => refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "The store is unreachable; try again shortly.",
        ),
        Err(_) => refused(
            StatusCode::UNAUTHORIZED,
            "token: unknown, revoked or expired token.",
        ),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(session: Session, Form(form): Form<CsrfForm>) -> Response {
    // Signing out needs the CSRF token but not the write scope.
    if let Err(failure) = session.check_csrf(&form.csrf) {
        return failure.with_nav(session.nav()).into_response();
    }
    let mut response = Redirect::to(session::LOGIN).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session::clear_cookie());
    response
}

#[derive(Deserialize, Default)]
struct Notice {
    done: Option<String>,
    n: Option<u64>,
}

impl Notice {
    fn text(&self) -> Option<String> {
        Some(match self.done.as_deref()? {
            "resynced" => "Re-sync queued: the delivery is due now.".to_owned(),
            "processed" => "Marked processed: it has left the dashboard.".to_owned(),
            "resynced-failed" => format!(
                "Re-sync queued for {} failed deliveries.",
                self.n.unwrap_or(0)
            ),
            _ => return None,
        })
    }
}

#[tracing::instrument(name = "console_dashboard", skip_all, fields(tenant = %session.tenant()))]
async fn dashboard(
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

#[derive(Deserialize, Default)]
struct ListQuery {
    subscription: Option<String>,
    status: Option<String>,
    leave: Option<String>,
    event: Option<String>,
    since: Option<String>,
    before: Option<String>,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl ListQuery {
    fn filter(&self) -> Result<DeliveryFilter, Failure> {
        let status = match given(self.status.as_ref()) {
            None => None,
            Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
                Failure::field(
                    "status",
                    "must be one of waiting, pending, succeeded, failed, processed",
                )
            })?),
        };
        let event = match given(self.event.as_ref()) {
            None => None,
            Some(text) if page::EVENTS.contains(&text) => Some(text.to_owned()),
            Some(_) => {
                return Err(Failure::field(
                    "event",
                    "must be one of created, approved, deleted",
                ));
            }
        };
        let since = given(self.since.as_ref()).map(parse_since).transpose()?;
        Ok(DeliveryFilter {
            subscription: given(self.subscription.as_ref())
                .map(|s| SubscriptionId::new(s.to_owned())),
            status,
            leave_key: given(self.leave.as_ref()).map(str::to_owned),
            event,
            since,
        })
    }

    fn before(&self) -> Result<Option<DeliveryId>, Failure> {
        given(self.before.as_ref())
            .map(|text| {
                text.parse()
                    .map(DeliveryId::new)
                    .map_err(|_| Failure::field("before", "must be a delivery id"))
            })
            .transpose()
    }

    fn form(&self) -> FilterForm {
        let text = |v: &Option<String>| given(v.as_ref()).unwrap_or_default().to_owned();
        FilterForm {
            subscription: text(&self.subscription),
            status: text(&self.status),
            leave: text(&self.leave),
            event: text(&self.event),
            since: text(&self.since),
        }
    }
}

/// `YYYY-MM-DD` (from midnight UTC) or RFC 3339.
fn parse_since(text: &str) -> Result<DateTime<Utc>, Failure> {
    if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day.and_time(chrono::NaiveTime::MIN).and_utc());
    }
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| Failure::field("since", "must be a date (YYYY-MM-DD) or an RFC 3339 time"))
}

/// `/admin/deliveries` with the filters of `form` and `before`.
fn list_href(form: &FilterForm, before: Option<&str>) -> String {
    let mut href = String::from("/admin/deliveries?");
    let pairs = [
        ("subscription", form.subscription.as_str()),
        ("status", form.status.as_str()),
        ("leave", form.leave.as_str()),
        ("event", form.event.as_str()),
        ("since", form.since.as_str()),
        ("before", before.unwrap_or_default()),
    ];
    for (name, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        let _ = write!(href, "{name}={}&", percent_encode(value));
    }
    href.pop();
    href
}

fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

#[tracing::instrument(name = "console_deliveries", skip_all, fields(tenant = %session.tenant()))]
async fn deliveries(
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

fn delivery_id(text: &str) -> Result<DeliveryId, Failure> {
    text.parse()
        .map(DeliveryId::new)
        .map_err(|_| Failure::new(StatusCode::NOT_FOUND, "No such delivery."))
}

fn pretty_json(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

#[tracing::instrument(name = "console_delivery", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
async fn delivery(
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

/// A confirmation page for an action on delivery `id`.
fn confirm_delivery(
    session: &Session,
    id: DeliveryId,
    verb: &'static str,
    error: Option<String>,
) -> ConfirmPage {
    let back = format!("/admin/deliveries/{id}");
    let (title, question, button, with_force, with_note) = if verb == "resync" {
        (
            format!("Re-sync delivery {id}"),
            "Send this delivery's message again now? It goes through the usual retries if the receiver fails.".to_owned(),
            "Re-sync now",
            true,
            false,
        )
    } else {
        (
            format!("Mark delivery {id} processed"),
            "Take this failed delivery off the dashboard without sending it again? It stays listed, with your note, for audit.".to_owned(),
            "Mark processed",
            false,
            true,
        )
    };
    ConfirmPage {
        nav: Some(session.nav()),
        title,
        question,
        action: format!("{back}/{verb}"),
        button,
        back,
        with_force,
        with_note,
        error,
    }
}

fn require_write(session: &Session) -> Result<(), Failure> {
    if session.can_write() {
        Ok(())
    } else {
        Err(Failure::new(
            StatusCode::FORBIDDEN,
            "This token may read deliveries but not change them (scope deliveries:write).",
        )
        .with_nav(session.nav()))
    }
}

async fn confirm_resync(session: Session, Path(id): Path<String>) -> Result<Response, Failure> {
    require_write(&session)?;
    let id = delivery_id(&id).map_err(|f| f.with_nav(session.nav()))?;
    Ok(render(
        StatusCode::OK,
        &confirm_delivery(&session, id, "resync", None),
    ))
}

async fn confirm_mark_processed(
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    require_write(&session)?;
    let id = delivery_id(&id).map_err(|f| f.with_nav(session.nav()))?;
    Ok(render(
        StatusCode::OK,
        &confirm_delivery(&session, id, "mark-processed", None),
    ))
}

#[derive(Deserialize)]
struct ResyncForm {
    #[serde(default)]
    csrf: String,
    force: Option<String>,
}

#[tracing::instrument(name = "console_resync", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
async fn resync(
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
                let page =
                    confirm_delivery(&session, id, "resync", Some(failure.detail().to_owned()));
                Ok(render(StatusCode::CONFLICT, &page))
            } else {
                Err(failure.with_nav(session.nav()))
            }
        }
    }
}

#[derive(Deserialize)]
struct MarkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    note: String,
}

#[tracing::instrument(name = "console_mark_processed", skip_all, fields(tenant = %session.tenant(), delivery_id = %id))]
async fn mark_processed(
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
        let page = confirm_delivery(
            &session,
            id,
            "mark-processed",
            Some(format!("note: {too_long}.")),
        );
        return Ok(render(StatusCode::BAD_REQUEST, &page));
    }
    let note = (!note.is_empty()).then(|| note.to_owned());
    api.tracking
        .mark_processed(session.tenant(), id, note)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(session.nav()))?;
    Ok(Redirect::to(&format!("/admin/deliveries/{id}?done=processed")).into_response())
}

async fn confirm_resync_failed(
    session: Session,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
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
async fn resync_failed(
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
