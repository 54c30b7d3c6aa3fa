//! Tracking and the pending-tasks dashboard: list and inspect deliveries, re-sync them, mark them
//! processed.

use crate::error::{ApplicationError, Field};
use crate::failure::logged;
use crate::ports::{
    Clock, DeliveryDetail, DeliveryFilter, DeliverySummary, DeliveryTracking, PendingTask,
    ResyncRefusal,
};
use absync_domain::limits::{self, check_length};
use absync_domain::{DeliveryId, RenderContext, SubscriptionId, TenantId, payload};
use std::sync::Arc;

/// The tracking use cases.
#[derive(Clone)]
pub struct TrackingService {
    store: Arc<dyn DeliveryTracking>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TrackingService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackingService").finish_non_exhaustive()
    }
}

impl TrackingService {
    /// Builds the service.
    #[must_use]
    pub fn new(store: Arc<dyn DeliveryTracking>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// A page of deliveries, newest first.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "list_deliveries", skip_all, fields(tenant = %tenant))]
    pub async fn list(
        &self,
        tenant: &TenantId,
        filter: DeliveryFilter,
        before: Option<DeliveryId>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, ApplicationError> {
        logged(async {
            Ok(self
                .store
                .list_deliveries(tenant, filter, before, limit)
                .await?)
        })
        .await
    }

    /// One delivery with its message and attempts.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`] for a delivery the tenant does not have; store errors otherwise.
    #[tracing::instrument(name = "get_delivery", skip_all, fields(tenant = %tenant, delivery_id = %id))]
    pub async fn get(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
    ) -> Result<DeliveryDetail, ApplicationError> {
        logged(async {
            self.store
                .get_delivery(tenant, id)
                .await?
                .ok_or(ApplicationError::NotFound("delivery"))
        })
        .await
    }

    /// Sends a delivery again now. One superseded by a newer succeeded delivery of its leave needs
    /// `force`, or an older state would overwrite a newer one.
    ///
    /// # Errors
    /// [`ApplicationError::NotFound`]; [`ApplicationError::Precondition`] when superseded without `force`
    /// or when a newer change of the leave is still being delivered; store errors otherwise.
    #[tracing::instrument(name = "resync_delivery", skip_all, fields(tenant = %tenant, delivery_id = %id, force))]
    pub async fn resync(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        force: bool,
    ) -> Result<DeliverySummary, ApplicationError> {
        logged(async {
            match self
                .store
                .resync(tenant, id, force, self.clock.now())
                .await?
            {
                None => Err(ApplicationError::NotFound("delivery")),
                Some(Ok(summary)) => Ok(summary),
                Some(Err(ResyncRefusal::Superseded)) => Err(ApplicationError::Precondition(
                    "a newer change of this leave was delivered after it; re-send with force to overwrite it",
                )),
                Some(Err(ResyncRefusal::NewerInFlight)) => Err(ApplicationError::Precondition(
                    "a newer change of this leave is still being delivered; it carries the latest state",
                )),
                Some(Err(ResyncRefusal::SubscriptionInactive)) => {
                    Err(ApplicationError::Precondition(
                        "its subscription is deleted, disabled or expired; enable the subscription first",
                    ))
                }
            }
        })
        .await
    }

    /// Takes a failed delivery off the dashboard, keeping it (and the note) for audit.
    ///
    /// # Errors
    /// [`ApplicationError::InvalidInput`] naming `note` when it is over [`limits::NOTE`] characters;
    /// [`ApplicationError::NotFound`] when the tenant has no such failed delivery; store errors otherwise.
    #[tracing::instrument(name = "mark_processed", skip_all, fields(tenant = %tenant, delivery_id = %id))]
    pub async fn mark_processed(
        &self,
        tenant: &TenantId,
        id: DeliveryId,
        note: Option<String>,
    ) -> Result<DeliverySummary, ApplicationError> {
        logged(async {
            if let Some(note) = &note {
                check_length(note, limits::NOTE)
                    .map_err(|e| ApplicationError::invalid(Field::Note, e.to_string()))?;
            }
            self.store
                .mark_processed(tenant, id, note)
                .await?
                .ok_or(ApplicationError::NotFound("failed delivery"))
        })
        .await
    }

    /// Re-syncs every failed delivery (of one subscription, if given) that is the latest of its leave.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "resync_failed", skip_all, fields(tenant = %tenant))]
    pub async fn resync_failed(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
    ) -> Result<u64, ApplicationError> {
        logged(async {
            Ok(self
                .store
                .resync_failed(tenant, subscription, self.clock.now())
                .await?)
        })
        .await
    }

    /// Deliveries changed at or after `since`, oldest change first (live tracking).
    ///
    /// # Errors
    /// Store errors.
    pub async fn changed_since(
        &self,
        tenant: &TenantId,
        subscription: Option<SubscriptionId>,
        since: chrono::DateTime<chrono::Utc>,
        limit: u32,
    ) -> Result<Vec<DeliverySummary>, ApplicationError> {
        logged(async {
            Ok(self
                .store
                .changed_since(tenant, subscription, since, limit)
                .await?)
        })
        .await
    }

    /// The whole queue's numbers, for metrics.
    ///
    /// # Errors
    /// Store errors.
    pub async fn queue_stats(&self) -> Result<crate::ports::QueueStats, ApplicationError> {
        logged(async { Ok(self.store.queue_stats(self.clock.now()).await?) }).await
    }

    /// The pending-tasks dashboard: failed deliveries grouped by subscription.
    ///
    /// # Errors
    /// Store errors.
    #[tracing::instrument(name = "pending_tasks", skip_all, fields(tenant = %tenant))]
    pub async fn pending_tasks(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<PendingTask>, ApplicationError> {
        logged(async { Ok(self.store.pending_tasks(tenant).await?) }).await
    }
}

/// A delivery's exact message as an operator may see it: the `Authorization` value and the per-attempt
/// signatures are redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedMessage {
    /// Where it is sent.
    pub destination: String,
    /// The request headers, in sending order.
    pub headers: Vec<(String, String)>,
    /// The JSON body, byte for byte.
    pub body: Vec<u8>,
}

/// The shown value of a header that is computed at each attempt.
pub const PER_ATTEMPT: &str = "**** (per attempt)";

impl DeliveryDetail {
    /// Renders the message this delivery sends, secrets redacted.
    #[must_use]
    pub fn inspect(&self) -> InspectedMessage {
        let message = &self.message;
        let rendered = payload::render(
            message.payload_format,
            &message.record,
            RenderContext {
                tenant: &message.tenant,
                change_version: message.change_version,
            },
        );
        let mut headers: Vec<(String, String)> = rendered
            .headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value.clone()))
            .collect();
        if let Some(auth) = &message.authorization {
            headers.push(("Authorization".into(), auth.redacted()));
        }
        headers.push(("webhook-id".into(), message.id.to_string()));
        for name in ["webhook-timestamp", "webhook-signature"] {
            headers.push((name.into(), PER_ATTEMPT.into()));
        }
        InspectedMessage {
            destination: message.destination.as_str().to_owned(),
            headers,
            body: rendered.body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::clock::MockClock;
    use crate::ports::tracking::MockDeliveryTracking;
    use chrono::Utc;

    fn service(store: MockDeliveryTracking) -> TrackingService {
        let mut clock = MockClock::new();
        clock.expect_now().returning(Utc::now);
        TrackingService::new(Arc::new(store), Arc::new(clock))
    }

    #[tokio::test]
    async fn a_superseded_resync_without_force_is_a_failed_precondition() {
        let mut store = MockDeliveryTracking::new();
        store
            .expect_resync()
            .withf(|_, _, force, _| !force)
            .returning(|_, _, _, _| Ok(Some(Err(ResyncRefusal::Superseded))));
        let err = service(store)
            .resync(&TenantId::parse("acme").unwrap(), DeliveryId::new(1), false)
            .await
            .unwrap_err();
        assert!(matches!(err, ApplicationError::Precondition(_)));
    }

    #[tokio::test]
    async fn unknown_deliveries_are_not_found() {
        let mut store = MockDeliveryTracking::new();
        store.expect_resync().returning(|_, _, _, _| Ok(None));
        store.expect_mark_processed().returning(|_, _, _| Ok(None));
        let svc = service(store);
        let tenant = TenantId::parse("acme").unwrap();
        assert!(matches!(
            svc.resync(&tenant, DeliveryId::new(9), true).await,
            Err(ApplicationError::NotFound(_))
        ));
        assert!(matches!(
            svc.mark_processed(&tenant, DeliveryId::new(9), None).await,
            Err(ApplicationError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn a_note_over_its_limit_is_refused_before_the_store() {
        let mut store = MockDeliveryTracking::new();
        // Only the note at the limit reaches the store.
        store
            .expect_mark_processed()
            .times(1)
            .withf(|_, _, note| {
                note.as_deref()
                    .is_some_and(|n| n.chars().count() == limits::NOTE)
            })
            .returning(|_, _, _| Ok(None));
        let svc = service(store);
        let tenant = TenantId::parse("acme").unwrap();
        let over = Some("é".repeat(limits::NOTE + 1));
        match svc.mark_processed(&tenant, DeliveryId::new(9), over).await {
            Err(ApplicationError::InvalidInput(violations)) => {
                assert_eq!(violations[0].field, Field::Note);
            }
            other => panic!("not refused by name: {other:?}"),
        }
        let at_limit = Some("é".repeat(limits::NOTE));
        assert!(matches!(
            svc.mark_processed(&tenant, DeliveryId::new(9), at_limit)
                .await,
            Err(ApplicationError::NotFound(_))
        ));
    }
}
