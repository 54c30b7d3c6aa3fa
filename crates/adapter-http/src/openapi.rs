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

#[cfg(test)]
mod tests {
    use super::*;
    use absync_domain::fixtures;
    use absync_domain::payload::protime;
    use absync_domain::{
        AbsenceNumber, ChangeVersion, Definition, Half, LeaveState, Owner, RenderContext, Scope,
        TenantId,
    };
    use serde_json::json;
    use std::path::Path;

    fn document() -> Value {
        serde_json::from_str(&openapi_json()).unwrap()
    }

    /// Every operation of `document`: (method, path, operation).
    fn operations(document: &Value) -> Vec<(&str, &str, &Value)> {
        let mut found = Vec::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                found.push((method.as_str(), path.as_str(), operation));
            }
        }
        found
    }

    /// Follows a `$ref` into `document`'s components.
    fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
        match value["$ref"].as_str() {
            Some(pointer) => document
                .pointer(pointer.trim_start_matches('#'))
                .unwrap_or_else(|| panic!("{pointer} leads nowhere")),
            None => value,
        }
    }

    #[test]
    fn docs_openapi_json_is_the_document_the_code_makes() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == openapi_json(),
            "docs/openapi.json is stale: run `cargo xtask openapi` and commit it"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_bearer_scheme() {
        let document = document();
        assert_eq!(document["openapi"], json!("3.1.0"));
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"],
            json!({
                "type": "http",
                "scheme": "bearer",
                "description": document["components"]["securitySchemes"]["bearer"]["description"],
            })
        );
    }

    /// Each operation says what it does, under a declared tag; each API operation names the scopes
    /// it needs (names `Scope` knows) and its 401; its parameters, request and successful answers
    /// carry examples.
    #[test]
    fn every_operation_is_described_with_its_scope_and_examples() {
        let document = document();
        let tags: Vec<&Value> = document["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tag| &tag["name"])
            .collect();
        for (method, path, operation) in operations(&document) {
            let at = format!("{method} {path}");
            for field in ["operationId", "summary", "description"] {
                assert!(operation[field].is_string(), "{at}: no {field}");
            }
            let tag = &operation["tags"][0];
            assert!(tags.contains(&tag), "{at}: undeclared tag {tag}");
            let probe = path == "/healthz" || path == "/readyz";
            if !probe {
                let scopes = operation["security"][0]["bearer"].as_array();
                let scopes = scopes.unwrap_or_else(|| panic!("{at}: no bearer security"));
                assert!(!scopes.is_empty(), "{at}: no scope");
                for scope in scopes {
                    Scope::parse(scope.as_str().unwrap()).unwrap();
                }
                assert!(operation["responses"]["401"].is_object(), "{at}: no 401");
            }
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                assert!(!parameter["example"].is_null(), "{at}: {parameter}");
            }
            if let Some(body) = operation.get("requestBody") {
                assert!(
                    !body["content"]["application/json"]["example"].is_null(),
                    "{at}"
                );
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let response = resolve(&document, response);
                assert!(response["description"].is_string(), "{at} {status}");
                for (kind, content) in response["content"].as_object().into_iter().flatten() {
                    let example = &content["example"];
                    let main = status.starts_with('2');
                    assert!(!main || !example.is_null(), "{at} {status} {kind}");
                }
            }
        }
    }

    /// The documented absence instances are what the domain renders for those leaves, so that the
    /// example cannot drift from the wire.
    #[test]
    fn the_documented_absence_instances_are_what_the_domain_renders() {
        let document = document();
        let tenant = TenantId::parse("acme").unwrap();
        let context = RenderContext {
            tenant: &tenant,
            change_version: ChangeVersion::new(2),
        };
        let rendered: Vec<Value> = [Half::Am, Half::Pm]
            .into_iter()
            .map(|half| {
                let number = AbsenceNumber::new(1).unwrap();
                let mut leave = fixtures::leave(number, "2024-03-04", half, LeaveState::Approved);
                leave.owner = Owner::new(
                    134,
                    "Luca".into(),
                    "l@x".into(),
                    "00001".into(),
                    Some("B-17".into()),
                )
                .unwrap();
                leave.requested_definition = Some(Definition::new(11, Some("VAC".into())).unwrap());
                leave.resulting_definition = Some(Definition::new(12, None).unwrap());
                protime::instance(&leave, context)
            })
            .collect();
        let schema_example = &document["components"]["schemas"]["AbsenceInstance"]["example"];
        assert_eq!(schema_example, &rendered[0]);
        let page = &document["paths"]["/connector/protimeapi/api/v1/absences"]["get"]["responses"]
            ["200"]["content"]["application/json"]["example"];
        assert_eq!(page["value"], json!(rendered));
    }
}
