//! The deliveries list's filter query: read into a filter and a page position, shown back in the
//! form, and written into the links to newer and older pages.

use super::forms::percent_encode;
use super::page::{Failure, FilterForm};
use absync_application::ports::{DeliveryFilter, DeliveryStatus};
use absync_domain::{DeliveryId, LeaveEvent, SubscriptionId};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use std::fmt::Write as _;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
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
    pub(super) fn filter(&self) -> Result<DeliveryFilter, Failure> {
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
            Some(text) => Some(LeaveEvent::parse(text).ok_or_else(|| {
                Failure::field("event", "must be one of created, approved, deleted")
            })?),
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

    pub(super) fn before(&self) -> Result<Option<DeliveryId>, Failure> {
        given(self.before.as_ref())
            .map(|text| {
                text.parse()
                    .map(DeliveryId::new)
                    .map_err(|_| Failure::field("before", "must be a delivery id"))
            })
            .transpose()
    }

    pub(super) fn form(&self) -> FilterForm {
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
pub(super) fn list_href(form: &FilterForm, before: Option<&str>) -> String {
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
