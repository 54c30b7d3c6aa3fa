//! The Protime-compatible REST API: webhooks (create, list, get, delete) and the absences collection
//! for the initial sync.
//!
//! Each handler carries its `#[utoipa::path]`: the router routes it at that path and method and the
//! OpenAPI document describes it from there (see `router::documented`).

mod instance;

use crate::auth::tenant;
use crate::problem::{Problem, Unauthorized, Unavailable};
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
pub(crate) use instance::AbsenceInstance;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// Where the webhook collection lives.
pub(crate) const WEBHOOKS: &str = "/connector/protimeapi/api/v1/webhooks";
/// One webhook.
pub(crate) const WEBHOOK: &str = "/connector/protimeapi/api/v1/webhooks/{id}";
/// Where the absences collection lives.
pub(crate) const ABSENCES: &str = "/connector/protimeapi/api/v1/absences";

/// The format of the messages a webhook receives.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum CollectionName {
    /// Protime absence delta items, one per leave event.
    Absences,
    /// Timmi leave messages.
    Leaves,
}

impl From<PayloadFormat> for CollectionName {
    fn from(format: PayloadFormat) -> Self {
        match format {
            PayloadFormat::Absences => Self::Absences,
            PayloadFormat::Leaves => Self::Leaves,
        }
    }
}

/// A webhook's status in Protime's vocabulary, which knows only these two: a paused subscription
/// sends nothing, so it shows as `Disabled` *(ours)*.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub(crate) enum WebhookStatus {
    /// Receives deliveries.
    Enabled,
    /// Receives nothing new: expired, disabled, or paused.
    Disabled,
}

impl From<SubscriptionStatus> for WebhookStatus {
    fn from(status: SubscriptionStatus) -> Self {
        match status {
            SubscriptionStatus::Enabled => Self::Enabled,
            SubscriptionStatus::Disabled | SubscriptionStatus::Paused => Self::Disabled,
        }
    }
}

/// The body of `POST …/webhooks`.
///
/// Documents the request; the handler reads the JSON object field by field so that it can name
/// each bad field.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!(CreateWebhook::example()))]
pub(crate) struct CreateWebhook {
    /// Where the messages are POSTed: an `https://` URL of a host on the public internet.
    #[schema(format = Uri, example = "https://hooks.example.com/absync")]
    destination_url: String,
    /// `absences` for Protime delta items, `leaves` for Timmi messages.
    collection_name: CollectionName,
}

impl CreateWebhook {
    /// The request of the document's examples.
    fn example() -> Self {
        Self {
            destination_url: "https://hooks.example.com/absync".to_owned(),
            collection_name: CollectionName::Absences,
        }
    }
}

/// A webhook subscription. Its key (the signing secret) is shown only when it is created.
///
/// The properties are in alphabetical order, as the API has always written them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!(Webhook::example()))]
pub(crate) struct Webhook {
    /// The format of its messages.
    collection_name: CollectionName,
    /// When it was created (RFC 3339, with offset).
    #[schema(format = DateTime, example = "2026-03-02T09:30:00.123456+00:00")]
    created_at: String,
    /// Where its messages are POSTed.
    #[schema(format = Uri, example = "https://hooks.example.com/absync")]
    destination_url: String,
    /// Its id.
    #[schema(format = Uuid, example = "0b6f3c1e-6d0a-4f43-9a54-3f1c2a7d9e10")]
    id: String,
    /// Whether it receives deliveries.
    status: WebhookStatus,
    /// When it expires (RFC 3339, with offset): 90 days after creation for a webhook created
    /// here; `null` for one that never expires.
    #[schema(required = true, format = DateTime, example = "2026-05-31T09:30:00.123456+00:00")]
    valid_until: Option<String>,
}

impl Webhook {
    /// The webhook of every example in the document.
    fn example() -> Self {
        Self {
            collection_name: CollectionName::Absences,
            created_at: "2026-03-02T09:30:00.123456+00:00".to_owned(),
            destination_url: CreateWebhook::example().destination_url,
            id: "0b6f3c1e-6d0a-4f43-9a54-3f1c2a7d9e10".to_owned(),
            status: WebhookStatus::Enabled,
            valid_until: Some("2026-05-31T09:30:00.123456+00:00".to_owned()),
        }
    }
}

impl From<&Subscription> for Webhook {
    fn from(s: &Subscription) -> Self {
        Self {
            collection_name: s.payload_format.into(),
            created_at: s.created_at.to_rfc3339(),
            destination_url: s.destination.as_str().to_owned(),
            id: s.id.as_str().to_owned(),
            status: s.status.into(),
            valid_until: s.valid_until.map(|t| t.to_rfc3339()),
        }
    }
}

/// The answer to `POST …/webhooks`: the webhook with its key, shown only here.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!(CreatedWebhook::example()))]
pub(crate) struct CreatedWebhook {
    /// The format of its messages.
    collection_name: CollectionName,
    /// When it was created (RFC 3339, with offset).
    #[schema(format = DateTime, example = "2026-03-02T09:30:00.123456+00:00")]
    created_at: String,
    /// Where its messages are POSTed.
    #[schema(format = Uri, example = "https://hooks.example.com/absync")]
    destination_url: String,
    /// Its id.
    #[schema(format = Uuid, example = "0b6f3c1e-6d0a-4f43-9a54-3f1c2a7d9e10")]
    id: String,
    /// The signing secret of its messages (Standard Webhooks, `whsec_` + base64): shown only in
    /// this answer, keep it.
    #[schema(
        pattern = "^whsec_",
        example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    )]
    key: String,
    /// Whether it receives deliveries.
    status: WebhookStatus,
    /// When it expires (RFC 3339, with offset): 90 days after creation.
    #[schema(required = true, format = DateTime, example = "2026-05-31T09:30:00.123456+00:00")]
    valid_until: Option<String>,
}

impl CreatedWebhook {
    fn new(webhook: Webhook, key: String) -> Self {
        let Webhook {
            collection_name,
            created_at,
            destination_url,
            id,
            status,
            valid_until,
        } = webhook;
        Self {
            collection_name,
            created_at,
            destination_url,
            id,
            key,
            status,
            valid_until,
        }
    }

    /// The document's example: [`Webhook::example`] with its key.
    fn example() -> Self {
        Self::new(
            Webhook::example(),
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
        )
    }
}

impl From<&Subscription> for CreatedWebhook {
    fn from(s: &Subscription) -> Self {
        Self::new(s.into(), s.signing_secret.expose())
    }
}

/// The webhooks of the caller's tenant.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WebhookList {
    /// The webhooks (deleted ones are left out).
    value: Vec<Webhook>,
}

/// One page of the absences collection.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AbsencePage {
    /// The URL path and query of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        value_type = String,
        required = false,
        example = "/connector/protimeapi/api/v1/absences?pageSize=2&pageToken=1-20240304-PM&filter=date%20ge%20%272024-03-01%27"
    )]
    next_link: Option<String>,
    /// The current leaves, in absence number, date and half-day order.
    #[schema(value_type = Vec<AbsenceInstance>)]
    value: Vec<Value>,
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

/// Create a webhook
///
/// Subscribes `destinationUrl` to the tenant's leave events: every change of an absence is POSTed
/// there, signed with the key of the answer (Standard Webhooks), in the format `collectionName`
/// names. The webhook is valid for 90 days; it is not renewed: replace an expired or disabled
/// webhook with a new one after a full sync (`GET …/absences`).
///
/// Scope `connector-protimeapi-webhooks.write` (alias of `webhooks:write`).
#[utoipa::path(
    post,
    path = WEBHOOKS,
    tag = "webhooks",
    operation_id = "createWebhook",
    security(("bearer" = ["connector-protimeapi-webhooks.write"])),
    request_body(
        content = CreateWebhook,
        content_type = "application/json",
        example = json!(CreateWebhook::example()),
    ),
    responses(
        (
            status = CREATED,
            description = "Created; the answer is the only one that shows the key.",
            body = CreatedWebhook,
            headers(("Location" = String, description = "The path of the new webhook.")),
            example = json!(CreatedWebhook::example()),
        ),
        (
            status = BAD_REQUEST,
            description = "The body is not a JSON object, or a field is missing or wrong (named in `errors`): \
                           an unknown collection, a destination that is not a public `https://` URL.",
            body = Problem,
            content_type = "application/problem+json",
            example = json!(Problem::field(
                "collectionName",
                "unknown collection \"holidays\"; known: absences, leaves"
            )),
        ),
        (status = UNAUTHORIZED, response = Unauthorized),
        (
            status = PAYLOAD_TOO_LARGE,
            description = "The body is larger than 64 KiB.",
            body = Problem,
            content_type = "application/problem+json",
        ),
        (
            status = UNSUPPORTED_MEDIA_TYPE,
            description = "The body is not `Content-Type: application/json`.",
            body = Problem,
            content_type = "application/problem+json",
            example = json!(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the body must be JSON with Content-Type: application/json"
            )),
        ),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
)]
pub(crate) async fn create_webhook(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksWrite).await?;
    let object = json_object(&headers, body)?;
    let created = create_from_body(&api.subscriptions, &tenant, &object).await?;
    let location = format!("{WEBHOOKS}/{}", created.id);
    let mut response = (StatusCode::CREATED, Json(CreatedWebhook::from(&created))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// Parses `status eq 'Disabled'` (the one filter the list supports).
fn status_filter(filter: &str) -> Result<WebhookStatus, Problem> {
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
                .map(WebhookStatus::from)
                .ok_or_else(|| Problem::field("filter", "status must be 'Enabled' or 'Disabled'"))
        }
        _ => Err(Problem::field(
            "filter",
            "supported: status eq 'Enabled' | status eq 'Disabled'",
        )),
    }
}

/// The path parameter of one webhook.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // Documents the `{id}` the handlers take as `Path<String>`.
pub(crate) struct WebhookId {
    /// The webhook's id, as `POST …/webhooks` answered it. Another tenant's id is not found.
    #[param(format = Uuid, example = "0b6f3c1e-6d0a-4f43-9a54-3f1c2a7d9e10")]
    id: String,
}

/// No webhook of the caller's tenant has this id.
#[derive(utoipa::ToResponse)]
#[response(
    content_type = "application/problem+json",
    example = json!(Problem::new(
        StatusCode::NOT_FOUND,
        "subscription 0b6f3c1e-6d0a-4f43-9a54-3f1c2a7d9e10 not found"
    )),
)]
#[allow(dead_code)] // Describes an answer `Problem` gives.
pub(crate) struct WebhookNotFound(Problem);

/// List the webhooks
///
/// The tenant's webhooks, enabled and disabled; deleted ones are left out.
///
/// Scope `connector-protimeapi-webhooks.read` (alias of `webhooks:read`).
#[utoipa::path(
    get,
    path = WEBHOOKS,
    tag = "webhooks",
    operation_id = "listWebhooks",
    security(("bearer" = ["connector-protimeapi-webhooks.read"])),
    params((
        "filter" = Option<String>,
        Query,
        description = "Only the webhooks of one status: `status eq 'Enabled'` or `status eq 'Disabled'`.",
        example = "status eq 'Enabled'",
    )),
    responses(
        (
            status = OK,
            description = "The webhooks.",
            body = WebhookList,
            example = json!({"value": [Webhook::example()]}),
        ),
        (
            status = BAD_REQUEST,
            description = "The filter is not one this API supports, or is given twice.",
            body = Problem,
            content_type = "application/problem+json",
            example = json!(Problem::field(
                "filter",
                "supported: status eq 'Enabled' | status eq 'Disabled'"
            )),
        ),
        (status = UNAUTHORIZED, response = Unauthorized),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
)]
pub(crate) async fn list_webhooks(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<WebhookList>, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksRead).await?;
    let query = Params::parse(query.as_deref(), &["filter"])?;
    let wanted = query.get("filter").map(status_filter).transpose()?;
    let listed = api
        .subscriptions
        .list(&tenant)
        .await
        .map_err(|e| Problem::from_application(&e))?;
    let value = listed
        .iter()
        .map(Webhook::from)
        .filter(|webhook| wanted.is_none_or(|status| webhook.status == status))
        .collect();
    Ok(Json(WebhookList { value }))
}

/// Get a webhook
///
/// One webhook of the tenant, never its key.
///
/// Scope `connector-protimeapi-webhooks.read` (alias of `webhooks:read`).
#[utoipa::path(
    get,
    path = WEBHOOK,
    tag = "webhooks",
    operation_id = "getWebhook",
    security(("bearer" = ["connector-protimeapi-webhooks.read"])),
    params(WebhookId),
    responses(
        (
            status = OK,
            description = "The webhook.",
            body = Webhook,
            example = json!(Webhook::example()),
        ),
        (status = UNAUTHORIZED, response = Unauthorized),
        (status = NOT_FOUND, response = WebhookNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
)]
pub(crate) async fn get_webhook(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Webhook>, Problem> {
    let tenant = tenant(&api.tokens, &headers, Scope::WebhooksRead).await?;
    let found = api
        .subscriptions
        .get(&tenant, &SubscriptionId::new(id))
        .await
        .map_err(|e| Problem::from_application(&e))?;
    Ok(Json(Webhook::from(&found)))
}

/// Delete a webhook
///
/// A soft delete: the webhook receives nothing new and is no longer listed or found; the history of
/// its deliveries is kept.
///
/// Scope `connector-protimeapi-webhooks.write` (alias of `webhooks:write`).
#[utoipa::path(
    delete,
    path = WEBHOOK,
    tag = "webhooks",
    operation_id = "deleteWebhook",
    security(("bearer" = ["connector-protimeapi-webhooks.write"])),
    params(WebhookId),
    responses(
        (status = NO_CONTENT, description = "Deleted."),
        (status = UNAUTHORIZED, response = Unauthorized),
        (status = NOT_FOUND, response = WebhookNotFound),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
)]
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

/// List the current absences
///
/// The tenant's current absence instances (one per half-day leave), paged: the full initial sync a
/// subscriber does before it creates (or re-creates) a webhook. Each item has the properties of the
/// webhook's delta item, without `changeType`. Follow `nextLink` until it is absent.
///
/// Scope `connector-protimeapi-absences.read` (alias of `absences:read`) *(ours)*.
#[utoipa::path(
    get,
    path = ABSENCES,
    tag = "absences",
    operation_id = "listAbsences",
    security(("bearer" = ["connector-protimeapi-absences.read"])),
    params(
        (
            "filter" = Option<String>,
            Query,
            description = "Only the leaves from a date on: `date ge 'YYYY-MM-DD'`.",
            example = "date ge '2024-03-01'",
        ),
        (
            "pageSize" = Option<u32>,
            Query,
            description = "Items per page, 1 to 1000; 100 when not given.",
            minimum = 1,
            maximum = 1000,
            example = 2,
        ),
        (
            "pageToken" = Option<String>,
            Query,
            description = "Where the page starts: as the previous page's `nextLink` gives it.",
            example = "1-20240304-PM",
        ),
    ),
    responses(
        (
            status = OK,
            description = "One page of absence instances.",
            body = AbsencePage,
            example = json!({
                "nextLink": "/connector/protimeapi/api/v1/absences?pageSize=2&pageToken=1-20240304-PM&filter=date%20ge%20%272024-03-01%27",
                "value": [
                    instance::example(170_644, 0, "First"),
                    instance::example(170_645, 720, "Second")
                ]
            }),
        ),
        (
            status = BAD_REQUEST,
            description = "A query parameter is wrong or given twice (named in `errors`).",
            body = Problem,
            content_type = "application/problem+json",
            example = json!(Problem::field("pageSize", "must be 1..=1000")),
        ),
        (status = UNAUTHORIZED, response = Unauthorized),
        (status = SERVICE_UNAVAILABLE, response = Unavailable),
    ),
)]
pub(crate) async fn list_absences(
    State(api): State<HttpApi>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<AbsencePage>, Problem> {
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
    let value = leaves
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
    let next_link = leaves.last().filter(|_| more).map(|last| {
        let mut next = format!(
            "{ABSENCES}?pageSize={page_size}&pageToken={}",
            last.leave.key
        );
        if let Some(filter) = query.get("filter") {
            next.push_str("&filter=");
            next.push_str(&query_escape(filter));
        }
        next
    });
    Ok(Json(AbsencePage { next_link, value }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_or_name_the_field() {
        assert_eq!(
            status_filter("status eq 'Disabled'").unwrap(),
            WebhookStatus::Disabled
        );
        assert!(status_filter("status eq 'Paused'").is_err());
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
