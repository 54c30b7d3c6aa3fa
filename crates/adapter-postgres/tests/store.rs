//! The PostgreSQL store against a real database: one fresh database per test (`#[sqlx::test]`,
//! `DATABASE_URL`).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::PgStore;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AttemptReport, DeliveryQueue, NewSubscription, NextStep,
    OutboxEvent, SendOutcome, StoreError, SubscriptionStore, TokenStore,
};
use absync_domain::absence::AbsenceParts;
use absync_domain::{
    Absence, AbsenceId, AbsenceNumber, AbsenceStatus, AuthorizationValue, Collection, Deletion,
    DeletionReason, DestinationUrl, EventFilter, Half, HalfDay, HalfDayRange, LeaveAccount,
    LocalTimestamp, Owner, Period, Revision, Scope, SigningSecret, SubscriptionId, TenantId,
    WorkingCalendar, derive_events, split_into_leaves,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap()
}

fn absence(id: &str, revision: u64, status: AbsenceStatus) -> Absence {
    let day = |d: &str, half| HalfDay {
        date: d.parse().unwrap(),
        half,
    };
    Absence::from_parts(AbsenceParts {
        id: AbsenceId::parse(id).unwrap(),
        revision: Revision::new(revision).unwrap(),
        owner: Owner::new(134, "Luca".into(), "l@x".into(), "00001".into(), None).unwrap(),
        leave_account: LeaveAccount {
            id: 1718,
            name: "Paid".into(),
            category_id: 1,
            category_name: "Paid".into(),
        },
        requested_definition: None,
        resulting_definition: None,
        shift_definition: None,
        period: Period::HalfDays(
            HalfDayRange::new(day("2024-03-04", Half::Am), day("2024-03-05", Half::Pm)).unwrap(),
        ),
        status,
        created_at: None,
        approved_at: None,
        cancelled_at: None,
        calendar: WorkingCalendar::default(),
    })
}

async fn setup(pool: PgPool) -> PgStore {
    let store = PgStore::from_pool(pool);
    for name in ["acme", "other"] {
        TokenStore::create(
            &store,
            &tenant(name),
            [name.len() as u8; 32],
            &[Scope::AbsencesWrite],
            None,
        )
        .await
        .unwrap();
    }
    store
}

async fn subscribe(store: &PgStore, tenant_name: &str) -> SubscriptionId {
    SubscriptionStore::create(
        store,
        NewSubscription {
            tenant: tenant(tenant_name),
            collection: Collection::Leaves,
            destination: DestinationUrl::parse("https://example.com/hook", false).unwrap(),
            authorization: Some(AuthorizationValue::parse("Basic abc").unwrap()),
            event_filter: EventFilter::All,
            valid_until: None,
            signing_secret: SigningSecret::from_key([3; 32]),
        },
    )
    .await
    .unwrap()
    .id
}

/// The write a first put of `absence` makes, delivering every event to `subscriptions`.
fn first_write(
    tenant_name: &str,
    number: AbsenceNumber,
    absence: &Absence,
    subscriptions: &[SubscriptionId],
) -> AbsenceWrite {
    let leaves = split_into_leaves(number, absence);
    let deletion = Deletion {
        reason: DeletionReason::Cancelled,
        at: LocalTimestamp::parse("2024-03-01T12:00:00").unwrap(),
    };
    AbsenceWrite {
        tenant: tenant(tenant_name),
        absence_id: absence.id().clone(),
        number,
        expected_row_version: None,
        revision: absence.revision(),
        absence: Some(absence.clone()),
        events: derive_events(&[], &leaves, deletion)
            .into_iter()
            .map(|record| OutboxEvent {
                record,
                subscriptions: subscriptions.to_vec(),
            })
            .collect(),
        at: t0(),
    }
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn tokens_are_found_by_hash_only(pool: PgPool) {
    let store = PgStore::from_pool(pool);
    let created = TokenStore::create(
        &store,
        &tenant("acme"),
        [7; 32],
        &[Scope::AbsencesWrite, Scope::WebhooksRead],
        Some("ci".into()),
    )
    .await
    .unwrap();
    let found = store.find_active([7; 32]).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.scopes, [Scope::AbsencesWrite, Scope::WebhooksRead]);
    assert!(store.find_active([8; 32]).await.unwrap().is_none());
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn an_absence_round_trips_and_concurrent_writes_conflict(pool: PgPool) {
    let store = setup(pool).await;
    let number = store.allocate_number().await.unwrap();
    let a = absence("hr-1", 1, AbsenceStatus::Pending);
    let applied = store
        .write(first_write("acme", number, &a, &[]))
        .await
        .unwrap();
    assert_eq!(applied.len(), 4);

    let stored = store.load(&tenant("acme"), a.id()).await.unwrap().unwrap();
    assert_eq!(stored.number, number);
    assert_eq!(stored.revision.get(), 1);
    assert_eq!(stored.absence.as_ref(), Some(&a));
    assert_eq!(stored.leaves, split_into_leaves(number, &a));
    // Another tenant does not see it.
    assert!(
        store
            .load(&tenant("other"), a.id())
            .await
            .unwrap()
            .is_none()
    );

    // A second "first" write, or a write against a stale row version, conflicts and writes nothing.
    let again = store.write(first_write("acme", number, &a, &[])).await;
    assert!(matches!(again, Err(StoreError::Conflict)));
    let mut stale = first_write(
        "acme",
        number,
        &absence("hr-1", 2, AbsenceStatus::Approved),
        &[],
    );
    stale.expected_row_version = Some(stored.row_version + 1);
    assert!(matches!(
        store.write(stale).await,
        Err(StoreError::Conflict)
    ));
    let after = store.load(&tenant("acme"), a.id()).await.unwrap().unwrap();
    assert_eq!(after, stored);

    let mut update = first_write(
        "acme",
        number,
        &absence("hr-1", 2, AbsenceStatus::Approved),
        &[],
    );
    update.expected_row_version = Some(stored.row_version);
    store.write(update).await.unwrap();
    let updated = store.load(&tenant("acme"), a.id()).await.unwrap().unwrap();
    assert_eq!(updated.revision.get(), 2);
    assert_ne!(updated.row_version, stored.row_version);
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn change_versions_increase_strictly_per_tenant(pool: PgPool) {
    let store = setup(pool).await;
    let mut seen = Vec::new();
    for (i, t) in ["acme", "acme", "other", "acme"].into_iter().enumerate() {
        let number = store.allocate_number().await.unwrap();
        let a = absence(&format!("hr-{i}"), 1, AbsenceStatus::Approved);
        let applied = store.write(first_write(t, number, &a, &[])).await.unwrap();
        seen.push((
            t,
            applied
                .iter()
                .map(|e| e.change_version.get())
                .collect::<Vec<_>>(),
        ));
    }
    // Strictly increasing within each change and from one change to the next, for each tenant.
    for tenant in ["acme", "other"] {
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

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn subscriptions_are_scoped_by_tenant_and_soft_deleted(pool: PgPool) {
    let store = setup(pool).await;
    let id = subscribe(&store, "acme").await;
    let listed = store.list(&tenant("acme")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].authorization.as_ref().unwrap().expose(),
        "Basic abc"
    );
    assert!(store.list(&tenant("other")).await.unwrap().is_empty());
    assert!(!store.delete(&tenant("other"), &id).await.unwrap());
    assert!(
        !store
            .delete(&tenant("acme"), &SubscriptionId::new("not-a-uuid"))
            .await
            .unwrap()
    );
    assert!(store.delete(&tenant("acme"), &id).await.unwrap());
    assert!(!store.delete(&tenant("acme"), &id).await.unwrap());
    assert!(store.list(&tenant("acme")).await.unwrap().is_empty());
}

fn report(
    delivery: &absync_application::ports::ClaimedDelivery,
    next: NextStep,
    status: u16,
) -> AttemptReport {
    AttemptReport {
        delivery: delivery.id,
        started_at: t0(),
        duration: StdDuration::from_millis(3),
        outcome: SendOutcome::Answered {
            status,
            body_excerpt: b"answer".to_vec(),
        },
        next,
    }
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn claims_lease_and_keep_each_leave_in_order(pool: PgPool) {
    let store = setup(pool.clone()).await;
    let sub = subscribe(&store, "acme").await;
    let number = store.allocate_number().await.unwrap();
    let pending = absence("hr-1", 1, AbsenceStatus::Pending);
    store
        .write(first_write(
            "acme",
            number,
            &pending,
            std::slice::from_ref(&sub),
        ))
        .await
        .unwrap();
    // Approve it: four newer deliveries for the same four leaves.
    let stored = store
        .load(&tenant("acme"), pending.id())
        .await
        .unwrap()
        .unwrap();
    let approved = absence("hr-1", 2, AbsenceStatus::Approved);
    let after = split_into_leaves(number, &approved);
    let deletion = Deletion {
        reason: DeletionReason::Cancelled,
        at: LocalTimestamp::parse("2024-03-01T12:00:00").unwrap(),
    };
    let events = derive_events(&stored.leaves, &after, deletion);
    store
        .write(AbsenceWrite {
            expected_row_version: Some(stored.row_version),
            revision: approved.revision(),
            absence: Some(approved.clone()),
            events: events
                .into_iter()
                .map(|record| OutboxEvent {
                    record,
                    subscriptions: vec![sub.clone()],
                })
                .collect(),
            ..first_write("acme", number, &pending, &[])
        })
        .await
        .unwrap();

    let lease = t0() + Duration::seconds(60);
    let first = store.claim_due(t0(), 100, lease).await.unwrap();
    // Only the older (created) delivery of each leave is eligible.
    assert_eq!(first.len(), 4);
    assert!(
        first
            .iter()
            .all(|d| d.record.event.as_str() == "created" && d.attempts_made == 0)
    );
    assert_eq!(
        first[0].authorization.as_ref().unwrap().expose(),
        "Basic abc"
    );
    // Leased: nobody else gets them, and the newer ones still wait.
    assert!(store.claim_due(t0(), 100, lease).await.unwrap().is_empty());
    // After the lease expires they are claimable again (crash recovery).
    let reclaimed = store
        .claim_due(lease, 100, lease + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(reclaimed.len(), 4);

    // One succeeds, one fails with a retry in 5 minutes; the rest succeed.
    let retry_at = lease + Duration::minutes(5);
    let mut reports = vec![report(&reclaimed[0], NextStep::RetryAt(retry_at), 500)];
    reports.extend(
        reclaimed[1..]
            .iter()
            .map(|d| report(d, NextStep::Succeeded, 200)),
    );
    store.record(reports).await.unwrap();

    // The three leaves whose created went through now release their approved delivery; the failed one
    // holds its leave back.
    let next = store
        .claim_due(lease, 100, lease + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(next.len(), 3);
    assert!(next.iter().all(|d| d.record.event.as_str() == "approved"));
    assert!(
        next.iter()
            .all(|d| d.record.key() != reclaimed[0].record.key())
    );

    store
        .record(
            next.iter()
                .map(|d| report(d, NextStep::Succeeded, 200))
                .collect(),
        )
        .await
        .unwrap();

    // At its retry time the failed one is due again, with its attempt counted.
    let retried = store
        .claim_due(retry_at, 100, retry_at + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, reclaimed[0].id);
    assert_eq!(retried[0].attempts_made, 1);

    let (status, excerpt): (Option<i32>, Vec<u8>) = sqlx::query_as(
        "SELECT http_status, response_excerpt FROM delivery_attempts WHERE delivery_id = $1",
    )
    .bind(reclaimed[0].id.get())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(status, Some(500));
    assert_eq!(excerpt, b"answer");
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn deliveries_of_a_deleted_subscription_are_not_claimed(pool: PgPool) {
    let store = setup(pool).await;
    let sub = subscribe(&store, "acme").await;
    let number = store.allocate_number().await.unwrap();
    store
        .write(first_write(
            "acme",
            number,
            &absence("hr-1", 1, AbsenceStatus::Approved),
            std::slice::from_ref(&sub),
        ))
        .await
        .unwrap();
    store.delete(&tenant("acme"), &sub).await.unwrap();
    assert!(
        store
            .claim_due(t0(), 100, t0() + Duration::seconds(60))
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires(pool: PgPool) {
    let store = setup(pool).await;
    let sub = subscribe(&store, "acme").await;
    let until = t0() + Duration::hours(24);
    assert!(
        store
            .rotate_secret(
                &tenant("other"),
                &sub,
                SigningSecret::from_key([4; 32]),
                until
            )
            .await
            .unwrap()
            .is_none()
    );
    let rotated = store
        .rotate_secret(
            &tenant("acme"),
            &sub,
            SigningSecret::from_key([4; 32]),
            until,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.signing_secret, SigningSecret::from_key([4; 32]));
    assert_eq!(
        rotated.previous_secret.as_ref().unwrap().secret,
        SigningSecret::from_key([3; 32])
    );

    let number = store.allocate_number().await.unwrap();
    store
        .write(first_write(
            "acme",
            number,
            &absence("hr-1", 1, AbsenceStatus::Approved),
            std::slice::from_ref(&sub),
        ))
        .await
        .unwrap();
    let during = store
        .claim_due(t0(), 1, t0() + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(
        during[0].signing_secrets,
        [
            SigningSecret::from_key([4; 32]),
            SigningSecret::from_key([3; 32])
        ]
    );
    let after = store
        .claim_due(until, 1, until + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(after[0].signing_secrets, [SigningSecret::from_key([4; 32])]);
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn current_leaves_follow_the_events_and_page_by_date(pool: PgPool) {
    let store = setup(pool).await;
    let mut numbers = Vec::new();
    for id in ["hr-1", "hr-2", "hr-3"] {
        let number = store.allocate_number().await.unwrap();
        let a = absence(id, 1, AbsenceStatus::Pending);
        store
            .write(first_write("acme", number, &a, &[]))
            .await
            .unwrap();
        numbers.push(number);
    }
    // Other tenants' leaves never show.
    let number = store.allocate_number().await.unwrap();
    store
        .write(first_write(
            "other",
            number,
            &absence("hr-1", 1, AbsenceStatus::Pending),
            &[],
        ))
        .await
        .unwrap();

    // Page through 12 leaves, 5 at a time, in (date, absence, half) order.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_leaves(&tenant("acme"), None, after, 5)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|l| l.leave.key);
        seen.extend(page);
    }
    let keys: Vec<String> = seen.iter().map(|l| l.leave.key.to_string()).collect();
    let mut expected = Vec::new();
    for date in ["20240304", "20240305"] {
        for n in &numbers {
            for half in ["AM", "PM"] {
                expected.push(format!("{n}-{date}-{half}"));
            }
        }
    }
    assert_eq!(keys, expected);
    let from: chrono::NaiveDate = "2024-03-05".parse().unwrap();
    assert_eq!(
        store
            .list_leaves(&tenant("acme"), Some(from), None, 100)
            .await
            .unwrap()
            .len(),
        6
    );

    // Deleting the first absence removes its leaves and keeps the others with their versions.
    let stored = store
        .load(&tenant("acme"), &AbsenceId::parse("hr-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.leaves.len(), 4);
    let deletion = Deletion {
        reason: DeletionReason::AbsenceDeleted,
        at: LocalTimestamp::parse("2024-03-01T12:00:00").unwrap(),
    };
    let events = derive_events(&stored.leaves, &[], deletion)
        .into_iter()
        .map(|record| OutboxEvent {
            record,
            subscriptions: Vec::new(),
        })
        .collect();
    store
        .write(AbsenceWrite {
            expected_row_version: Some(stored.row_version),
            revision: Revision::new(2).unwrap(),
            absence: None,
            events,
            ..first_write(
                "acme",
                numbers[0],
                &absence("hr-1", 1, AbsenceStatus::Pending),
                &[],
            )
        })
        .await
        .unwrap();
    let left = store
        .list_leaves(&tenant("acme"), None, None, 100)
        .await
        .unwrap();
    assert_eq!(left.len(), 8);
    assert!(left.iter().all(|l| l.leave.key.absence() != numbers[0]));
    assert_eq!(
        left.iter()
            .map(|l| l.change_version.get())
            .collect::<Vec<_>>(),
        [5, 6, 9, 10, 7, 8, 11, 12]
    );
    let reloaded = store
        .load(&tenant("acme"), &AbsenceId::parse("hr-1").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(reloaded.leaves.is_empty());
    assert!(reloaded.absence.is_none());
}
