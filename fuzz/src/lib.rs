//! Checks shared by the fuzz targets in `fuzz_targets/`.

use absync_domain::payload::{self, protime, timmi};
use absync_domain::{
    ChangeVersion, PayloadFormat, Leave, LeaveEventRecord, LeaveKey, RenderContext, TenantId,
    WebhookMessage,
};
use serde_json::Value;

/// Parses a rendered body, which must be one JSON object.
fn object(format: &str, message: &WebhookMessage) -> serde_json::Map<String, Value> {
    match serde_json::from_slice::<Value>(&message.body) {
        Ok(Value::Object(object)) => object,
        other => panic!("{format} rendered no JSON object: {other:?}"),
    }
}

/// Checks the properties every key has: it prints as it parses, and its number encodes it.
///
/// # Panics
/// When a property does not hold: that is what the fuzz targets look for.
pub fn check_key(key: LeaveKey) {
    let text = key.to_string();
    assert_eq!(
        LeaveKey::parse(&text),
        Ok(key),
        "{text} does not parse back"
    );
    let number = key.number().get();
    assert!(number > 0, "{text}: leave number {number} is not positive");
    assert_eq!(number >> 17, key.absence().get(), "{text}: number {number}");
}

/// Renders `record` in both formats, twice, and checks that each output is a JSON object, the same
/// bytes both times, and carries the leave's identity and the event.
///
/// # Panics
/// When a property does not hold: that is what the fuzz targets look for.
pub fn check_render(record: &LeaveEventRecord, tenant: &TenantId, change_version: ChangeVersion) {
    check_key(record.leave.key);
    let context = RenderContext {
        tenant,
        change_version,
    };
    let event = record.event.as_str();

    let leaves = timmi::render(record);
    assert_eq!(
        leaves,
        timmi::render(record),
        "timmi rendering is not deterministic"
    );
    assert_eq!(leaves, payload::render(PayloadFormat::Leaves, record, context));
    let body = object("timmi", &leaves);
    assert_eq!(body["id"], Value::from(record.leave.key.to_string()));
    assert_eq!(
        body["owner"]["name"],
        Value::from(record.leave.owner.name.as_str())
    );
    assert!(leaves.headers.contains(&("X-Event", event.to_owned())));

    let absences = protime::render(record, context);
    assert_eq!(
        absences,
        protime::render(record, context),
        "protime rendering is not deterministic"
    );
    assert_eq!(
        absences,
        payload::render(PayloadFormat::Absences, record, context)
    );
    let body = object("protime", &absences);
    assert_eq!(body["id"], Value::from(record.leave.key.number().get()));
    assert_eq!(
        body["changeVersion"],
        Value::from(protime::change_version_text(change_version))
    );
    assert!(absences.headers.contains(&("X-Event", event.to_owned())));

    check_instance(&record.leave, tenant, change_version);
}

/// Checks the Protime absences collection's view of a current leave.
///
/// # Panics
/// When a property does not hold: that is what the fuzz targets look for.
pub fn check_instance(leave: &Leave, tenant: &TenantId, change_version: ChangeVersion) {
    let context = RenderContext {
        tenant,
        change_version,
    };
    let value = protime::instance(leave, context);
    assert_eq!(value, protime::instance(leave, context));
    let Value::Object(object) = &value else {
        panic!("instance is not a JSON object: {value}");
    };
    assert!(!object.contains_key("changeType"));
    let text = serde_json::to_vec(&value).expect("a JSON value serialises");
    assert_eq!(serde_json::from_slice::<Value>(&text).ok(), Some(value));
}
