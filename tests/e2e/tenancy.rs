//! Tenants are isolated; scopes are enforced.

use crate::app::spawn_app;
use absync_adapter_grpc::proto::{self, AbsenceStatus, EventFilter};
use absync_domain::Scope;
use absync_e2e::client::Clients;
use absync_e2e::fixtures::monday_to_tuesday;
use prost_types::FieldMask;
use std::time::Duration;
use tonic::Code;

#[tokio::test]
async fn another_tenant_can_neither_see_nor_touch_a_tenants_data() {
    let mut app = spawn_app().await;
    let created = app.subscribe(EventFilter::All).await;
    app.put(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved))
        .await
        .unwrap();
    app.receiver.wait_for(4, Duration::from_secs(10)).await;

    let beta_token = app.token_with("beta", &Scope::ALL).await;
    let mut beta = Clients::connect(app.grpc_addr, Some(beta_token.clone())).await;
    let id = created.id.clone();

    let listed = beta
        .subscriptions
        .list_subscriptions(beta.request(proto::ListSubscriptionsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.subscriptions.is_empty());
    let get = beta.request(proto::GetSubscriptionRequest { id: id.clone() });
    assert_eq!(
        beta.subscriptions
            .get_subscription(get)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let update = beta.request(proto::UpdateSubscriptionRequest {
        subscription: Some(proto::Subscription {
            id: id.clone(),
            event_filter: EventFilter::ValidatedOnly.into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["event_filter".into()],
        }),
    });
    let status = beta
        .subscriptions
        .update_subscription(update)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let pause = beta.request(proto::PauseSubscriptionRequest { id: id.clone() });
    assert_eq!(
        beta.subscriptions
            .pause_subscription(pause)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let resume = beta.request(proto::ResumeSubscriptionRequest { id: id.clone() });
    assert_eq!(
        beta.subscriptions
            .resume_subscription(resume)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let limit = beta.request(proto::UpdateSubscriptionRequest {
        subscription: Some(proto::Subscription {
            id: id.clone(),
            max_per_second: Some(1),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["max_per_second".into()],
        }),
    });
    let status = beta
        .subscriptions
        .update_subscription(limit)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let rotate = beta.request(proto::RotateSigningSecretRequest { id: id.clone() });
    assert_eq!(
        beta.subscriptions
            .rotate_signing_secret(rotate)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let delete = beta.request(proto::DeleteSubscriptionRequest { id: id.clone() });
    assert_eq!(
        beta.subscriptions
            .delete_subscription(delete)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let get = beta.request(proto::GetAbsenceRequest {
        absence_id: "hr-1".into(),
    });
    assert_eq!(
        beta.ingest.get_absence(get).await.unwrap_err().code(),
        Code::NotFound
    );
    let delete = beta.request(proto::DeleteAbsenceRequest {
        absence_id: "hr-1".into(),
        revision: 0,
    });
    assert_eq!(
        beta.ingest.delete_absence(delete).await.unwrap_err().code(),
        Code::NotFound
    );

    // Over REST as well.
    let client = reqwest::Client::new();
    let one = client
        .get(app.http(&format!("/connector/protimeapi/api/v1/webhooks/{id}")))
        .bearer_auth(&beta_token)
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), reqwest::StatusCode::NOT_FOUND);
    let absences: serde_json::Value = client
        .get(app.http("/connector/protimeapi/api/v1/absences"))
        .bearer_auth(&beta_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(absences["value"], serde_json::json!([]));

    // Beta's absence with the same source id is its own, and reaches none of acme's subscribers.
    let put = beta.request(proto::PutAbsenceRequest {
        absence: Some(monday_to_tuesday("hr-1", 1, AbsenceStatus::Pending)),
    });
    let answer = beta.ingest.put_absence(put).await.unwrap().into_inner();
    assert_eq!(answer.outcome(), proto::ChangeOutcome::Applied);
    app.receiver
        .assert_stays_at(4, Duration::from_millis(400))
        .await;

    // Acme's subscription is untouched (not paused, no limit).
    let get = app.clients.request(proto::GetSubscriptionRequest { id });
    let mine = app
        .clients
        .subscriptions
        .get_subscription(get)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine, created);

    // The other way round: beta's subscription is not in acme's list, and acme reaches it by no id.
    let theirs = beta
        .create_subscription(proto::CreateSubscriptionRequest {
            destination_url: app.receiver.url("/beta"),
            collection: proto::Collection::Absences.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .subscription
        .unwrap();
    let listed = app.clients.list_subscriptions().await.unwrap();
    assert_eq!(listed, [mine]);
    let theirs_id = theirs.id.clone();
    assert_eq!(
        app.clients
            .get_subscription(&theirs_id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let mut subscriptions = app.clients.subscriptions.clone();
    let pause = app.clients.request(proto::PauseSubscriptionRequest {
        id: theirs_id.clone(),
    });
    let status = subscriptions.pause_subscription(pause).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    let resume = app
        .clients
        .request(proto::ResumeSubscriptionRequest { id: theirs_id });
    let status = subscriptions.resume_subscription(resume).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(beta.get_subscription(&theirs.id).await.unwrap(), theirs);
}

#[tokio::test]
async fn a_token_without_the_scope_is_permission_denied() {
    let app = spawn_app().await;
    let reader = app
        .token_with("acme", &[Scope::AbsencesRead, Scope::WebhooksRead])
        .await;
    let mut reader = Clients::connect(app.grpc_addr, Some(reader)).await;
    let put = reader.request(proto::PutAbsenceRequest {
        absence: Some(monday_to_tuesday("hr-1", 1, AbsenceStatus::Approved)),
    });
    assert_eq!(
        reader.ingest.put_absence(put).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    let create = reader.request(proto::CreateSubscriptionRequest {
        destination_url: "https://example.com/hook".into(),
        collection: proto::Collection::Leaves.into(),
        ..Default::default()
    });
    assert_eq!(
        reader
            .subscriptions
            .create_subscription(create)
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    // What it may do, it can.
    let list = reader.request(proto::ListSubscriptionsRequest::default());
    assert!(reader.subscriptions.list_subscriptions(list).await.is_ok());
    assert_eq!(app.count("absences").await, 0);
}
