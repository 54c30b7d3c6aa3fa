//! The console's pages: askama templates (in `templates/console/`, HTML-escaped by default) and the
//! view models they show. Every page is complete HTML with one same-origin stylesheet and no script.

use absync_application::ApplicationError;
use absync_application::ports::{AttemptSummary, DeliveryStatus, DeliverySummary, PendingTask};
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

/// A time as the console shows it (UTC, to the second).
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}
