//! Subscription lists, coalesced: the rest of the subscription store is the store core's.

use crate::batch::ReadMany;
use crate::error::store_error;
use crate::store::PgStore;
use absync_application::ports::Subscription;
use absync_domain::TenantId;
use absync_store_core::rows::SubscriptionRow;
use sqlx::PgPool;
use std::sync::Arc;

/// Lists the live subscriptions of several tenants in one statement (the lists asked meanwhile,
/// coalesced): for each tenant, in order, its subscriptions in creation order.
pub(crate) fn list_many(pool: PgPool) -> ReadMany<TenantId, Vec<Subscription>> {
    Arc::new(move |tenants: Vec<TenantId>| {
        let pool = pool.clone();
        Box::pin(async move {
            let names: Vec<&str> = tenants.iter().map(TenantId::as_str).collect();
            let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
                "SELECT {} FROM subscriptions
                 WHERE tenant_id = ANY($1::text[]) AND deleted_at IS NULL ORDER BY created_at, id",
                absync_store_core::subscriptions::columns::<PgStore>()
            ))
            .bind(&names)
            .fetch_all(&pool)
            .await
            .map_err(store_error)?;
            let mut lists: Vec<Vec<Subscription>> = tenants.iter().map(|_| Vec::new()).collect();
            for row in rows {
                let subscription = Subscription::try_from(row)?;
                for (tenant, list) in tenants.iter().zip(&mut lists) {
                    if *tenant == subscription.tenant {
                        list.push(subscription.clone());
                    }
                }
            }
            Ok(lists)
        })
    })
}
