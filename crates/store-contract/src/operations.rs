//! What operators act on: subscription states, pause and resume, rate limits, health figures.

use crate::ContractStore;
use crate::fixtures::{
    ACME, OTHER, absence, answered, claim_all, lease, new_subscription, pending_then_approved,
    put_new, setup, subscribe, t0, tenant, timed_out,
};
use absync_application::ports::{
    ClaimRequest, ClaimedDelivery, NextStep, SubscriptionChanges, SubscriptionQuery,
    SubscriptionState, SubscriptionStore,
};
use absync_domain::{AbsenceStatus, DeliveryId, MaxPerSecond, SubscriptionId, SubscriptionStatus};
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

/// The deliveries of `claimed` that are `subscription`'s, in claim order.
fn of_subscription(claimed: &[ClaimedDelivery], subscription: &SubscriptionId) -> Vec<DeliveryId> {
    claimed
        .iter()
        .filter(|d| d.subscription == *subscription)
        .map(|d| d.id)
        .collect()
}

/// The figures of a list of subscriptions are read for the whole list at once, each keyed by its
/// subscription: attempts by hour, outcome and duration, the newest success, the newest failure (by
/// time, whatever the order the attempts were recorded in) and the deliveries still to send. A
/// subscription without any is absent, as are ids of another tenant and ids that are no UUID.
pub async fn health_figures_are_read_for_a_list_of_subscriptions<S: ContractStore>(store: S) {
    setup(&store).await;
    let busy = subscribe(&store, ACME).await;
    let failing = subscribe(&store, ACME).await;
    let quiet = subscribe(&store, ACME).await;
    let theirs = subscribe(&store, OTHER).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        &[busy.clone(), failing.clone()],
    )
    .await;
    put_new(
        &store,
        OTHER,
        &absence("hr-9", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&theirs),
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 12);
    let minutes = |m: i64| t0() + Duration::minutes(m);
    let retry = NextStep::RetryAt(t0() + Duration::hours(2));
    let b = of_subscription(&claimed, &busy);
    let f = of_subscription(&claimed, &failing);
    let o = of_subscription(&claimed, &theirs);
    // The newest failure of `failing` is recorded first; the newest success of `busy` in between.
    let mut reports = vec![
        answered(f[3], minutes(65), 502, retry),
        timed_out(f[0], minutes(5), retry),
        answered(f[1], minutes(20), 500, retry),
        answered(f[2], minutes(5), 503, retry),
        answered(b[0], minutes(10), 200, NextStep::Succeeded),
        answered(b[1], minutes(30), 200, NextStep::Succeeded),
        answered(b[2], minutes(15), 200, NextStep::Succeeded),
        answered(b[3], minutes(40), 503, retry),
    ];
    reports.extend(
        o.iter()
            .map(|id| answered(*id, minutes(70), 200, NextStep::Succeeded)),
    );
    store.record(reports).await.unwrap();

    let acme = tenant(ACME);
    let listed = [
        busy.clone(),
        failing.clone(),
        quiet.clone(),
        theirs.clone(),
        SubscriptionId::new("not-a-uuid"),
    ];
    let tallies = store
        .attempt_tallies_of(&acme, &listed, t0() - Duration::hours(1))
        .await
        .unwrap();
    let sorted = |id: &SubscriptionId| {
        let mut seen: Vec<_> = tallies[id]
            .iter()
            .map(|t| (t.hour, t.succeeded, t.duration_ms, t.count))
            .collect();
        seen.sort();
        seen
    };
    let one = t0() + Duration::hours(1);
    assert_eq!(sorted(&busy), [(t0(), false, 3, 1), (t0(), true, 3, 3)]);
    assert_eq!(
        sorted(&failing),
        [
            (t0(), false, 3, 2),
            (t0(), false, 10_000, 1),
            (one, false, 3, 1)
        ]
    );
    assert_eq!(
        tallies.len(),
        2,
        "none of quiet or of another tenant: {tallies:?}"
    );
    let since_one = store.attempt_tallies_of(&acme, &listed, one).await.unwrap();
    assert_eq!(
        since_one.keys().collect::<Vec<_>>(),
        [&failing],
        "only the attempts since the time asked"
    );

    let successes = store.last_successes(&acme, &listed).await.unwrap();
    assert_eq!(
        successes.get(&busy),
        Some(&minutes(30)),
        "the newest success"
    );
    assert_eq!(successes.len(), 1, "{successes:?}");

    let failures = store.last_failures(&acme, &listed).await.unwrap();
    let last = |id: &SubscriptionId| {
        let f = &failures[id];
        (f.delivery, f.at, f.http_status, f.error.clone())
    };
    assert_eq!(last(&busy), (b[3], minutes(40), Some(503), None));
    assert_eq!(
        last(&failing),
        (f[3], minutes(65), Some(502), None),
        "the newest failure by time"
    );
    assert_eq!(failures.len(), 2, "{failures:?}");

    let unsent = store.unsent_counts(&acme, &listed).await.unwrap();
    assert_eq!(
        unsent,
        [(busy.clone(), 1), (failing.clone(), 4)]
            .into_iter()
            .collect(),
        "the retries"
    );

    // Nothing for nothing asked; nothing of ACME's for another tenant, which sees its own.
    assert!(
        store
            .attempt_tallies_of(&acme, &[], t0())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.last_successes(&acme, &[]).await.unwrap().is_empty());
    assert!(store.last_failures(&acme, &[]).await.unwrap().is_empty());
    assert!(store.unsent_counts(&acme, &[]).await.unwrap().is_empty());
    let other = tenant(OTHER);
    let ours = [busy.clone(), failing.clone(), quiet.clone()];
    let since = t0() - Duration::hours(1);
    assert!(
        store
            .attempt_tallies_of(&other, &ours, since)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .last_successes(&other, &ours)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.last_failures(&other, &ours).await.unwrap().is_empty());
    assert!(store.unsent_counts(&other, &ours).await.unwrap().is_empty());
    let their_own = std::slice::from_ref(&theirs);
    assert_eq!(
        store
            .attempt_tallies_of(&other, their_own, since)
            .await
            .unwrap()[&theirs]
            .iter()
            .map(|t| t.count)
            .sum::<u64>(),
        4
    );
    assert_eq!(
        store
            .last_successes(&other, their_own)
            .await
            .unwrap()
            .get(&theirs),
        Some(&minutes(70))
    );
}
