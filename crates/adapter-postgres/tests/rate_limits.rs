//! The claim leaves the token buckets out while no subscription is rate-limited, and a limit still
//! holds wherever it was set: through this store at once, through another instance on the same
//! database after a `NOTIFY absync_subscriptions`, or, without one, after the periodic check
//! (`RECHECK_EVERY`). Until then a limit set elsewhere only delays that subscription's deliveries.
//!
//! Each subscription here is limited to 1 a second: a bucket of one token, so a claim takes one of
//! its deliveries, and the next claim right after takes none.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::{PgStore, RECHECK_EVERY};
use absync_application::ports::{
    AbsenceStore, AbsenceWrite, ClaimRequest, DeliveryQueue, OutboxEvent, SubscriptionChanges,
    SubscriptionStore,
};
use absync_domain::{
    AbsenceStatus, DeletionReason, MaxPerSecond, SubscriptionId, TenantId, derive_events,
    split_into_leaves,
};
use chrono::{Duration, Utc};
use sqlx::PgPool;
use std::time::{Duration as StdDuration, Instant};

fn acme() -> TenantId {
    TenantId::parse("acme").unwrap()
}

/// A subscription of `acme`, limited to `max_per_second` or not.
async fn subscribe(store: &PgStore, max_per_second: Option<u32>) -> SubscriptionId {
    let new = absync_application::ports::NewSubscription {
        max_per_second: max_per_second.map(|n| MaxPerSecond::new(n).unwrap()),
        ..absync_application::fixtures::new_subscription(acme(), "https://example.com/hook")
    };
    store.create(new).await.unwrap().id
}

/// Sets (`Some`) or lifts (`None`) the subscription's limit through `store`.
async fn limit(store: &PgStore, id: &SubscriptionId, max_per_second: Option<u32>) {
    let changes = SubscriptionChanges {
        max_per_second: Some(max_per_second.map(|n| MaxPerSecond::new(n).unwrap())),
        ..SubscriptionChanges::default()
    };
    store.update(&acme(), id, changes).await.unwrap().unwrap();
}

/// Queues four due deliveries to `to`: a new approved absence `id` of four leaves.
async fn queue_four(store: &PgStore, id: &str, to: &SubscriptionId) {
    let absence = absync_domain::fixtures::absence(id, 1, AbsenceStatus::Approved);
    let number = store.allocate_number().await.unwrap();
    let leaves = split_into_leaves(number, &absence);
    let deletion = absync_domain::fixtures::deletion(DeletionReason::Cancelled);
    let events = derive_events(&[], &leaves, deletion)
        .into_iter()
        .map(|record| OutboxEvent {
            record,
            subscriptions: vec![to.clone()],
        })
        .collect();
    store
        .write(AbsenceWrite {
            tenant: acme(),
            absence_id: absence.id().clone(),
            number,
            expected_row_version: None,
            revision: absence.revision(),
            absence: Some(absence.clone()),
            events,
            at: Utc::now() - Duration::minutes(1),
            traceparent: None,
        })
        .await
        .unwrap();
}

/// Claims up to 100 due deliveries through `store`; returns how many of each subscription.
async fn claim(store: &PgStore, of: &SubscriptionId) -> usize {
    let now = Utc::now();
    let claimed = store
        .claim_due(ClaimRequest::new(now, 100, now + Duration::minutes(5)))
        .await
        .unwrap();
    claimed.iter().filter(|d| d.subscription == *of).count()
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn without_rate_limited_subscriptions_the_claim_delivers_as_before(pool: PgPool) {
    let store = PgStore::from_pool(pool);
    let first = subscribe(&store, None).await;
    let second = subscribe(&store, None).await;
    queue_four(&store, "hr-1", &first).await;
    queue_four(&store, "hr-2", &second).await;

    assert_eq!(claim(&store, &first).await, 4);
    assert!(
        !store.may_have_rate_limits(),
        "the claim without token buckets served it"
    );
    assert_eq!(claim(&store, &first).await, 0, "leased");
    assert_eq!(
        store
            .claim_due(
                ClaimRequest::new(Utc::now(), 100, Utc::now() + Duration::minutes(5))
                    .skipping(vec![first.clone()])
            )
            .await
            .unwrap()
            .len(),
        0,
        "the second subscription's were claimed with the first's"
    );
    // What the next due time reads without the buckets: the leases' end.
    let next = store.next_due().await.unwrap().unwrap();
    assert!(next > Utc::now() + Duration::minutes(4), "{next}");
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn a_limit_set_through_this_store_holds_at_once(pool: PgPool) {
    let store = PgStore::from_pool(pool);
    let id = subscribe(&store, None).await;
    assert_eq!(claim(&store, &id).await, 0);
    assert!(!store.may_have_rate_limits());

    limit(&store, &id, Some(1)).await;
    queue_four(&store, "hr-1", &id).await;
    assert_eq!(claim(&store, &id).await, 1, "one token");
    assert_eq!(claim(&store, &id).await, 0, "the bucket is empty");

    // Lifted: the next claim checks again and goes without buckets.
    limit(&store, &id, None).await;
    assert_eq!(claim(&store, &id).await, 3);
    assert!(!store.may_have_rate_limits());

    // A new subscription created with a limit counts at once too.
    let limited = subscribe(&store, Some(1)).await;
    queue_four(&store, "hr-2", &limited).await;
    assert_eq!(claim(&store, &limited).await, 1);
    assert_eq!(claim(&store, &limited).await, 0);
}

/// Claims through `store` until it takes some of `of`'s deliveries, for at most `within`; returns how
/// many it took then.
async fn claim_within(store: &PgStore, of: &SubscriptionId, within: StdDuration) -> usize {
    let deadline = Instant::now() + within;
    loop {
        let taken = claim(store, of).await;
        if taken > 0 || Instant::now() > deadline {
            return taken;
        }
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn a_limit_set_by_another_instance_holds_after_its_notification(pool: PgPool) {
    let this = PgStore::from_pool(pool.clone());
    let other = PgStore::from_pool(pool.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(this.clone().relay_notifications(stopped));
    // The relay listens once a notification of queued work gets through.
    loop {
        sqlx::query("SELECT pg_notify('absync_work', '')")
            .execute(&pool)
            .await
            .unwrap();
        if tokio::time::timeout(StdDuration::from_millis(100), this.work_queued())
            .await
            .is_ok()
        {
            break;
        }
    }
    let id = subscribe(&other, None).await;
    queue_four(&other, "hr-1", &id).await;
    assert_eq!(claim(&this, &id).await, 4);
    assert!(!this.may_have_rate_limits());
    queue_four(&other, "hr-2", &id).await;

    limit(&other, &id, Some(1)).await;
    // Well before the periodic check: only the notification can have told it.
    assert_eq!(
        claim_within(&this, &id, RECHECK_EVERY / 2).await,
        1,
        "one token"
    );
    assert!(this.may_have_rate_limits());
    assert_eq!(claim(&this, &id).await, 0, "the bucket is empty");

    stop.send(true).unwrap();
    relay.await.unwrap();
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn a_limit_set_by_another_instance_unheard_of_holds_after_the_periodic_check(pool: PgPool) {
    let this = PgStore::from_pool(pool.clone());
    let other = PgStore::from_pool(pool);
    let id = subscribe(&other, None).await;
    assert_eq!(claim(&this, &id).await, 0);
    let checked = Instant::now();
    assert!(!this.may_have_rate_limits());

    limit(&other, &id, Some(1)).await;
    queue_four(&other, "hr-1", &id).await;
    // Not heard of (no relay): its deliveries wait rather than go over the limit.
    assert_eq!(claim(&this, &id).await, 0);

    tokio::time::sleep(RECHECK_EVERY.saturating_sub(checked.elapsed())).await;
    assert_eq!(claim(&this, &id).await, 1, "one token");
    assert_eq!(claim(&this, &id).await, 0, "the bucket is empty");
}
