//! The `Subscriptions` service.

use crate::auth::Authenticator;
use crate::convert::{Violation, Violations, subscription_id, subscription_to_proto};
use crate::proto;
use crate::proto::subscriptions_server::Subscriptions;
use crate::status::{invalid_argument, request_violations, to_status};
use absync_application::ports::{Subscription, SubscriptionCursor, SubscriptionQuery};
use absync_application::{
    ApplicationError, CreateSubscription, SubscriptionService, UpdateSubscription,
};
use absync_domain::{
    AuthorizationValue, EventFilter, MaxPerSecond, PayloadFormat, Scope, SubscriptionId,
    SubscriptionStatus,
};
use chrono::{DateTime, SecondsFormat, Utc};
use tonic::{Request, Response, Status};

/// Serves CreateSubscription, ListSubscriptions and DeleteSubscription.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionsApi {
    pub(crate) auth: Authenticator,
    pub(crate) subscriptions: SubscriptionService,
}

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

fn field_error(field: &str, description: &str) -> Status {
    invalid_argument(&[Violation::new(field, description)])
}

/// The `id` of Get, Delete and RotateSigningSecret.
fn id_field(text: &str) -> Result<SubscriptionId, Status> {
    let mut v = Violations::default();
    let id = subscription_id(&mut v, "id", text);
    v.into_result(id)
        .map_err(|violations| invalid_argument(&violations))
}

/// The use case names a subscription's fields; UpdateSubscription's caller wrote them inside
/// `subscription`.
fn in_subscription(err: ApplicationError) -> Status {
    match &err {
        ApplicationError::InvalidInput(violations) => {
            invalid_argument(&request_violations(violations, "subscription."))
        }
        _ => to_status(err),
    }
}

/// Page tokens: the last subscription's creation time and id.
fn encode_cursor(last: &Subscription) -> String {
    format!(
        "{}|{}",
        last.created_at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        last.id
    )
}

fn decode_cursor(token: &str) -> Option<SubscriptionCursor> {
    let (time, id) = token.split_once('|')?;
    Some(SubscriptionCursor {
        created_at: DateTime::parse_from_rfc3339(time).ok()?.with_timezone(&Utc),
        id: SubscriptionId::parse(id).ok()?,
    })
}

fn event_filter(
    v: &mut Violations,
    field: &str,
    value: i32,
    unspecified: Option<EventFilter>,
) -> Option<EventFilter> {
    match proto::EventFilter::try_from(value) {
        Ok(proto::EventFilter::All) => Some(EventFilter::All),
        Ok(proto::EventFilter::ValidatedOnly) => Some(EventFilter::ValidatedOnly),
        Ok(proto::EventFilter::Unspecified) if unspecified.is_some() => unspecified,
        _ => {
            v.add(
                field,
                "must be EVENT_FILTER_ALL or EVENT_FILTER_VALIDATED_ONLY",
            );
            None
        }
    }
}

fn valid_until(v: &mut Violations, field: &str, text: &str) -> Option<Option<DateTime<Utc>>> {
    if text.is_empty() {
        return Some(None);
    }
    v.check(
        field,
        DateTime::parse_from_rfc3339(text).map_err(|_| "must be an RFC 3339 date-time"),
    )
    .map(|t| Some(t.with_timezone(&Utc)))
}

fn authorization(
    v: &mut Violations,
    field: &str,
    value: Option<&str>,
) -> Option<Option<AuthorizationValue>> {
    match value {
        None | Some("") => Some(None),
        Some(value) => v.check(field, AuthorizationValue::parse(value)).map(Some),
    }
}

/// A rate limit as written: unset for unlimited.
fn max_per_second(
    v: &mut Violations,
    field: &str,
    value: Option<u32>,
) -> Option<Option<MaxPerSecond>> {
    match value {
        None => Some(None),
        Some(n) => v.check(field, MaxPerSecond::new(n)).map(Some),
    }
}

/// Reads an UpdateSubscription request: the id and the masked fields.
fn update_request(
    body: proto::UpdateSubscriptionRequest,
) -> Result<(SubscriptionId, UpdateSubscription), Status> {
    let mut v = Violations::default();
    let Some(subscription) = body.subscription else {
        return Err(field_error("subscription", "required, with its id"));
    };
    let id = subscription_id(&mut v, "subscription.id", &subscription.id);
    let paths = body.update_mask.map(|m| m.paths).unwrap_or_default();
    if paths.is_empty() {
        v.add("update_mask", "name at least one field to change");
    }
    let mut update = UpdateSubscription::default();
    for path in &paths {
        let field = format!("subscription.{path}");
        match path.as_str() {
            "destination_url" => update.destination_url = Some(subscription.destination_url.clone()),
            "authorization" => update.authorization = authorization(&mut v, &field, Some(&subscription.authorization)),
            "event_filter" => update.event_filter = event_filter(&mut v, &field, subscription.event_filter, None),
            "status" => {
                update.status = match proto::SubscriptionStatus::try_from(subscription.status) {
                    Ok(proto::SubscriptionStatus::Enabled) => Some(SubscriptionStatus::Enabled),
                    Ok(proto::SubscriptionStatus::Disabled) => Some(SubscriptionStatus::Disabled),
                    Ok(proto::SubscriptionStatus::Paused) => Some(SubscriptionStatus::Paused),
                    _ => {
                        v.add(&field, "must be SUBSCRIPTION_STATUS_ENABLED, SUBSCRIPTION_STATUS_DISABLED or SUBSCRIPTION_STATUS_PAUSED");
                        None
                    }
                }
            }
            "valid_until" => update.valid_until = valid_until(&mut v, &field, &subscription.valid_until),
            "max_per_second" => update.max_per_second = max_per_second(&mut v, &field, subscription.max_per_second),
            other => v.add("update_mask", format!("{other:?} cannot be changed; known: destination_url, authorization, event_filter, status, valid_until, max_per_second")),
        }
    }
    v.into_result(id.map(|id| (id, update)))
        .map_err(|violations| invalid_argument(&violations))
}

fn create_request(body: proto::CreateSubscriptionRequest) -> Result<CreateSubscription, Status> {
    let mut v = Violations::default();
    let payload_format = match proto::Collection::try_from(body.collection) {
        Ok(proto::Collection::Leaves) => Some(PayloadFormat::Leaves),
        Ok(proto::Collection::Absences) => Some(PayloadFormat::Absences),
        _ => {
            v.add(
                "collection",
                "required: COLLECTION_LEAVES or COLLECTION_ABSENCES",
            );
            None
        }
    };
    let event_filter = event_filter(
        &mut v,
        "event_filter",
        body.event_filter,
        Some(EventFilter::All),
    );
    let authorization = match body.authorization.as_deref() {
        None => Some(None),
        Some(value) => v
            .check("authorization", AuthorizationValue::parse(value))
            .map(Some),
    };
    let valid_until = valid_until(&mut v, "valid_until", &body.valid_until);
    let rate = max_per_second(&mut v, "max_per_second", body.max_per_second);
    let request = (|| {
        Some(CreateSubscription {
            payload_format: payload_format?,
            destination_url: body.destination_url,
            authorization: authorization?,
            event_filter: event_filter?,
            valid_until: valid_until?,
            max_per_second: rate?,
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

    async fn get_subscription(
        &self,
        request: Request<proto::GetSubscriptionRequest>,
    ) -> Result<Response<proto::Subscription>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksRead).await?;
        let id = id_field(&request.into_inner().id)?;
        let found = self
            .subscriptions
            .get(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(subscription_to_proto(&found)))
    }

    async fn list_subscriptions(
        &self,
        request: Request<proto::ListSubscriptionsRequest>,
    ) -> Result<Response<proto::ListSubscriptionsResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksRead).await?;
        let body = request.into_inner();
        let page_size = match body.page_size {
            0 => DEFAULT_PAGE_SIZE,
            n @ 1..=MAX_PAGE_SIZE => n,
            _ => {
                return Err(field_error(
                    "page_size",
                    "must be 1..=1000 (0 for the default, 100)",
                ));
            }
        };
        let after = if body.page_token.is_empty() {
            None
        } else {
            Some(
                decode_cursor(&body.page_token)
                    .ok_or_else(|| field_error("page_token", "is not a token this API gave"))?,
            )
        };
        let mut listed = self
            .subscriptions
            .page(
                &tenant,
                SubscriptionQuery::new(self.subscriptions.now(), page_size + 1).after(after),
            )
            .await
            .map_err(to_status)?;
        let more = listed.len() > page_size as usize;
        listed.truncate(page_size as usize);
        let next_page_token = match listed.last() {
            Some(last) if more => encode_cursor(last),
            _ => String::new(),
        };
        Ok(Response::new(proto::ListSubscriptionsResponse {
            subscriptions: listed.iter().map(subscription_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_subscription(
        &self,
        request: Request<proto::UpdateSubscriptionRequest>,
    ) -> Result<Response<proto::Subscription>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let (id, update) = update_request(request.into_inner())?;
        let updated = self
            .subscriptions
            .update(&tenant, &id, update)
            .await
            .map_err(in_subscription)?;
        Ok(Response::new(subscription_to_proto(&updated)))
    }

    async fn delete_subscription(
        &self,
        request: Request<proto::DeleteSubscriptionRequest>,
    ) -> Result<Response<proto::DeleteSubscriptionResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let id = id_field(&request.into_inner().id)?;
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
        let id = id_field(&request.into_inner().id)?;
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

    async fn pause_subscription(
        &self,
        request: Request<proto::PauseSubscriptionRequest>,
    ) -> Result<Response<proto::Subscription>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let id = id_field(&request.into_inner().id)?;
        let paused = self
            .subscriptions
            .pause(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(subscription_to_proto(&paused)))
    }

    async fn resume_subscription(
        &self,
        request: Request<proto::ResumeSubscriptionRequest>,
    ) -> Result<Response<proto::Subscription>, Status> {
        let tenant = self.auth.tenant(&request, Scope::WebhooksWrite).await?;
        let id = id_field(&request.into_inner().id)?;
        let resumed = self
            .subscriptions
            .resume(&tenant, &id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(subscription_to_proto(&resumed)))
    }
}
