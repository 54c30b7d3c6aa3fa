//! What the bodies share: tenants, absences, subscriptions, and short ways to queue, claim and settle
//! deliveries through the ports.

use crate::ContractStore;
use absync_application::ports::{
    AbsenceWrite, AppliedEvent, AttemptReport, ClaimRequest, ClaimedDelivery, Clock,
    DeliveryFilter, DeliveryStatus, DeliverySummary, NewSubscription, NextStep, OutboxEvent,
    SendErrorKind, SendOutcome, SubscriptionStore, TokenStore,
};
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceStatus, Deletion, DeletionReason, DeliveryId,
    Revision, Scope, SubscriptionId, TenantId, derive_events, split_into_leaves,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use std::time::Duration as StdDuration;

/// The tenant most bodies work for.
pub(crate) const ACME: &str = "acme";
/// The tenant that must never see or change `ACME`'s data.
pub(crate) const OTHER: &str = "other";

pub(crate) fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// A fixed time the queue is driven at (deliveries of [`put_new`] are due from then).
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

/// A lease of a minute from `now`.
pub(crate) fn lease(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::seconds(60)
}

/// A clock standing still, for driving use cases.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedClock(pub(crate) DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub(crate) use absync_domain::fixtures::{absence, long_absence, one_leave};

/// Creates both tenants (through their first token).
pub(crate) async fn setup<S: ContractStore>(store: &S) {
    for (name, key) in [(ACME, 1), (OTHER, 2)] {
        TokenStore::create(
            store,
            &tenant(name),
            [key; 32],
            &[Scope::AbsencesWrite],
            None,
        )
        .await
        .unwrap();
    }
}

/// The subscription [`subscribe`] creates, to `destination`.
pub(crate) fn new_subscription(tenant_name: &str, destination: &str) -> NewSubscription {
    absync_application::fixtures::new_subscription(tenant(tenant_name), destination)
}

/// An enabled subscription of `tenant_name` to `https://example.com/hook`.
pub(crate) async fn subscribe<S: ContractStore>(store: &S, tenant_name: &str) -> SubscriptionId {
    SubscriptionStore::create(
        store,
        new_subscription(tenant_name, "https://example.com/hook"),
    )
    .await
    .unwrap()
    .id
}

fn deletion() -> Deletion {
    absync_domain::fixtures::deletion(DeletionReason::Cancelled)
}

fn outbox(
    records: Vec<absync_domain::LeaveEventRecord>,
    to: &[SubscriptionId],
) -> Vec<OutboxEvent> {
    records
        .into_iter()
        .map(|record| OutboxEvent {
            record,
            subscriptions: to.to_vec(),
        })
        .collect()
}

/// The write a first put of `absence` makes at [`t0`], delivering every event to `to`.
pub(crate) fn first_write(
    tenant_name: &str,
    number: AbsenceNumber,
    absence: &Absence,
    to: &[SubscriptionId],
) -> AbsenceWrite {
    let leaves = split_into_leaves(number, absence);
    AbsenceWrite {
        tenant: tenant(tenant_name),
        absence_id: absence.id().clone(),
        number,
        expected_row_version: None,
        revision: absence.revision(),
        absence: Some(absence.clone()),
        events: outbox(derive_events(&[], &leaves, deletion()), to),
        at: t0(),
        traceparent: None,
    }
}

/// The write that takes the stored absence to `absence` (or deletes it, with `None`) at `at`,
/// delivering every event to `to`.
pub(crate) async fn next_write<S: ContractStore>(
    store: &S,
    tenant_name: &str,
    id: &str,
    revision: u64,
    absence: Option<&Absence>,
    to: &[SubscriptionId],
    at: DateTime<Utc>,
) -> AbsenceWrite {
    let id = AbsenceId::parse(id).unwrap();
    let stored = store
        .load(&tenant(tenant_name), &id)
        .await
        .unwrap()
        .unwrap();
    let after = absence.map_or_else(Vec::new, |a| split_into_leaves(stored.number, a));
    AbsenceWrite {
        tenant: tenant(tenant_name),
        absence_id: id,
        number: stored.number,
        expected_row_version: Some(stored.row_version),
        revision: Revision::new(revision).unwrap(),
        absence: absence.cloned(),
        events: outbox(derive_events(&stored.leaves, &after, deletion()), to),
        at,
        traceparent: None,
    }
}

/// Puts a new absence, delivering every event to `to`, due from `at`.
pub(crate) async fn put_new_at<S: ContractStore>(
    store: &S,
    tenant_name: &str,
    absence: &Absence,
    to: &[SubscriptionId],
    at: DateTime<Utc>,
) -> Vec<AppliedEvent> {
    let number = store.allocate_number().await.unwrap();
    let write = AbsenceWrite {
        at,
        ..first_write(tenant_name, number, absence, to)
    };
    store.write(write).await.unwrap()
}

/// Puts a new absence, delivering every event to `to`, due from [`t0`].
pub(crate) async fn put_new<S: ContractStore>(
    store: &S,
    tenant_name: &str,
    absence: &Absence,
    to: &[SubscriptionId],
) -> Vec<AppliedEvent> {
    put_new_at(store, tenant_name, absence, to, t0()).await
}

/// Both tenants, one subscription of [`ACME`], and its absence `hr-1` (of `shape`: [`absence`] or
/// [`one_leave`]) put pending, then approved at [`t0`]: per leave a pending delivery and a waiting one.
pub(crate) async fn subscribed_pending_then_approved<S: ContractStore>(
    store: &S,
    shape: fn(&str, u64, AbsenceStatus) -> Absence,
) -> SubscriptionId {
    setup(store).await;
    let sub = subscribe(store, ACME).await;
    pending_then_approved(store, shape, std::slice::from_ref(&sub)).await;
    sub
}

/// [`ACME`]'s absence `hr-1` (of `shape`) put pending, then approved at [`t0`], every event to `to`:
/// per leave and subscription a pending delivery and a waiting one. Returns the first put's events.
pub(crate) async fn pending_then_approved<S: ContractStore>(
    store: &S,
    shape: fn(&str, u64, AbsenceStatus) -> Absence,
    to: &[SubscriptionId],
) -> Vec<AppliedEvent> {
    let created = put_new(store, ACME, &shape("hr-1", 1, AbsenceStatus::Pending), to).await;
    approve(
        store,
        ACME,
        &shape("hr-1", 2, AbsenceStatus::Approved),
        to,
        t0(),
    )
    .await;
    created
}

/// Approves a stored pending absence (revision 2) at `at`: one `approved` event per leave, to `to`.
pub(crate) async fn approve<S: ContractStore>(
    store: &S,
    tenant_name: &str,
    approved: &Absence,
    to: &[SubscriptionId],
    at: DateTime<Utc>,
) -> Vec<AppliedEvent> {
    let id = approved.id().as_str();
    let write = next_write(
        store,
        tenant_name,
        id,
        approved.revision().get(),
        Some(approved),
        to,
        at,
    )
    .await;
    store.write(write).await.unwrap()
}

/// Claims everything due at `now` (up to 100), leased for a minute.
pub(crate) async fn claim_all<S: ContractStore>(
    store: &S,
    now: DateTime<Utc>,
) -> Vec<ClaimedDelivery> {
    store
        .claim_due(ClaimRequest::new(now, 100, lease(now)))
        .await
        .unwrap()
}

/// An attempt at `started_at` answered with `status` and the body `answer`.
pub(crate) fn answered(
    delivery: DeliveryId,
    started_at: DateTime<Utc>,
    status: u16,
    next: NextStep,
) -> AttemptReport {
    AttemptReport {
        delivery,
        started_at,
        duration: StdDuration::from_millis(3),
        outcome: SendOutcome::Answered {
            status,
            body_excerpt: b"answer".to_vec(),
        },
        next,
    }
}

/// An attempt at `started_at` that timed out.
pub(crate) fn timed_out(
    delivery: DeliveryId,
    started_at: DateTime<Utc>,
    next: NextStep,
) -> AttemptReport {
    AttemptReport {
        delivery,
        started_at,
        duration: StdDuration::from_millis(10_000),
        outcome: SendOutcome::NoAnswer {
            kind: SendErrorKind::Timeout,
            detail: "no answer within 10s".into(),
        },
        next,
    }
}

/// Claims everything due at `now` and records one attempt for each, answered 200 when `next` is
/// [`NextStep::Succeeded`] and 503 otherwise. Returns the ids settled.
pub(crate) async fn settle_due<S: ContractStore>(
    store: &S,
    now: DateTime<Utc>,
    next: NextStep,
) -> Vec<DeliveryId> {
    let claimed = claim_all(store, now).await;
    let status = if next == NextStep::Succeeded {
        200
    } else {
        503
    };
    let ids: Vec<DeliveryId> = claimed.iter().map(|d| d.id).collect();
    store
        .record(
            ids.iter()
                .map(|id| answered(*id, now, status, next))
                .collect(),
        )
        .await
        .unwrap();
    ids
}

/// Every delivery of the tenant, newest first.
pub(crate) async fn deliveries<S: ContractStore>(
    store: &S,
    tenant_name: &str,
) -> Vec<DeliverySummary> {
    deliveries_where(store, tenant_name, DeliveryFilter::default()).await
}

/// The tenant's deliveries matching `filter`, newest first.
pub(crate) async fn deliveries_where<S: ContractStore>(
    store: &S,
    tenant_name: &str,
    filter: DeliveryFilter,
) -> Vec<DeliverySummary> {
    store
        .list_deliveries(&tenant(tenant_name), filter, None, 1000)
        .await
        .unwrap()
}

/// The status of one delivery of `ACME`.
pub(crate) async fn status_of<S: ContractStore>(store: &S, id: DeliveryId) -> DeliveryStatus {
    store
        .get_delivery(&tenant(ACME), id)
        .await
        .unwrap()
        .unwrap()
        .summary
        .status
}

/// Waits long enough for any store's clock to move past the last change.
pub(crate) async fn tick() {
    tokio::time::sleep(StdDuration::from_millis(20)).await;
}

/// Wall-clock time, with a [`tick`] on each side so no change made around it shares it.
pub(crate) async fn mark() -> DateTime<Utc> {
    tick().await;
    let now = Utc::now();
    tick().await;
    now
}
