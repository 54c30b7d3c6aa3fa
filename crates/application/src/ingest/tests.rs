use super::*;
use crate::ports::absences::MockAbsenceStore;
use crate::ports::clock::MockClock;
use crate::ports::subscriptions::MockSubscriptionStore;
use crate::ports::trace::MockTraceContext;
use crate::ports::{Subscription, TraceParent};
use absync_domain::fixtures::{self, number};
use absync_domain::{ChangeVersion, EventFilter, LeaveEvent, SubscriptionId};
use chrono::{TimeZone, Utc};
use mockall::predicate::always;

fn tenant() -> TenantId {
    TenantId::parse("acme").unwrap()
}

fn absence(revision: u64, status: AbsenceStatus) -> Absence {
    // Monday and Tuesday: four leaves.
    fixtures::absence("hr-1", revision, status)
}

fn stored(absence: &Absence) -> StoredAbsence {
    StoredAbsence {
        number: number(),
        row_version: 7,
        revision: absence.revision(),
        absence: Some(absence.clone()),
        leaves: split_into_leaves(number(), absence),
    }
}

fn subscription(id: &str, filter: EventFilter) -> Subscription {
    crate::fixtures::subscription(id, tenant(), filter)
}

fn clock() -> Arc<MockClock> {
    let mut clock = MockClock::new();
    clock
        .expect_now()
        .returning(|| Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap());
    Arc::new(clock)
}

fn echo_versions(write: &AbsenceWrite) -> Vec<AppliedEvent> {
    write
        .events
        .iter()
        .zip(1..)
        .map(|(e, v)| AppliedEvent {
            leave_key: e.record.key(),
            event: e.record.event,
            change_version: ChangeVersion::new(v),
        })
        .collect()
}

fn service(absences: MockAbsenceStore, subscriptions: MockSubscriptionStore) -> IngestService {
    IngestService::new(Arc::new(absences), Arc::new(subscriptions), clock())
}

#[tokio::test]
async fn a_new_approved_absence_is_applied_with_four_approved_events_for_each_subscription() {
    let mut absences = MockAbsenceStore::new();
    absences.expect_load().returning(|_, _| Ok(None));
    absences
        .expect_allocate_number()
        .times(1)
        .returning(|| Ok(number()));
    absences
        .expect_write()
        .withf(|w| {
            w.expected_row_version.is_none()
                && w.traceparent.is_none()
                && w.events.len() == 4
                && w.events.iter().all(|e| {
                    e.record.event == LeaveEvent::Approved
                        && e.subscriptions == [SubscriptionId::new("s1"), SubscriptionId::new("s2")]
                })
        })
        .times(1)
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list().returning(|_| {
        Ok(vec![
            subscription("s1", EventFilter::All),
            subscription("s2", EventFilter::ValidatedOnly),
        ])
    });
    let result = service(absences, subs)
        .put_absence(&tenant(), &absence(1, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Applied);
    assert_eq!(result.absence_number, number());
    let ids: Vec<String> = result
        .events
        .iter()
        .map(|e| e.leave_key.to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "42-20240304-AM",
            "42-20240304-PM",
            "42-20240305-AM",
            "42-20240305-PM"
        ]
    );
}

#[tokio::test]
async fn a_traced_change_is_written_with_the_trace_of_its_use_case() {
    let _spans = tracing::subscriber::set_default(tracing_subscriber::registry());
    let traceparent =
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    let mut trace = MockTraceContext::new();
    let given = traceparent.clone();
    trace
        .expect_traceparent()
        .withf(|span| span.metadata().map(tracing::Metadata::name) == Some("put_absence"))
        .times(1)
        .returning(move |_| Some(given.clone()));
    let mut absences = MockAbsenceStore::new();
    absences.expect_load().returning(|_, _| Ok(None));
    absences.expect_allocate_number().returning(|| Ok(number()));
    absences
        .expect_write()
        .withf(move |w| w.traceparent.as_ref() == Some(&traceparent))
        .times(1)
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list()
        .returning(|_| Ok(vec![subscription("s1", EventFilter::All)]));
    let result = service(absences, subs)
        .with_tracing(Arc::new(trace))
        .put_absence(&tenant(), &absence(1, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Applied);
}

#[tokio::test]
async fn without_subscriptions_events_are_still_recorded_with_no_deliveries() {
    let mut absences = MockAbsenceStore::new();
    absences.expect_load().returning(|_, _| Ok(None));
    absences.expect_allocate_number().returning(|| Ok(number()));
    absences
        .expect_write()
        .withf(|w| w.events.len() == 4 && w.events.iter().all(|e| e.subscriptions.is_empty()))
        .times(1)
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list().returning(|_| Ok(Vec::new()));
    let result = service(absences, subs)
        .put_absence(&tenant(), &absence(1, AbsenceStatus::Pending))
        .await
        .unwrap();
    assert_eq!(result.events.len(), 4);
    assert!(result.events.iter().all(|e| e.event == LeaveEvent::Created));
}

#[tokio::test]
async fn validated_only_subscribers_do_not_get_created_events() {
    let mut absences = MockAbsenceStore::new();
    absences.expect_load().returning(|_, _| Ok(None));
    absences.expect_allocate_number().returning(|| Ok(number()));
    absences
        .expect_write()
        .withf(|w| {
            w.events
                .iter()
                .all(|e| e.subscriptions == [SubscriptionId::new("all")])
        })
        .times(1)
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list().returning(|_| {
        Ok(vec![
            subscription("all", EventFilter::All),
            subscription("validated", EventFilter::ValidatedOnly),
        ])
    });
    service(absences, subs)
        .put_absence(&tenant(), &absence(1, AbsenceStatus::Pending))
        .await
        .unwrap();
}

#[tokio::test]
async fn the_same_put_twice_is_unchanged_and_writes_nothing() {
    let current = absence(3, AbsenceStatus::Approved);
    let kept = stored(&current);
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(move |_, _| Ok(Some(kept.clone())));
    absences.expect_write().never();
    let result = service(absences, MockSubscriptionStore::new())
        .put_absence(&tenant(), &current)
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Unchanged);
    assert!(result.events.is_empty());
}

#[tokio::test]
async fn a_lower_revision_is_stale_and_writes_nothing() {
    let kept = stored(&absence(5, AbsenceStatus::Approved));
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(move |_, _| Ok(Some(kept.clone())));
    absences.expect_write().never();
    let result = service(absences, MockSubscriptionStore::new())
        .put_absence(&tenant(), &absence(4, AbsenceStatus::Pending))
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Stale);
    assert_eq!(result.revision.get(), 5);
}

#[tokio::test]
async fn the_same_revision_with_other_content_is_a_conflict() {
    let kept = stored(&absence(5, AbsenceStatus::Approved));
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(move |_, _| Ok(Some(kept.clone())));
    absences.expect_write().never();
    let err = service(absences, MockSubscriptionStore::new())
        .put_absence(&tenant(), &absence(5, AbsenceStatus::Pending))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ApplicationError::RevisionConflict {
            stored: 5,
            incoming: 5
        }
    ));
}

#[tokio::test]
async fn approval_of_a_pending_absence_sends_approved_for_each_leave() {
    let kept = stored(&absence(1, AbsenceStatus::Pending));
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(move |_, _| Ok(Some(kept.clone())));
    absences.expect_allocate_number().never();
    absences
        .expect_write()
        .withf(|w| {
            w.expected_row_version == Some(7)
                && w.events.len() == 4
                && w.events
                    .iter()
                    .all(|e| e.record.event == LeaveEvent::Approved)
        })
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list()
        .returning(|_| Ok(vec![subscription("s1", EventFilter::All)]));
    let result = service(absences, subs)
        .put_absence(&tenant(), &absence(2, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Applied);
    assert_eq!(result.revision.get(), 2);
}

#[tokio::test]
async fn a_concurrent_write_is_retried_from_a_fresh_read() {
    let kept = stored(&absence(1, AbsenceStatus::Pending));
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .times(2)
        .returning(move |_, _| Ok(Some(kept.clone())));
    let mut calls = 0;
    absences.expect_write().times(2).returning(move |w| {
        calls += 1;
        if calls == 1 {
            Err(StoreError::Conflict)
        } else {
            Ok(echo_versions(&w))
        }
    });
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list().returning(|_| Ok(Vec::new()));
    let result = service(absences, subs)
        .put_absence(&tenant(), &absence(2, AbsenceStatus::Approved))
        .await
        .unwrap();
    assert_eq!(result.outcome, ChangeOutcome::Applied);
}

#[tokio::test]
async fn delete_sends_deleted_for_every_leave_and_unknown_absences_are_not_found() {
    let kept = stored(&absence(1, AbsenceStatus::Approved));
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(move |_, _| Ok(Some(kept.clone())));
    absences
        .expect_write()
        .withf(|w| {
            w.absence.is_none()
                && w.events.len() == 4
                && w.events.iter().all(|e| {
                    e.record.event == LeaveEvent::Deleted
                        && e.record
                            .deletion
                            .is_some_and(|d| d.reason == DeletionReason::AbsenceDeleted)
                })
        })
        .returning(|w| Ok(echo_versions(&w)));
    let mut subs = MockSubscriptionStore::new();
    subs.expect_list().returning(|_| Ok(Vec::new()));
    let svc = service(absences, subs);
    let result = svc
        .delete_absence(
            &tenant(),
            &AbsenceId::parse("hr-1").unwrap(),
            Revision::default(),
        )
        .await
        .unwrap();
    assert_eq!(result.events.len(), 4);

    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .with(always(), always())
        .returning(|_, _| Ok(None));
    let err = service(absences, MockSubscriptionStore::new())
        .delete_absence(
            &tenant(),
            &AbsenceId::parse("nope").unwrap(),
            Revision::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ApplicationError::NotFound("absence")));
}

#[tokio::test]
async fn a_store_outage_is_reported_unavailable() {
    let mut absences = MockAbsenceStore::new();
    absences
        .expect_load()
        .returning(|_, _| Err(StoreError::Unavailable("connection refused".into())));
    let err = service(absences, MockSubscriptionStore::new())
        .put_absence(&tenant(), &absence(1, AbsenceStatus::Approved))
        .await
        .unwrap_err();
    assert!(matches!(err, ApplicationError::Unavailable(_)));
}
