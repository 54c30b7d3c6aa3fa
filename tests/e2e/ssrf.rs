//! The SSRF guard at subscription time: internal destinations are refused unless allowlisted.

use crate::app::{spawn_app, spawn_app_with};
use absync_adapter_grpc::proto;

const INTERNAL: [&str; 5] = [
    "http://127.0.0.1:9/hook",
    "http://[::1]:9/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:10.0.0.1]/hook",
    "http://localhost:9/hook",
];

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
    for url in INTERNAL {
        let status = create(&mut app, url).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{url}");
        assert!(
            status.message().starts_with("destination_url: "),
            "{url}: {}",
            status.message()
        );
    }
    assert_eq!(app.count("subscriptions").await, 0);
}

#[tokio::test]
async fn the_allowlist_exempts_what_it_lists_and_nothing_else() {
    let mut app = spawn_app().await; // allowlist 127.0.0.0/8
    assert!(create(&mut app, "http://127.0.0.1:9/hook").await.is_ok());
    for url in &INTERNAL[1..4] {
        let status = create(&mut app, url).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "{url}");
    }
}
