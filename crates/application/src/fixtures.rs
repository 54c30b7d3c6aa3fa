//! Builders of subscriptions for tests, beside the domain's builders of absences and leaves
//! (`absync_domain::fixtures`, which this feature turns on too).
//!
//! Compiled for this crate's tests and, elsewhere, with the feature `test-fixtures`, which only test
//! code turns on. They panic on values a test got wrong: that is a test failing loudly.

#![allow(clippy::unwrap_used)]

use crate::ports::{NewSubscription, Subscription};
use absync_domain::{
    AuthorizationValue, DestinationUrl, EventFilter, PayloadFormat, SigningSecret, SubscriptionId,
    SubscriptionStatus, TenantId,
};
use chrono::{TimeZone, Utc};

/// The subscription a store is asked to create: `tenant`'s, to the `leaves` of `destination`, every
/// event, with an Authorization value, no end, and a signing secret of key `[3; 32]`.
#[must_use]
pub fn new_subscription(tenant: TenantId, destination: &str) -> NewSubscription {
    NewSubscription {
        tenant,
        payload_format: PayloadFormat::Leaves,
        destination: DestinationUrl::parse(destination, false).unwrap(),
        authorization: Some(AuthorizationValue::parse("Basic abc").unwrap()),
        event_filter: EventFilter::All,
        valid_until: None,
        signing_secret: SigningSecret::from_key([3; 32]),
        max_per_second: None,
    }
}

/// An enabled subscription `id` of `tenant` to the `leaves` of `https://example.com/hook` with
/// `filter`, created 2024-01-01, without Authorization value or end, signed with key `[7; 32]`.
#[must_use]
pub fn subscription(id: &str, tenant: TenantId, filter: EventFilter) -> Subscription {
    Subscription {
        id: SubscriptionId::new(id),
        tenant,
        payload_format: PayloadFormat::Leaves,
        destination: DestinationUrl::from_trusted("https://example.com/hook".into()),
        authorization: None,
        event_filter: filter,
        status: SubscriptionStatus::Enabled,
        valid_until: None,
        created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        signing_secret: SigningSecret::from_key([7; 32]),
        previous_secret: None,
        max_per_second: None,
        secret_created_at: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        paused_since: None,
        deleted_at: None,
    }
}
