//! Standard Webhooks signatures, checked by a verifier written here from the specification alone (it
//! shares no code with absync) and itself checked against the specification's published test vector.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter};
use absync_e2e::fixtures::one_morning;
use absync_e2e::receiver::Received;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::time::Duration;

/// Verifies `signatures` (the `webhook-signature` value) for `id`, `timestamp` and `body` with a
/// `whsec_` secret, the way a Standard Webhooks receiver does: any one `v1,` signature may match.
fn verifies(secret: &str, id: &str, timestamp: &str, body: &[u8], signatures: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let expected = STANDARD.encode(mac.finalize().into_bytes());
    signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .any(|s| s == expected)
}

pub(crate) fn verifies_request(secret: &str, request: &Received) -> bool {
    verifies(
        secret,
        request.header("webhook-id").unwrap(),
        request.header("webhook-timestamp").unwrap(),
        &request.body,
        request.header("webhook-signature").unwrap(),
    )
}

#[test]
fn the_verifier_accepts_the_published_test_vector() {
    assert!(verifies(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232314}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ));
    assert!(!verifies(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "1614265330",
        br#"{"test": 2432232315}"#,
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ));
}

#[tokio::test]
async fn deliveries_are_signed_with_the_secret_from_the_create_answer() {
    let mut app = spawn_app().await;
    let created = app
        .subscribe_to(proto::Collection::Leaves, EventFilter::All)
        .await;
    let secret = created.signing_secret;
    assert!(secret.starts_with("whsec_"), "{secret}");
    // The secret is shown only in the create answer.
    let request = app
        .clients
        .request(proto::ListSubscriptionsRequest::default());
    let listed = app
        .clients
        .subscriptions
        .list_subscriptions(request)
        .await
        .unwrap()
        .into_inner();
    assert!(!format!("{listed:?}").contains(&secret[6..]));

    app.put(one_morning(
        "hr-1",
        "2024-03-04",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    let got = app.receiver.wait_for(1, Duration::from_secs(10)).await;
    let request = &got[0];
    assert!(verifies_request(&secret, request));
    let timestamp: i64 = request
        .header("webhook-timestamp")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(timestamp.abs_diff(i64::try_from(now).unwrap()) < 60);

    // A tampered body, or another secret, fails verification.
    let mut tampered = request.clone();
    tampered.body = request
        .body
        .iter()
        .copied()
        .map(|b| if b == b'1' { b'2' } else { b })
        .collect();
    assert!(!verifies_request(&secret, &tampered));
    assert!(!verifies_request(
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        request
    ));

    // After a rotation both the new and the previous secret verify the next delivery.
    let request = app.clients.request(proto::RotateSigningSecretRequest {
        id: created.subscription.unwrap().id,
    });
    let rotated = app
        .clients
        .subscriptions
        .rotate_signing_secret(request)
        .await
        .unwrap()
        .into_inner();
    assert_ne!(rotated.signing_secret, secret);
    assert!(!rotated.previous_secret_valid_until.is_empty());
    app.put(one_morning(
        "hr-2",
        "2024-03-05",
        1,
        AbsenceStatus::Approved,
    ))
    .await
    .unwrap();
    let got = app.receiver.wait_for(2, Duration::from_secs(10)).await;
    let second = &got[1];
    assert_eq!(
        second
            .header("webhook-signature")
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    assert!(verifies_request(&rotated.signing_secret, second));
    assert!(verifies_request(&secret, second));
    assert_ne!(second.header("webhook-id"), got[0].header("webhook-id"));
}
