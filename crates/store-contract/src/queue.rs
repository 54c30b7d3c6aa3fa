//! The delivery queue: claims and leases, per-leave order, retries, release, and retention.

use crate::ContractStore;
use crate::fixtures::{
    ACME, absence, answered, claim_all, deliveries, mark, one_leave, pending_then_approved,
    put_new, put_new_at, settle_due, setup, status_of, subscribe, subscribed_pending_then_approved,
    t0, tenant, timed_out,
};
use absync_application::ports::{
    ClaimRequest, ClaimedDelivery, DeliveryStatus, LeaveQuery, NextStep,
};
use absync_domain::{
    AbsenceStatus, LeaveEvent, LeaveKey, PayloadFormat, SubscriptionId, SubscriptionStatus,
};
use chrono::{Duration, Utc};

/// The claimed delivery of `key` to `subscription`.
fn of<'a>(
    claimed: &'a [ClaimedDelivery],
    key: LeaveKey,
    subscription: &SubscriptionId,
) -> &'a ClaimedDelivery {
    claimed
        .iter()
        .find(|d| d.record.key() == key && &d.subscription == subscription)
        .unwrap()
}

/// A claim leases what it takes until the lease expires; only the oldest unfinished delivery of each
/// leave is eligible, and the next one follows when it finishes; a retry is due at its time, with its
/// attempt counted and recorded.
pub async fn claims_lease_and_keep_each_leave_in_order<S: ContractStore>(store: S) {
    let sub = subscribed_pending_then_approved(&store, absence).await;

    let lease = t0() + Duration::seconds(60);
    let first = store
        .claim_due(ClaimRequest::new(t0(), 100, lease))
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    assert!(
        first
            .iter()
            .all(|d| d.record.event.as_str() == "created" && d.attempts_made == 0)
    );
    assert_eq!(first[0].tenant, tenant(ACME));
    assert_eq!(first[0].subscription, sub);
    assert_eq!(first[0].payload_format, PayloadFormat::Leaves);
    assert_eq!(first[0].destination.as_str(), "https://example.com/hook");
    assert_eq!(
        first[0].authorization.as_ref().unwrap().expose(),
        "Basic abc"
    );
    // Leased: nobody else gets them, and the newer ones still wait.
    assert!(
        store
            .claim_due(ClaimRequest::new(t0(), 100, lease))
            .await
            .unwrap()
            .is_empty()
    );
    // After the lease expires they are claimable again (crash recovery).
    let reclaimed = claim_all(&store, lease).await;
    assert_eq!(reclaimed.len(), 4);

    // One fails with a retry in 5 minutes; the rest succeed.
    let retry_at = lease + Duration::minutes(5);
    let failing = &reclaimed[0];
    let mut reports = vec![answered(
        failing.id,
        lease,
        500,
        NextStep::RetryAt(retry_at),
    )];
    reports.extend(
        reclaimed[1..]
            .iter()
            .map(|d| answered(d.id, lease, 200, NextStep::Succeeded)),
    );
    store.record(reports).await.unwrap();

    // The three leaves whose created went through release their approved delivery; the failed one
    // holds its leave back.
    let next = claim_all(&store, lease).await;
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|d| d.record.event.as_str() == "approved"));
    assert!(next.iter().all(|d| d.record.key() != failing.record.key()));
    let succeeded = next
        .iter()
        .map(|d| answered(d.id, lease, 200, NextStep::Succeeded));
    store.record(succeeded.collect()).await.unwrap();

    // At its retry time the failed one is due again, with its attempt counted.
    let retried = claim_all(&store, retry_at).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, failing.id);
    assert_eq!(retried[0].attempts_made, 1);
    let detail = store
        .get_delivery(&tenant(ACME), failing.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(detail.attempts.len(), 1);
    assert_eq!(detail.attempts[0].http_status, Some(500));
    assert_eq!(detail.attempts[0].response_excerpt, b"answer");
}

/// A claim takes only deliveries due at its `now`, and at most `limit`.
pub async fn claims_take_only_due_deliveries_up_to_the_limit<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let later = t0() + Duration::hours(1);
    let now_due = put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    let due_later = put_new_at(
        &store,
        ACME,
        &absence("hr-2", 1, AbsenceStatus::Approved),
        to,
        later,
    )
    .await;
    let lease = later + Duration::hours(1);

    let few = store
        .claim_due(ClaimRequest::new(t0(), 3, lease))
        .await
        .unwrap();
    assert_eq!(few.len(), 3);
    let rest = store
        .claim_due(ClaimRequest::new(t0(), 100, lease))
        .await
        .unwrap();
    assert_eq!(rest.len(), 1, "the later absence is not due yet");
    let mut keys: Vec<LeaveKey> = few.iter().chain(&rest).map(|d| d.record.key()).collect();
    keys.sort();
    let mut expected: Vec<LeaveKey> = now_due.iter().map(|e| e.leave_key).collect();
    expected.sort();
    assert_eq!(keys, expected);

    assert!(
        store
            .claim_due(ClaimRequest::new(later - Duration::seconds(1), 100, lease))
            .await
            .unwrap()
            .is_empty()
    );
    let at_later = store
        .claim_due(ClaimRequest::new(later, 100, lease))
        .await
        .unwrap();
    let mut keys: Vec<LeaveKey> = at_later.iter().map(|d| d.record.key()).collect();
    keys.sort();
    let mut expected: Vec<LeaveKey> = due_later.iter().map(|e| e.leave_key).collect();
    expected.sort();
    assert_eq!(keys, expected);
}

/// A claim leaves out the subscriptions it is asked to skip (those with enough sends in flight),
/// and takes their deliveries once they are no longer skipped.
pub async fn claims_skip_the_subscriptions_asked<S: ContractStore>(store: S) {
    setup(&store).await;
    let busy = subscribe(&store, ACME).await;
    let other = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        &[busy.clone(), other.clone()],
    )
    .await;
    let lease = t0() + Duration::minutes(1);

    let first = store
        .claim_due(ClaimRequest::new(t0(), 100, lease).skipping(vec![busy.clone()]))
        .await
        .unwrap();
    assert_eq!(first.len(), 4);
    assert!(first.iter().all(|d| d.subscription == other));
    let skipping_both = store
        .claim_due(ClaimRequest::new(t0(), 100, lease).skipping(vec![busy.clone(), other.clone()]))
        .await
        .unwrap();
    assert!(skipping_both.is_empty());
    let rest = store
        .claim_due(ClaimRequest::new(t0(), 100, lease))
        .await
        .unwrap();
    assert_eq!(rest.len(), 4);
    assert!(rest.iter().all(|d| d.subscription == busy));
}

/// Released deliveries are claimable again at once, without an attempt counted; releasing a finished
/// one does not bring it back.
pub async fn a_released_delivery_is_claimable_at_once<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        &[sub],
    )
    .await;
    let long_lease = t0() + Duration::hours(1);
    let claimed = store
        .claim_due(ClaimRequest::new(t0(), 100, long_lease))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    assert!(
        store
            .claim_due(ClaimRequest::new(t0(), 100, long_lease))
            .await
            .unwrap()
            .is_empty()
    );

    store
        .release(vec![claimed[0].id, claimed[1].id])
        .await
        .unwrap();
    let again = store
        .claim_due(ClaimRequest::new(t0(), 100, long_lease))
        .await
        .unwrap();
    let mut ids: Vec<i64> = again.iter().map(|d| d.id.get()).collect();
    ids.sort_unstable();
    let mut released = vec![claimed[0].id.get(), claimed[1].id.get()];
    released.sort_unstable();
    assert_eq!(ids, released);
    assert!(again.iter().all(|d| d.attempts_made == 0));

    let done = claimed
        .iter()
        .map(|d| answered(d.id, t0(), 200, NextStep::Succeeded));
    store.record(done.collect()).await.unwrap();
    store
        .release(claimed.iter().map(|d| d.id).collect())
        .await
        .unwrap();
    assert!(claim_all(&store, t0()).await.is_empty());
    assert!(
        deliveries(&store, ACME)
            .await
            .iter()
            .all(|d| d.status == DeliveryStatus::Succeeded)
    );
}

/// A later delivery of the same subscription and leave waits while an earlier one is unfinished and is
/// claimable once it finished (succeeded or failed); other subscriptions are not held back.
pub async fn a_later_delivery_of_a_leave_waits_for_the_earlier_one<S: ContractStore>(store: S) {
    setup(&store).await;
    let (first, second) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [first.clone(), second.clone()];
    let created = pending_then_approved(&store, one_leave, &both).await;
    let key = created[0].leave_key;
    let listed = deliveries(&store, ACME).await;
    let status = |event: LeaveEvent| {
        listed
            .iter()
            .filter(|d| d.event == event)
            .map(|d| d.status)
            .collect::<Vec<_>>()
    };
    assert_eq!(status(LeaveEvent::Created), [DeliveryStatus::Pending; 2]);
    assert_eq!(status(LeaveEvent::Approved), [DeliveryStatus::Waiting; 2]);

    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 2);
    assert!(claimed.iter().all(|d| d.record.event.as_str() == "created"));
    let (to_first, to_second) = (of(&claimed, key, &first), of(&claimed, key, &second));
    let retry_at = t0() + Duration::hours(1);
    let failed = NextStep::Failed {
        disable_subscription: false,
    };
    store
        .record(vec![
            answered(to_first.id, t0(), 410, failed),
            answered(to_second.id, t0(), 503, NextStep::RetryAt(retry_at)),
        ])
        .await
        .unwrap();

    // The first subscription's created failed for good: its approved goes out; the second's waits.
    let next = claim_all(&store, t0()).await;
    assert_eq!(next.len(), 1);
    assert_eq!(
        (next[0].record.event.as_str(), &next[0].subscription),
        ("approved", &first)
    );
    let waiting = deliveries(&store, ACME).await;
    let held = waiting
        .iter()
        .find(|d| d.event == LeaveEvent::Approved && d.subscription == second)
        .unwrap();
    assert_eq!(held.status, DeliveryStatus::Waiting);
    let done = answered(next[0].id, t0(), 200, NextStep::Succeeded);
    store.record(vec![done]).await.unwrap();

    // The second's created is retried and succeeds: now its approved follows.
    let retried = claim_all(&store, retry_at).await;
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, to_second.id);
    store
        .record(vec![answered(
            to_second.id,
            retry_at,
            200,
            NextStep::Succeeded,
        )])
        .await
        .unwrap();
    let last = claim_all(&store, retry_at).await;
    assert_eq!(last.len(), 1);
    assert_eq!(
        (last[0].id, last[0].record.event.as_str()),
        (held.id, "approved")
    );
}

/// A failure with [`NextStep::RetryAt`] is claimable again only from that time, with the failure and
/// the attempt on record.
pub async fn a_retry_is_claimable_only_from_its_time<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &[sub],
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    let id = claimed[0].id;
    let retry_at = t0() + Duration::minutes(5);
    store
        .record(vec![timed_out(id, t0(), NextStep::RetryAt(retry_at))])
        .await
        .unwrap();

    let summary = store
        .get_delivery(&tenant(ACME), id)
        .await
        .unwrap()
        .unwrap()
        .summary;
    assert_eq!(summary.status, DeliveryStatus::Pending);
    assert_eq!(summary.attempts, 1);
    assert_eq!(summary.next_attempt_at, retry_at);
    assert_eq!(summary.last_error.as_deref(), Some("timeout"));
    assert_eq!(summary.last_http_status, None);

    assert!(
        claim_all(&store, retry_at - Duration::seconds(1))
            .await
            .is_empty()
    );
    let retried = claim_all(&store, retry_at).await;
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].id, retried[0].attempts_made), (id, 1));
}

/// A final failure leaves the delivery failed; with `disable_subscription` its subscription is disabled,
/// without it the subscription stays enabled.
pub async fn a_final_failure_may_disable_its_subscription<S: ContractStore>(store: S) {
    setup(&store).await;
    let (disabled, kept) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [disabled.clone(), kept.clone()];
    let created = put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &both,
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    let key = created[0].leave_key;
    let (one, other) = (of(&claimed, key, &disabled).id, of(&claimed, key, &kept).id);
    let fail = |disable_subscription| NextStep::Failed {
        disable_subscription,
    };
    store
        .record(vec![
            answered(one, t0(), 410, fail(true)),
            answered(other, t0(), 410, fail(false)),
        ])
        .await
        .unwrap();

    assert_eq!(status_of(&store, one).await, DeliveryStatus::Failed);
    assert_eq!(status_of(&store, other).await, DeliveryStatus::Failed);
    let status = |s: Option<absync_application::ports::Subscription>| s.unwrap().status;
    let first = store.get(&tenant(ACME), &disabled).await.unwrap();
    assert_eq!(status(first), SubscriptionStatus::Disabled);
    let second = store.get(&tenant(ACME), &kept).await.unwrap();
    assert_eq!(status(second), SubscriptionStatus::Enabled);
    assert!(claim_all(&store, t0() + Duration::days(1)).await.is_empty());
}

/// Deliveries of a deleted subscription are never claimed, nor awaited.
pub async fn deliveries_of_a_deleted_subscription_are_not_claimed<S: ContractStore>(store: S) {
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
    assert_eq!(store.next_due().await.unwrap(), Some(t0()));
    assert!(store.delete(&tenant(ACME), &sub).await.unwrap());
    assert!(claim_all(&store, t0()).await.is_empty());
    assert_eq!(store.next_due().await.unwrap(), None);
}

/// `next_due` is when the next claim can succeed: the earliest due time, a lease's end while leased,
/// a retry's time, and `None` once nothing is pending.
pub async fn next_due_is_when_the_next_claim_can_succeed<S: ContractStore>(store: S) {
    setup(&store).await;
    assert_eq!(store.next_due().await.unwrap(), None);
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let later = t0() + Duration::hours(1);
    put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    put_new_at(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        to,
        later,
    )
    .await;
    assert_eq!(store.next_due().await.unwrap(), Some(t0()));

    let lease = t0() + Duration::seconds(60);
    let claimed = store
        .claim_due(ClaimRequest::new(t0(), 100, lease))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.next_due().await.unwrap(), Some(lease));

    let retry_at = t0() + Duration::minutes(5);
    let retry = answered(claimed[0].id, t0(), 503, NextStep::RetryAt(retry_at));
    store.record(vec![retry]).await.unwrap();
    assert_eq!(store.next_due().await.unwrap(), Some(retry_at));

    settle_due(&store, retry_at, NextStep::Succeeded).await;
    assert_eq!(store.next_due().await.unwrap(), Some(later));
    settle_due(&store, later, NextStep::Succeeded).await;
    assert_eq!(store.next_due().await.unwrap(), None);
}

/// Retention: succeeded deliveries last changed before the cutoff go; later ones, failed and pending
/// ones stay.
pub async fn only_old_succeeded_deliveries_are_purged<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let mut keys = Vec::new();
    for id in ["hr-1", "hr-2", "hr-3", "hr-4"] {
        let applied = put_new(&store, ACME, &one_leave(id, 1, AbsenceStatus::Approved), to).await;
        keys.push(applied[0].leave_key);
    }
    let claimed = claim_all(&store, t0()).await;
    let ids: Vec<_> = keys.iter().map(|key| of(&claimed, *key, &sub).id).collect();
    let (old, recent, failed, pending) = (ids[0], ids[1], ids[2], ids[3]);
    // Attempts are reported at wall-clock time, as a dispatcher would.
    let failure = NextStep::Failed {
        disable_subscription: false,
    };
    let far = Utc::now() + Duration::days(1);
    store
        .record(vec![
            answered(old, Utc::now(), 200, NextStep::Succeeded),
            answered(failed, Utc::now(), 410, failure),
            answered(pending, Utc::now(), 503, NextStep::RetryAt(far)),
        ])
        .await
        .unwrap();
    let cutoff = mark().await;
    store
        .record(vec![answered(recent, Utc::now(), 200, NextStep::Succeeded)])
        .await
        .unwrap();

    assert_eq!(store.purge_finished(cutoff).await.unwrap(), 1);
    assert!(
        store
            .get_delivery(&tenant(ACME), old)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(status_of(&store, recent).await, DeliveryStatus::Succeeded);
    assert_eq!(store.purge_finished(cutoff).await.unwrap(), 0);

    let everything = mark().await;
    assert_eq!(store.purge_finished(everything).await.unwrap(), 1);
    let left: Vec<_> = deliveries(&store, ACME)
        .await
        .into_iter()
        .map(|d| (d.id, d.status))
        .collect();
    let mut expected = vec![
        (pending, DeliveryStatus::Pending),
        (failed, DeliveryStatus::Failed),
    ];
    expected.sort_by_key(|(id, _)| std::cmp::Reverse(id.get()));
    assert_eq!(left, expected);
    let store_absences = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    assert_eq!(
        store_absences.len(),
        4,
        "purging deliveries keeps the leaves"
    );
}
