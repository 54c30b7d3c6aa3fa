//! The SSRF guard at subscription time: internal destinations are refused unless allowlisted.

use crate::app::{spawn_app, spawn_app_with};
use absync_adapter_grpc::proto;

/// Refused without an allowlist, and still with `127.0.0.0/8` allowlisted: an allowlisted network
/// matches the address as written, not the IPv4 address an IPv6 form carries.
const INTERNAL: [&str; 12] = [
    "http://[::1]:9/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:10.0.0.1]/hook",
    // 6to4 of 127.0.0.1 and of the metadata address.
    "https://[2002:7f00:1::]/",
    "https://[2002:a9fe:a9fe::]/",
    // Teredo: the client address 127.0.0.1 is the last 32 bits, inverted.
    "https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    // IPv4-compatible, local-use and well-known NAT64.
    "https://[::127.0.0.1]/",
    "https://[64:ff9b:1::7f00:1]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    // Benchmarking and reserved IPv4, IPv6 documentation.
    "https://198.18.0.1/",
    "https://240.0.0.1/",
    "https://[2001:db8::1]/",
];

/// Refused without an allowlist only.
const LOOPBACK: [&str; 2] = ["http://127.0.0.1:9/hook", "http://localhost:9/hook"];

async fn create(
    app: &mut crate::app::TestApp,
    url: &str,
) -> Result<proto::CreateSubscriptionResponse, tonic::Status> {
    let request = app.clients.request(proto::CreateSubscriptionRequest {
        destination_url: url.into(),
        collection: proto::Collection::Leaves.into(),
        ..Default::default()
    });
    app.clients
        .subscriptions
        .create_subscription(request)
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn internal_destinations_are_refused_without_an_allowlist() {
    let mut app = spawn_app_with(&[]).await;
    for url in INTERNAL.iter().chain(&LOOPBACK) {
        let status = create(&mut app, url).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{url}");
        assert!(
            status.message().starts_with("destination_url: "),
            "{url}: {}",
            status.message()
        );
    }
    let status = create(&mut app, "https://[2002:7f00:1::]/")
        .await
        .unwrap_err();
    assert!(
        status
            .message()
            .ends_with("2002:7f00:1:: is a 6to4 address of 127.0.0.1, a loopback address"),
        "{}",
        status.message()
    );
    assert_eq!(app.count("subscriptions").await, 0);
}

#[tokio::test]
async fn the_allowlist_exempts_what_it_lists_and_nothing_else() {
    let mut app = spawn_app().await; // allowlist 127.0.0.0/8
    assert!(create(&mut app, "http://127.0.0.1:9/hook").await.is_ok());
    for url in INTERNAL {
        let status = create(&mut app, url).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{url}");
    }
}
