//! What the pages share in reading requests: the CSRF-only form, the notice after an action, delivery
//! and subscription ids in paths, the write-scope check before an action's form, and
//! percent-encoding for links.

use super::page::Failure;
use super::session::Session;
use absync_domain::{DeliveryId, SubscriptionId};
use axum::http::StatusCode;
use serde::Deserialize;
use std::fmt::Write as _;

/// A form that carries nothing but its CSRF token.
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub(super) csrf: String,
}

/// The query an action redirects with (`?done=…&n=…`), shown as a notice on the page it lands on.
#[derive(Deserialize, Default)]
pub(super) struct Notice {
    done: Option<String>,
    n: Option<u64>,
}

impl Notice {
    pub(super) fn text(&self) -> Option<String> {
        Some(match self.done.as_deref()? {
            "resynced" => "Re-sync queued: the delivery is due now.".to_owned(),
            "processed" => "Marked processed: it has left the dashboard.".to_owned(),
            "paused" => {
                "Paused: its deliveries queue up and are not sent until it is resumed.".to_owned()
            }
            "resumed" => {
                "Resumed: what queued up is being sent, in change order per leave.".to_owned()
            }
            "resynced-failed" => format!(
                "Re-sync queued for {} failed deliveries.",
                self.n.unwrap_or(0)
            ),
            _ => return None,
        })
    }
}

/// The delivery id of a path; a page that cannot exist otherwise.
pub(super) fn delivery_id(text: &str) -> Result<DeliveryId, Failure> {
    text.parse()
        .map(DeliveryId::new)
        .map_err(|_| Failure::new(StatusCode::NOT_FOUND, "No such delivery."))
}

/// The subscription id of a path; a page that cannot exist otherwise.
pub(super) fn subscription_id(text: &str) -> Result<SubscriptionId, Failure> {
    SubscriptionId::parse(text)
        .map_err(|_| Failure::new(StatusCode::NOT_FOUND, "No such subscription."))
}

/// Refuses an action's confirmation page to a session without the write scope.
pub(super) fn require_write(session: &Session) -> Result<(), Failure> {
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

/// `value` percent-encoded for a path segment or a query value (unreserved characters kept).
pub(super) fn percent_encode(value: &str) -> String {
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
