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
//! [`stored_format`] is the one body outside [`suite!`]: it inserts rows that an earlier version wrote
//! with the store's own SQL, so each adapter runs it with an insert of its dialect.
//!
//! This is a test-support crate beside the adapters: it depends only on the application and the domain,
//! and adapters use it as a dev-dependency only (checked by `cargo xtask deps`).

// The bodies are test code: they fail loudly on purpose.
#![allow(clippy::unwrap_used)]

use absync_application::ports::{
    AbsenceStore, DeliveryQueue, DeliveryTracking, HealthStore, StoreHealth, SubscriptionStore,
    TokenStore,
};

pub mod absences;
pub mod cancellation;
mod fixtures;
pub mod groups;
pub mod operations;
pub mod queue;
pub mod stored_format;
pub mod subscriptions;
pub mod tenancy;
pub mod tokens;
pub mod tracking;

/// Everything a store adapter implements: every store port, on a cheap-to-clone handle that can be
/// shared with use cases (`Arc<dyn Port>`). Implemented for every such type.
pub trait ContractStore:
    AbsenceStore
    + SubscriptionStore
    + DeliveryQueue
    + DeliveryTracking
    + TokenStore
    + StoreHealth
    + HealthStore
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
        + HealthStore
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
    // One test per body (`module::body`), recursively (the attributes and parameters repeat for each).
    (@tests [$($attr:tt)*] [$($param:tt)*] [$make:expr]) => {};
    (@tests [$($attr:tt)*] [$($param:tt)*] [$make:expr] $module:ident :: $body:ident $($rest:tt)*) => {
        $($attr)*
        async fn $body($($param)*) {
            $crate::$module::$body(($make).await).await;
        }
        $crate::suite!(@tests [$($attr)*] [$($param)*] [$make] $($rest)*);
    };
    (@module $attrs:tt $params:tt [$make:expr]) => {
        /// The store contract (`absync-store-contract`), one test per body.
        mod contract {
            #[allow(unused_imports)]
            use super::*;

            // Every body, once: `module::body`.
            $crate::suite!(@tests $attrs $params [$make]
                tokens::tokens_are_found_by_hash_only
                tokens::concurrent_token_lookups_each_get_their_own_answer
                tokens::revoked_tokens_stop_working_and_stay_listed
                tokens::the_store_answers_pings
                absences::an_absence_round_trips_and_concurrent_writes_conflict
                absences::a_conflicting_write_writes_nothing
                absences::concurrent_writes_of_one_row_version_let_only_one_win
                absences::the_same_revision_put_twice_writes_nothing
                absences::a_write_queues_one_delivery_per_event_and_subscription
                absences::change_versions_increase_strictly_per_tenant
                absences::current_leaves_follow_the_events_and_page_by_date
                subscriptions::subscriptions_are_scoped_by_tenant_and_soft_deleted
                subscriptions::subscriptions_page_in_creation_order_and_take_changes
                subscriptions::a_rotated_secret_signs_beside_the_new_one_until_it_expires
                operations::subscriptions_are_listed_by_state
                operations::a_paused_subscription_queues_and_resume_sends_in_order
                operations::a_rate_limited_subscription_is_claimed_within_its_budget
                operations::health_figures_read_attempts_by_subscription_and_hour
                operations::health_figures_are_read_for_a_list_of_subscriptions
                queue::claims_lease_and_keep_each_leave_in_order
                queue::claims_take_only_due_deliveries_up_to_the_limit
                queue::claims_skip_the_subscriptions_asked
                queue::a_released_delivery_is_claimable_at_once
                queue::a_later_delivery_of_a_leave_waits_for_the_earlier_one
                queue::a_retry_is_claimable_only_from_its_time
                queue::a_final_failure_may_disable_its_subscription
                queue::deliveries_of_a_deleted_subscription_are_not_claimed
                cancellation::deleting_a_subscription_cancels_its_unsent_deliveries
                cancellation::disabling_a_subscription_cancels_its_unsent_deliveries
                cancellation::a_disabling_failure_cancels_the_rest_of_its_subscription
                cancellation::deliveries_of_an_expired_subscription_are_cancelled
                cancellation::a_delivery_sent_while_cancelled_counts_as_succeeded
                cancellation::cancelled_deliveries_are_not_failures_and_are_purged
                queue::next_due_is_when_the_next_claim_can_succeed
                queue::only_old_succeeded_deliveries_are_purged
                tracking::deliveries_list_newest_first_filtered_and_paged
                tracking::a_delivery_detail_carries_its_message_and_attempts
                tracking::resync_makes_a_delivery_due_again_unless_newer_state_went_out
                tracking::mark_processed_takes_only_failed_deliveries
                tracking::resync_failed_requeues_the_latest_failure_of_each_leave
                tracking::changed_since_lists_changes_oldest_change_first
                tracking::pending_tasks_group_failures_by_subscription
                tracking::pending_tasks_with_one_oldest_time_go_by_subscription
                tracking::queue_stats_count_each_status_and_the_due
                tenancy::another_tenant_sees_and_changes_nothing
                groups::concurrent_writes_each_get_their_own_result
                groups::a_failing_change_in_a_group_fails_alone
                groups::two_changes_of_one_absence_in_a_group_apply_in_order
                groups::each_change_keeps_its_trace_for_its_deliveries
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

    /// The bodies the suite lists: the lines of `text` that are a `module::body` path alone.
    fn listed(text: &str) -> BTreeSet<String> {
        text.lines()
            .map(str::trim)
            .filter(|line| {
                line.split_once("::").is_some_and(|(module, body)| {
                    [module, body].iter().all(|part| {
                        !part.is_empty()
                            && part
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    })
                })
            })
            .map(str::to_owned)
            .collect()
    }

    /// The bodies defined: every `pub async fn` of each module, as `module::body`.
    fn defined(sources: &[(&str, &'static str)]) -> BTreeSet<String> {
        sources
            .iter()
            .flat_map(|(module, source)| {
                source
                    .lines()
                    .filter_map(|line| line.strip_prefix("pub async fn "))
                    .filter_map(|rest| rest.split('<').next())
                    .map(move |body| format!("{module}::{body}"))
            })
            .collect()
    }

    #[test]
    fn the_suite_runs_every_body() {
        let bodies = defined(&[
            ("absences", include_str!("absences.rs")),
            ("cancellation", include_str!("cancellation.rs")),
            ("groups", include_str!("groups.rs")),
            ("operations", include_str!("operations.rs")),
            ("queue", include_str!("queue.rs")),
            ("subscriptions", include_str!("subscriptions.rs")),
            ("tenancy", include_str!("tenancy.rs")),
            ("tokens", include_str!("tokens.rs")),
            ("tracking", include_str!("tracking.rs")),
        ]);
        assert!(bodies.len() > 20, "{bodies:?}");
        assert_eq!(listed(include_str!("lib.rs")), bodies);
    }
}
