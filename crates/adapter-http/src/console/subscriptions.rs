//! The subscriptions list at `/admin/subscriptions`: each of the tenant's subscriptions with its
//! health over the last 24 hours, filtered by state, oldest first, a page at a time. The page's
//! figures are read together ([`absync_application::HealthService::summaries`]): one store read per
//! figure for the page, not per subscription.

use super::forms::{percent_encode, subscription_id};
use super::page::{Failure, SubscriptionRow, SubscriptionsPage, render};
use super::session::Session;
use crate::router::HttpApi;
use absync_application::ports::{SubscriptionCursor, SubscriptionQuery, SubscriptionState};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use std::fmt::Write as _;

/// Subscriptions per page of the list.
const PAGE_SIZE: u32 = 20;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    state: Option<String>,
    after: Option<String>,
}

fn given(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl ListQuery {
    fn state(&self) -> Result<Option<SubscriptionState>, Failure> {
        given(self.state.as_ref())
            .map(|text| {
                SubscriptionState::parse(text).ok_or_else(|| {
                    Failure::field(
                        "state",
                        "must be one of active, paused, disabled, expired, deleted",
                    )
                })
            })
            .transpose()
    }

    /// Where the page starts: after the subscription of `after`, which must be the tenant's.
    async fn after(
        &self,
        api: &HttpApi,
        session: &Session,
    ) -> Result<Option<SubscriptionCursor>, Failure> {
        let Some(text) = given(self.after.as_ref()) else {
            return Ok(None);
        };
        let bad = || Failure::field("after", "must be a subscription id of this tenant");
        let id = subscription_id(text).map_err(|_| bad())?;
        match api.subscriptions.inspect(session.tenant(), &id).await {
            Ok(subscription) => Ok(Some(SubscriptionCursor {
                created_at: subscription.created_at,
                id,
            })),
            Err(absync_application::ApplicationError::NotFound(_)) => Err(bad()),
            Err(err) => Err(Failure::from_application(&err)),
        }
    }
}

/// `/admin/subscriptions` in `state`, after `after`.
fn list_href(state: &str, after: Option<&str>) -> String {
    let mut href = String::from("/admin/subscriptions?");
    for (name, value) in [("state", state), ("after", after.unwrap_or_default())] {
        if !value.is_empty() {
            let _ = write!(href, "{name}={}&", percent_encode(value));
        }
    }
    href.pop();
    href
}

#[tracing::instrument(name = "console_subscriptions", skip_all, fields(tenant = %session.tenant()))]
pub(super) async fn subscriptions(
    State(api): State<HttpApi>,
    session: Session,
    Query(query): Query<ListQuery>,
) -> Result<Response, Failure> {
    session.require_subscriptions()?;
    let nav = session.nav();
    let state = query.state().map_err(|f| f.with_nav(nav.clone()))?;
    let after = query
        .after(&api, &session)
        .await
        .map_err(|f| f.with_nav(nav.clone()))?;
    let page = SubscriptionQuery::new(api.subscriptions.now(), PAGE_SIZE + 1)
        .in_state(state)
        .after(after.clone());
    let mut listed = api
        .subscriptions
        .page(session.tenant(), page)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(nav.clone()))?;
    let more = listed.len() > PAGE_SIZE as usize;
    listed.truncate(PAGE_SIZE as usize);
    let state = state.map_or("", SubscriptionState::as_str);
    let next = listed
        .last()
        .filter(|_| more)
        .map(|last| list_href(state, Some(last.id.as_str())));
    let first = after.map(|_| list_href(state, None));
    let rows: Vec<SubscriptionRow> = api
        .subscription_health
        .summaries(session.tenant(), listed)
        .await
        .map_err(|e| Failure::from_application(&e).with_nav(nav.clone()))?
        .iter()
        .map(SubscriptionRow::from)
        .collect();
    Ok(render(
        StatusCode::OK,
        &SubscriptionsPage {
            nav: Some(nav),
            state: state.to_owned(),
            rows,
            first,
            next,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_links_carry_the_state_and_the_position() {
        assert_eq!(list_href("", None), "/admin/subscriptions");
        assert_eq!(
            list_href("paused", None),
            "/admin/subscriptions?state=paused"
        );
        assert_eq!(
            list_href("", Some("0b1c")),
            "/admin/subscriptions?after=0b1c"
        );
        assert_eq!(
            list_href("active", Some("0b1c")),
            "/admin/subscriptions?state=active&after=0b1c"
        );
    }
}
