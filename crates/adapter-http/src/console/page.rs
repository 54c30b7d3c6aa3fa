//! The console's pages: askama templates (in `templates/console/`, HTML-escaped by default) and the
//! view models they show. Every page is complete HTML with one same-origin stylesheet and no script.

use super::chart::Chart;
use absync_application::ports::{
    AttemptSummary, DeliveryStatus, DeliverySummary, FailedAttempt, PendingTask, Subscription,
    SubscriptionState,
};
use absync_application::{ApplicationError, HourFigures, SubscriptionHealth, SubscriptionSummary};
use absync_domain::LeaveEvent;
use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};

/// What the layout shows of a signed-in session.
#[derive(Debug, Clone)]
pub(crate) struct Nav {
    pub(crate) tenant: String,
    pub(crate) csrf: String,
    pub(crate) can_write: bool,
    /// Whether the token may see the subscriptions pages (`webhooks:read`).
    pub(crate) subscriptions: bool,
    /// Whether the token may pause and resume subscriptions (`webhooks:write`).
    pub(crate) can_change_subscriptions: bool,
}

/// The sign-in form.
#[derive(Template)]
#[template(path = "console/login.html")]
pub(crate) struct LoginPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) error: Option<String>,
}

/// One subscription with failed deliveries.
pub(crate) struct TaskRow {
    pub(crate) subscription: String,
    pub(crate) destination: String,
    pub(crate) failed: u64,
    pub(crate) oldest: String,
    pub(crate) latest_error: String,
}

impl From<PendingTask> for TaskRow {
    fn from(task: PendingTask) -> Self {
        Self {
            subscription: task.subscription.to_string(),
            destination: task.destination,
            failed: task.failed,
            oldest: time(task.oldest),
            latest_error: task.latest_error,
        }
    }
}

/// The pending-tasks dashboard.
#[derive(Template)]
#[template(path = "console/dashboard.html")]
pub(crate) struct DashboardPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) notice: Option<String>,
    pub(crate) tasks: Vec<TaskRow>,
    pub(crate) total: u64,
}

/// One delivery in a list or at the top of its page.
pub(crate) struct DeliveryRow {
    pub(crate) id: String,
    pub(crate) subscription: String,
    pub(crate) leave: String,
    pub(crate) event: &'static str,
    pub(crate) version: i64,
    pub(crate) status: &'static str,
    pub(crate) attempts: u32,
    pub(crate) last: String,
    pub(crate) next: String,
    pub(crate) created: String,
    pub(crate) updated: String,
    pub(crate) note: String,
}

impl From<&DeliverySummary> for DeliveryRow {
    fn from(d: &DeliverySummary) -> Self {
        let last = match (&d.last_http_status, &d.last_error) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(error)) => error.clone(),
            (None, None) => "—".to_owned(),
        };
        let waiting = matches!(d.status, absync_application::ports::DeliveryStatus::Pending);
        Self {
            id: d.id.to_string(),
            subscription: d.subscription.to_string(),
            leave: d.leave_key.clone(),
            event: d.event.as_str(),
            version: d.change_version,
            status: d.status.as_str(),
            attempts: d.attempts,
            last,
            next: if waiting {
                time(d.next_attempt_at)
            } else {
                "—".to_owned()
            },
            created: time(d.created_at),
            updated: time(d.updated_at),
            note: d
                .processed_note
                .clone()
                .or_else(|| d.cancel_reason.map(|r| r.as_str().to_owned()))
                .unwrap_or_default(),
        }
    }
}

/// The list's filters as typed, to fill the form again.
#[derive(Debug, Clone, Default)]
pub(crate) struct FilterForm {
    pub(crate) subscription: String,
    pub(crate) status: String,
    pub(crate) leave: String,
    pub(crate) event: String,
    pub(crate) since: String,
}

/// The deliveries list.
#[derive(Template)]
#[template(path = "console/deliveries.html")]
pub(crate) struct DeliveriesPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) filter: FilterForm,
    pub(crate) rows: Vec<DeliveryRow>,
    pub(crate) newer: Option<String>,
    pub(crate) older: Option<String>,
}

/// The deliveries list's status choices: every status, by its stored name.
pub(crate) const STATUSES: [&str; DeliveryStatus::ALL.len()] = {
    let mut names = [""; DeliveryStatus::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = DeliveryStatus::ALL[i].as_str();
        i += 1;
    }
    names
};
/// The deliveries list's event choices: every event, by its stored name.
pub(crate) const EVENTS: [&str; LeaveEvent::ALL.len()] = {
    let mut names = [""; LeaveEvent::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = LeaveEvent::ALL[i].as_str();
        i += 1;
    }
    names
};

/// One attempt on the timeline.
pub(crate) struct AttemptRow {
    pub(crate) number: usize,
    pub(crate) started: String,
    pub(crate) duration_ms: u32,
    pub(crate) ok: bool,
    pub(crate) outcome: String,
    pub(crate) detail: String,
    pub(crate) excerpt: String,
}

impl AttemptRow {
    pub(crate) fn new(number: usize, a: &AttemptSummary) -> Self {
        let ok = a.http_status.is_some_and(|s| (200..300).contains(&s));
        let outcome = match (&a.http_status, &a.error_kind) {
            (Some(status), _) => format!("HTTP {status}"),
            (None, Some(kind)) => kind.clone(),
            (None, None) => "no answer".to_owned(),
        };
        Self {
            number,
            started: time(a.started_at),
            duration_ms: a.duration_ms,
            ok,
            outcome,
            detail: a.error_detail.clone().unwrap_or_default(),
            excerpt: String::from_utf8_lossy(&a.response_excerpt).into_owned(),
        }
    }
}

/// One delivery: its exact message (secrets redacted) and its attempts.
#[derive(Template)]
#[template(path = "console/delivery.html")]
pub(crate) struct DeliveryPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) notice: Option<String>,
    pub(crate) row: DeliveryRow,
    pub(crate) destination: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) attempts: Vec<AttemptRow>,
    pub(crate) can_resync: bool,
    pub(crate) can_mark: bool,
}

/// The subscriptions list's state choices: every state, by its name.
pub(crate) fn subscription_states() -> [&'static str; SubscriptionState::ALL.len()] {
    SubscriptionState::ALL.map(SubscriptionState::as_str)
}

/// A failed attempt: when, of which delivery, and what came back.
pub(crate) struct FailureRow {
    pub(crate) delivery: String,
    pub(crate) at: String,
    pub(crate) answer: String,
}

impl From<&FailedAttempt> for FailureRow {
    fn from(f: &FailedAttempt) -> Self {
        Self {
            delivery: f.delivery.to_string(),
            at: time(f.at),
            answer: match (&f.http_status, &f.error) {
                (Some(status), _) => format!("HTTP {status}"),
                (None, Some(error)) => error.clone(),
                (None, None) => "no answer".to_owned(),
            },
        }
    }
}

/// One subscription and its health over the last 24 hours, in the list or at the top of its page.
pub(crate) struct SubscriptionRow {
    pub(crate) id: String,
    pub(crate) state: &'static str,
    pub(crate) destination: String,
    pub(crate) format: &'static str,
    pub(crate) events: &'static str,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) success_rate: String,
    pub(crate) p50: String,
    pub(crate) p99: String,
    pub(crate) last_success: String,
    pub(crate) last_error: Option<FailureRow>,
    pub(crate) unsent: u64,
}

impl SubscriptionRow {
    /// A subscription's row from its figures over the last 24 hours, taken at `now`.
    fn new(
        s: &Subscription,
        now: DateTime<Utc>,
        day: &HourFigures,
        last_success: Option<DateTime<Utc>>,
        last_failure: Option<&FailedAttempt>,
        unsent: u64,
    ) -> Self {
        Self {
            id: s.id.to_string(),
            state: s.state_at(now).as_str(),
            destination: s.destination.as_str().to_owned(),
            format: s.payload_format.as_str(),
            events: s.event_filter.as_str(),
            succeeded: day.succeeded,
            failed: day.failed,
            success_rate: day
                .success_rate()
                .map_or_else(|| "—".to_owned(), |rate| format!("{rate:.1} %")),
            p50: milliseconds(day.p50_ms),
            p99: milliseconds(day.p99_ms),
            last_success: last_success.map_or_else(|| "never".to_owned(), time),
            last_error: last_failure.map(FailureRow::from),
            unsent,
        }
    }
}

impl From<&SubscriptionHealth> for SubscriptionRow {
    fn from(h: &SubscriptionHealth) -> Self {
        Self::new(
            &h.subscription,
            h.now,
            &h.day,
            h.last_success,
            h.recent_failures.first(),
            h.unsent,
        )
    }
}

impl From<&SubscriptionSummary> for SubscriptionRow {
    fn from(s: &SubscriptionSummary) -> Self {
        Self::new(
            &s.subscription,
            s.now,
            &s.day,
            s.last_success,
            s.last_failure.as_ref(),
            s.unsent,
        )
    }
}

/// The subscriptions list.
#[derive(Template)]
#[template(path = "console/subscriptions.html")]
pub(crate) struct SubscriptionsPage {
    pub(crate) nav: Option<Nav>,
    /// The state filtered on, as typed (empty: every subscription not deleted).
    pub(crate) state: String,
    pub(crate) rows: Vec<SubscriptionRow>,
    pub(crate) first: Option<String>,
    pub(crate) next: Option<String>,
}

/// One hour of the charts' table.
pub(crate) struct HourRow {
    pub(crate) label: String,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) p50: String,
    pub(crate) p99: String,
}

impl From<&HourFigures> for HourRow {
    fn from(h: &HourFigures) -> Self {
        Self {
            label: h.start.format("%Y-%m-%d %H:00").to_string(),
            succeeded: h.succeeded,
            failed: h.failed,
            p50: milliseconds(h.p50_ms),
            p99: milliseconds(h.p99_ms),
        }
    }
}

/// One subscription: its settings, its health charts and its recent failures.
#[derive(Template)]
#[template(path = "console/subscription.html")]
pub(crate) struct SubscriptionPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) notice: Option<String>,
    pub(crate) row: SubscriptionRow,
    /// Whether the charts cover the last 7 days rather than the last 24 hours.
    pub(crate) week: bool,
    pub(crate) attempts: Chart,
    pub(crate) latency: Chart,
    pub(crate) hours: Vec<HourRow>,
    pub(crate) failures: Vec<FailureRow>,
    pub(crate) taken_at: String,
    pub(crate) created: String,
    pub(crate) valid_until: String,
    pub(crate) max_per_second: String,
    pub(crate) secret_age: String,
    pub(crate) secret_created: String,
    pub(crate) paused_since: Option<String>,
    pub(crate) deleted: Option<String>,
    pub(crate) can_pause: bool,
    pub(crate) can_resume: bool,
}

/// The confirmation step of an action.
#[derive(Template)]
#[template(path = "console/confirm.html")]
pub(crate) struct ConfirmPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) title: String,
    pub(crate) question: String,
    pub(crate) action: String,
    pub(crate) button: &'static str,
    pub(crate) back: String,
    pub(crate) with_force: bool,
    pub(crate) with_note: bool,
    pub(crate) error: Option<String>,
}

/// A page that could not be shown.
#[derive(Template)]
#[template(path = "console/error.html")]
pub(crate) struct ErrorPage {
    pub(crate) nav: Option<Nav>,
    pub(crate) status: u16,
    pub(crate) title: String,
    pub(crate) detail: String,
}

/// A failed console request, shown as an error page.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    detail: String,
    nav: Option<Nav>,
}

impl Failure {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            nav: None,
        }
    }

    /// A 400 naming the field.
    pub(crate) fn field(field: &str, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, format!("{field}: {message}"))
    }

    /// Shows the layout of `nav`'s session around the error.
    pub(crate) fn with_nav(mut self, nav: Nav) -> Self {
        self.nav = Some(nav);
        self
    }

    /// Maps a use-case error.
    pub(crate) fn from_application(err: &ApplicationError) -> Self {
        match err {
            ApplicationError::InvalidInput(violations) => Self::new(
                StatusCode::BAD_REQUEST,
                violations
                    .iter()
                    .map(|v| format!("{}: {}", v.field, v.description))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApplicationError::NotFound(what) => {
                Self::new(StatusCode::NOT_FOUND, format!("No such {what}."))
            }
            ApplicationError::Precondition(why) => Self::new(StatusCode::CONFLICT, *why),
            ApplicationError::RevisionConflict { .. } | ApplicationError::Contended => {
                Self::new(StatusCode::CONFLICT, err.to_string())
            }
            ApplicationError::Unauthenticated | ApplicationError::PermissionDenied(_) => {
                Self::new(StatusCode::FORBIDDEN, err.to_string())
            }
            // The use case that failed has logged the cause.
            ApplicationError::Unavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The store is unreachable; nothing was changed. Try again shortly.",
            ),
            ApplicationError::GuardUnavailable(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The destination cannot be checked now; nothing was changed. Try again shortly.",
            ),
            ApplicationError::Unexpected(_) => {
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error.")
            }
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn detail(&self) -> &str {
        &self.detail
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let page = ErrorPage {
            nav: self.nav,
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            detail: self.detail,
        };
        render(self.status, &page)
    }
}

/// The headers every console page carries: no caching, no framing, no resource from elsewhere, no
/// script.
pub(crate) fn secure_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: browsers then send `Origin: null` with the console's own forms.
        HeaderValue::from_static("same-origin"),
    );
}

/// Renders a page with `status`.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            secure_headers(&mut response);
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "a console page failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A latency in milliseconds, or a dash without attempts.
pub(crate) fn milliseconds(ms: Option<u32>) -> String {
    ms.map_or_else(|| "—".to_owned(), |ms| format!("{ms} ms"))
}

/// How long ago `then` was at `now`, roughly: minutes, hours, then days.
pub(crate) fn age(then: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let plural = |n: i64, unit: &str| {
        if n == 1 {
            format!("1 {unit}")
        } else {
            format!("{n} {unit}s")
        }
    };
    let elapsed = now - then;
    if elapsed.num_minutes() < 1 {
        "under a minute".to_owned()
    } else if elapsed.num_hours() < 1 {
        plural(elapsed.num_minutes(), "minute")
    } else if elapsed.num_hours() < 48 {
        plural(elapsed.num_hours(), "hour")
    } else {
        plural(elapsed.num_days(), "day")
    }
}

/// A time as the console shows it (UTC, to the second).
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    #[test]
    fn ages_are_told_in_minutes_hours_then_days() {
        let now = Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap();
        let ago = |d: Duration| age(now - d, now);
        assert_eq!(ago(Duration::seconds(30)), "under a minute");
        assert_eq!(ago(Duration::minutes(1)), "1 minute");
        assert_eq!(ago(Duration::minutes(59)), "59 minutes");
        assert_eq!(ago(Duration::hours(47)), "47 hours");
        assert_eq!(ago(Duration::hours(49)), "2 days");
    }
}
