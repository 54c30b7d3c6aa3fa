//! The attempt history of a subscription, as its health figures need it.

use super::StoreError;
use absync_domain::{DeliveryId, SubscriptionId, TenantId};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// Attempts of one hour that ended alike and took the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptTally {
    /// The start of the hour.
    pub hour: DateTime<Utc>,
    /// True for a 2xx answer.
    pub succeeded: bool,
    /// How long each took, in milliseconds.
    pub duration_ms: u32,
    /// How many.
    pub count: u64,
}

/// A failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// The delivery it was an attempt of.
    pub delivery: DeliveryId,
    /// When it started.
    pub at: DateTime<Utc>,
    /// The receiver's status code, when it answered.
    pub http_status: Option<u16>,
    /// Why there was no answer, when there was none (`timeout`, `connect`…).
    pub error: Option<String>,
}

/// Reads a subscription's attempts by time, through an index on (subscription, time): the cost
/// follows the window read, not the history kept. Every query is scoped by tenant.
///
/// Each figure is also read for a list of subscriptions at once (`…_of`, `last_successes`,
/// `last_failures`, `unsent_counts`): one statement for the list, not one per subscription. Their
/// answers are keyed by subscription; a subscription with nothing to report is absent from them, as
/// are the ids that are not the tenant's. An empty list reads nothing.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// The subscription's attempts started at or after `since`, counted by hour, outcome and
    /// duration.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn attempt_tallies(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        since: DateTime<Utc>,
    ) -> Result<Vec<AttemptTally>, StoreError>;

    /// When the subscription's last successful attempt started.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn last_success(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// The subscription's latest failed attempts, newest first, at most `limit`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn recent_failures(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
        limit: u32,
    ) -> Result<Vec<FailedAttempt>, StoreError>;

    /// How many of the subscription's deliveries wait to be sent (pending or waiting).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn unsent(
        &self,
        tenant: &TenantId,
        subscription: &SubscriptionId,
    ) -> Result<u64, StoreError>;

    /// [`HealthStore::attempt_tallies`] of each of `subscriptions`, in one read.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn attempt_tallies_of(
        &self,
        tenant: &TenantId,
        subscriptions: &[SubscriptionId],
        since: DateTime<Utc>,
    ) -> Result<HashMap<SubscriptionId, Vec<AttemptTally>>, StoreError>;

    /// [`HealthStore::last_success`] of each of `subscriptions`, in one read.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn last_successes(
        &self,
        tenant: &TenantId,
        subscriptions: &[SubscriptionId],
    ) -> Result<HashMap<SubscriptionId, DateTime<Utc>>, StoreError>;

    /// The latest failed attempt of each of `subscriptions` (the first of
    /// [`HealthStore::recent_failures`]), in one read.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn last_failures(
        &self,
        tenant: &TenantId,
        subscriptions: &[SubscriptionId],
    ) -> Result<HashMap<SubscriptionId, FailedAttempt>, StoreError>;

    /// [`HealthStore::unsent`] of each of `subscriptions`, in one read; a subscription with none is
    /// absent.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Unexpected`].
    async fn unsent_counts(
        &self,
        tenant: &TenantId,
        subscriptions: &[SubscriptionId],
    ) -> Result<HashMap<SubscriptionId, u64>, StoreError>;
}
