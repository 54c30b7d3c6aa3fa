//! # absync-store-contract
//!
//! The store contract: what every store adapter must do, written once as test bodies that drive a store
//! only through the application's store ports ([`AbsenceStore`], [`SubscriptionStore`],
//! [`DeliveryQueue`], [`DeliveryTracking`], [`TokenStore`], [`StoreHealth`]) and never look at its
//! storage. [`suite!`] turns them into one test per body for an adapter, so an adapter's contract test
//! file is a single macro call, and two adapters that pass it are interchangeable for the use cases.
//!
//! Each body takes a fresh, empty store (migrated, no tenants) and fails by panicking. Times that the
//! ports take as arguments are fixed (2024); "when it was queued / last changed" is the store's own
//! wall clock, so the bodies that filter on it work around `Utc::now()` with short sleeps.
//!
//! This is a test-support crate beside the adapters: it depends only on the application and the domain,
//! and adapters use it as a dev-dependency only (checked by `cargo xtask deps`).

// The bodies are test code: they fail loudly on purpose.
#![allow(clippy::unwrap_used)]

use absync_application::ports::{
    AbsenceStore, DeliveryQueue, DeliveryTracking, StoreHealth, SubscriptionStore, TokenStore,
};

mod absences;
mod cancellation;
mod fixtures;
mod groups;
mod queue;
mod subscriptions;
mod tenancy;
mod tokens;
mod tracking;

pub use absences::{
    a_conflicting_write_writes_nothing, a_write_queues_one_delivery_per_event_and_subscription,
    an_absence_round_trips_and_concurrent_writes_conflict,
    change_versions_increase_strictly_per_tenant,
    concurrent_writes_of_one_row_version_let_only_one_win,
    current_leaves_follow_the_events_and_page_by_date, the_same_revision_put_twice_writes_nothing,
};
pub use cancellation::{
    a_disabling_failure_cancels_the_rest_of_its_subscription,
    cancelled_deliveries_are_not_failures_and_are_purged,
    deleting_a_subscription_cancels_its_unsent_deliveries,
    deliveries_of_an_expired_subscription_are_cancelled,
    disabling_a_subscription_cancels_its_unsent_deliveries,
};
pub use groups::{
    a_failing_change_in_a_group_fails_alone, concurrent_writes_each_get_their_own_result,
    two_changes_of_one_absence_in_a_group_apply_in_order,
};
pub use queue::{
    a_final_failure_may_disable_its_subscription,
    a_later_delivery_of_a_leave_waits_for_the_earlier_one,
    a_released_delivery_is_claimable_at_once, a_retry_is_claimable_only_from_its_time,
    claims_lease_and_keep_each_leave_in_order, claims_skip_the_subscriptions_asked,
    claims_take_only_due_deliveries_up_to_the_limit,
    deliveries_of_a_deleted_subscription_are_not_claimed,
    next_due_is_when_the_next_claim_can_succeed, only_old_succeeded_deliveries_are_purged,
};
pub use subscriptions::{
    a_rotated_secret_signs_beside_the_new_one_until_it_expires,
    subscriptions_are_scoped_by_tenant_and_soft_deleted,
    subscriptions_page_in_creation_order_and_take_changes,
};
pub use tenancy::another_tenant_sees_and_changes_nothing;
pub use tokens::{
    concurrent_token_lookups_each_get_their_own_answer,
    revoked_tokens_stop_working_and_stay_listed, the_store_answers_pings,
    tokens_are_found_by_hash_only,
};
pub use tracking::{
    a_delivery_detail_carries_its_message_and_attempts,
    changed_since_lists_changes_oldest_change_first,
    deliveries_list_newest_first_filtered_and_paged, mark_processed_takes_only_failed_deliveries,
    pending_tasks_group_failures_by_subscription, queue_stats_count_each_status_and_the_due,
    resync_failed_requeues_the_latest_failure_of_each_leave,
    resync_makes_a_delivery_due_again_unless_newer_state_went_out,
};

/// Everything a store adapter implements: every store port, on a cheap-to-clone handle that can be
/// shared with use cases (`Arc<dyn Port>`). Implemented for every such type.
pub trait ContractStore:
    AbsenceStore
    + SubscriptionStore
    + DeliveryQueue
    + DeliveryTracking
    + TokenStore
    + StoreHealth
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> ContractStore for S where
    S: AbsenceStore
        + SubscriptionStore
        + DeliveryQueue
        + DeliveryTracking
        + TokenStore
        + StoreHealth
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Expands to a module `contract` holding one test per contract body, each named after its body
/// (`contract::claims_lease_and_keep_each_leave_in_order`, …).
///
/// Give the test attribute(s), then the test function's parameters between bars (none: `||`), then an
/// expression evaluating to a future of a fresh store, awaited once per test:
///
/// ```ignore
/// absync_store_contract::suite! {
///     #[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
///     |pool: sqlx::PgPool| async { absync_adapter_postgres::PgStore::from_pool(pool) }
/// }
/// ```
///
/// ```ignore
/// absync_store_contract::suite! {
///     #[tokio::test]
///     || async { SqliteStore::open_temporary().await.unwrap() }
/// }
/// ```
///
/// The module imports the calling module's names (`use super::*`), so the constructor may use them.
#[macro_export]
macro_rules! suite {
    // One test per body, recursively (the attributes and parameters repeat for each).
    (@tests [$($attr:tt)*] [$($param:tt)*] [$make:expr]) => {};
    (@tests [$($attr:tt)*] [$($param:tt)*] [$make:expr] $body:ident $($rest:ident)*) => {
        $($attr)*
        async fn $body($($param)*) {
            $crate::$body(($make).await).await;
        }
        $crate::suite!(@tests [$($attr)*] [$($param)*] [$make] $($rest)*);
    };
    (@module $attrs:tt $params:tt [$make:expr]) => {
        /// The store contract (`absync-store-contract`), one test per body.
        mod contract {
            #[allow(unused_imports)]
            use super::*;

            $crate::suite!(@tests $attrs $params [$make]
                // bodies:start
                tokens_are_found_by_hash_only
                concurrent_token_lookups_each_get_their_own_answer
                revoked_tokens_stop_working_and_stay_listed
                the_store_answers_pings
                an_absence_round_trips_and_concurrent_writes_conflict
                a_conflicting_write_writes_nothing
                concurrent_writes_of_one_row_version_let_only_one_win
                the_same_revision_put_twice_writes_nothing
                a_write_queues_one_delivery_per_event_and_subscription
                change_versions_increase_strictly_per_tenant
                current_leaves_follow_the_events_and_page_by_date
                subscriptions_are_scoped_by_tenant_and_soft_deleted
                subscriptions_page_in_creation_order_and_take_changes
                a_rotated_secret_signs_beside_the_new_one_until_it_expires
                claims_lease_and_keep_each_leave_in_order
                claims_take_only_due_deliveries_up_to_the_limit
                claims_skip_the_subscriptions_asked
                a_released_delivery_is_claimable_at_once
                a_later_delivery_of_a_leave_waits_for_the_earlier_one
                a_retry_is_claimable_only_from_its_time
                a_final_failure_may_disable_its_subscription
                deliveries_of_a_deleted_subscription_are_not_claimed
                deleting_a_subscription_cancels_its_unsent_deliveries
                disabling_a_subscription_cancels_its_unsent_deliveries
                a_disabling_failure_cancels_the_rest_of_its_subscription
                deliveries_of_an_expired_subscription_are_cancelled
                cancelled_deliveries_are_not_failures_and_are_purged
                next_due_is_when_the_next_claim_can_succeed
                only_old_succeeded_deliveries_are_purged
                deliveries_list_newest_first_filtered_and_paged
                a_delivery_detail_carries_its_message_and_attempts
                resync_makes_a_delivery_due_again_unless_newer_state_went_out
                mark_processed_takes_only_failed_deliveries
                resync_failed_requeues_the_latest_failure_of_each_leave
                changed_since_lists_changes_oldest_change_first
                pending_tasks_group_failures_by_subscription
                queue_stats_count_each_status_and_the_due
                another_tenant_sees_and_changes_nothing
                concurrent_writes_each_get_their_own_result
                a_failing_change_in_a_group_fails_alone
                two_changes_of_one_absence_in_a_group_apply_in_order
                // bodies:end
            );
        }
    };
    ($(#[$attr:meta])* || $make:expr $(,)?) => {
        $crate::suite!(@module [$(#[$attr])*] [] [$make]);
    };
    ($(#[$attr:meta])* | $($param:ident : $ty:ty),+ $(,)? | $make:expr $(,)?) => {
        $crate::suite!(@module [$(#[$attr])*] [$($param: $ty),+] [$make]);
    };
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// The names between two marker lines of `text`, one per line.
    fn listed(text: &str) -> BTreeSet<&str> {
        let start = text.find("// bodies:start").unwrap();
        let end = text.find("// bodies:end").unwrap();
        text[start..end]
            .lines()
            .skip(1)
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect()
    }

    fn defined(sources: &[&'static str]) -> BTreeSet<&'static str> {
        sources
            .iter()
            .flat_map(|source| source.lines())
            .filter_map(|line| line.strip_prefix("pub async fn "))
            .filter_map(|rest| rest.split('<').next())
            .collect()
    }

    #[test]
    fn the_suite_runs_every_body() {
        let bodies = defined(&[
            include_str!("absences.rs"),
            include_str!("cancellation.rs"),
            include_str!("groups.rs"),
            include_str!("queue.rs"),
            include_str!("subscriptions.rs"),
            include_str!("tenancy.rs"),
            include_str!("tokens.rs"),
            include_str!("tracking.rs"),
        ]);
        assert!(bodies.len() > 20, "{bodies:?}");
        assert_eq!(listed(include_str!("lib.rs")), bodies);
    }
}
