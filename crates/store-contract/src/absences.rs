//! The absence store and the outbox: one write stores the absence, its events, its current leaves and
//! its deliveries, or nothing at all.

use crate::ContractStore;
use crate::fixtures::{
    ACME, FixedClock, OTHER, absence, deliveries, deliveries_where, first_write, next_write,
    put_new, setup, subscribe, t0, tenant,
};
use absync_application::ports::{
    AppliedEvent, Clock, CurrentLeave, DeliveryFilter, DeliveryStatus, LeaveQuery, StoreError,
};
use absync_application::{ChangeOutcome, IngestService};
use absync_domain::{AbsenceId, AbsenceStatus, LeaveEvent, LeaveKey, split_into_leaves};
use std::sync::Arc;

/// A written absence loads back exactly (for its tenant only); a later write must name the row version
/// it read, and moves it.
pub async fn an_absence_round_trips_and_concurrent_writes_conflict<S: ContractStore>(store: S) {
    setup(&store).await;
    let number = store.allocate_number().await.unwrap();
    let a = absence("hr-1", 1, AbsenceStatus::Pending);
    let applied = store
        .write(first_write(ACME, number, &a, &[]))
        .await
        .unwrap();
    assert_eq!(applied.len(), 4);

    let stored = store.load(&tenant(ACME), a.id()).await.unwrap().unwrap();
    assert_eq!(stored.number, number);
    assert_eq!(stored.revision.get(), 1);
    assert_eq!(stored.absence.as_ref(), Some(&a));
    assert_eq!(stored.leaves, split_into_leaves(number, &a));
    assert!(store.load(&tenant(OTHER), a.id()).await.unwrap().is_none());

    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let update = next_write(&store, ACME, "hr-1", 2, Some(&approved), &[], t0()).await;
    assert_eq!(update.expected_row_version, Some(stored.row_version));
    store.write(update).await.unwrap();
    let updated = store.load(&tenant(ACME), a.id()).await.unwrap().unwrap();
    assert_eq!(updated.revision.get(), 2);
    assert_eq!(updated.absence.as_ref(), Some(&approved));
    assert_ne!(updated.row_version, stored.row_version);
    // The row version read before the update no longer holds.
    let stale = next_write(&store, ACME, "hr-1", 3, Some(&a), &[], t0()).await;
    let stale = absync_application::ports::AbsenceWrite {
        expected_row_version: Some(stored.row_version),
        ..stale
    };
    assert!(matches!(
        store.write(stale).await,
        Err(StoreError::Conflict)
    ));
}

/// A write that conflicts (a second "first" write, or a stale row version) is refused with
/// [`StoreError::Conflict`] and writes no absence change, event, leave or delivery.
pub async fn a_conflicting_write_writes_nothing<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let a = absence("hr-1", 1, AbsenceStatus::Pending);
    let applied = put_new(&store, ACME, &a, std::slice::from_ref(&sub)).await;
    let stored = store.load(&tenant(ACME), a.id()).await.unwrap().unwrap();
    let leaves = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    let queued = deliveries(&store, ACME).await;
    assert_eq!(queued.len(), 4);

    // The same first write again (another writer created it meanwhile).
    let again = first_write(ACME, stored.number, &a, std::slice::from_ref(&sub));
    assert!(matches!(
        store.write(again).await,
        Err(StoreError::Conflict)
    ));
    // A write against a row version that is not the stored one.
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let mut stale = next_write(&store, ACME, "hr-1", 2, Some(&approved), &[sub], t0()).await;
    assert!(!stale.events.is_empty(), "the refused write carries events");
    stale.expected_row_version = Some(stored.row_version + 1);
    assert!(matches!(
        store.write(stale).await,
        Err(StoreError::Conflict)
    ));

    assert_eq!(
        store.load(&tenant(ACME), a.id()).await.unwrap(),
        Some(stored)
    );
    let leaves_after = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    assert_eq!(leaves_after, leaves);
    assert_eq!(deliveries(&store, ACME).await, queued);
    // The next accepted write's events come after the first write's: nothing was taken in between
    // that a reader could see.
    let last = applied.last().unwrap().change_version;
    let next = next_write(&store, ACME, "hr-1", 2, Some(&approved), &[], t0()).await;
    let written = store.write(next).await.unwrap();
    assert!(written.iter().all(|e| e.change_version > last));
}

/// Two writers that read the same row version race: exactly one wins, and only its events and
/// deliveries exist afterwards.
pub async fn concurrent_writes_of_one_row_version_let_only_one_win<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Pending),
        std::slice::from_ref(&sub),
    )
    .await;
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let to = std::slice::from_ref(&sub);
    let one = next_write(&store, ACME, "hr-1", 2, Some(&approved), to, t0()).await;
    let deleted = next_write(&store, ACME, "hr-1", 2, None, to, t0()).await;
    let (other_store, one_store) = (store.clone(), store.clone());
    let (a, b) = tokio::join!(
        tokio::spawn(async move { one_store.write(one).await }),
        tokio::spawn(async move { other_store.write(deleted).await }),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        matches!(
            (&a, &b),
            (Ok(_), Err(StoreError::Conflict)) | (Err(StoreError::Conflict), Ok(_))
        ),
        "{a:?} / {b:?}"
    );
    let winner_events = if a.is_ok() {
        LeaveEvent::Approved
    } else {
        LeaveEvent::Deleted
    };
    let queued = deliveries(&store, ACME).await;
    assert_eq!(queued.len(), 8, "4 created + the winner's 4");
    assert_eq!(
        queued.iter().filter(|d| d.event == winner_events).count(),
        4
    );
    let stored = store
        .load(&tenant(ACME), &AbsenceId::parse("hr-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.absence.is_some(), a.is_ok());
}

/// Putting the same revision twice through ingest writes nothing the second time: the stored absence
/// loads back with the same revision and content, so the use case finds it unchanged.
pub async fn the_same_revision_put_twice_writes_nothing<S: ContractStore>(store: S) {
    setup(&store).await;
    subscribe(&store, ACME).await;
    let clock: Arc<dyn Clock> = Arc::new(FixedClock(t0()));
    let ingest = IngestService::new(Arc::new(store.clone()), Arc::new(store.clone()), clock);
    let a = absence("hr-1", 1, AbsenceStatus::Approved);

    let first = ingest.put_absence(&tenant(ACME), &a).await.unwrap();
    assert_eq!(first.outcome, ChangeOutcome::Applied);
    assert_eq!(first.events.len(), 4);
    let stored = store.load(&tenant(ACME), a.id()).await.unwrap();
    let leaves = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    let queued = deliveries(&store, ACME).await;
    assert_eq!(queued.len(), 4);

    let second = ingest.put_absence(&tenant(ACME), &a).await.unwrap();
    assert_eq!(second.outcome, ChangeOutcome::Unchanged);
    assert!(second.events.is_empty());
    assert_eq!(store.load(&tenant(ACME), a.id()).await.unwrap(), stored);
    let leaves_after = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    assert_eq!(leaves_after, leaves);
    assert_eq!(deliveries(&store, ACME).await, queued);
}

/// A write queues exactly one pending delivery per event and listed subscription, carrying the event's
/// leave, kind and change version.
pub async fn a_write_queues_one_delivery_per_event_and_subscription<S: ContractStore>(store: S) {
    setup(&store).await;
    let (everything, some) = (subscribe(&store, ACME).await, subscribe(&store, ACME).await);
    subscribe(&store, ACME).await; // Listed for nothing: gets nothing.
    let number = store.allocate_number().await.unwrap();
    let a = absence("hr-1", 1, AbsenceStatus::Approved);
    let mut write = first_write(ACME, number, &a, std::slice::from_ref(&everything));
    write.events[1].subscriptions.push(some.clone());
    write.events[3].subscriptions.push(some.clone());
    let applied = store.write(write).await.unwrap();

    let queued = deliveries(&store, ACME).await;
    assert_eq!(queued.len(), 6);
    assert!(
        queued
            .iter()
            .all(|d| d.status == DeliveryStatus::Pending && d.attempts == 0)
    );
    for (subscription, events) in [(&everything, vec![0, 1, 2, 3]), (&some, vec![1, 3])] {
        let filter = DeliveryFilter {
            subscription: Some(subscription.clone()),
            ..DeliveryFilter::default()
        };
        let mut got: Vec<(String, LeaveEvent, i64)> = deliveries_where(&store, ACME, filter)
            .await
            .into_iter()
            .map(|d| (d.leave_key, d.event, d.change_version))
            .collect();
        got.sort_by_key(|(_, _, version)| *version);
        let expected: Vec<(String, LeaveEvent, i64)> = events
            .into_iter()
            .map(|i: usize| &applied[i])
            .map(|e| (e.leave_key.to_string(), e.event, e.change_version.get()))
            .collect();
        assert_eq!(got, expected);
    }
}

/// Change versions increase strictly within a change and from one change to the next, per tenant, and
/// a tenant's first events are numbered from 1.
pub async fn change_versions_increase_strictly_per_tenant<S: ContractStore>(store: S) {
    setup(&store).await;
    let mut seen = Vec::new();
    for (i, t) in [ACME, ACME, OTHER, ACME].into_iter().enumerate() {
        let a = absence(&format!("hr-{i}"), 1, AbsenceStatus::Approved);
        let applied = put_new(&store, t, &a, &[]).await;
        let versions: Vec<i64> = applied.iter().map(|e| e.change_version.get()).collect();
        seen.push((t, versions));
    }
    for tenant in [ACME, OTHER] {
        let versions: Vec<i64> = seen
            .iter()
            .filter(|(t, _)| *t == tenant)
            .flat_map(|(_, v)| v.clone())
            .collect();
        assert!(
            versions.windows(2).all(|w| w[0] < w[1]),
            "{tenant}: {versions:?}"
        );
    }
    assert_eq!(seen[0].1, [1, 2, 3, 4]);
}

/// The current leaves follow the events: listed in (date, absence number, half) order with the change
/// version of their latest event, paged after a leave, from a date, and gone with their absence.
pub async fn current_leaves_follow_the_events_and_page_by_date<S: ContractStore>(store: S) {
    setup(&store).await;
    let mut applied = Vec::new();
    for id in ["hr-1", "hr-2", "hr-3"] {
        applied.push(put_new(&store, ACME, &absence(id, 1, AbsenceStatus::Pending), &[]).await);
    }
    // Other tenants' leaves never show.
    put_new(
        &store,
        OTHER,
        &absence("hr-1", 1, AbsenceStatus::Pending),
        &[],
    )
    .await;
    let in_order = |events: &[&AppliedEvent]| {
        let mut leaves: Vec<(LeaveKey, i64)> = events
            .iter()
            .map(|e| (e.leave_key, e.change_version.get()))
            .collect();
        leaves.sort_by_key(|(k, _)| (k.date(), k.absence(), k.half()));
        leaves
    };
    let listed = |leaves: Vec<CurrentLeave>| -> Vec<(LeaveKey, i64)> {
        leaves
            .into_iter()
            .map(|l| (l.leave.key, l.change_version.get()))
            .collect()
    };

    // Page through 12 leaves, 5 at a time.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_leaves(LeaveQuery::new(tenant(ACME), 5).after(after))
            .await
            .unwrap();
        assert!(page.len() <= 5);
        let Some(last) = page.last() else { break };
        after = Some(last.leave.key);
        seen.extend(page);
    }
    assert_eq!(
        listed(seen),
        in_order(&applied.iter().flatten().collect::<Vec<_>>())
    );
    let from = "2024-03-05".parse().unwrap();
    let later = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100).dated_from(Some(from)))
        .await
        .unwrap();
    assert_eq!(later.len(), 6);
    assert!(later.iter().all(|l| l.leave.key.date() == from));

    // Deleting the first absence removes its leaves and keeps the others with their versions.
    let delete = next_write(&store, ACME, "hr-1", 2, None, &[], t0()).await;
    assert_eq!(delete.events.len(), 4);
    store.write(delete).await.unwrap();
    let left = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    assert_eq!(
        listed(left),
        in_order(&applied[1..].iter().flatten().collect::<Vec<_>>())
    );
    let reloaded = store
        .load(&tenant(ACME), &AbsenceId::parse("hr-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(reloaded.leaves.is_empty());
    assert!(reloaded.absence.is_none());
    assert_eq!(reloaded.revision.get(), 2);
}
