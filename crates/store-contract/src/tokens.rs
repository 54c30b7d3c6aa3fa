//! The token store and the health probe.

use crate::ContractStore;
use crate::fixtures::{ACME, OTHER, tenant};
use absync_application::ports::TokenStore;
use absync_domain::Scope;

/// A token is found by its hash alone, with what it grants.
pub async fn tokens_are_found_by_hash_only<S: ContractStore>(store: S) {
    let created = TokenStore::create(
        &store,
        &tenant(ACME),
        [7; 32],
        &[Scope::AbsencesWrite, Scope::WebhooksRead],
        Some("ci".into()),
    )
    .await
    .unwrap();
    let found = store.find_active([7; 32]).await.unwrap().unwrap();
    assert_eq!(found, created);
    assert_eq!(found.tenant, tenant(ACME));
    assert_eq!(found.scopes, [Scope::AbsencesWrite, Scope::WebhooksRead]);
    assert_eq!(found.label.as_deref(), Some("ci"));
    assert!(found.revoked_at.is_none());
    assert!(store.find_active([8; 32]).await.unwrap().is_none());
}

/// A revoked token stops working at once and stays listed, marked revoked; listings are per tenant
/// when asked, oldest first.
pub async fn revoked_tokens_stop_working_and_stay_listed<S: ContractStore>(store: S) {
    let first = TokenStore::create(&store, &tenant(ACME), [1; 32], &[Scope::AbsencesRead], None)
        .await
        .unwrap();
    let second = TokenStore::create(
        &store,
        &tenant(OTHER),
        [2; 32],
        &[Scope::WebhooksWrite],
        None,
    )
    .await
    .unwrap();
    let ids = |tokens: Vec<absync_application::ports::TokenRecord>| {
        tokens.into_iter().map(|t| t.id).collect::<Vec<_>>()
    };
    // Oldest first; two tokens made within one clock tick are ordered by id.
    let mut oldest_first = [&first, &second];
    oldest_first.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let everyone = store.list_tokens(None).await.unwrap();
    assert_eq!(ids(everyone), oldest_first.map(|t| t.id.clone()));
    let acme_only = store.list_tokens(Some(tenant(ACME))).await.unwrap();
    assert_eq!(ids(acme_only), std::slice::from_ref(&first.id));

    assert!(store.revoke_token(&first.id).await.unwrap());
    assert!(store.find_active([1; 32]).await.unwrap().is_none());
    assert!(
        !store.revoke_token(&first.id).await.unwrap(),
        "already revoked"
    );
    assert!(!store.revoke_token("no-such-token").await.unwrap());
    let listed = store.list_tokens(Some(tenant(ACME))).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
    // The other token still works.
    assert_eq!(store.find_active([2; 32]).await.unwrap(), Some(second));
}

/// A fresh store answers the readiness probe.
pub async fn the_store_answers_pings<S: ContractStore>(store: S) {
    store.ping().await.unwrap();
}

/// Concurrent look-ups (which a store may answer together) each get their own token's answer: an
/// active token its record, a revoked or unknown one nothing.
pub async fn concurrent_token_lookups_each_get_their_own_answer<S: ContractStore>(store: S) {
    let acme = TokenStore::create(&store, &tenant(ACME), [1; 32], &[Scope::AbsencesRead], None)
        .await
        .unwrap();
    let other = TokenStore::create(
        &store,
        &tenant(OTHER),
        [2; 32],
        &[Scope::WebhooksWrite],
        None,
    )
    .await
    .unwrap();
    let revoked = TokenStore::create(
        &store,
        &tenant(ACME),
        [3; 32],
        &[Scope::AbsencesWrite],
        None,
    )
    .await
    .unwrap();
    assert!(store.revoke_token(&revoked.id).await.unwrap());
    let tasks: Vec<_> = (0..48_u8)
        .map(|i| {
            let store = store.clone();
            let hash = [i % 4 + 1; 32];
            tokio::spawn(async move { (hash, store.find_active(hash).await) })
        })
        .collect();
    for task in tasks {
        let (hash, answer) = task.await.unwrap();
        let expected = match hash[0] {
            1 => Some(&acme),
            2 => Some(&other),
            _ => None,
        };
        assert_eq!(answer.unwrap().as_ref(), expected, "token {}", hash[0]);
    }
}
