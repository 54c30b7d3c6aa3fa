//! Group commit: writes that arrive together are committed together, yet each gets its own result, a
//! change that fails fails alone with nothing of it written, and changes of one absence apply in order.

use crate::ContractStore;
use crate::fixtures::{
    ACME, absence, answered, claim_all, deliveries, first_write, next_write, setup, subscribe, t0,
    tenant,
};
use absync_application::ports::{
    AbsenceWrite, DeliveryStatus, LeaveQuery, StoreError, TraceParent,
};
use absync_domain::{AbsenceId, AbsenceStatus, LeaveEvent, SubscriptionId};
use std::collections::HashSet;

/// How many writers race in the concurrent cases.
const WRITERS: usize = 32;

/// `WRITERS` concurrent writes of new absences each get their own events, with change versions no
/// other write got, and each absence is stored with exactly its own deliveries.
pub async fn concurrent_writes_each_get_their_own_result<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let mut writes = Vec::new();
    for i in 0..WRITERS {
        let number = store.allocate_number().await.unwrap();
        let a = absence(&format!("hr-{i}"), 1, AbsenceStatus::Approved);
        writes.push((i, first_write(ACME, number, &a, std::slice::from_ref(&sub))));
    }
    let tasks: Vec<_> = writes
        .into_iter()
        .map(|(i, write)| {
            let store = store.clone();
            tokio::spawn(async move { (i, write.number, store.write(write).await) })
        })
        .collect();
    let mut versions = HashSet::new();
    for task in tasks {
        let (i, number, result) = task.await.unwrap();
        let applied = result.unwrap_or_else(|e| panic!("write {i}: {e:?}"));
        assert_eq!(applied.len(), 4, "write {i}: one event per leave");
        for event in &applied {
            assert_eq!(
                event.leave_key.absence(),
                number,
                "write {i} got its own events"
            );
            assert!(
                versions.insert(event.change_version),
                "a change version handed out twice"
            );
        }
    }
    assert_eq!(deliveries(&store, ACME).await.len(), WRITERS * 4);
    for i in 0..WRITERS {
        let id = AbsenceId::parse(&format!("hr-{i}")).unwrap();
        let stored = store.load(&tenant(ACME), &id).await.unwrap().unwrap();
        assert_eq!(stored.leaves.len(), 4, "hr-{i}");
    }
}

/// A write to a subscription that does not exist breaks a constraint half-way through.
fn to_a_missing_subscription(write: AbsenceWrite) -> AbsenceWrite {
    let missing = SubscriptionId::new("00000000-0000-4000-8000-000000000000".to_owned());
    AbsenceWrite {
        events: write
            .events
            .into_iter()
            .map(|mut e| {
                e.subscriptions.push(missing.clone());
                e
            })
            .collect(),
        ..write
    }
}

/// In one group (one `write_many`, and concurrent writes), a change with a stale row version and a
/// change that breaks a constraint half-way each fail alone: nothing of them is written (absence,
/// events, leaves, deliveries), and the others commit.
pub async fn a_failing_change_in_a_group_fails_alone<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let pending = absence("hr-0", 1, AbsenceStatus::Pending);
    store
        .write(first_write(
            ACME,
            store.allocate_number().await.unwrap(),
            &pending,
            to,
        ))
        .await
        .unwrap();
    let before = store
        .load(&tenant(ACME), pending.id())
        .await
        .unwrap()
        .unwrap();

    let approved = absence("hr-0", 2, AbsenceStatus::Approved);
    let mut stale = next_write(&store, ACME, "hr-0", 2, Some(&approved), to, t0()).await;
    stale.expected_row_version = Some(before.row_version + 1);
    let mut group = Vec::new();
    for i in 1..=4 {
        let a = absence(&format!("hr-{i}"), 1, AbsenceStatus::Approved);
        let write = first_write(ACME, store.allocate_number().await.unwrap(), &a, to);
        group.push(if i == 3 {
            to_a_missing_subscription(write)
        } else {
            write
        });
    }
    group.insert(2, stale);
    let results = store.write_many(group).await;
    assert_eq!(results.len(), 5);
    assert!(
        results[0].is_ok() && results[1].is_ok() && results[4].is_ok(),
        "{results:?}"
    );
    assert!(
        matches!(results[2], Err(StoreError::Conflict)),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(StoreError::Unexpected(_))),
        "the constraint: {:?}",
        results[3]
    );
    let after = store
        .load(&tenant(ACME), pending.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before, "the stale change wrote nothing");
    let hr3 = AbsenceId::parse("hr-3").unwrap();
    assert!(store.load(&tenant(ACME), &hr3).await.unwrap().is_none());
    for i in [1, 2, 4] {
        let id = AbsenceId::parse(&format!("hr-{i}")).unwrap();
        assert!(
            store.load(&tenant(ACME), &id).await.unwrap().is_some(),
            "hr-{i}"
        );
    }
    // hr-0's 4 created, and 4 for each of hr-1, hr-2 and hr-4: nothing of hr-3 nor of the stale one.
    assert_eq!(deliveries(&store, ACME).await.len(), 16);
    let leaves = store
        .list_leaves(LeaveQuery::new(tenant(ACME), 100))
        .await
        .unwrap();
    assert_eq!(leaves.len(), 16);

    // The same, as concurrent calls: the broken one fails alone.
    let mut calls = Vec::new();
    for i in 5..5 + WRITERS {
        let a = absence(&format!("hr-{i}"), 1, AbsenceStatus::Approved);
        let write = first_write(ACME, store.allocate_number().await.unwrap(), &a, to);
        let write = if i == 7 {
            to_a_missing_subscription(write)
        } else {
            write
        };
        let store = store.clone();
        calls.push(tokio::spawn(async move { (i, store.write(write).await) }));
    }
    for call in calls {
        let (i, result) = call.await.unwrap();
        assert_eq!(result.is_ok(), i != 7, "hr-{i}: {result:?}");
    }
    assert_eq!(deliveries(&store, ACME).await.len(), 16 + (WRITERS - 1) * 4);
    let hr7 = AbsenceId::parse("hr-7").unwrap();
    assert!(store.load(&tenant(ACME), &hr7).await.unwrap().is_none());
}

/// Two changes of one absence in one group (created pending, then approved on top of it) apply in
/// revision order: the absence ends approved, the approval's events come after the creation's, and
/// each approval delivery waits behind its leave's creation delivery.
pub async fn two_changes_of_one_absence_in_a_group_apply_in_order<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let pending = absence("hr-1", 1, AbsenceStatus::Pending);
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let number = store.allocate_number().await.unwrap();
    let first = first_write(ACME, number, &pending, to);
    let leaves = absync_domain::split_into_leaves(number, &pending);
    let after = absync_domain::split_into_leaves(number, &approved);
    let second = AbsenceWrite {
        expected_row_version: Some(1),
        revision: approved.revision(),
        absence: Some(approved.clone()),
        events: absync_domain::derive_events(
            &leaves,
            &after,
            absync_domain::Deletion {
                reason: absync_domain::DeletionReason::NoLongerCovered,
                at: absync_domain::LocalTimestamp::from_naive(t0().naive_utc()),
            },
        )
        .into_iter()
        .map(|record| absync_application::ports::OutboxEvent {
            record,
            subscriptions: vec![sub.clone()],
        })
        .collect(),
        ..first.clone()
    };
    let results = store.write_many(vec![first, second]).await;
    let created = results[0].as_ref().unwrap();
    let approvals = results[1].as_ref().unwrap();
    assert_eq!((created.len(), approvals.len()), (4, 4));
    let last_created = created.iter().map(|e| e.change_version).max().unwrap();
    assert!(approvals.iter().all(|e| e.change_version > last_created));
    let stored = store
        .load(&tenant(ACME), pending.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.revision.get(), 2);
    assert_eq!(stored.absence.as_ref(), Some(&approved));
    let queued = deliveries(&store, ACME).await;
    let waiting = queued
        .iter()
        .filter(|d| d.status == DeliveryStatus::Waiting);
    assert_eq!(
        waiting.filter(|d| d.event == LeaveEvent::Approved).count(),
        4
    );
    let pending_ones = queued
        .iter()
        .filter(|d| d.status == DeliveryStatus::Pending);
    assert_eq!(
        pending_ones
            .filter(|d| d.event == LeaveEvent::Created)
            .count(),
        4
    );
}

/// The trace of each change (its `traceparent`) is kept with its events: a claim of their
/// deliveries, and a delivery's detail, give it back; a change written untraced gives none. Changes
/// of one group, and two changes of one absence in a group, each keep their own.
pub async fn each_change_keeps_its_trace_for_its_deliveries<S: ContractStore>(store: S) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let to = std::slice::from_ref(&sub);
    let trace = |n: u8| {
        TraceParent::parse(&format!(
            "00-{:032x}-{:016x}-01",
            0x4bf9_2f35_77b3_4da6_u128 + u128::from(n),
            0x00f0_67aa_0ba9_02b7_u64 + u64::from(n)
        ))
    };
    let pending = absence("hr-1", 1, AbsenceStatus::Pending);
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let number = store.allocate_number().await.unwrap();
    let first = AbsenceWrite {
        traceparent: trace(1),
        ..first_write(ACME, number, &pending, to)
    };
    let leaves = absync_domain::split_into_leaves(number, &pending);
    let after = absync_domain::split_into_leaves(number, &approved);
    let second = AbsenceWrite {
        expected_row_version: Some(1),
        revision: approved.revision(),
        absence: Some(approved.clone()),
        events: absync_domain::derive_events(
            &leaves,
            &after,
            absync_domain::Deletion {
                reason: absync_domain::DeletionReason::NoLongerCovered,
                at: absync_domain::LocalTimestamp::from_naive(t0().naive_utc()),
            },
        )
        .into_iter()
        .map(|record| absync_application::ports::OutboxEvent {
            record,
            subscriptions: vec![sub.clone()],
        })
        .collect(),
        traceparent: trace(2),
        ..first.clone()
    };
    let other_number = store.allocate_number().await.unwrap();
    let untraced = first_write(
        ACME,
        other_number,
        &absence("hr-2", 1, AbsenceStatus::Approved),
        to,
    );
    assert!(untraced.traceparent.is_none());
    let results = store.write_many(vec![first, second, untraced]).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");

    // The first change's deliveries are claimable; the second's wait behind them.
    let mut claimed = Vec::new();
    let mut now = t0();
    loop {
        let batch = claim_all(&store, now).await;
        if batch.is_empty() {
            break;
        }
        store
            .record(
                batch
                    .iter()
                    .map(|d| {
                        answered(
                            d.id,
                            now,
                            200,
                            absync_application::ports::NextStep::Succeeded,
                        )
                    })
                    .collect(),
            )
            .await
            .unwrap();
        claimed.extend(batch);
        now += chrono::Duration::seconds(1);
    }
    assert_eq!(claimed.len(), 12, "4 created, 4 approved, 4 of hr-2");
    for delivery in &claimed {
        let expected = if delivery.record.key().absence() == other_number {
            None
        } else if delivery.record.event == LeaveEvent::Created {
            trace(1)
        } else {
            trace(2)
        };
        assert_eq!(delivery.traceparent, expected, "{:?}", delivery.record);
        let detail = store
            .get_delivery(&tenant(ACME), delivery.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(detail.message.traceparent, expected);
    }
}
