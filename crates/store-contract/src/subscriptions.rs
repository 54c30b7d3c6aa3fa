//! The subscription store.

use crate::ContractStore;
use crate::fixtures::{
    ACME, OTHER, absence, claim_all, new_subscription, put_new, setup, subscribe, t0, tenant,
};
use absync_application::ports::{
    SubscriptionChanges, SubscriptionCursor, SubscriptionQuery, SubscriptionStore,
};
use absync_domain::{
    AbsenceStatus, AuthorizationValue, DestinationUrl, EventFilter, MaxPerSecond, SigningSecret,
    SubscriptionId, SubscriptionStatus,
};
use chrono::Duration;

/// Subscriptions are listed per tenant, keep their `Authorization` value, and are soft-deleted once.
pub async fn subscriptions_are_scoped_by_tenant_and_soft_deleted<S: ContractStore>(store: S) {
    setup(&store).await;
    let id = subscribe(&store, ACME).await;
    let listed = store.list(&tenant(ACME)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].status, SubscriptionStatus::Enabled);
    assert_eq!(
        listed[0].authorization.as_ref().unwrap().expose(),
        "Basic abc"
    );
    assert!(store.list(&tenant(OTHER)).await.unwrap().is_empty());
    assert!(!store.delete(&tenant(OTHER), &id).await.unwrap());
    let unknown = SubscriptionId::new("not-a-subscription");
    assert!(!store.delete(&tenant(ACME), &unknown).await.unwrap());
    assert!(store.delete(&tenant(ACME), &id).await.unwrap());
    assert!(
        !store.delete(&tenant(ACME), &id).await.unwrap(),
        "deleted once"
    );
    assert!(store.list(&tenant(ACME)).await.unwrap().is_empty());
    let deleted = store.get(&tenant(ACME), &id).await.unwrap().unwrap();
    assert!(
        deleted.deleted_at.is_some(),
        "a deleted one is still read, marked"
    );
    assert!(store.get(&tenant(OTHER), &id).await.unwrap().is_none());
    let changes = SubscriptionChanges {
        status: Some(SubscriptionStatus::Disabled),
        ..SubscriptionChanges::default()
    };
    assert!(
        store
            .update(&tenant(ACME), &id, changes)
            .await
            .unwrap()
            .is_none()
    );
}

/// Pages follow creation order after a cursor; an update changes only what it names (`Some(None)`
/// clears), and `get` shows the change.
pub async fn subscriptions_page_in_creation_order_and_take_changes<S: ContractStore>(store: S) {
    setup(&store).await;
    let mut created = Vec::new();
    for n in 0..3 {
        let new = new_subscription(ACME, &format!("https://example.com/{n}"));
        created.push(SubscriptionStore::create(&store, new).await.unwrap());
    }
    // Creation order is (creation time, id): creations within the clock's resolution tie, and their
    // ids break the tie.
    created.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
    let first = store
        .page(&tenant(ACME), SubscriptionQuery::new(t0(), 2))
        .await
        .unwrap();
    assert_eq!(first, created[..2]);
    let cursor = SubscriptionCursor {
        created_at: first[1].created_at,
        id: first[1].id.clone(),
    };
    let rest = store
        .page(
            &tenant(ACME),
            SubscriptionQuery::new(t0(), 2).after(Some(cursor)),
        )
        .await
        .unwrap();
    assert_eq!(rest, created[2..]);
    assert_eq!(store.list(&tenant(ACME)).await.unwrap(), created);

    let until = t0() + Duration::days(30);
    let changes = SubscriptionChanges {
        destination: Some(DestinationUrl::parse("https://example.org/new", false).unwrap()),
        authorization: Some(None),
        event_filter: Some(EventFilter::ValidatedOnly),
        status: Some(SubscriptionStatus::Disabled),
        valid_until: Some(Some(until)),
        max_per_second: Some(Some(MaxPerSecond::new(20).unwrap())),
    };
    let id = &created[1].id;
    let updated = store
        .update(&tenant(ACME), id, changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.destination.as_str(), "https://example.org/new");
    assert!(updated.authorization.is_none());
    assert_eq!(updated.event_filter, EventFilter::ValidatedOnly);
    assert_eq!(updated.status, SubscriptionStatus::Disabled);
    assert_eq!(updated.valid_until, Some(until));
    assert_eq!(updated.max_per_second, MaxPerSecond::new(20).ok());
    assert_eq!(updated.signing_secret, created[1].signing_secret);
    assert_eq!(
        store.get(&tenant(ACME), id).await.unwrap(),
        Some(updated.clone())
    );

    // An empty change changes nothing; a partial one only its field.
    let same = store
        .update(&tenant(ACME), id, SubscriptionChanges::default())
        .await
        .unwrap();
    assert_eq!(same, Some(updated.clone()));
    let changes = SubscriptionChanges {
        authorization: Some(Some(AuthorizationValue::parse("Bearer xyz").unwrap())),
        valid_until: Some(None),
        ..SubscriptionChanges::default()
    };
    let again = store
        .update(&tenant(ACME), id, changes)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.authorization.unwrap().expose(), "Bearer xyz");
    assert_eq!(again.valid_until, None);
    assert_eq!(again.status, SubscriptionStatus::Disabled);
    assert_eq!(again.destination, updated.destination);
}

/// After a rotation the previous secret signs beside the new one until it expires; only the owner can
/// rotate.
pub async fn a_rotated_secret_signs_beside_the_new_one_until_it_expires<S: ContractStore>(
    store: S,
) {
    setup(&store).await;
    let sub = subscribe(&store, ACME).await;
    let until = t0() + Duration::hours(24);
    let (old, new) = (
        SigningSecret::from_key([3; 32]),
        SigningSecret::from_key([4; 32]),
    );
    let refused = store
        .rotate_secret(&tenant(OTHER), &sub, new.clone(), until)
        .await
        .unwrap();
    assert!(refused.is_none());
    let rotated = store
        .rotate_secret(&tenant(ACME), &sub, new.clone(), until)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rotated.signing_secret, new);
    assert!(
        rotated.secret_created_at >= rotated.created_at,
        "the secret's age starts again"
    );
    let previous = rotated.previous_secret.as_ref().unwrap();
    assert_eq!((&previous.secret, previous.until), (&old, until));
    assert_eq!(store.get(&tenant(ACME), &sub).await.unwrap(), Some(rotated));

    let to = std::slice::from_ref(&sub);
    put_new(
        &store,
        ACME,
        &absence("hr-1", 1, AbsenceStatus::Approved),
        to,
    )
    .await;
    let during = claim_all(&store, t0()).await;
    assert_eq!(during[0].signing_secrets, [new.clone(), old]);
    let after = claim_all(&store, until).await;
    assert_eq!(after[0].signing_secrets, [new]);
}
