//! Delivery tracking: listings, details, the operator's re-sync and mark-processed, the dashboard and
//! the queue's numbers.

use crate::ContractStore;
use crate::fixtures::{
    ACME, OTHER, absence, answered, approve, claim_all, deliveries, deliveries_where, mark,
    new_subscription, one_leave, put_new, put_new_at, settle_due, setup, status_of, subscribe,
    subscribed_pending_then_approved, t0, tenant, tick, timed_out,
};
use absync_application::ports::{
    ClaimedDelivery, DeliveryFilter, DeliveryStatus, DeliverySummary, NextStep, QueueStats,
    ResyncRefusal, SubscriptionStore,
};
use absync_domain::{
    AbsenceStatus, DeliveryId, LeaveEvent, LeaveKey, SigningSecret, SubscriptionId,
};
use chrono::{Duration, Utc};
use std::collections::BTreeMap;

fn ids(summaries: &[DeliverySummary]) -> Vec<DeliveryId> {
    summaries.iter().map(|d| d.id).collect()
}

const FAILED: NextStep = NextStep::Failed {
    disable_subscription: false,
};

/// Lists are newest first; each filter (subscription, status, leave, event, queued since) narrows
/// them, filters combine, and `before` + `limit` page through them without gaps or repeats.
pub async fn deliveries_list_newest_first_filtered_and_paged<S: ContractStore>(store: S) {
    setup(&store).await;
    let (first, second) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [first.clone(), second.clone()];
    let pending = absence("hr-1", 1, AbsenceStatus::Pending);
    let created = put_new_at(&store, ACME, &pending, &both, Utc::now()).await;
    let since = mark().await;
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    approve(
        &store,
        ACME,
        &approved,
        std::slice::from_ref(&first),
        Utc::now(),
    )
    .await;
    // The second subscription's deliveries succeed; the first's are retried later.
    let now = Utc::now();
    let claimed = claim_all(&store, now).await;
    let reports = claimed.iter().map(|d| {
        if d.subscription == second {
            answered(d.id, now, 200, NextStep::Succeeded)
        } else {
            answered(d.id, now, 503, NextStep::RetryAt(now + Duration::hours(1)))
        }
    });
    store.record(reports.collect()).await.unwrap();

    let all = deliveries(&store, ACME).await;
    assert_eq!(all.len(), 12);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let of_second = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            subscription: Some(second.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(of_second.len(), 4);
    assert!(
        of_second
            .iter()
            .all(|d| d.subscription == second && d.event == LeaveEvent::Created)
    );
    let succeeded = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            status: Some(DeliveryStatus::Succeeded),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&succeeded), ids(&of_second));
    let waiting = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            status: Some(DeliveryStatus::Waiting),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(waiting.len(), 4);
    assert!(
        waiting
            .iter()
            .all(|d| d.subscription == first && d.event == LeaveEvent::Approved)
    );
    let key = created[0].leave_key.to_string();
    let of_leave = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            leave_key: Some(key.clone()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(of_leave.len(), 3);
    assert!(of_leave.iter().all(|d| d.leave_key == key));
    let approvals = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            event: Some(LeaveEvent::Approved),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&approvals), ids(&waiting));
    let recent = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            since: Some(since),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(ids(&recent), ids(&waiting));
    let combined = DeliveryFilter {
        subscription: Some(first.clone()),
        event: Some(LeaveEvent::Created),
        status: Some(DeliveryStatus::Pending),
        ..Default::default()
    };
    let combined = deliveries_where(&store, ACME, combined).await;
    assert_eq!(combined.len(), 4);
    assert!(
        combined
            .iter()
            .all(|d| d.subscription == first && d.event == LeaveEvent::Created)
    );
    let unknown = deliveries_where(
        &store,
        ACME,
        DeliveryFilter {
            subscription: Some(SubscriptionId::new("nope")),
            ..Default::default()
        },
    )
    .await;
    assert!(unknown.is_empty());

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .list_deliveries(&tenant(ACME), DeliveryFilter::default(), before, 5)
            .await
            .unwrap();
        assert!(page.len() <= 5);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, all);
}

/// A delivery's detail holds its summary, everything to render its message, and every attempt in
/// order; an unknown delivery has none.
pub async fn a_delivery_detail_carries_its_message_and_attempts<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let applied = put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&sub),
    )
    .await;
    let claimed: ClaimedDelivery = claim_all(&store, t0()).await.remove(0);
    let retry_at = t0() + Duration::minutes(1);
    store
        .record(vec![timed_out(
            claimed.id,
            t0(),
            NextStep::RetryAt(retry_at),
        )])
        .await
        .unwrap();
    settle_due(&store, retry_at, NextStep::Succeeded).await;

    let detail = store
        .get_delivery(&tenant(ACME), claimed.id)
        .await
        .unwrap()
        .unwrap();
    let summary = &detail.summary;
    assert_eq!((summary.id, &summary.subscription), (claimed.id, &sub));
    assert_eq!(summary.leave_key, applied[0].leave_key.to_string());
    assert_eq!(
        (summary.event, summary.change_version),
        (applied[0].event, applied[0].change_version.get())
    );
    assert_eq!(
        (summary.status, summary.attempts),
        (DeliveryStatus::Succeeded, 2)
    );
    assert_eq!(
        (summary.last_http_status, summary.last_error.as_deref()),
        (Some(200), None)
    );
    assert_eq!(summary.processed_note, None);
    let message = &detail.message;
    assert_eq!(
        (message.id, &message.tenant, &message.subscription),
        (claimed.id, &tenant(ACME), &sub)
    );
    assert_eq!(
        (&message.record, message.change_version),
        (&claimed.record, applied[0].change_version)
    );
    assert_eq!(
        (message.payload_format, &message.destination),
        (claimed.payload_format, &claimed.destination)
    );
    assert_eq!(message.authorization, claimed.authorization);
    assert_eq!(message.signing_secrets, [SigningSecret::from_key([3; 32])]);

    assert_eq!(detail.attempts.len(), 2);
    let (timeout, answer) = (&detail.attempts[0], &detail.attempts[1]);
    assert_eq!((timeout.started_at, timeout.duration_ms), (t0(), 10_000));
    assert_eq!(
        (timeout.http_status, timeout.error_kind.as_deref()),
        (None, Some("timeout"))
    );
    assert_eq!(
        timeout.error_detail.as_deref(),
        Some("no answer within 10s")
    );
    assert!(timeout.response_excerpt.is_empty());
    assert_eq!(
        (answer.started_at, answer.duration_ms, answer.http_status),
        (retry_at, 3, Some(200))
    );
    assert_eq!(
        (
            answer.error_kind.as_deref(),
            answer.response_excerpt.as_slice()
        ),
        (None, &b"answer"[..])
    );

    let unknown = DeliveryId::new(claimed.id.get() + 1000);
    assert!(
        store
            .get_delivery(&tenant(ACME), unknown)
            .await
            .unwrap()
            .is_none()
    );
}

/// Re-sync makes a delivery pending and due at `now`, unless a newer delivery of its leave is still
/// on its way, or (without `force`) already succeeded; the latest may always be re-sent.
pub async fn resync_makes_a_delivery_due_again_unless_newer_state_went_out<S: ContractStore>(
    store: S,
) {
    subscribed_pending_then_approved(&store, one_leave).await;
    let created = settle_due(&store, t0(), FAILED).await[0];
    let (acme, t1, t2) = (
        tenant(ACME),
        t0() + Duration::hours(1),
        t0() + Duration::hours(2),
    );
    let resync = |id, force, now| {
        let (store, acme) = (&store, &acme);
        async move { store.resync(acme, id, force, now).await.unwrap().unwrap() }
    };

    assert_eq!(
        resync(created, true, t1).await,
        Err(ResyncRefusal::NewerInFlight)
    );
    let approved = settle_due(&store, t0(), NextStep::Succeeded).await[0];
    assert_ne!(approved, created);
    assert_eq!(
        resync(created, false, t1).await,
        Err(ResyncRefusal::Superseded)
    );
    assert_eq!(status_of(&store, created).await, DeliveryStatus::Failed);

    let forced = resync(created, true, t1).await.unwrap();
    assert_eq!(
        (forced.id, forced.status, forced.next_attempt_at),
        (created, DeliveryStatus::Pending, t1)
    );
    assert!(
        claim_all(&store, t1 - Duration::seconds(1))
            .await
            .is_empty()
    );
    assert_eq!(settle_due(&store, t1, NextStep::Succeeded).await, [created]);

    // The latest delivery of the leave may be re-sent although it succeeded.
    let again = resync(approved, false, t2).await.unwrap();
    assert_eq!(
        (again.status, again.next_attempt_at),
        (DeliveryStatus::Pending, t2)
    );
    assert_eq!(
        resync(created, true, t2).await,
        Err(ResyncRefusal::NewerInFlight)
    );
    assert_eq!(
        settle_due(&store, t2, NextStep::Succeeded).await,
        [approved]
    );

    let unknown = DeliveryId::new(approved.get() + 1000);
    assert!(
        store
            .resync(&acme, unknown, true, t2)
            .await
            .unwrap()
            .is_none()
    );
}

/// Only a failed delivery can be marked processed (with its note); it then leaves the dashboard.
pub async fn mark_processed_takes_only_failed_deliveries<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let applied = put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&sub),
    )
    .await;
    put_new(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&sub),
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    let (failed, retried) = if claimed[0].record.key() == applied[0].leave_key {
        (claimed[0].id, claimed[1].id)
    } else {
        (claimed[1].id, claimed[0].id)
    };
    let later = NextStep::RetryAt(t0() + Duration::hours(1));
    store
        .record(vec![
            answered(failed, t0(), 410, FAILED),
            answered(retried, t0(), 503, later),
        ])
        .await
        .unwrap();
    let acme = tenant(ACME);

    assert!(
        store
            .mark_processed(&acme, retried, None)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(status_of(&store, retried).await, DeliveryStatus::Pending);
    assert_eq!(store.pending_tasks(&acme).await.unwrap()[0].failed, 1);

    let note = Some("called them".to_owned());
    let processed = store
        .mark_processed(&acme, failed, note.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (processed.id, processed.status),
        (failed, DeliveryStatus::Processed)
    );
    assert_eq!(processed.processed_note, note);
    assert_eq!(status_of(&store, failed).await, DeliveryStatus::Processed);
    assert!(
        store
            .mark_processed(&acme, failed, None)
            .await
            .unwrap()
            .is_none(),
        "once"
    );
    assert!(store.pending_tasks(&acme).await.unwrap().is_empty());
    let unknown = DeliveryId::new(failed.get().max(retried.get()) + 1000);
    assert!(
        store
            .mark_processed(&acme, unknown, None)
            .await
            .unwrap()
            .is_none()
    );
}

/// Bulk re-sync requeues each failed delivery that is the latest of its leave (of one subscription,
/// if given), due at `now`; an older failure, superseded by a newer delivery, stays failed.
pub async fn resync_failed_requeues_the_latest_failure_of_each_leave<S: ContractStore>(store: S) {
    setup(&store).await;
    let (first, second) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let both = [first.clone(), second.clone()];
    let only_first = std::slice::from_ref(&first);
    put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Pending),
        &both,
    )
    .await;
    approve(
        &store,
        ACME,
        &one_leave("hr-1", 2, AbsenceStatus::Approved),
        only_first,
        t0(),
    )
    .await;
    put_new(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        only_first,
    )
    .await;
    settle_due(&store, t0(), FAILED).await; // created ×2 and hr-2's
    settle_due(&store, t0(), FAILED).await; // hr-1's approved, promoted
    let listed = deliveries(&store, ACME).await;
    assert!(listed.iter().all(|d| d.status == DeliveryStatus::Failed));
    let created_for = |sub: &SubscriptionId| {
        let found = listed
            .iter()
            .find(|d| d.event == LeaveEvent::Created && &d.subscription == sub);
        found.unwrap().id
    };
    let (superseded, second_created) = (created_for(&first), created_for(&second));
    let t1 = t0() + Duration::hours(1);
    let acme = tenant(ACME);

    assert_eq!(
        store
            .resync_failed(&acme, Some(second.clone()), t1)
            .await
            .unwrap(),
        1
    );
    let requeued = store
        .get_delivery(&acme, second_created)
        .await
        .unwrap()
        .unwrap()
        .summary;
    assert_eq!(
        (requeued.status, requeued.next_attempt_at),
        (DeliveryStatus::Pending, t1)
    );
    assert_eq!(store.resync_failed(&acme, None, t1).await.unwrap(), 2);
    assert_eq!(status_of(&store, superseded).await, DeliveryStatus::Failed);
    let pending = DeliveryFilter {
        status: Some(DeliveryStatus::Pending),
        ..Default::default()
    };
    assert_eq!(deliveries_where(&store, ACME, pending).await.len(), 3);
    assert_eq!(store.resync_failed(&acme, None, t1).await.unwrap(), 0);
    let unknown = Some(SubscriptionId::new("nope"));
    assert_eq!(store.resync_failed(&acme, unknown, t1).await.unwrap(), 0);
}

/// Deliveries changed at or after a time are listed oldest change first (of one subscription, if
/// given), at most `limit`.
pub async fn changed_since_lists_changes_oldest_change_first<S: ContractStore>(store: S) {
    setup(&store).await;
    let (first, second) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    let start = mark().await;
    let now = Utc::now();
    let both = [first.clone(), second.clone()];
    let one = put_new_at(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &both,
        now,
    )
    .await;
    tick().await;
    put_new_at(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&first),
        now,
    )
    .await;
    let claimed = claim_all(&store, now).await;
    let pick = |hr1: bool, sub: &SubscriptionId| {
        let found = claimed
            .iter()
            .find(|d| (d.record.key() == one[0].leave_key) == hr1 && &d.subscription == sub);
        found.unwrap().id
    };
    let (untouched, first_change, second_change) =
        (pick(true, &first), pick(false, &first), pick(true, &second));
    let since = mark().await;
    let acme = tenant(ACME);
    assert!(
        store
            .changed_since(&acme, None, since, 100)
            .await
            .unwrap()
            .is_empty()
    );

    store
        .record(vec![answered(first_change, now, 200, NextStep::Succeeded)])
        .await
        .unwrap();
    tick().await;
    let retry = NextStep::RetryAt(now + Duration::hours(1));
    store
        .record(vec![answered(second_change, now, 503, retry)])
        .await
        .unwrap();

    let changed = store.changed_since(&acme, None, since, 100).await.unwrap();
    assert_eq!(ids(&changed), [first_change, second_change]);
    let of_second = store
        .changed_since(&acme, Some(second.clone()), since, 100)
        .await
        .unwrap();
    assert_eq!(ids(&of_second), [second_change]);
    let limited = store.changed_since(&acme, None, since, 1).await.unwrap();
    assert_eq!(ids(&limited), [first_change]);
    let everything = store.changed_since(&acme, None, start, 100).await.unwrap();
    assert_eq!(ids(&everything), [untouched, first_change, second_change]);
    let unknown = Some(SubscriptionId::new("nope"));
    assert!(
        store
            .changed_since(&acme, unknown, start, 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The dashboard groups failed deliveries by subscription, oldest first, with their count, the
/// oldest's queueing time and the latest failure's status or error kind.
pub async fn pending_tasks_group_failures_by_subscription<S: ContractStore>(store: S) {
    setup(&store).await;
    let first = subscribe(&store, ACME).await;
    let other = new_subscription(ACME, "https://example.com/other");
    let second = SubscriptionStore::create(&store, other).await.unwrap().id;
    put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        std::slice::from_ref(&first),
    )
    .await;
    tick().await;
    put_new(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        &[first.clone(), second.clone()],
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    let by_sub = |sub: &SubscriptionId| {
        let mut ids: Vec<DeliveryId> = claimed
            .iter()
            .filter(|d| &d.subscription == sub)
            .map(|d| d.id)
            .collect();
        ids.sort();
        ids
    };
    let (of_first, of_second) = (by_sub(&first), by_sub(&second));
    store
        .record(vec![answered(of_first[0], t0(), 410, FAILED)])
        .await
        .unwrap();
    store
        .record(vec![answered(of_second[0], t0(), 503, FAILED)])
        .await
        .unwrap();
    tick().await;
    store
        .record(vec![timed_out(of_first[1], t0(), FAILED)])
        .await
        .unwrap();

    let tasks = store.pending_tasks(&tenant(ACME)).await.unwrap();
    assert_eq!(tasks.len(), 2);
    let oldest = store
        .get_delivery(&tenant(ACME), of_first[0])
        .await
        .unwrap()
        .unwrap()
        .summary
        .created_at;
    assert_eq!(
        (&tasks[0].subscription, tasks[0].failed, tasks[0].oldest),
        (&first, 2, oldest)
    );
    assert_eq!(
        (
            tasks[0].destination.as_str(),
            tasks[0].latest_error.as_str()
        ),
        ("https://example.com/hook", "timeout")
    );
    assert_eq!((&tasks[1].subscription, tasks[1].failed), (&second, 1));
    assert_eq!(
        (
            tasks[1].destination.as_str(),
            tasks[1].latest_error.as_str()
        ),
        ("https://example.com/other", "503")
    );
    assert!(
        store
            .pending_tasks(&tenant(OTHER))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Subscriptions whose oldest failures were queued at one time (by one change) are listed by id.
pub async fn pending_tasks_with_one_oldest_time_go_by_subscription<S: ContractStore>(store: S) {
    setup(&store).await;
    let (first, second) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    put_new(
        &store,
        ACME,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &[first.clone(), second.clone()],
    )
    .await;
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 2);
    store
        .record(
            claimed
                .iter()
                .map(|d| answered(d.id, t0(), 503, FAILED))
                .collect(),
        )
        .await
        .unwrap();

    let tasks = store.pending_tasks(&tenant(ACME)).await.unwrap();
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0].oldest, tasks[1].oldest, "one change queued both");
    let mut by_id = [first, second];
    by_id.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    assert_eq!(
        [&tasks[0].subscription, &tasks[1].subscription],
        [&by_id[0], &by_id[1]]
    );
}

/// The queue's numbers cover every tenant: deliveries per status, how many pending ones are due at
/// `now`, and since when.
pub async fn queue_stats_count_each_status_and_the_due<S: ContractStore>(store: S) {
    setup(&store).await;
    let counts = |stats: &QueueStats| -> BTreeMap<&'static str, i64> {
        stats
            .by_status
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(s, n)| (s.as_str(), *n))
            .collect()
    };
    let empty = store.queue_stats(t0()).await.unwrap();
    assert_eq!(
        (counts(&empty).len(), empty.due, empty.oldest_due),
        (0, 0, None)
    );

    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let (t10, t20, t60) = (
        t0() + Duration::minutes(10),
        t0() + Duration::minutes(20),
        t0() + Duration::hours(1),
    );
    let mut keys = vec![
        put_new(
            &store,
            ACME,
            &one_leave("hr-1", 1, AbsenceStatus::Pending),
            to,
        )
        .await[0]
            .leave_key,
    ];
    approve(
        &store,
        ACME,
        &one_leave("hr-1", 2, AbsenceStatus::Approved),
        to,
        t0(),
    )
    .await;
    put_new_at(
        &store,
        ACME,
        &one_leave("hr-2", 1, AbsenceStatus::Approved),
        to,
        t60,
    )
    .await;
    for id in ["hr-3", "hr-4", "hr-5"] {
        keys.push(
            put_new(&store, ACME, &one_leave(id, 1, AbsenceStatus::Approved), to).await[0]
                .leave_key,
        );
    }
    let other = subscribe(&store, OTHER).await;
    put_new_at(
        &store,
        OTHER,
        &one_leave("hr-1", 1, AbsenceStatus::Approved),
        &[other],
        t20,
    )
    .await;

    // hr-1 created: retried at t10; hr-3: succeeded; hr-4: failed; hr-5: failed, then processed.
    let claimed = claim_all(&store, t0()).await;
    assert_eq!(claimed.len(), 4);
    let id_of = |key: LeaveKey| claimed.iter().find(|d| d.record.key() == key).unwrap().id;
    let [retried, succeeded, failed, processed] = [0, 1, 2, 3].map(|i| id_of(keys[i]));
    store
        .record(vec![
            answered(retried, t0(), 503, NextStep::RetryAt(t10)),
            answered(succeeded, t0(), 200, NextStep::Succeeded),
            answered(failed, t0(), 410, FAILED),
            answered(processed, t0(), 410, FAILED),
        ])
        .await
        .unwrap();
    store
        .mark_processed(&tenant(ACME), processed, None)
        .await
        .unwrap()
        .unwrap();

    let expected: BTreeMap<&str, i64> = [
        ("waiting", 1),
        ("pending", 3),
        ("succeeded", 1),
        ("failed", 1),
        ("processed", 1),
    ]
    .into();
    let at = |now| {
        let store = &store;
        async move { store.queue_stats(now).await.unwrap() }
    };
    let before = at(t0()).await;
    assert_eq!(counts(&before), expected);
    assert_eq!((before.due, before.oldest_due), (0, None));
    let at_t10 = at(t10).await;
    assert_eq!((at_t10.due, at_t10.oldest_due), (1, Some(t10)));
    let at_t60 = at(t60).await;
    assert_eq!((at_t60.due, at_t60.oldest_due), (3, Some(t10)));
}
