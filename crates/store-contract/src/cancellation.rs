//! Cancelled deliveries: what a deleted, disabled or expired subscription had still to receive is
//! cancelled with the reason, in the transaction of the subscription's change (for expiry, of the
//! sweep that finds it); claims and counts of work leave it out, tracking shows it, retention purges it.

use crate::ContractStore;
use crate::fixtures::{
    ACME, absence, answered, claim_all, deliveries_where, long_absence, mark, new_subscription,
    pending_then_approved, put_new, setup, status_of, subscribe, t0, tenant,
};
use absync_application::ports::{
    CancelReason, ClaimRequest, DeliveryFilter, DeliveryStatus, DeliverySummary, NextStep,
    ResyncRefusal, SubscriptionChanges, SubscriptionStore,
};
use absync_domain::{AbsenceStatus, SubscriptionId, SubscriptionStatus};
use chrono::{Duration, Utc};

/// The deliveries of one subscription in one status (up to 1,000).
async fn of_status<S: ContractStore>(
    store: &S,
    sub: &SubscriptionId,
    status: DeliveryStatus,
) -> Vec<DeliverySummary> {
    deliveries_where(
        store,
        ACME,
        DeliveryFilter {
            subscription: Some(sub.clone()),
            status: Some(status),
            ..DeliveryFilter::default()
        },
    )
    .await
}

/// How many deliveries of `sub` are still to be sent (waiting or pending).
async fn unsent<S: ContractStore>(store: &S, sub: &SubscriptionId) -> usize {
    of_status(store, sub, DeliveryStatus::Pending).await.len()
        + of_status(store, sub, DeliveryStatus::Waiting).await.len()
}

/// Asserts that `sub` has exactly `n` deliveries, all cancelled for `reason`, and none unsent.
async fn all_cancelled<S: ContractStore>(
    store: &S,
    sub: &SubscriptionId,
    n: usize,
    reason: CancelReason,
) {
    assert_eq!(unsent(store, sub).await, 0, "nothing left to send");
    let cancelled = of_status(store, sub, DeliveryStatus::Cancelled).await;
    assert_eq!(cancelled.len(), n);
    assert!(
        cancelled.iter().all(|d| d.cancel_reason == Some(reason)),
        "every one cancelled for {reason:?}"
    );
}

/// Deleting a subscription with 1,000 unsent deliveries (500 pending, 500 waiting behind them)
/// cancels all 1,000 with the reason; another subscription's deliveries of the same events stay.
pub async fn deleting_a_subscription_cancels_its_unsent_deliveries<S: ContractStore>(store: S) {
    setup(&store).await;
    let (gone, kept) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [gone.clone(), kept.clone()];
    pending_then_approved(&store, long_absence, &both).await;
    assert_eq!(
        of_status(&store, &gone, DeliveryStatus::Pending)
            .await
            .len(),
        500
    );
    assert_eq!(
        of_status(&store, &gone, DeliveryStatus::Waiting)
            .await
            .len(),
        500
    );

    assert!(store.delete(&tenant(ACME), &gone).await.unwrap());

    all_cancelled(&store, &gone, 1000, CancelReason::SubscriptionDeleted).await;
    assert_eq!(
        unsent(&store, &kept).await,
        1000,
        "the other subscription's stay"
    );
    let claimed = claim_all(&store, t0()).await;
    assert!(claimed.iter().all(|c| c.subscription == kept));
    let stats = store.queue_stats(t0()).await.unwrap();
    let count = |status| {
        stats
            .by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    assert_eq!(count(DeliveryStatus::Cancelled), 1000);
    assert_eq!(
        count(DeliveryStatus::Pending) + count(DeliveryStatus::Waiting),
        1000
    );
}

/// Disabling a subscription cancels what it had still to receive; enabling it again sends only
/// what comes after.
pub async fn disabling_a_subscription_cancels_its_unsent_deliveries<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    let set = |status| SubscriptionChanges {
        status: Some(status),
        ..SubscriptionChanges::default()
    };
    let disabled = store
        .update(&tenant(ACME), &sub, set(SubscriptionStatus::Disabled))
        .await;
    assert!(disabled.unwrap().is_some());
    all_cancelled(&store, &sub, 4, CancelReason::SubscriptionDisabled).await;

    let enabled = store
        .update(&tenant(ACME), &sub, set(SubscriptionStatus::Enabled))
        .await;
    assert!(enabled.unwrap().is_some());
    assert!(claim_all(&store, t0()).await.is_empty());
    put_new(
        &store,
        ACME,
        &absence("hr-2", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    assert_eq!(claim_all(&store, t0()).await.len(), 4);
}

/// A final failure that disables its subscription (Protime's lifecycle) cancels the subscription's
/// other unsent deliveries, including the one waiting behind the failed one.
pub async fn a_disabling_failure_cancels_the_rest_of_its_subscription<S: ContractStore>(store: S) {
    setup(&store).await;
    let (disabled, kept) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [disabled.clone(), kept.clone()];
    pending_then_approved(&store, absence, &both).await;
    let claimed = claim_all(&store, t0()).await;
    let failing = claimed.iter().find(|c| c.subscription == disabled).unwrap();
    store
        .record(vec![answered(
            failing.id,
            t0(),
            410,
            NextStep::Failed {
                disable_subscription: true,
            },
        )])
        .await
        .unwrap();

    assert_eq!(status_of(&store, failing.id).await, DeliveryStatus::Failed);
    // 4 leaves × (created, approved), one failed: 7 cancelled.
    all_cancelled(&store, &disabled, 7, CancelReason::SubscriptionDisabled).await;
    assert_eq!(unsent(&store, &kept).await, 8);
}

/// A subscription past its `valid_until` gets nothing more: claims skip its deliveries from that
/// moment, and the expiry sweep cancels them. Others are untouched.
pub async fn deliveries_of_an_expired_subscription_are_cancelled<S: ContractStore>(store: S) {
    setup(&store).await;
    let until = t0() + Duration::hours(1);
    let expiring = SubscriptionStore::create(
        &store,
        absync_application::ports::NewSubscription {
            valid_until: Some(until),
            ..new_subscription(ACME, "https://example.com/expiring")
        },
    )
    .await
    .unwrap()
    .id;
    let kept = subscribe(&store, ACME).await;
    let both = [expiring.clone(), kept.clone()];
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        &both,
    )
    .await;

    let after = until + Duration::minutes(1);
    let claimed = store
        .claim_due(ClaimRequest::new(after, 100, after + Duration::minutes(1)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    assert!(claimed.iter().all(|c| c.subscription == kept));
    assert_eq!(
        store
            .cancel_expired(until - Duration::minutes(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.cancel_expired(after).await.unwrap(), 4);
    all_cancelled(&store, &expiring, 4, CancelReason::SubscriptionExpired).await;
    assert_eq!(store.cancel_expired(after).await.unwrap(), 0, "once");
}

/// A delivery whose subscription is deleted while its attempt is in flight is cancelled; if the
/// attempt then succeeds, it is succeeded (it was sent after all), and a failed attempt leaves the
/// others cancelled.
pub async fn a_delivery_sent_while_cancelled_counts_as_succeeded<S: ContractStore>(store: S) {
    setup(&store).await;
    let gone = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&gone),
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 4);
    assert!(store.delete(&tenant(ACME), &gone).await.unwrap());
    all_cancelled(&store, &gone, 4, CancelReason::SubscriptionDeleted).await;

    let sent = answered(claimed[0].id, t0(), 200, NextStep::Succeeded);
    let refused = answered(claimed[1].id, t0(), 503, NextStep::RetryAt(t0()));
    store.record(vec![sent, refused]).await.unwrap();

    let succeeded = of_status(&store, &gone, DeliveryStatus::Succeeded).await;
    assert_eq!(succeeded.len(), 1);
    assert_eq!(succeeded[0].id, claimed[0].id);
    assert_eq!(succeeded[0].cancel_reason, None);
    assert_eq!(succeeded[0].attempts, 1);
    let cancelled = of_status(&store, &gone, DeliveryStatus::Cancelled).await;
    assert_eq!(
        cancelled.len(),
        3,
        "the refused one stays cancelled, not pending"
    );
    assert_eq!(unsent(&store, &gone).await, 0);
}

/// Cancelled deliveries are neither failures on the dashboard nor re-sent while their
/// subscription is gone; retention purges them like succeeded ones.
pub async fn cancelled_deliveries_are_not_failures_and_are_purged<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    let before_cancel = mark().await;
    assert!(store.delete(&tenant(ACME), &sub).await.unwrap());
    let cancelled = of_status(&store, &sub, DeliveryStatus::Cancelled).await;
    assert_eq!(cancelled.len(), 4);

    assert!(store.pending_tasks(&tenant(ACME)).await.unwrap().is_empty());
    assert_eq!(
        store
            .resync(&tenant(ACME), cancelled[0].id, true, Utc::now())
            .await
            .unwrap(),
        Some(Err(ResyncRefusal::SubscriptionInactive))
    );
    assert_eq!(
        store
            .resync_failed(&tenant(ACME), None, Utc::now())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        status_of(&store, cancelled[0].id).await,
        DeliveryStatus::Cancelled
    );

    assert_eq!(
        store.purge_finished(before_cancel).await.unwrap(),
        0,
        "too recent"
    );
    let after_cancel = mark().await;
    assert_eq!(store.purge_finished(after_cancel).await.unwrap(), 4);
    assert!(
        of_status(&store, &sub, DeliveryStatus::Cancelled)
            .await
            .is_empty()
    );
}
