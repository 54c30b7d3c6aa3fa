//! Retention, as only the database shows it: a purged delivery's attempts go with it. (Which
//! deliveries are purged is part of the store contract.)

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::PgStore;
use absync_application::fixtures::new_subscription;
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, AttemptReport, ClaimRequest, DeliveryQueue, NewSubscription,
    NextStep, OutboxEvent, SendOutcome, SubscriptionStore, TokenStore,
};
use absync_domain::fixtures;
use absync_domain::{
    AbsenceStatus, DeletionReason, Scope, TenantId, derive_events, split_into_leaves,
};
use chrono::{Duration, Utc};
use sqlx::PgPool;

async fn attempts(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM delivery_attempts")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn a_purged_delivery_takes_its_attempts_along(pool: PgPool) {
    let store = PgStore::from_pool(pool.clone());
    let acme = TenantId::parse("acme").unwrap();
    TokenStore::create(&store, &acme, [1; 32], &[Scope::AbsencesWrite], None)
        .await
        .unwrap();
    let subscription = SubscriptionStore::create(
        &store,
        NewSubscription {
            authorization: None,
            ..new_subscription(acme.clone(), "https://example.com/hook")
        },
    )
    .await
    .unwrap();
    let number = store.allocate_number().await.unwrap();
    let absence = fixtures::one_leave("hr-1", 1, AbsenceStatus::Approved);
    let deletion = fixtures::deletion(DeletionReason::Cancelled);
    let events = derive_events(&[], &split_into_leaves(number, &absence), deletion);
    let now = Utc::now();
    store
        .write(AbsenceWrite {
            tenant: acme,
            absence_id: absence.id().clone(),
            number,
            expected_row_version: None,
            revision: absence.revision(),
            absence: Some(absence),
            events: events
                .into_iter()
                .map(|record| OutboxEvent {
                    record,
                    subscriptions: vec![subscription.id.clone()],
                })
                .collect(),
            at: now,
            traceparent: None,
        })
        .await
        .unwrap();
    let claimed = store
        .claim_due(ClaimRequest::new(now, 10, now + Duration::seconds(60)))
        .await
        .unwrap();
    let report = |next| AttemptReport {
        delivery: claimed[0].id,
        started_at: now,
        duration: std::time::Duration::from_millis(3),
        outcome: SendOutcome::Answered {
            status: 503,
            body_excerpt: Vec::new(),
        },
        next,
    };
    store
        .record(vec![report(NextStep::RetryAt(now))])
        .await
        .unwrap();
    store
        .claim_due(ClaimRequest::new(now, 10, now))
        .await
        .unwrap();
    store
        .record(vec![report(NextStep::Succeeded)])
        .await
        .unwrap();
    assert_eq!(attempts(&pool).await, 2);

    let purged = store
        .purge_finished(Utc::now() + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert_eq!(attempts(&pool).await, 0);
}
