//! Helpers shared by the process tests that drive the built binary on a database of their own.

use absync_application::TokenService;
use absync_bootstrap::store::{Store, StoreSettings};
use absync_domain::{Scope, TenantId};
use std::time::Duration;

/// A token for tenant `acme`, issued beside the running service (which migrated the database).
pub(crate) async fn token(url: &str) -> String {
    token_for(url, "acme").await
}

/// A token with every scope for `tenant`, issued as [`token`] is.
pub(crate) async fn token_for(url: &str, tenant: &str) -> String {
    let settings = StoreSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        exclusive: false,
    };
    let store = Store::open(url, settings).await.unwrap();
    TokenService::new(store.ports().tokens)
        .issue(&TenantId::parse(tenant).unwrap(), &Scope::ALL, None)
        .await
        .unwrap()
        .token
}
