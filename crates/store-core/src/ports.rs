//! [`store_ports!`](crate::store_ports): the port implementations a store gets from the store core.

/// Implements the ports that every store answers with the same SQL ([`DeliveryTracking`],
/// [`SubscriptionStore`], [`TokenStore`] and `HealthStore` of `absync_application::ports`) for a type that
/// implements [`Engine`](crate::Engine), by calling this crate's [`tracking`](crate::tracking),
/// [`subscriptions`](crate::subscriptions) and [`tokens`](crate::tokens) functions.
///
/// Written as a macro because the ports and the store type both belong to other crates: the
/// implementations must be expanded in the store's own crate. Each method carries a `tracing` span
/// named `store.<operation>`.
///
/// [`DeliveryTracking`]: absync_application::ports::DeliveryTracking
/// [`SubscriptionStore`]: absync_application::ports::SubscriptionStore
/// [`TokenStore`]: absync_application::ports::TokenStore
#[macro_export]
macro_rules! store_ports {
    ($store:ty) => {
        #[$crate::reexport::async_trait]
        impl $crate::reexport::ports::DeliveryTracking for $store {
            #[$crate::reexport::instrument(name = "store.list_deliveries", skip_all, err, fields(tenant = %tenant, limit))]
            async fn list_deliveries(
                &self,
                tenant: &$crate::reexport::TenantId,
                filter: $crate::reexport::ports::DeliveryFilter,
                before: Option<$crate::reexport::DeliveryId>,
                limit: u32,
            ) -> Result<Vec<$crate::reexport::ports::DeliverySummary>, $crate::reexport::ports::StoreError> {
                $crate::tracking::list_deliveries(self, tenant, filter, before, limit).await
            }

            #[$crate::reexport::instrument(name = "store.get_delivery", skip_all, err, fields(tenant = %tenant, delivery_id = %id))]
            async fn get_delivery(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: $crate::reexport::DeliveryId,
            ) -> Result<Option<$crate::reexport::ports::DeliveryDetail>, $crate::reexport::ports::StoreError> {
                $crate::tracking::get_delivery(self, tenant, id).await
            }

            #[$crate::reexport::instrument(name = "store.resync_delivery", skip_all, err, fields(tenant = %tenant, delivery_id = %id, force))]
            async fn resync(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: $crate::reexport::DeliveryId,
                force: bool,
                now: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<
                Option<Result<$crate::reexport::ports::DeliverySummary, $crate::reexport::ports::ResyncRefusal>>,
                $crate::reexport::ports::StoreError,
            > {
                $crate::tracking::resync(self, tenant, id, force, now).await
            }

            #[$crate::reexport::instrument(name = "store.mark_processed", skip_all, err, fields(tenant = %tenant, delivery_id = %id))]
            async fn mark_processed(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: $crate::reexport::DeliveryId,
                note: Option<String>,
            ) -> Result<Option<$crate::reexport::ports::DeliverySummary>, $crate::reexport::ports::StoreError> {
                $crate::tracking::mark_processed(self, tenant, id, note).await
            }

            #[$crate::reexport::instrument(name = "store.resync_failed", skip_all, err, fields(tenant = %tenant))]
            async fn resync_failed(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: Option<$crate::reexport::SubscriptionId>,
                now: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<u64, $crate::reexport::ports::StoreError> {
                $crate::tracking::resync_failed(self, tenant, subscription, now).await
            }

            #[$crate::reexport::instrument(name = "store.deliveries_changed_since", skip_all, err, fields(tenant = %tenant))]
            async fn changed_since(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: Option<$crate::reexport::SubscriptionId>,
                since: $crate::reexport::DateTime<$crate::reexport::Utc>,
                limit: u32,
            ) -> Result<Vec<$crate::reexport::ports::DeliverySummary>, $crate::reexport::ports::StoreError> {
                $crate::tracking::changed_since(self, tenant, subscription, since, limit).await
            }

            #[$crate::reexport::instrument(name = "store.queue_stats", skip_all, err)]
            async fn queue_stats(
                &self,
                now: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<$crate::reexport::ports::QueueStats, $crate::reexport::ports::StoreError> {
                $crate::tracking::queue_stats(self, now).await
            }

            #[$crate::reexport::instrument(name = "store.pending_tasks", skip_all, err, fields(tenant = %tenant))]
            async fn pending_tasks(
                &self,
                tenant: &$crate::reexport::TenantId,
            ) -> Result<Vec<$crate::reexport::ports::PendingTask>, $crate::reexport::ports::StoreError> {
                $crate::tracking::pending_tasks(self, tenant).await
            }
        }

        #[$crate::reexport::async_trait]
        impl $crate::reexport::ports::SubscriptionStore for $store {
            #[$crate::reexport::instrument(name = "store.create_subscription", skip_all, err, fields(tenant = %new.tenant))]
            async fn create(
                &self,
                new: $crate::reexport::ports::NewSubscription,
            ) -> Result<$crate::reexport::ports::Subscription, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::create(self, new).await
            }

            #[$crate::reexport::instrument(name = "store.list_subscriptions", skip_all, err, fields(tenant = %tenant))]
            async fn list(
                &self,
                tenant: &$crate::reexport::TenantId,
            ) -> Result<Vec<$crate::reexport::ports::Subscription>, $crate::reexport::ports::StoreError> {
                $crate::Engine::list_subscriptions(self, tenant).await
            }

            #[$crate::reexport::instrument(name = "store.delete_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
            async fn delete(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: &$crate::reexport::SubscriptionId,
            ) -> Result<bool, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::delete(self, tenant, id).await
            }

            #[$crate::reexport::instrument(name = "store.rotate_signing_secret", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
            async fn rotate_secret(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: &$crate::reexport::SubscriptionId,
                secret: $crate::reexport::SigningSecret,
                previous_until: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<Option<$crate::reexport::ports::Subscription>, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::rotate_secret(self, tenant, id, secret, previous_until).await
            }

            #[$crate::reexport::instrument(name = "store.get_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
            async fn get(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: &$crate::reexport::SubscriptionId,
            ) -> Result<Option<$crate::reexport::ports::Subscription>, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::get(self, tenant, id).await
            }

            #[$crate::reexport::instrument(name = "store.page_subscriptions", skip_all, err, fields(tenant = %tenant, limit = query.limit))]
            async fn page(
                &self,
                tenant: &$crate::reexport::TenantId,
                query: $crate::reexport::ports::SubscriptionQuery,
            ) -> Result<Vec<$crate::reexport::ports::Subscription>, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::page(self, tenant, query).await
            }

            #[$crate::reexport::instrument(name = "store.update_subscription", skip_all, err, fields(tenant = %tenant, subscription_id = %id))]
            async fn update(
                &self,
                tenant: &$crate::reexport::TenantId,
                id: &$crate::reexport::SubscriptionId,
                changes: $crate::reexport::ports::SubscriptionChanges,
            ) -> Result<Option<$crate::reexport::ports::Subscription>, $crate::reexport::ports::StoreError> {
                $crate::subscriptions::update(self, tenant, id, changes).await
            }
        }

        #[$crate::reexport::async_trait]
        impl $crate::reexport::ports::TokenStore for $store {
            #[$crate::reexport::instrument(name = "store.create_token", skip_all, err, fields(tenant = %tenant))]
            async fn create(
                &self,
                tenant: &$crate::reexport::TenantId,
                hash: [u8; 32],
                scopes: &[$crate::reexport::Scope],
                label: Option<String>,
            ) -> Result<$crate::reexport::ports::TokenRecord, $crate::reexport::ports::StoreError> {
                $crate::tokens::create(self, tenant, hash, scopes, label).await
            }

            #[$crate::reexport::instrument(name = "store.find_token", skip_all, err)]
            async fn find_active(
                &self,
                hash: [u8; 32],
            ) -> Result<Option<$crate::reexport::ports::TokenRecord>, $crate::reexport::ports::StoreError> {
                $crate::Engine::find_token(self, hash).await
            }

            #[$crate::reexport::instrument(name = "store.list_tokens", skip_all, err)]
            async fn list_tokens(
                &self,
                tenant: Option<$crate::reexport::TenantId>,
            ) -> Result<Vec<$crate::reexport::ports::TokenRecord>, $crate::reexport::ports::StoreError> {
                $crate::tokens::list(self, tenant).await
            }

            #[$crate::reexport::instrument(name = "store.revoke_token", skip_all, err, fields(token_id = %id))]
            async fn revoke_token(&self, id: &str) -> Result<bool, $crate::reexport::ports::StoreError> {
                $crate::tokens::revoke(self, id).await
            }
        }

        #[$crate::reexport::async_trait]
        impl $crate::reexport::ports::HealthStore for $store {
            #[$crate::reexport::instrument(name = "store.attempt_tallies", skip_all, err, fields(tenant = %tenant, subscription_id = %subscription))]
            async fn attempt_tallies(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: &$crate::reexport::SubscriptionId,
                since: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<Vec<$crate::reexport::ports::AttemptTally>, $crate::reexport::ports::StoreError> {
                $crate::health::attempt_tallies(self, tenant, subscription, since).await
            }

            #[$crate::reexport::instrument(name = "store.last_success", skip_all, err, fields(tenant = %tenant, subscription_id = %subscription))]
            async fn last_success(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: &$crate::reexport::SubscriptionId,
            ) -> Result<Option<$crate::reexport::DateTime<$crate::reexport::Utc>>, $crate::reexport::ports::StoreError> {
                $crate::health::last_success(self, tenant, subscription).await
            }

            #[$crate::reexport::instrument(name = "store.recent_failures", skip_all, err, fields(tenant = %tenant, subscription_id = %subscription))]
            async fn recent_failures(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: &$crate::reexport::SubscriptionId,
                limit: u32,
            ) -> Result<Vec<$crate::reexport::ports::FailedAttempt>, $crate::reexport::ports::StoreError> {
                $crate::health::recent_failures(self, tenant, subscription, limit).await
            }

            #[$crate::reexport::instrument(name = "store.unsent", skip_all, err, fields(tenant = %tenant, subscription_id = %subscription))]
            async fn unsent(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscription: &$crate::reexport::SubscriptionId,
            ) -> Result<u64, $crate::reexport::ports::StoreError> {
                $crate::health::unsent(self, tenant, subscription).await
            }

            #[$crate::reexport::instrument(name = "store.attempt_tallies_of", skip_all, err, fields(tenant = %tenant, subscriptions = subscriptions.len()))]
            async fn attempt_tallies_of(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscriptions: &[$crate::reexport::SubscriptionId],
                since: $crate::reexport::DateTime<$crate::reexport::Utc>,
            ) -> Result<
                ::std::collections::HashMap<$crate::reexport::SubscriptionId, Vec<$crate::reexport::ports::AttemptTally>>,
                $crate::reexport::ports::StoreError,
            > {
                $crate::health::attempt_tallies_of(self, tenant, subscriptions, since).await
            }

            #[$crate::reexport::instrument(name = "store.last_successes", skip_all, err, fields(tenant = %tenant, subscriptions = subscriptions.len()))]
            async fn last_successes(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscriptions: &[$crate::reexport::SubscriptionId],
            ) -> Result<
                ::std::collections::HashMap<$crate::reexport::SubscriptionId, $crate::reexport::DateTime<$crate::reexport::Utc>>,
                $crate::reexport::ports::StoreError,
            > {
                $crate::health::last_successes(self, tenant, subscriptions).await
            }

            #[$crate::reexport::instrument(name = "store.last_failures", skip_all, err, fields(tenant = %tenant, subscriptions = subscriptions.len()))]
            async fn last_failures(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscriptions: &[$crate::reexport::SubscriptionId],
            ) -> Result<
                ::std::collections::HashMap<$crate::reexport::SubscriptionId, $crate::reexport::ports::FailedAttempt>,
                $crate::reexport::ports::StoreError,
            > {
                $crate::health::last_failures(self, tenant, subscriptions).await
            }

            #[$crate::reexport::instrument(name = "store.unsent_counts", skip_all, err, fields(tenant = %tenant, subscriptions = subscriptions.len()))]
            async fn unsent_counts(
                &self,
                tenant: &$crate::reexport::TenantId,
                subscriptions: &[$crate::reexport::SubscriptionId],
            ) -> Result<
                ::std::collections::HashMap<$crate::reexport::SubscriptionId, u64>,
                $crate::reexport::ports::StoreError,
            > {
                $crate::health::unsent_counts(self, tenant, subscriptions).await
            }
        }
    };
}
