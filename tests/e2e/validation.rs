//! No token, or an unknown one, gets UNAUTHENTICATED and writes nothing. Bad input, field by field, is
//! the table of `bad_input.rs`.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::monday_to_tuesday;

#[tokio::test]
async fn calls_without_a_valid_token_are_unauthenticated() {
    let app = spawn_app().await;
    for token in [None, Some("absync_not-a-real-token".to_owned())] {
        let mut anonymous = Clients::connect(app.grpc_addr, token).await;
        let request = anonymous.request(proto::PutAbsenceRequest {
            absence: Some(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved)),
        });
        let status = anonymous.ingest.put_absence(request).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
        let request = anonymous.request(proto::ListSubscriptionsRequest::default());
        let status = anonymous
            .subscriptions
            .list_subscriptions(request)
            .await
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
    assert_eq!(app.count("absences").await, 0);
}
