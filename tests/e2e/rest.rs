//! The Protime-compatible REST API: self-registered webhooks receive Protime delta items; the absences
//! collection pages the current instances for the initial sync.

use crate::app::{TestApp, spawn_app};
use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_domain::Scope;
use absync_e2e::fixtures::{half_days, monday_to_tuesday};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

const WEBHOOKS: &str = "/connector/protimeapi/api/v1/webhooks";
const ABSENCES: &str = "/connector/protimeapi/api/v1/absences";
const WAIT: Duration = Duration::from_secs(10);

async fn post_webhook(
    app: &TestApp,
    token: Option<&str>,
    body: &Value,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(app.http(WEBHOOKS))
        .header("Content-Type", "application/json")
        .header("User-Agent", "e2e")
        .body(body.to_string());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn get(app: &TestApp, token: &str, path: &str) -> (StatusCode, Value) {
    let response = reqwest::Client::new()
        .get(app.http(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (
        status,
        response.json::<Value>().await.unwrap_or(Value::Null),
    )
}

fn assert_item_shape(item: &Value) {
    let is_int = |v: &Value| v.as_i64().is_some();
    let is_str = |v: &Value| v.as_str().is_some();
    assert!(is_str(&item["changeType"]), "{item}");
    let version = item["changeVersion"].as_str().unwrap();
    assert_eq!(version.len(), 20);
    assert!(
        version
            .chars()
            .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
        "{version}"
    );
    assert!(is_int(&item["id"]));
    assert!(is_int(&item["person"]["id"]));
    assert_eq!(item["person"]["@employee-number"], json!("00001"));
    assert!(item["person"].get("@badge-number").is_some());
    assert_unknown_definitions(item);
    assert!(is_str(&item["date"]));
    for minutes in [
        "startTimeInMinutes",
        "durationInMinutes",
        "calculatedDurationInMinutes",
    ] {
        assert!(is_int(&item[minutes]), "{minutes}");
    }
    assert!(["First", "Second"].contains(&item["dayPart"].as_str().unwrap()));
    assert!(
        item["request"]["id"]
            .as_str()
            .unwrap()
            .starts_with("acme-134-")
    );
    assert_eq!(item["status"], json!("Manual"));
    assert!(is_str(&item["approvalLevel"]));
    assert_eq!(item["isLocked"], json!(false));
    assert_eq!(item["periodType"], json!("Day"));
}

/// The fixtures' absences carry no definitions: each definition property is still an object (so
/// `item.resultingAbsenceDefinition.id` reads), with a `null` id and its external reference key.
fn assert_unknown_definitions(item: &Value) {
    for (definition, code) in [
        ("resultingAbsenceDefinition", "@absence-code"),
        ("requestedAbsenceDefinition", "@absence-code"),
        ("shiftDefinition", "@shift-code"),
    ] {
        assert_eq!(
            item[definition],
            json!({"id": null, code: null}),
            "{definition} of {item}"
        );
    }
}

#[tokio::test]
async fn a_rest_created_absences_webhook_receives_protime_items() {
    let mut app = spawn_app().await;
    let (status, headers, created) = post_webhook(
        &app,
        Some(&app.token.clone()),
        &json!({"destinationUrl": app.receiver.url("/protime"), "collectionName": "absences"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        headers["location"].to_str().unwrap(),
        format!("{WEBHOOKS}/{id}")
    );
    assert!(created["key"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["status"], json!("Enabled"));
    assert_eq!(created["collectionName"], json!("absences"));
    let valid_until =
        chrono::DateTime::parse_from_rfc3339(created["validUntil"].as_str().unwrap()).unwrap();
    let days = (valid_until.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "{valid_until}");

    // Two days pending, then approved, then deleted: 4 + 4 + 4 items.
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending))
        .await
        .unwrap();
    let first = app.receiver.wait_for(4, WAIT).await;
    app.put(monday_to_tuesday("hr-1", 2, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.receiver.wait_for(8, WAIT).await;
    let request = app.clients.request(proto::DeleteAbsenceRequest {
        absence_id: "hr-1".into(),
        revision: 3,
    });
    app.clients.ingest.delete_absence(request).await.unwrap();
    let got = app.receiver.wait_for(12, WAIT).await;
    assert_eq!(first.len(), 4);

    let key = created["key"].as_str().unwrap();
    for request in &got {
        assert_eq!(request.uri, "/protime");
        assert_item_shape(&request.json());
        assert!(
            crate::signing::verifies_request(key, request),
            "signed with the key of the 201 answer"
        );
        assert_eq!(request.header("x-resource-type"), Some("absence"));
    }
    let items: Vec<Value> = got
        .iter()
        .map(absync_e2e::receiver::Received::json)
        .collect();
    let versions = |range: std::ops::Range<usize>| {
        items[range]
            .iter()
            .map(|i| i["changeVersion"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    // Each change's versions are above every version of the change before, compared as strings.
    let (created_v, approved_v, deleted_v) = (versions(0..4), versions(4..8), versions(8..12));
    assert!(created_v.iter().max() < approved_v.iter().min());
    assert!(approved_v.iter().max() < deleted_v.iter().min());
    assert!(
        items[..4]
            .iter()
            .all(|i| i["changeType"] == json!("InsertOrUpdate")
                && i["approvalLevel"] == json!("AwaitingApproval"))
    );
    assert!(
        items[4..8]
            .iter()
            .all(|i| i["changeType"] == json!("InsertOrUpdate")
                && i["approvalLevel"] == json!("Approved"))
    );
    assert!(
        items[8..]
            .iter()
            .all(|i| i["changeType"] == json!("Delete"))
    );
    // The same four instance ids throughout.
    let ids = |range: std::ops::Range<usize>| {
        let mut ids: Vec<i64> = items[range]
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(0..4), ids(4..8));
    assert_eq!(ids(4..8), ids(8..12));
}

/// Bad bodies, field by field, are the table of `bad_input.rs`; here, the token.
#[tokio::test]
async fn webhook_writes_without_a_valid_token_with_the_scope_are_unauthorized() {
    let app = spawn_app().await;
    let read_only = app
        .token_with("acme", &[Scope::WebhooksRead, Scope::AbsencesWrite])
        .await;
    let good = json!({"destinationUrl": "https://example.com/hook", "collectionName": "absences"});
    for token in [None, Some("absync_unknown"), Some(read_only.as_str())] {
        let (status, headers, problem) = post_webhook(&app, token, &good).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{token:?}: {problem}");
        assert_eq!(headers["content-type"], "application/problem+json");
    }
    assert_eq!(app.count("subscriptions").await, 0, "nothing is written");
}

#[tokio::test]
async fn webhooks_are_listed_read_without_key_and_deleted() {
    let app = spawn_app().await;
    let token = app.token.clone();
    let (_, _, created) = post_webhook(
        &app,
        Some(&token),
        &json!({"destinationUrl": app.receiver.url("/t"), "collectionName": "leaves"}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created["validUntil"],
        Value::Null,
        "leaves webhooks do not expire"
    );

    let (status, listed) = get(
        &app,
        &token,
        &format!("{WEBHOOKS}?filter=status%20eq%20%27Enabled%27"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed["value"].as_array().unwrap().len(), 1);
    let (_, disabled) = get(
        &app,
        &token,
        &format!("{WEBHOOKS}?filter=status%20eq%20%27Disabled%27"),
    )
    .await;
    assert!(disabled["value"].as_array().unwrap().is_empty());
    let (status, problem) = get(
        &app,
        &token,
        &format!("{WEBHOOKS}?filter=name%20eq%20%27x%27"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], json!("filter"));

    let (status, one) = get(&app, &token, &format!("{WEBHOOKS}/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["id"], json!(id));
    assert!(one.get("key").is_none());
    assert!(!one.to_string().contains(created["key"].as_str().unwrap()));

    let client = reqwest::Client::new();
    let deleted = client
        .delete(app.http(&format!("{WEBHOOKS}/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let (status, _) = get(&app, &token, &format!("{WEBHOOKS}/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&app, &token, &format!("{WEBHOOKS}/not-an-id")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_absences_collection_pages_250_instances_and_filters_by_date() {
    let mut app = spawn_app().await;
    // Five absences of five working weeks each (2024-01-01 is a Monday): 5 × 25 days × 2 halves.
    for i in 0..5 {
        let absence = half_days(
            &format!("hr-{i}"),
            1,
            AbsenceStatus::Approved,
            ("2024-01-01", HalfDay::Am),
            ("2024-02-02", HalfDay::Pm),
        );
        app.put(absence).await.unwrap();
    }
    let token = app.token_with("acme", &[Scope::AbsencesRead]).await;

    let mut seen = Vec::new();
    let mut next = Some(format!("{ABSENCES}?pageSize=100"));
    let mut pages = 0;
    while let Some(path) = next {
        let (status, page) = get(&app, &token, &path).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        pages += 1;
        seen.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    let mut ids: Vec<i64> = seen.iter().map(|i| i["id"].as_i64().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 250, "no instance twice");
    assert!(
        seen.iter()
            .all(|i| i.get("changeType").is_none() && i["approvalLevel"] == json!("Approved"))
    );
    for instance in &seen {
        assert_unknown_definitions(instance);
    }
    let dates: Vec<&str> = seen.iter().map(|i| i["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|w| w[0] <= w[1]), "date order");

    // The last week only: 5 days × 2 halves × 5 absences, following nextLink with the filter kept.
    let mut last_week = Vec::new();
    let mut next = Some(format!(
        "{ABSENCES}?pageSize=20&filter=date%20ge%20%272024-01-29%27"
    ));
    while let Some(path) = next {
        let (_, page) = get(&app, &token, &path).await;
        last_week.extend(page["value"].as_array().unwrap().iter().cloned());
        next = page["nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(last_week.len(), 50);
    assert!(
        last_week
            .iter()
            .all(|i| i["date"].as_str().unwrap() >= "2024-01-29")
    );

    let (status, problem) = get(
        &app,
        &token,
        &format!("{ABSENCES}?filter=date%20eq%20%272024-01-29%27"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["errors"][0]["field"], json!("filter"));
    let (status, _) = get(&app, &token, &format!("{ABSENCES}?pageSize=0")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let webhook_only = app.token_with("acme", &[Scope::WebhooksRead]).await;
    let (status, _) = get(&app, &webhook_only, ABSENCES).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
