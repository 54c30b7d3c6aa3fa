//! The `Subscriptions` service.

use crate::auth::Authenticator;
use crate::convert::{Violations, subscription_to_proto};
use crate::proto;
use crate::proto::subscriptions_server::Subscriptions;
use crate::status::{invalid_argument, to_status};
use absync_application::{CreateSubscription, SubscriptionService};
use absync_domain::{AuthorizationValue, Collection, EventFilter, Scope, SubscriptionId};
use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

/// Serves CreateSubscription, ListSubscriptions and DeleteSubscription.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionsApi {
    pub(crate) auth: Authenticator,
    pub(crate) subscriptions: SubscriptionService,
}

fn create_request(body: proto::CreateSubscriptionRequest) -> Result<CreateSubscription, Status> {
    let mut v = Violations::default();
    let collection = match proto::Collection::try_from(body.collection) {
        Ok(proto::Collection::Leaves) => Some(Collection::Leaves),
        Ok(proto::Collection::Absences) => Some(Collection::Absences),
        _ => {
            v.add(
                "collection",
                "required: COLLECTION_LEAVES or COLLECTION_ABSENCES",
            );
            None
        }
    };
    let event_filter = match proto::EventFilter::try_from(body.event_filter) {
        Ok(proto::EventFilter::Unspecified | proto::EventFilter::All) => Some(EventFilter::All),
        Ok(proto::EventFilter::ValidatedOnly) => Some(EventFilter::ValidatedOnly),
        Err(_) => {
            v.add(
                "event_filter",
                "must be EVENT_FILTER_ALL or EVENT_FILTER_VALIDATED_ONLY",
            );
            None
        }
    };
    let authorization = match body.authorization.as_deref() {
        None => Some(None),
        Some(value) => v
            .check("authorization", AuthorizationValue::parse(value))
            .map(Some),
    };
    let valid_until = if body.valid_until.is_empty() {
        Some(None)
    } else {
        v.check(
            "valid_until",
            DateTime::parse_from_rfc3339(&body.valid_until)
                .map_err(|_| "must be an RFC 3339 date-time"),
        )
        .map(|t| Some(t.with_timezone(&Utc)))
    };
    let request = (|| {
        Some(CreateSubscription {
            collection: collection?,
            destination_url: body.destination_url,
            authorization: authorization?,
            event_filter: event_filter?,
            valid_until: valid_until?,
        })
    })();
    v.into_result(request)
        .map_err(|violations| invalid_argument(&violations))
}

#[tonic::async_trait]
impl Subscriptions for SubscriptionsApi {
    async fn create_subscription(
        &self,
        request: Request<proto::CreateSubscriptionRequest>,
    ) -> Result<Response<proto::CreateSubscriptionResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let create = create_request(request.into_inner())?;
        let created = self
            .subscriptions
            .create(&tenant, create)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::CreateSubscriptionResponse {
            subscription: Some(subscription_to_proto(&created)),
            signing_secret: created.signing_secret.expose(),
        }))
    }

    async fn list_subscriptions(
        &self,
        request: Request<proto::ListSubscriptionsRequest>,
    ) -> Result<Response<proto::ListSubscriptionsResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksRead).await?;
        let listed = self.subscriptions.list(&tenant).await.map_err(to_status)?;
        Ok(Response::new(proto::ListSubscriptionsResponse {
            subscriptions: listed.iter().map(subscription_to_proto).collect(),
        }))
    }

    async fn delete_subscription(
        &self,
        request: Request<proto::DeleteSubscriptionRequest>,
    ) -> Result<Response<proto::DeleteSubscriptionResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let id = SubscriptionId::new(request.into_inner().id);
        self.subscriptions
            .delete(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::DeleteSubscriptionResponse {}))
    }

    async fn rotate_signing_secret(
        &self,
        request: Request<proto::RotateSigningSecretRequest>,
    ) -> Result<Response<proto::RotateSigningSecretResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let id = SubscriptionId::new(request.into_inner().id);
        let rotated = self
            .subscriptions
            .rotate_secret(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::RotateSigningSecretResponse {
            signing_secret: rotated.signing_secret.expose(),
            previous_secret_valid_until: rotated
                .previous_secret
                .map(|p| p.until.to_rfc3339())
                .unwrap_or_default(),
        }))
    }
}
