//! The gRPC surface around ingest: subscriptions, GetAbsence, health and reflection (v1 and v1alpha).

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter};
use absync_e2e::fixtures::monday_to_tuesday;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1alpha;
use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as AlphaReflectionClient;

#[tokio::test]
async fn subscriptions_are_listed_redacted_and_deleted() {
    let mut app = spawn_app().await;
    let created = app.subscribe(EventFilter::ValidatedOnly).await;
    assert_eq!(created.authorization, "Basic ****");
    assert_eq!(created.status(), proto::SubscriptionStatus::Enabled);
    assert_eq!(created.event_filter(), EventFilter::ValidatedOnly);

    let listed = app.clients.list_subscriptions().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&created));

    // A bad destination and a missing collection are both named.
    let status = app
        .clients
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: "ftp://example.com/hook".into(),
            collection: proto::Collection::Leaves.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().contains("destination_url"),
        "{}",
        status.message()
    );
    let status = app
        .clients
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: app.receiver.url("/x"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(
        status.message().contains("collection"),
        "{}",
        status.message()
    );

    app.clients.delete_subscription(&created.id).await.unwrap();
    let status = app
        .clients
        .delete_subscription(&created.id)
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    let listed = app.clients.list_subscriptions().await.unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn get_absence_returns_what_was_put_and_its_leaves() {
    let mut app = spawn_app().await;
    let absence = monday_to_tuesday("hr-9", 3, AbsenceStatus::Pending);
    let put = app.put(absence.clone()).await.unwrap();
    let request = app.clients.request(proto::GetAbsenceRequest {
        absence_id: "hr-9".into(),
    });
    let got = app
        .clients
        .ingest
        .get_absence(request)
        .await
        .unwrap()
        .into_inner();
    let mut expected = absence;
    expected.working_weekdays = (1..=5).collect(); // the default calendar, made explicit
    assert_eq!(got.absence, Some(expected));
    assert_eq!(got.absence_number, put.absence_number);
    assert_eq!(got.revision, 3);
    assert!(!got.deleted);
    let ids: Vec<_> = got.leaves.iter().map(|l| l.leave_id.clone()).collect();
    let n = put.absence_number;
    assert_eq!(
        ids,
        [
            format!("{n}-20240304-AM"),
            format!("{n}-20240304-PM"),
            format!("{n}-20240305-AM"),
            format!("{n}-20240305-PM")
        ]
    );
    assert!(got.leaves.iter().all(|l| !l.approved));

    let request = app.clients.request(proto::GetAbsenceRequest {
        absence_id: "unknown".into(),
    });
    let status = app.clients.ingest.get_absence(request).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn health_and_reflection_are_served() {
    let app = spawn_app().await;
    let channel = Channel::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();

    let mut health = HealthClient::new(channel.clone());
    for service in ["absync.v1.AbsenceIngest", "absync.v1.Subscriptions"] {
        let answer = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.status(), ServingStatus::Serving, "{service}");
    }

    let answer = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        answer.status(),
        ServingStatus::Serving,
        "the server as a whole"
    );

    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("expected a service list")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert_lists_every_service(&names);

    // Clients that still speak v1alpha (grpcurl's older releases, Python's stock reflection client)
    // get the same answer.
    let mut alpha = AlphaReflectionClient::new(channel);
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(
            v1alpha::server_reflection_request::MessageRequest::ListServices(String::new()),
        ),
    };
    let mut answers = alpha
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .expect("v1alpha reflection is served")
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(v1alpha::server_reflection_response::MessageResponse::ListServicesResponse(list)) =
        answer.message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert_lists_every_service(&names);
}

fn assert_lists_every_service(names: &[String]) {
    for service in [
        "absync.v1.AbsenceIngest",
        "absync.v1.Subscriptions",
        "absync.v1.Deliveries",
        "grpc.health.v1.Health",
    ] {
        assert!(
            names.iter().any(|n| n == service),
            "{service} missing from {names:?}"
        );
    }
}
