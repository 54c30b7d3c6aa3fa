//! Tenant scoping: every tenant-scoped call of another tenant sees and changes nothing.

use crate::ContractStore;
use crate::fixtures::{
    ACME, OTHER, deliveries, one_leave, put_new, settle_due, subscribed_pending_then_approved, t0,
    tenant,
};
use absync_application::ports::{
    DeliveryFilter, LeaveQuery, NextStep, SubscriptionChanges, SubscriptionQuery,
};
use absync_domain::{AbsenceId, AbsenceStatus, SigningSecret, SubscriptionStatus};
use chrono::Duration;

/// Another tenant, knowing the ids of `ACME`'s subscription and deliveries, reads none of them through
/// any tracking, subscription or absence call, and changes none of them; its own absence of the same
/// id is a separate one.
pub async fn another_tenant_sees_and_changes_nothing<S: ContractStore>(store: S) {
    let sub = subscribed_pending_then_approved(&store, one_leave).await;
    let failure = NextStep::Failed {
        disable_subscription: false,
    };
    let failed = settle_due(&store, t0(), failure).await[0];
    let id = AbsenceId::parse("hr-1").unwrap();
    let (acme, other) = (tenant(ACME), tenant(OTHER));
    let before = (
        deliveries(&store, ACME).await,
        store.get(&acme, &sub).await.unwrap(),
        store.load(&acme, &id).await.unwrap(),
        store
            .list_leaves(LeaveQuery::new(acme.clone(), 100))
            .await
            .unwrap(),
    );
    assert_eq!(before.0.len(), 2);
    let (t1, long_ago) = (t0() + Duration::hours(1), t0() - Duration::days(365));

    // Tracking.
    let theirs = DeliveryFilter {
        subscription: Some(sub.clone()),
        ..DeliveryFilter::default()
    };
    for filter in [DeliveryFilter::default(), theirs] {
        let listed = store.list_deliveries(&other, filter, None, 100).await;
        assert!(listed.unwrap().is_empty());
    }
    for id in before.0.iter().map(|d| d.id) {
        assert!(store.get_delivery(&other, id).await.unwrap().is_none());
        assert!(store.resync(&other, id, true, t1).await.unwrap().is_none());
    }
    assert!(
        store
            .mark_processed(&other, failed, None)
            .await
            .unwrap()
            .is_none()
    );
    for subscription in [None, Some(sub.clone())] {
        let requeued = store.resync_failed(&other, subscription.clone(), t1).await;
        assert_eq!(requeued.unwrap(), 0);
        let changed = store
            .changed_since(&other, subscription, long_ago, 100)
            .await;
        assert!(changed.unwrap().is_empty());
    }
    assert!(store.pending_tasks(&other).await.unwrap().is_empty());

    // Subscriptions.
    assert!(store.list(&other).await.unwrap().is_empty());
    assert!(
        store
            .page(&other, SubscriptionQuery::new(t0(), 100))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.get(&other, &sub).await.unwrap().is_none());
    let disable = SubscriptionChanges {
        status: Some(SubscriptionStatus::Disabled),
        ..SubscriptionChanges::default()
    };
    assert!(store.update(&other, &sub, disable).await.unwrap().is_none());
    let secret = SigningSecret::from_key([9; 32]);
    let rotated = store.rotate_secret(&other, &sub, secret, t1).await;
    assert!(rotated.unwrap().is_none());
    assert!(!store.delete(&other, &sub).await.unwrap());

    // Absences and tokens.
    assert!(store.load(&other, &id).await.unwrap().is_none());
    assert!(
        store
            .list_leaves(LeaveQuery::new(other.clone(), 100))
            .await
            .unwrap()
            .is_empty()
    );
    let tokens = store.list_tokens(Some(other.clone())).await.unwrap();
    assert!(tokens.iter().all(|t| t.tenant == other) && tokens.len() == 1);
    put_new(
        &store,
        OTHER,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &[],
    )
    .await;
    assert_eq!(
        store
            .list_leaves(LeaveQuery::new(other.clone(), 100))
            .await
            .unwrap()
            .len(),
        1
    );

    let after = (
        deliveries(&store, ACME).await,
        store.get(&acme, &sub).await.unwrap(),
        store.load(&acme, &id).await.unwrap(),
        store
            .list_leaves(LeaveQuery::new(acme.clone(), 100))
            .await
            .unwrap(),
    );
    assert_eq!(after, before);
    assert_eq!(store.pending_tasks(&acme).await.unwrap().len(), 1);
}
