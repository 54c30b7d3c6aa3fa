//! The HTTP API against its OpenAPI document, on a running server: every documented operation is
//! called with its documented examples and with the scopes it documents, and every answer (errors
//! included) is checked against the status, headers, content type and schema the document gives
//! for it; every documented path answers its documented methods and only those; the documented
//! examples match their schemas; and the reference page at `/docs` works in Chromium with nothing
//! from another host.
//!
//! The document is the one the server serves at `/openapi.json`, the same that
//! `docs/openapi.json` keeps (a test of `absync-adapter-http` compares them). One value of the
//! examples is replaced: the documented destination's host (`hooks.example.com`, a reserved name)
//! does not resolve, and absync resolves a destination before it accepts it, so the webhook is
//! created for the test's receiver instead.

use crate::app::{TestApp, spawn_app};
use absync_adapter_grpc::proto::AbsenceStatus;
use absync_domain::Scope;
use absync_e2e::browser::Browser;
use absync_e2e::fixtures::monday_to_tuesday;
use absync_e2e::openapi::{Answer, Document, Operation};
use absync_e2e::wait::{eventually, ready_when};
use fantoccini::Locator;
use serde_json::{Value, json};
use std::time::Duration;

/// Every documented operation, in the order the contract test calls them: each sets up what the
/// next needs (a webhook to read, then to delete).
const OPERATIONS: [&str; 7] = [
    "healthz",
    "readyz",
    "createWebhook",
    "listWebhooks",
    "getWebhook",
    "listAbsences",
    "deleteWebhook",
];

async fn app_and_document() -> (TestApp, Document) {
    let app = spawn_app().await;
    let document = Document::fetch(&app.http("/openapi.json")).await;
    (app, document)
}

/// A request to make: the operation's, with these values.
#[derive(Default)]
struct Call<'a> {
    path: Option<String>,
    query: Option<Vec<(String, String)>>,
    /// Content type and body; the operation's example body when `None`.
    body: Option<(&'a str, String)>,
    token: Option<&'a str>,
}

/// Sends `call` for `operation`: its example path, query and body unless `call` says otherwise.
async fn send(app: &TestApp, operation: &Operation<'_>, call: Call<'_>) -> Answer {
    let path = call.path.unwrap_or_else(|| operation.example_path(&[]));
    let query = call.query.unwrap_or_else(|| operation.example_query());
    let method =
        reqwest::Method::from_bytes(operation.method.to_ascii_uppercase().as_bytes()).unwrap();
    let mut request = reqwest::Client::new()
        .request(method, app.http(&path))
        .query(&query);
    let body = call.body.or_else(|| {
        operation
            .example_body()
            .map(|body| ("application/json", body.to_string()))
    });
    if let Some((content_type, body)) = body {
        request = request.header("Content-Type", content_type).body(body);
    }
    if let Some(token) = call.token {
        request = request.bearer_auth(token);
    }
    Answer::read(request.send().await.unwrap()).await
}

/// A token of `acme` with exactly the scopes `operation` documents.
async fn token_for(app: &TestApp, operation: &Operation<'_>) -> Option<String> {
    let scopes: Vec<Scope> = operation
        .scopes()
        .into_iter()
        .map(|name| Scope::parse(name).unwrap())
        .collect();
    if scopes.is_empty() {
        return None;
    }
    Some(app.token_with("acme", &scopes).await)
}

/// A token of `acme` with every scope but those `operation` documents.
async fn token_without(app: &TestApp, operation: &Operation<'_>) -> String {
    let needed: Vec<Scope> = operation
        .scopes()
        .into_iter()
        .map(|name| Scope::parse(name).unwrap())
        .collect();
    let others: Vec<Scope> = Scope::ALL
        .into_iter()
        .filter(|scope| !needed.contains(scope))
        .collect();
    app.token_with("acme", &others).await
}

/// Sends `call`, checks the answer against the document and that its status is `expected`.
async fn expect(
    app: &TestApp,
    document: &Document,
    operation: &Operation<'_>,
    call: Call<'_>,
    expected: u16,
) -> Answer {
    let answer = send(app, operation, call).await;
    document.check(operation, &answer);
    assert_eq!(answer.status, expected, "{operation}: {}", answer.text());
    answer
}

#[tokio::test]
async fn every_documented_operation_answers_its_examples_as_its_document_says() {
    let (mut app, document) = app_and_document().await;
    let mut documented: Vec<&str> = document.operations().iter().map(Operation::id).collect();
    let mut covered = OPERATIONS.to_vec();
    documented.sort_unstable();
    covered.sort_unstable();
    assert_eq!(
        documented, covered,
        "the contract test must call every documented operation: add it to OPERATIONS"
    );
    // Four current leaves (2024-03-04 and 05, morning and afternoon) for the absences collection.
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved))
        .await
        .unwrap();

    let mut webhook = String::new();
    for id in OPERATIONS {
        let operation = document.operation(id);
        let token = token_for(&app, &operation).await;
        let path = operation.example_path(&[("id", &webhook)]);
        let call = || Call {
            path: Some(path.clone()),
            token: token.as_deref(),
            ..Call::default()
        };
        match id {
            "createWebhook" => {
                let mut body = operation.example_body().unwrap().clone();
                let destination = app.receiver.url("/absync");
                body["destinationUrl"] = json!(destination);
                let create = Call {
                    body: Some(("application/json", body.to_string())),
                    ..call()
                };
                let created = expect(&app, &document, &operation, create, 201).await;
                let created_body = created.json();
                webhook = created_body["id"].as_str().unwrap().to_owned();
                assert_eq!(created_body["destinationUrl"], json!(destination));
                assert_eq!(created_body["collectionName"], body["collectionName"]);
                assert_eq!(
                    created.headers["location"].to_str().unwrap(),
                    format!("{}/{webhook}", operation.path)
                );
            }
            "listWebhooks" => {
                let listed = expect(&app, &document, &operation, call(), 200).await;
                let ids: Vec<Value> = listed.json()["value"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w["id"].clone())
                    .collect();
                assert_eq!(ids, [json!(webhook)], "status eq 'Enabled'");
            }
            "getWebhook" => {
                let got = expect(&app, &document, &operation, call(), 200).await;
                assert_eq!(got.json()["id"], json!(webhook));
            }
            "listAbsences" => {
                // The examples: from 2024-03-01, two a page, after the morning's page token.
                let page = expect(&app, &document, &operation, call(), 200).await;
                assert_eq!(page.json()["value"].as_array().unwrap().len(), 2);
                // Without the page token: the first page, and the next link to the second.
                let query: Vec<(String, String)> = operation
                    .example_query()
                    .into_iter()
                    .filter(|(name, _)| name != "pageToken")
                    .collect();
                let first = Call {
                    query: Some(query),
                    ..call()
                };
                let first = expect(&app, &document, &operation, first, 200).await.json();
                let next = first["nextLink"].as_str().unwrap();
                let second = Call {
                    path: Some(next.to_owned()),
                    query: Some(Vec::new()),
                    ..call()
                };
                let second = expect(&app, &document, &operation, second, 200)
                    .await
                    .json();
                assert!(second.get("nextLink").is_none(), "{second}");
                let dates: Vec<&Value> = [&first, &second]
                    .into_iter()
                    .flat_map(|page| page["value"].as_array().unwrap())
                    .map(|item| &item["date"])
                    .collect();
                assert_eq!(
                    dates,
                    ["2024-03-04", "2024-03-04", "2024-03-05", "2024-03-05"]
                );
            }
            "deleteWebhook" => {
                expect(&app, &document, &operation, call(), 204).await;
            }
            "healthz" | "readyz" => {
                expect(&app, &document, &operation, call(), 200).await;
            }
            other => unreachable!("{other} is not in OPERATIONS"),
        }
        // The documented scopes are the ones needed: every other scope is refused.
        if token.is_some() {
            let others = token_without(&app, &operation).await;
            let refused = Call {
                token: Some(&others),
                ..call()
            };
            expect(&app, &document, &operation, refused, 401).await;
        }
    }
    // Deleted, the webhook is no longer found: the documented 404.
    let get = document.operation("getWebhook");
    let after = Call {
        path: Some(get.example_path(&[("id", &webhook)])),
        token: Some(&app.token),
        ..Call::default()
    };
    expect(&app, &document, &get, after, 404).await;
}

#[tokio::test]
async fn the_error_answers_are_the_documented_problems() {
    let (app, document) = app_and_document().await;
    let token = app.token.as_str();
    let with = |body: Value| Some(("application/json", body.to_string()));
    let query = |pairs: &[(&str, &str)]| {
        Some(
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>(),
        )
    };
    // (operation, what, call, status, the field the problem names)
    let cases: Vec<(&str, &str, Call<'_>, u16, Option<&str>)> = vec![
        (
            "createWebhook",
            "no collection name",
            Call {
                body: with(json!({"destinationUrl": "https://hooks.example.com/absync"})),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("collectionName"),
        ),
        (
            "createWebhook",
            "an unknown collection",
            Call {
                body: with(json!({
                    "destinationUrl": "https://hooks.example.com/absync",
                    "collectionName": "holidays"
                })),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("collectionName"),
        ),
        (
            "createWebhook",
            "a destination that is no URL",
            Call {
                body: with(json!({"destinationUrl": "hooks", "collectionName": "absences"})),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("destinationUrl"),
        ),
        (
            "createWebhook",
            "not JSON",
            Call {
                body: Some(("text/plain", "destinationUrl=x".into())),
                token: Some(token),
                ..Call::default()
            },
            415,
            None,
        ),
        (
            "createWebhook",
            "a body over 64 KiB",
            Call {
                body: Some(("application/json", " ".repeat(65 * 1024))),
                token: Some(token),
                ..Call::default()
            },
            413,
            None,
        ),
        (
            "createWebhook",
            "an unknown token",
            Call {
                token: Some("not-a-token"),
                ..Call::default()
            },
            401,
            None,
        ),
        (
            "listWebhooks",
            "an unsupported filter",
            Call {
                query: query(&[("filter", "status eq 'Paused'")]),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("filter"),
        ),
        (
            "getWebhook",
            "the example's id, which is nobody's",
            Call {
                token: Some(token),
                ..Call::default()
            },
            404,
            None,
        ),
        (
            "deleteWebhook",
            "the example's id, which is nobody's",
            Call {
                token: Some(token),
                ..Call::default()
            },
            404,
            None,
        ),
        (
            "listAbsences",
            "a page size of 0",
            Call {
                query: query(&[("pageSize", "0")]),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("pageSize"),
        ),
        (
            "listAbsences",
            "a filter given twice",
            Call {
                query: query(&[("filter", "date ge '2024-03-01'"), ("filter", "x")]),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("filter"),
        ),
        (
            "listAbsences",
            "a page token it never gave",
            Call {
                query: query(&[("pageToken", "nope")]),
                token: Some(token),
                ..Call::default()
            },
            400,
            Some("pageToken"),
        ),
    ];
    for (id, what, call, status, field) in cases {
        let operation = document.operation(id);
        let answer = send(&app, &operation, call).await;
        document.check(&operation, &answer);
        assert_eq!(
            answer.status,
            status,
            "{operation} with {what}: {}",
            answer.text()
        );
        assert_eq!(
            answer.json()["errors"][0]["field"].as_str(),
            field,
            "{operation} with {what}"
        );
    }
    // Without a token, every operation that documents a scope answers its documented 401.
    for operation in document.operations() {
        if operation.scopes().is_empty() {
            continue;
        }
        let answer = send(&app, &operation, Call::default()).await;
        document.check(&operation, &answer);
        assert_eq!(answer.status, 401, "{operation} without a token");
    }
}

#[tokio::test]
async fn every_documented_path_answers_its_documented_methods_and_no_other() {
    let (app, document) = app_and_document().await;
    let client = reqwest::Client::new();
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut paths: Vec<&str> = document.operations().iter().map(|o| o.path).collect();
    paths.dedup();
    for path in paths {
        let operations: Vec<Operation<'_>> = document
            .operations()
            .into_iter()
            .filter(|operation| operation.path == path)
            .collect();
        let url = app.http(&operations[0].example_path(&[]));
        for method in methods {
            let request = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes());
            let answer =
                Answer::read(client.request(request.unwrap(), &url).send().await.unwrap()).await;
            let documented = operations
                .iter()
                .any(|operation| operation.method == method);
            let at = format!(
                "{} {url}: {} {}",
                method.to_ascii_uppercase(),
                answer.status,
                answer.text()
            );
            if documented {
                assert_ne!(answer.status, 405, "documented but not routed: {at}");
                assert_ne!(
                    answer.json()["detail"],
                    json!("no such resource"),
                    "documented but not routed: {at}"
                );
            } else {
                assert_eq!(answer.status, 405, "routed but not documented: {at}");
            }
        }
    }
    // What the document leaves out on purpose is served all the same, and is not in it.
    for (path, status) in [
        ("/metrics", 200),
        ("/admin", 303),
        ("/openapi.json", 200),
        ("/docs", 303),
        ("/docs/", 200),
    ] {
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(app.http(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status, "{path}");
        assert!(document.root()["paths"].get(path).is_none(), "{path}");
    }
    let nowhere = reqwest::get(app.http("/nowhere")).await.unwrap();
    assert_eq!(nowhere.status(), 404);
    // The served document is the committed one, byte for byte.
    let served = reqwest::get(app.http("/openapi.json")).await.unwrap();
    let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/openapi.json");
    assert_eq!(
        served.text().await.unwrap(),
        std::fs::read_to_string(committed).unwrap(),
        "docs/openapi.json is stale: run `cargo xtask openapi`"
    );
}

#[tokio::test]
async fn the_documented_examples_match_their_schemas() {
    let (_app, document) = app_and_document().await;
    let mut checked = 0;
    let mut check = |what: String, schema: &Value, example: &Value| {
        let errors = document.schema_errors(schema, example);
        assert!(errors.is_empty(), "{what}: {errors:?}\n{example:#}");
        checked += 1;
    };
    for (name, schema) in document.root()["components"]["schemas"]
        .as_object()
        .unwrap()
    {
        if let Some(example) = schema.get("example") {
            check(format!("schema {name}"), schema, example);
        }
    }
    for operation in document.operations() {
        for parameter in operation.value["parameters"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let what = format!("{operation} parameter {}", parameter["name"]);
            check(what, &parameter["schema"], &parameter["example"]);
        }
        let body = &operation.value["requestBody"]["content"]["application/json"];
        if let Some(example) = body.get("example") {
            check(format!("{operation} request"), &body["schema"], example);
        }
        for (status, response) in operation.value["responses"].as_object().unwrap() {
            let response = document.resolve(response);
            for (kind, content) in response["content"].as_object().into_iter().flatten() {
                if let Some(example) = content.get("example") {
                    let what = format!("{operation} {status} {kind}");
                    check(what, &content["schema"], example);
                }
            }
        }
    }
    assert!(checked > 20, "only {checked} examples checked");
}

/// The sources a CSP directive allows.
fn sources<'a>(policy: &'a str, directive: &str) -> Vec<&'a str> {
    policy
        .split(';')
        .map(str::split_whitespace)
        .find_map(|mut words| (words.next() == Some(directive)).then(|| words.collect()))
        .unwrap_or_default()
}

#[tokio::test]
async fn the_reference_page_works_in_a_browser_with_nothing_from_another_host() {
    let (app, document) = app_and_document().await;
    let origin = app.http("");

    // The page's policy names no host: only the page's own origin, `data:` images and the hash of
    // one inline stylesheet.
    let page = reqwest::get(app.http("/docs/")).await.unwrap();
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let html = page.text().await.unwrap();
    assert_eq!(sources(&policy, "default-src"), ["'none'"], "{policy}");
    assert_eq!(sources(&policy, "script-src"), ["'self'"], "{policy}");
    assert_eq!(sources(&policy, "connect-src"), ["'self'"], "{policy}");
    assert_eq!(sources(&policy, "frame-ancestors"), ["'none'"], "{policy}");
    for source in policy.split(';').flat_map(|d| d.split_whitespace().skip(1)) {
        let allowed = ["'self'", "'none'", "data:"].contains(&source)
            || (source.starts_with("'sha256-") && source.ends_with('\''));
        assert!(allowed, "{source} in {policy}");
    }
    // The page and its configuration name no other host: every script, stylesheet and icon is a
    // relative path, and the configuration points at /openapi.json and turns the validator badge
    // (validator.swagger.io) off.
    for attribute in ["src=\"", "href=\""] {
        for reference in html.split(attribute).skip(1) {
            let target = reference.split('"').next().unwrap();
            assert!(
                !target.contains("//") && !target.contains(':'),
                "{target} in /docs/"
            );
        }
    }
    let initializer = reqwest::get(app.http("/docs/swagger-initializer.js"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!initializer.contains("http"), "{initializer}");
    assert!(
        initializer.contains(r#""url": "/openapi.json""#),
        "{initializer}"
    );
    assert!(
        initializer.contains(r#""validatorUrl": "none""#),
        "{initializer}"
    );

    let browser = Browser::start_with_javascript().await;
    let c = &browser.client;
    c.set_window_size(1280, 900).await.unwrap();
    c.goto(&app.http("/docs")).await.unwrap();
    // Swagger UI draws one block per documented operation, under the document's title.
    let count = document.operations().len();
    eventually(
        "every operation drawn",
        Duration::from_secs(15),
        async || {
            let drawn = c.find_all(Locator::Css(".opblock")).await.unwrap().len();
            ready_when(drawn == count, drawn)
        },
    )
    .await;
    assert!(
        browser
            .text(".info .title")
            .await
            .starts_with("absync HTTP API")
    );
    browser.screenshot("api-reference-01-operations").await;

    // Try an operation from the page: a call to the page's own origin, which the policy allows.
    browser
        .click("#operations-operations-healthz .opblock-summary-control")
        .await;
    browser
        .click("#operations-operations-healthz .try-out__btn")
        .await;
    browser
        .click("#operations-operations-healthz .execute")
        .await;
    let code = browser
        .text(
            "#operations-operations-healthz .live-responses-table tr.response .response-col_status",
        )
        .await;
    assert_eq!(code, "200");
    let scroll = "document.querySelector('#operations-operations-healthz .live-responses-table')\
                  .scrollIntoView({block: 'center'})";
    c.execute(scroll, Vec::new()).await.unwrap();
    browser.screenshot("api-reference-02-try-healthz").await;

    // Everything the page loaded came from its own origin (or is a `data:` image), and the console
    // reports no CSP violation, failed load or script error.
    let loaded = c
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            Vec::new(),
        )
        .await
        .unwrap();
    let loaded: Vec<&str> = loaded
        .as_array()
        .unwrap()
        .iter()
        .map(|url| url.as_str().unwrap())
        .collect();
    assert!(
        loaded.iter().any(|url| url.ends_with("/openapi.json")),
        "{loaded:?}"
    );
    for url in &loaded {
        assert!(
            url.starts_with(&origin) || url.starts_with("data:"),
            "{url} loaded"
        );
    }
    let console = browser.console().await;
    let severe: Vec<_> = console.iter().filter(|e| e.level == "SEVERE").collect();
    assert!(severe.is_empty(), "the page logged {severe:#?}");
    browser.close().await;
}
