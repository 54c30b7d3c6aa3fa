//! What operators act on: subscription states, pause and resume, rate limits, health figures.

use crate::ContractStore;
use crate::fixtures::{
    ACME, OTHER, absence, answered, claim_all, lease, new_subscription, pending_then_approved,
    put_new, setup, subscribe, t0, tenant,
};
use absync_application::ports::{
    ClaimRequest, NextStep, SubscriptionChanges, SubscriptionQuery, SubscriptionState,
    SubscriptionStore,
};
use absync_domain::{AbsenceStatus, MaxPerSecond, SubscriptionId, SubscriptionStatus};
use chrono::{DateTime, Duration, Utc};

fn set_status(status: SubscriptionStatus) -> SubscriptionChanges {
    SubscriptionChanges {
        status: Some(status),
        ..SubscriptionChanges::default()
    }
}

async fn ids_in<S: ContractStore>(
    store: &S,
    state: Option<SubscriptionState>,
    now: DateTime<Utc>,
) -> Vec<SubscriptionId> {
    store
        .page(
            &tenant(ACME),
            SubscriptionQuery::new(now, 100).in_state(state),
        )
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect()
}

/// Each subscription is listed under the state an operator sees it in; a pause keeps the time it
/// began until it is resumed.
pub async fn subscriptions_are_listed_by_state<S: ContractStore>(store: S) {
    setup(&store).await;
    let later = t0() + Duration::hours(2);
    let active = subscribe(&store, ACME).await;
    let paused = subscribe(&store, ACME).await;
    let disabled = subscribe(&store, ACME).await;
    let mut expiring = new_subscription(ACME, "https://example.com/expiring");
    expiring.valid_until = Some(t0() + Duration::hours(1));
    let expired = SubscriptionStore::create(&store, expiring)
        .await
        .unwrap()
        .id;
    let deleted = subscribe(&store, ACME).await;
    let acme = tenant(ACME);
    let first = store
        .update(&acme, &paused, set_status(SubscriptionStatus::Paused))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.status, SubscriptionStatus::Paused);
    let since = first.paused_since.expect("paused since");
    let again = store
        .update(&acme, &paused, set_status(SubscriptionStatus::Paused))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.paused_since,
        Some(since),
        "a second pause keeps the first's time"
    );
    store
        .update(&acme, &disabled, set_status(SubscriptionStatus::Disabled))
        .await
        .unwrap();
    assert!(store.delete(&acme, &deleted).await.unwrap());

    for (state, id) in [
        (SubscriptionState::Active, &active),
        (SubscriptionState::Paused, &paused),
        (SubscriptionState::Disabled, &disabled),
        (SubscriptionState::Expired, &expired),
        (SubscriptionState::Deleted, &deleted),
    ] {
        assert_eq!(
            ids_in(&store, Some(state), later).await,
            std::slice::from_ref(id),
            "{state:?}"
        );
        let read = store.get(&acme, id).await.unwrap().unwrap();
        assert_eq!(read.state_at(later), state);
    }
    // Creation order is the listing's, but creations within the clock's resolution tie.
    let mut undeleted = ids_in(&store, None, later).await;
    undeleted.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    let mut expected = vec![active.clone(), paused.clone(), disabled, expired];
    expected.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(undeleted, expected, "every undeleted one");
    let resumed = store
        .update(&acme, &paused, set_status(SubscriptionStatus::Enabled))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resumed.status, SubscriptionStatus::Enabled);
    assert_eq!(resumed.paused_since, None);
    assert!(
        store
            .page(
                &tenant(OTHER),
                SubscriptionQuery::new(later, 100).in_state(Some(SubscriptionState::Deleted))
            )
            .await
            .unwrap()
            .is_empty()
    );
}

/// A paused subscription still queues deliveries, none is claimed while it is paused (the others
/// are), and once resumed they go in change order per leave.
pub async fn a_paused_subscription_queues_and_resume_sends_in_order<S: ContractStore>(store: S) {
    setup(&store).await;
    let paused = subscribe(&store, ACME).await;
    let other = subscribe(&store, ACME).await;
    let acme = tenant(ACME);
    store
        .update(&acme, &paused, set_status(SubscriptionStatus::Paused))
        .await
        .unwrap();
    pending_then_approved(
        &store,
        crate::fixtures::one_leave,
        &[paused.clone(), other.clone()],
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].subscription, other);
    assert_eq!(
        store.unsent(&acme, &paused).await.unwrap(),
        2,
        "queued, not cancelled"
    );
    let later = t0() + Duration::seconds(30); // within the other's lease
    assert!(claim_all(&store, later).await.is_empty());

    store
        .update(&acme, &paused, set_status(SubscriptionStatus::Enabled))
        .await
        .unwrap();
    let mut sent = Vec::new();
    for _ in 0..2 {
        let now = t0() + Duration::minutes(2);
        let claimed: Vec<_> = claim_all(&store, now)
            .await
            .into_iter()
            .filter(|d| d.subscription == paused)
            .collect();
        assert_eq!(claimed.len(), 1, "one at a time per leave");
        sent.push(claimed[0].change_version);
        store
            .record(vec![answered(claimed[0].id, now, 200, NextStep::Succeeded)])
            .await
            .unwrap();
    }
    assert!(sent[0] < sent[1], "change order: {sent:?}");
    assert_eq!(store.unsent(&acme, &paused).await.unwrap(), 0);
}

/// A rate-limited subscription is claimed within its token bucket (a second's worth at most, then
/// its rate), without slowing an unlimited one; what is over the budget stays due, and `next_due`
/// says when the next token comes.
pub async fn a_rate_limited_subscription_is_claimed_within_its_budget<S: ContractStore>(store: S) {
    setup(&store).await;
    let limited = subscribe(&store, ACME).await;
    let open = subscribe(&store, ACME).await;
    let changes = SubscriptionChanges {
        max_per_second: Some(Some(MaxPerSecond::new(4).unwrap())),
        ..SubscriptionChanges::default()
    };
    let updated = store
        .update(&tenant(ACME), &limited, changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.max_per_second, MaxPerSecond::new(4).ok());
    // Eight leaves: eight deliveries due for each subscription.
    for id in ["hr-1", "hr-2"] {
        put_new(
            &store,
            ACME,
            &absence(id, 1, AbsenceStatus::Approved),
            &[limited.clone(), open.clone()],
        )
        .await;
    }
    let count = |claimed: &[absync_application::ports::ClaimedDelivery], sub: &SubscriptionId| {
        claimed.iter().filter(|d| &d.subscription == sub).count()
    };
    let first = claim_all(&store, t0()).await;
    assert_eq!(
        (count(&first, &open), count(&first, &limited)),
        (8, 2),
        "the bucket holds half a second's worth"
    );
    assert!(
        claim_all(&store, t0()).await.is_empty(),
        "the bucket is empty"
    );
    let next_token = t0() + Duration::milliseconds(250);
    assert_eq!(store.next_due().await.unwrap(), Some(next_token));
    let early = next_token - Duration::milliseconds(1);
    assert!(claim_all(&store, early).await.is_empty());
    let one = claim_all(&store, next_token).await;
    assert_eq!(count(&one, &limited), 1);
    // A long pause refills no more than the bucket holds (2); a claim asking for fewer spends only
    // what it took.
    let later = t0() + Duration::seconds(30);
    let asked_one = store
        .claim_due(ClaimRequest::new(later, 1, lease(later)))
        .await
        .unwrap();
    assert_eq!(count(&asked_one, &limited), 1);
    assert_eq!(count(&claim_all(&store, later).await, &limited), 1);
    assert!(claim_all(&store, later).await.is_empty());
}

/// Attempts are counted by hour and outcome for their subscription only, the last success and the
/// recent failures read back, and the deliveries still to send counted; another tenant sees none.
pub async fn health_figures_read_attempts_by_subscription_and_hour<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let quiet = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&sub),
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 4);
    let at = t0() + Duration::minutes(10);
    let failed = claimed[3].id;
    let mut reports: Vec<_> = claimed[..3]
        .iter()
        .map(|d| answered(d.id, at, 200, NextStep::Succeeded))
        .collect();
    reports.push(answered(
        failed,
        at,
        503,
        NextStep::RetryAt(t0() + Duration::hours(1)),
    ));
    store.record(reports).await.unwrap();

    let acme = tenant(ACME);
    let mut tallies = store
        .attempt_tallies(&acme, &sub, t0() - Duration::hours(1))
        .await
        .unwrap();
    tallies.sort_by_key(|t| !t.succeeded);
    let seen: Vec<_> = tallies
        .iter()
        .map(|t| (t.hour, t.succeeded, t.duration_ms, t.count))
        .collect();
    assert_eq!(
        seen,
        [(t0(), true, 3, 3), (t0(), false, 3, 1)],
        "hour of 12:10 is 12:00"
    );
    assert!(
        store
            .attempt_tallies(&acme, &sub, t0() + Duration::hours(1))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_success(&acme, &sub).await.unwrap(), Some(at));
    let failures = store.recent_failures(&acme, &sub, 10).await.unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (
            failures[0].delivery,
            failures[0].at,
            failures[0].http_status
        ),
        (failed, at, Some(503))
    );
    assert_eq!(store.unsent(&acme, &sub).await.unwrap(), 1, "the retry");
    assert!(
        store
            .attempt_tallies(&acme, &quiet, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_success(&acme, &quiet).await.unwrap(), None);

    let other = tenant(OTHER);
    assert!(
        store
            .attempt_tallies(&other, &sub, t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.last_success(&other, &sub).await.unwrap(), None);
    assert!(
        store
            .recent_failures(&other, &sub, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.unsent(&other, &sub).await.unwrap(), 0);
}
