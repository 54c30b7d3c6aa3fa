//! The Protime-compatible REST API: webhooks (create, list, get, delete) and the absences collection
//! for the initial sync.

use crate::auth::tenant;
use crate::problem::Problem;
use crate::query::Params;
use crate::router::HttpApi;
use absync_application::ports::{LeaveQuery, Subscription};
use absync_application::{CreateSubscription, SubscriptionService};
use absync_domain::payload::protime;
use absync_domain::{
    EventFilter, LeaveKey, PayloadFormat, RenderContext, Scope, SubscriptionId, SubscriptionStatus,
    TenantId,
};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};

/// Where the webhook collection lives.
pub(crate) const WEBHOOKS: &str = "/connector/protimeapi/api/v1/webhooks";
/// Where the absences collection lives.
pub(crate) const ABSENCES: &str = "/connector/protimeapi/api/v1/absences";

/// The status in Protime's vocabulary, which knows only `Enabled` and `Disabled`: a paused
/// subscription sends nothing, so it shows as `Disabled` *(ours)*.
fn protime_status(s: &Subscription) -> SubscriptionStatus {
    match s.status {
        SubscriptionStatus::Paused => SubscriptionStatus::Disabled,
        status => status,
    }
}

fn webhook_json(s: &Subscription) -> Value {
    json!({
        "id": s.id.as_str(),
        "destinationUrl": s.destination.as_str(),
        "collectionName": s.payload_format.as_str(),
        "status": protime_status(s).as_str(),
        "validUntil": s.valid_until.map(|t| t.to_rfc3339()),
        "createdAt": s.created_at.to_rfc3339(),
    })
}

/// Reads a JSON object body: `application/json`, at most the router's body limit, valid JSON.
fn json_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<serde_json::Map<String, Value>, Problem> {
    let body = body.map_err(|rejection| Problem::new(rejection.status(), rejection.body_text()))?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON with Content-Type: application/json",
        ));
    }
    parse_object(&body)
}

/// Parses a body that must be one JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "the body must be a JSON object",
        )),
        Err(err) => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {err}"),
        )),
    }
}

fn required_string<'a>(
    object: &'a serde_json::Map<String, Value>,
    field: &str,
) -> Result<&'a str, Problem> {
    match object.get(field) {
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(Problem::field(field, "must be a string")),
        None => Err(Problem::field(field, "is required")),
    }
}

/// The work of `POST …/webhooks` once the caller is authenticated and the body is read: checks the
/// fields of the JSON object and creates the subscription (the use case checks the destination).
pub(crate) async fn create_from_body(
    subscriptions: &SubscriptionService,
    tenant: &TenantId,
    object: &serde_json::Map<String, Value>,
) -> Result<Subscription, Problem> {
    let destination_url = required_string(object, "destinationUrl")?;
    let collection_name = required_string(object, "collectionName")?;
    let payload_format = PayloadFormat::parse(collection_name).ok_or_else(|| {
        Problem::field(
            "collectionName",
            format!("unknown collection {collection_name:?}; known: absences, leaves"),
        )
    })?;
    subscriptions
        .create(
            tenant,
            CreateSubscription {
                payload_format,
                destination_url: destination_url.to_owned(),
                authorization: None,
                event_filter: EventFilter::All,
                valid_until: None,
                max_per_second: None,
            },
        )
        .await
        .map_err(|e| Problem::from_application(&e))
}

/// `POST …/webhooks`.
pub(crate) async fn create_webhook(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksWrite).await?;
    let object = json_object(&headers, body)?;
    let created = create_from_body(&api.subscriptions, &tenant, &object).await?;
    let mut body = webhook_json(&created);
    body["key"] = Value::String(created.signing_secret.expose());
    let location = format!("{WEBHOOKS}/{}", created.id);
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Parses `status eq 'Disabled'` (the one filter the list supports).
fn status_filter(filter: &str) -> Result<SubscriptionStatus, Problem> {
    let words: Vec<&str> = filter.split_whitespace().collect();
    match words.as_slice() {
        [field, op, value]
            if field.eq_ignore_ascii_case("status") && op.eq_ignore_ascii_case("eq") =>
        {
            value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .and_then(SubscriptionStatus::parse)
                .filter(|s| *s != SubscriptionStatus::Paused)
                .ok_or_else(|| Problem::field("filter", "status must be 'Enabled' or 'Disabled'"))
        }
        _ => Err(Problem::field(
            "filter",
            "supported: status eq 'Enabled' | status eq 'Disabled'",
        )),
    }
}

/// `GET …/webhooks`.
pub(crate) async fn list_webhooks(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksRead).await?;
    let query = Params::parse(query.as_deref(), &["filter"])?;
    let wanted = query.get("filter").map(status_filter).transpose()?;
    let listed = api
        .subscriptions
        .list(&tenant)
        .await
        .map_err(|e| Problem::from_application(&e))?;
    let value: Vec<Value> = listed
        .iter()
        .filter(|s| wanted.is_none_or(|status| protime_status(s) == status))
        .map(webhook_json)
        .collect();
    Ok(Json(json!({ "value": value })))
}

/// `GET …/webhooks/{id}`: never the key.
pub(crate) async fn get_webhook(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksRead).await?;
    let found = api
        .subscriptions
        .get(&tenant, &SubscriptionId::new(id))
        .await
        .map_err(|e| Problem::from_application(&e))?;
    Ok(Json(webhook_json(&found)))
}

/// `DELETE …/webhooks/{id}`: soft delete, history kept.
pub(crate) async fn delete_webhook(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<StatusCode, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksWrite).await?;
    api.subscriptions
        .delete(&tenant, &SubscriptionId::new(id))
        .await
        .map_err(|e| Problem::from_application(&e))?;
    Ok(StatusCode::NO_CONTENT)
}

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

/// Parses `date ge 'YYYY-MM-DD'`.
fn date_filter(filter: &str) -> Result<NaiveDate, Problem> {
    let words: Vec<&str> = filter.split_whitespace().collect();
    let bad = || Problem::field("filter", "supported: date ge 'YYYY-MM-DD'");
    match words.as_slice() {
        [field, op, value]
            if field.eq_ignore_ascii_case("date") && op.eq_ignore_ascii_case("ge") =>
        {
            value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .and_then(|v| {
                    // chrono also reads `2024-3-4`; the filter takes YYYY-MM-DD exactly.
                    NaiveDate::parse_from_str(v, "%Y-%m-%d")
                        .ok()
                        .filter(|d| d.format("%Y-%m-%d").to_string() == v)
                })
                .ok_or_else(bad)
        }
        _ => Err(bad()),
    }
}

fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `GET …/absences`: the tenant's current absence instances, paged, for the full initial sync.
pub(crate) async fn list_absences(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::AbsencesRead).await?;
    let query = Params::parse(query.as_deref(), &["filter", "pageSize", "pageToken"])?;
    let from = query.get("filter").map(date_filter).transpose()?;
    let page_size = match query.get("pageSize") {
        None => DEFAULT_PAGE_SIZE,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| Problem::field("pageSize", format!("must be 1..={MAX_PAGE_SIZE}")))?,
    };
    let after = query
        .get("pageToken")
        .map(|t| {
            LeaveKey::parse(t)
                .map_err(|_| Problem::field("pageToken", "is not a token this API gave"))
        })
        .transpose()?;
    let mut leaves = api
        .ingest
        .list_leaves(LeaveQuery {
            tenant: tenant.clone(),
            from,
            after,
            limit: page_size + 1,
        })
        .await
        .map_err(|e| Problem::from_application(&e))?;
    let more = leaves.len() > page_size as usize;
    leaves.truncate(page_size as usize);
    let value: Vec<Value> = leaves
        .iter()
        .map(|current| {
            protime::instance(
                &current.leave,
                RenderContext {
                    tenant: &tenant,
                    change_version: current.change_version,
                },
            )
        })
        .collect();
    let mut body = json!({ "value": value });
    if more && let Some(last) = leaves.last() {
        let mut next = format!(
            "{ABSENCES}?pageSize={page_size}&pageToken={}",
            last.leave.key
        );
        if let Some(filter) = query.get("filter") {
            next.push_str("&filter=");
            next.push_str(&query_escape(filter));
        }
        body["nextLink"] = Value::String(next);
    }
    Ok(Json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_name_the_field() {
        assert_eq!(
            status_filter("status eq 'Disabled'").unwrap(),
            SubscriptionStatus::Disabled
        );
        assert!(status_filter("status eq Disabled").is_err());
        assert_eq!(
            date_filter("date ge '2024-03-04'").unwrap(),
            "2024-03-04".parse().unwrap()
        );
        assert!(date_filter("date gt '2024-03-04'").is_err());
        assert!(date_filter("date ge '2024-02-30'").is_err());
        assert_eq!(
            query_escape("date ge '2024-03-04'"),
            "date%20ge%20%272024-03-04%27"
        );
    }
}
