//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! attributes and the `ToSchema` types of their bodies as `router::documented` routes them.
//!
//! It leaves out `/metrics` (Prometheus exposition, for scrapers), the `/admin` console (HTML pages
//! for people) and the reference itself (`/openapi.json`, `/docs`).

use crate::problem::{Unauthorized, Unavailable};
use crate::protime::WebhookNotFound;
use serde_json::Value;
use utoipa::Modify;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

/// What the document says before the operations are added.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "absync HTTP API",
        description = "The HTTP API of absync: the Protime-compatible webhooks API that subscribers use \
                       to register themselves, the absences collection for their initial sync, and the \
                       health probes.\n\n\
                       Every call of the webhooks and absences operations carries \
                       `Authorization: Bearer <token>`. A token belongs to one tenant and carries \
                       scopes; each operation names the one it needs. A tenant never sees another's \
                       data: another tenant's id is not found. Errors are RFC 9457 problem documents \
                       (`application/problem+json`) that name each bad field.\n\n\
                       The messages POSTed to a webhook are signed with its key (Standard Webhooks).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(responses(Unauthorized, Unavailable, WebhookNotFound)),
    modifiers(&BearerToken),
    tags(
        (name = "webhooks", description = "Webhook subscriptions, as in Protime's webhooks API."),
        (name = "absences", description = "The current absences, for the initial sync."),
        (name = "operations", description = "Health probes."),
    ),
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme the operations name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API token of one tenant, made by the operator \
                         (`absync token create --tenant <tenant> --scope <scope> …`). The scopes an \
                         operation lists are the ones the token needs (a Protime name or its \
                         absync alias); a missing, unknown or insufficient token is answered 401.",
                    ))
                    .build(),
            ),
        );
    }
}

/// `document` as pretty JSON with its keys sorted at every level, and a final newline: the same
/// text for the same document, whatever order the maps were built in.
pub(crate) fn to_json(document: &utoipa::openapi::OpenApi) -> String {
    // A document of strings, numbers and maps with string keys always serialises.
    let value = serde_json::to_value(document).unwrap_or_default();
    let mut text = serde_json::to_string_pretty(&sorted(value)).unwrap_or_default();
    text.push('\n');
    text
}

fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|(a, _), (b, _)| a.cmp(b));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// The OpenAPI document of the HTTP API as `/openapi.json` serves it and `docs/openapi.json`
/// keeps it (`cargo xtask openapi` writes it).
#[must_use]
pub fn openapi_json() -> String {
    to_json(&crate::router::documented().into_openapi())
}
