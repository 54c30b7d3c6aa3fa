//! `POST /connector/protimeapi/api/v1/webhooks`: bytes as the request body → the adapter's JSON and
//! field checks → the `CreateSubscription` use case (destination URL rules, the SSRF guard's address
//! rules for literal hosts) → the problem document, over stub ports that answer at once.

#![no_main]

use absync_adapter_http::fuzzing::create_webhook;
use absync_application::SubscriptionService;
use absync_application::ports::{
    Clock, DestinationCheckError, DestinationGuard, NewSubscription, StoreError, Subscription,
    SubscriptionChanges, SubscriptionCursor, SubscriptionStore,
};
use absync_domain::{
    PayloadFormat, DestinationPolicy, DestinationUrl, SigningSecret, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::future::Future;
use std::net::IpAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0)
        .single()
        .expect("a valid instant")
}

struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// The subscription-time SSRF check without DNS: address literals against the default policy (as
/// `DnsGuard` does before it resolves names); names pass.
struct LiteralGuard(DestinationPolicy);

#[async_trait]
impl DestinationGuard for LiteralGuard {
    async fn check(&self, url: &DestinationUrl) -> Result<(), DestinationCheckError> {
        let refused = DestinationCheckError::Refused;
        let url = url::Url::parse(url.as_str()).map_err(|e| refused(e.to_string()))?;
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
            Some(url::Host::Domain(_)) => return Ok(()),
            None => return Err(refused("names no host".into())),
        };
        self.0
            .check_ip(ip)
            .map_err(|reason| refused(format!("{ip} is {reason}")))
    }
}

/// Stores what it is given; nothing else is called on this path.
struct CreateOnlyStore;

fn unused() -> StoreError {
    StoreError::Unavailable("not on the create path".into())
}

#[async_trait]
impl SubscriptionStore for CreateOnlyStore {
    async fn create(&self, new: NewSubscription) -> Result<Subscription, StoreError> {
        Ok(Subscription {
            id: SubscriptionId::new("00000000-0000-0000-0000-000000000001"),
            tenant: new.tenant,
            payload_format: new.payload_format,
            destination: new.destination,
            authorization: new.authorization,
            event_filter: new.event_filter,
            status: SubscriptionStatus::Enabled,
            valid_until: new.valid_until,
            created_at: now(),
            signing_secret: new.signing_secret,
            previous_secret: None,
        })
    }

    async fn list(&self, _: &TenantId) -> Result<Vec<Subscription>, StoreError> {
        Err(unused())
    }

    async fn page(
        &self,
        _: &TenantId,
        _: Option<SubscriptionCursor>,
        _: u32,
    ) -> Result<Vec<Subscription>, StoreError> {
        Err(unused())
    }

    async fn update(
        &self,
        _: &TenantId,
        _: &SubscriptionId,
        _: SubscriptionChanges,
    ) -> Result<Option<Subscription>, StoreError> {
        Err(unused())
    }

    async fn get(
        &self,
        _: &TenantId,
        _: &SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        Err(unused())
    }

    async fn delete(&self, _: &TenantId, _: &SubscriptionId) -> Result<bool, StoreError> {
        Err(unused())
    }

    async fn rotate_secret(
        &self,
        _: &TenantId,
        _: &SubscriptionId,
        _: SigningSecret,
        _: DateTime<Utc>,
    ) -> Result<Option<Subscription>, StoreError> {
        Err(unused())
    }
}

/// Runs a future whose ports all answer at once: it must finish on its first poll.
fn now_or_never<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the create path waited on something"),
    }
}

fn service(allow_http: bool) -> SubscriptionService {
    SubscriptionService::new(
        Arc::new(CreateOnlyStore),
        Arc::new(FixedClock),
        Arc::new(LiteralGuard(DestinationPolicy::default())),
        allow_http,
    )
}

fuzz_target!(|data: &[u8]| {
    let tenant = TenantId::parse("acme").expect("a valid tenant");
    for allow_http in [false, true] {
        match now_or_never(create_webhook(&service(allow_http), &tenant, data)) {
            Ok(created) => created_as_asked(data, &created, allow_http),
            Err(problem) => names_the_field(data, &problem),
        }
    }
});

/// A created subscription is what the body asked for, with a destination that obeys the rules.
fn created_as_asked(data: &[u8], created: &Subscription, allow_http: bool) {
    let body: Value = serde_json::from_slice(data).expect("an accepted body is JSON");
    let asked = body["collectionName"].as_str().expect("collectionName");
    assert_eq!(PayloadFormat::parse(asked), Some(created.payload_format));
    assert!(body["destinationUrl"].is_string());

    let destination = created.destination.as_str();
    let url = url::Url::parse(destination).expect("a stored destination parses");
    assert!(
        url.scheme() == "https" || (allow_http && url.scheme() == "http"),
        "{destination}"
    );
    assert!(
        url.username().is_empty() && url.password().is_none(),
        "{destination}"
    );
    assert!(
        url.host_str().is_some_and(|h| !h.is_empty()),
        "{destination}"
    );
    // The store keeps the normalised URL; reading it back and checking it again changes nothing.
    assert_eq!(
        DestinationUrl::parse(destination, allow_http).as_ref(),
        Ok(&created.destination),
        "the stored destination is not stable"
    );
    match created.payload_format {
        PayloadFormat::Leaves => assert_eq!(created.valid_until, None),
        PayloadFormat::Absences => assert!(created.valid_until.is_some_and(|t| t > now())),
    }
}

/// A refused body is a 400 problem document; field errors use the REST API's names.
fn names_the_field(data: &[u8], problem: &Value) {
    assert_eq!(problem["status"], Value::from(400), "{problem}");
    assert_eq!(problem["type"], Value::from("about:blank"), "{problem}");
    let detail = problem["detail"].as_str().expect("detail");
    assert!(!detail.is_empty(), "{problem}");
    if let Some(errors) = problem.get("errors") {
        let errors = errors.as_array().expect("errors is an array");
        assert!(!errors.is_empty(), "{problem}");
        for error in errors {
            let field = error["field"].as_str().expect("field");
            assert!(
                field == "destinationUrl" || field == "collectionName",
                "unknown field {field:?} in {problem}"
            );
            assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
        }
    } else {
        // Only a body that is not a JSON object is refused without naming a field.
        let is_object = matches!(serde_json::from_slice::<Value>(data), Ok(Value::Object(_)));
        assert!(!is_object, "{problem}");
    }
}
