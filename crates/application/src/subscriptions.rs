//! Subscriptions: CreateSubscription, ListSubscriptions, DeleteSubscription.

use crate::error::{ApplicationError, Field};
use crate::failure::logged;
use crate::ports::{
    Clock, DestinationGuard, NewSubscription, Subscription, SubscriptionChanges, SubscriptionQuery,
    SubscriptionStore,
};
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, MaxPerSecond, PayloadFormat, SigningSecret,
    SubscriptionId, SubscriptionStatus, TenantId,
};
use chrono::{DateTime, Utc};
use std::sync::Arc;

/// How long an `absences` (Protime) subscription lives when the request sets no `valid_until` *(ours)*.
pub const ABSENCES_VALIDITY_DAYS: i64 = 90;

/// How long a secret replaced by a rotation keeps signing beside the new one.
pub const PREVIOUS_SECRET_GRACE_HOURS: i64 = 24;

/// A fresh `whsec_` secret of 32 random bytes.
fn new_signing_secret() -> SigningSecret {
    let mut bytes = [0_u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    SigningSecret::from_key(bytes)
}

/// A request to subscribe.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateSubscription {
    /// Format.
    pub payload_format: PayloadFormat,
    /// Destination, as the caller wrote it (checked here).
    pub destination_url: String,
    /// `Authorization` value to send.
    pub authorization: Option<AuthorizationValue>,
    /// Which events.
    pub event_filter: EventFilter,
    /// When it stops receiving new deliveries.
    pub valid_until: Option<DateTime<Utc>>,
    /// The most deliveries per second over every instance; `None`: unlimited.
    pub max_per_second: Option<MaxPerSecond>,
}

/// A change to a subscription as a caller asked it; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpdateSubscription {
    /// New destination, as the caller wrote it (checked like a new one).
    pub destination_url: Option<String>,
    /// New `Authorization` value (`Some(None)` removes it).
    pub authorization: Option<Option<AuthorizationValue>>,
    /// New event filter.
    pub event_filter: Option<EventFilter>,
    /// New status (an operator may re-enable a subscription).
    pub status: Option<SubscriptionStatus>,
    /// New expiry (`Some(None)`: never); must lie in the future.
    pub valid_until: Option<Option<DateTime<Utc>>>,
    /// New rate limit (`Some(None)`: unlimited).
    pub max_per_second: Option<Option<MaxPerSecond>>,
}

/// The subscription use cases.
#[derive(Clone)]
pub struct SubscriptionService {
    store: Arc<dyn SubscriptionStore>,
    clock: Arc<dyn Clock>,
    guard: Arc<dyn DestinationGuard>,
    allow_http: bool,
}

impl std::fmt::Debug for SubscriptionService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscriptionService")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl SubscriptionService {
    /// Builds the service; `guard` vets destinations, `allow_http` permits plain `http://` ones.
    #[must_use]
    pub fn new(
        store: Arc<dyn SubscriptionStore>,
        clock: Arc<dyn Clock>,
        guard: Arc<dyn DestinationGuard>,
        allow_http: bool,
    ) -> Self {
        Self {
            store,
            clock,
            guard,
            allow_http,
        }
    }

    /// Creates a subscription.
    ///
    /// # Errors
    /// [`ApplicationError::InvalidInput`] naming `destination_url` or `valid_until`; store errors otherwise.
    #[tracing::instrument(name = "create_subscription", skip_all,
        fields(tenant = %tenant, collection = request.payload_format.as_str(), subscription_id))]
    pub async fn create(
        &self,
        tenant: &TenantId,
        request: CreateSubscription,
    ) -> Result<Subscription, ApplicationError> {
        logged(async {
            let destination = self.checked_destination(&request.destination_url).await?;
            let now = self.clock.now();
            if let Some(until) = request.valid_until
                && until <= now
            {
                return Err(ApplicationError::invalid(
                    Field::ValidUntil,
                    "must lie in the future",
                ));
            }
            let valid_until = request.valid_until.or(match request.payload_format {
                PayloadFormat::Leaves => None,
                PayloadFormat::Absences => {
                    Some(now + chrono::Duration::days(ABSENCES_VALIDITY_DAYS))
                }
            });
            let created = self
                .store
                .create(NewSubscription {
                    tenant: tenant.clone(),
                    payload_format: request.payload_format,
                    destination,
                    authorization: request.authorization,
                    event_filter: request.event_filter,
                    valid_until,
                    signing_secret: new_signing_secret(),
                    max_per_second: request.max_per_second,
                })
                .await?;
            tracing::Span::current()
                .record("subscription_id", tracing::field::display(&created.id));
            Ok(created)
        })
        .await
    }

    /// Lists the tenant's subscriptions.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_subscriptions", skip_all, fields(tenant = %tenant))]
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<Subscription>, ApplicationError> {
        logged(async { Ok(self.store.list(tenant).await?) }).await
    }

    /// A page of the tenant's subscriptions, oldest first: those in the query's state, or every
    /// undeleted one.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_subscriptions_page", skip_all,
        fields(tenant = %tenant, limit = query.limit, state = query.state.map(crate::ports::SubscriptionState::as_str)))]
    pub async fn page(
        &self,
        tenant: &TenantId,
        query: SubscriptionQuery,
    ) -> Result<Vec<Subscription>, ApplicationError> {
        logged(async { Ok(self.store.page(tenant, query).await?) }).await
    }

    /// The time the use cases take states at.
    #[must_use]
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Pauses a subscription: its deliveries queue up and are not sent until it is resumed. Pausing
    /// a paused subscription changes nothing; a disabled one is paused as well (it queues again).
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such (undeleted) subscription; store
    /// errors otherwise.
    #[tracing::instrument(name = "pause_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn pause(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Subscription, ApplicationError> {
        logged(self.set_status(tenant, id, SubscriptionStatus::Paused)).await
    }

    /// Resumes a paused subscription, or re-enables a disabled one (Protime's disable after exhausted
    /// retries included): what queued up is sent, in change order per leave.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such (undeleted) subscription; store
    /// errors otherwise.
    #[tracing::instrument(name = "resume_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn resume(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Subscription, ApplicationError> {
        logged(self.set_status(tenant, id, SubscriptionStatus::Enabled)).await
    }

    async fn set_status(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        status: SubscriptionStatus,
    ) -> Result<Subscription, ApplicationError> {
        let changes = SubscriptionChanges {
            status: Some(status),
            ..SubscriptionChanges::default()
        };
        self.store
            .update(tenant, id, changes)
            .await?
            .ok_or(ApplicationError::NotFound("subscription"))
    }

    /// Changes a subscription.
    ///
    /// # Errors
    /// [`ApplicationError::InvalidInput`] naming `destination_url` or `valid_until`;
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "update_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn update(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
        update: UpdateSubscription,
    ) -> Result<Subscription, ApplicationError> {
        logged(async {
            let destination = match &update.destination_url {
                Some(url) => Some(self.checked_destination(url).await?),
                None => None,
            };
            if let Some(Some(until)) = update.valid_until
                && until <= self.clock.now()
            {
                return Err(ApplicationError::invalid(
                    Field::ValidUntil,
                    "must lie in the future",
                ));
            }
            let changes = SubscriptionChanges {
                destination,
                authorization: update.authorization,
                event_filter: update.event_filter,
                status: update.status,
                valid_until: update.valid_until,
                max_per_second: update.max_per_second,
            };
            self.store
                .update(tenant, id, changes)
                .await?
                .ok_or(ApplicationError::NotFound("subscription"))
        })
        .await
    }

    /// Parses a destination and runs it past the SSRF guard.
    async fn checked_destination(&self, url: &str) -> Result<DestinationUrl, ApplicationError> {
        let destination = DestinationUrl::parse(url, self.allow_http)
            .map_err(|e| ApplicationError::invalid(Field::DestinationUrl, e.to_string()))?;
        self.guard.check(&destination).await.map_err(|e| match e {
            crate::ports::DestinationCheckError::Refused(why) => {
                ApplicationError::invalid(Field::DestinationUrl, why)
            }
            crate::ports::DestinationCheckError::Unavailable(why) => {
                ApplicationError::GuardUnavailable(why)
            }
        })?;
        Ok(destination)
    }

    /// Reads one subscription that is not deleted.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "get_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Subscription, ApplicationError> {
        logged(async {
            self.store
                .get(tenant, id)
                .await?
                .filter(|s| s.deleted_at.is_none())
                .ok_or(ApplicationError::NotFound("subscription"))
        })
        .await
    }

    /// Reads one subscription, deleted or not (an operator looking into its history).
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "inspect_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn inspect(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Subscription, ApplicationError> {
        logged(async {
            self.store
                .get(tenant, id)
                .await?
                .ok_or(ApplicationError::NotFound("subscription"))
        })
        .await
    }

    /// Gives a subscription a new signing secret; the previous one keeps signing beside it for
    /// [`PREVIOUS_SECRET_GRACE_HOURS`] hours. The answer carries the new secret, to show once.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "rotate_signing_secret", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn rotate_secret(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<Subscription, ApplicationError> {
        let until = self.clock.now() + chrono::Duration::hours(PREVIOUS_SECRET_GRACE_HOURS);
        logged(async {
            self.store
                .rotate_secret(tenant, id, new_signing_secret(), until)
                .await?
                .ok_or(ApplicationError::NotFound("subscription"))
        })
        .await
    }

    /// Soft-deletes a subscription.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] when the tenant has no such subscription; store errors otherwise.
    #[tracing::instrument(name = "delete_subscription", skip_all, fields(tenant = %tenant, subscription_id = %id))]
    pub async fn delete(
        &self,
        tenant: &TenantId,
        id: &SubscriptionId,
    ) -> Result<(), ApplicationError> {
        logged(async {
            if self.store.delete(tenant, id).await? {
                Ok(())
            } else {
                Err(ApplicationError::NotFound("subscription"))
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::DestinationCheckError;
    use crate::ports::clock::MockClock;
    use crate::ports::sender::MockDestinationGuard;
    use crate::ports::subscriptions::MockSubscriptionStore;
    use absync_domain::SubscriptionId;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
    }

    fn service(store: MockSubscriptionStore, allow_http: bool) -> SubscriptionService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        let mut guard = MockDestinationGuard::new();
        guard.expect_check().returning(|url| {
            if url.as_str().contains("internal") {
                Err(DestinationCheckError::Refused(
                    "internal.example resolves to 10.0.0.1, a private address".into(),
                ))
            } else if url.as_str().contains("resolver-down") {
                Err(DestinationCheckError::Unavailable(
                    "resolver-down.example cannot be resolved now: timed out".into(),
                ))
            } else {
                Ok(())
            }
        });
        SubscriptionService::new(
            Arc::new(store),
            Arc::new(clock),
            Arc::new(guard),
            allow_http,
        )
    }

    fn stored(n: NewSubscription) -> Subscription {
        Subscription {
            id: SubscriptionId::new("s1"),
            tenant: n.tenant,
            payload_format: n.payload_format,
            destination: n.destination,
            authorization: n.authorization,
            event_filter: n.event_filter,
            status: SubscriptionStatus::Enabled,
            valid_until: n.valid_until,
            created_at: now(),
            signing_secret: n.signing_secret,
            previous_secret: None,
            max_per_second: n.max_per_second,
            secret_created_at: now(),
            paused_since: None,
            deleted_at: None,
        }
    }

    fn request(url: &str) -> CreateSubscription {
        CreateSubscription {
            payload_format: PayloadFormat::Leaves,
            destination_url: url.into(),
            authorization: Some(AuthorizationValue::parse("Basic abc").unwrap()),
            event_filter: EventFilter::All,
            valid_until: None,
            max_per_second: None,
        }
    }

    #[tokio::test]
    async fn a_valid_subscription_is_stored() {
        let mut store = MockSubscriptionStore::new();
        store
            .expect_create()
            .withf(|n| {
                n.destination.as_str() == "https://example.com/hook" && n.authorization.is_some()
            })
            .times(1)
            .returning(|n| Ok(stored(n)));
        let created = service(store, false)
            .create(
                &TenantId::parse("acme").unwrap(),
                request("https://example.com/hook"),
            )
            .await
            .unwrap();
        assert_eq!(created.id, SubscriptionId::new("s1"));
    }

    #[tokio::test]
    async fn bad_destinations_name_the_field_and_store_nothing() {
        for url in [
            "ftp://x",
            "/relative",
            "http://example.com/hook",
            "https://internal.example/hook",
        ] {
            let mut store = MockSubscriptionStore::new();
            store.expect_create().never();
            let err = service(store, false)
                .create(&TenantId::parse("acme").unwrap(), request(url))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, ApplicationError::InvalidInput(v) if v[0].field == Field::DestinationUrl),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn a_destination_the_guard_cannot_check_now_is_unavailable_and_stores_nothing() {
        let tenant = TenantId::parse("acme").unwrap();
        let url = "https://resolver-down.example/hook";
        let mut store = MockSubscriptionStore::new();
        store.expect_create().never();
        store.expect_update().never();
        let service = service(store, false);
        let err = service.create(&tenant, request(url)).await.unwrap_err();
        assert!(
            matches!(&err, ApplicationError::GuardUnavailable(why) if why.contains("timed out")),
            "{err:?}"
        );
        let update = UpdateSubscription {
            destination_url: Some(url.into()),
            ..UpdateSubscription::default()
        };
        let err = service
            .update(&tenant, &SubscriptionId::new("s1"), update)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ApplicationError::GuardUnavailable(_)),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn absences_subscriptions_expire_after_90_days_by_default_and_leaves_never() {
        for (payload_format, expected) in [
            (
                PayloadFormat::Absences,
                Some(now() + chrono::Duration::days(90)),
            ),
            (PayloadFormat::Leaves, None),
        ] {
            let mut store = MockSubscriptionStore::new();
            store
                .expect_create()
                .withf(move |n| n.valid_until == expected)
                .times(1)
                .returning(|n| Ok(stored(n)));
            let mut req = request("https://example.com/hook");
            req.payload_format = payload_format;
            service(store, false)
                .create(&TenantId::parse("acme").unwrap(), req)
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn a_past_valid_until_is_refused() {
        let mut store = MockSubscriptionStore::new();
        store.expect_create().never();
        let mut req = request("https://example.com/hook");
        req.valid_until = Some(now() - chrono::Duration::seconds(1));
        let err = service(store, false)
            .create(&TenantId::parse("acme").unwrap(), req)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ApplicationError::InvalidInput(v) if v[0].field == Field::ValidUntil)
        );
    }

    #[tokio::test]
    async fn deleting_an_unknown_subscription_is_not_found() {
        let mut store = MockSubscriptionStore::new();
        store.expect_delete().returning(|_, _| Ok(false));
        let err = service(store, false)
            .delete(&TenantId::parse("acme").unwrap(), &SubscriptionId::new("x"))
            .await
            .unwrap_err();
        assert!(matches!(err, ApplicationError::NotFound("subscription")));
    }
}
