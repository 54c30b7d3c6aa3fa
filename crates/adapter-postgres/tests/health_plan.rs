//! The health figures of a subscription read its attempts through the index on (subscription, start
//! time): with 1,000,000 attempts of history, the 24-hour figures read the day's attempts only, and
//! so do those of a list of subscriptions; the last success and failure of each read a few.

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::PgStore;
use absync_domain::{SubscriptionId, TenantId};
use absync_store_core::Arg;
use absync_store_core::Statement;
use absync_store_core::health::{
    last_failures_statement, last_successes_statement, tallies_of_statement, tallies_statement,
};
use chrono::{Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// Every plan node that reads `relation`: its type, index, and the rows it visited (returned and
/// removed by filters, over every loop).
fn nodes_reading(plan: &Value, relation: &str, found: &mut Vec<(String, Option<String>, i64)>) {
    if plan.get("Relation Name").and_then(Value::as_str) == Some(relation) {
        let rows: f64 = [
            "Actual Rows",
            "Rows Removed by Filter",
            "Rows Removed by Index Recheck",
        ]
        .iter()
        .filter_map(|key| plan.get(*key).and_then(Value::as_f64))
        .sum();
        let loops = plan
            .get("Actual Loops")
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        #[allow(clippy::cast_possible_truncation)]
        found.push((
            plan["Node Type"].as_str().unwrap_or("?").to_owned(),
            plan.get("Index Name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            (rows * loops) as i64,
        ));
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        nodes_reading(child, relation, found);
    }
}

/// The indexes the plan reads.
fn index_names(plan: &Value, found: &mut Vec<String>) {
    if let Some(index) = plan.get("Index Name").and_then(Value::as_str) {
        found.push(index.to_owned());
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        index_names(child, found);
    }
}

/// The plan of `statement`, run (`EXPLAIN ANALYZE`).
async fn explain(pool: &PgPool, statement: &Statement) -> Value {
    let explain = format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", statement.sql());
    let mut query = sqlx::query_scalar::<_, Value>(&explain);
    for arg in statement.args() {
        query = match arg {
            Arg::Text(text) => query.bind(text.clone()),
            Arg::Time(at) => query.bind(*at),
            other => panic!("the health figures take text and times, not {other:?}"),
        };
    }
    query.fetch_one(pool).await.unwrap()
}

/// The attempts `plan` visits, node by node, after checking that it finds them through the index
/// on (subscription, start time) and never scans the table.
fn attempts_visited(plan: &Value) -> Vec<i64> {
    let mut nodes = Vec::new();
    nodes_reading(&plan[0]["Plan"], "delivery_attempts", &mut nodes);
    assert!(
        !nodes.is_empty(),
        "the plan reads delivery_attempts: {plan:#}"
    );
    let mut indexes = Vec::new();
    index_names(&plan[0]["Plan"], &mut indexes);
    assert!(
        indexes
            .iter()
            .any(|i| i == "delivery_attempts_by_subscription"),
        "the attempts are found through the index: {plan:#}"
    );
    nodes
        .into_iter()
        .map(|(node, _, visited)| {
            assert_ne!(node, "Seq Scan", "{plan:#}");
            visited
        })
        .collect()
}

async fn subscription(pool: &PgPool, destination: &str) -> String {
    sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status, signing_secret)
         VALUES ('acme', 'leaves', $1, 'all', 'Enabled', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
         RETURNING id::text",
    )
    .bind(destination)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// `count` attempts of one delivery of `subscription`, one every `every_s` seconds back from now.
async fn attempts(pool: &PgPool, subscription: &str, version: i64, count: i64, every_s: i64) {
    sqlx::query(
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         VALUES ('acme', $1, $1, $1 || '-20240304-AM', 'created', '{}')",
    )
    .bind(version)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query(
        "WITH d AS (
             INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
             VALUES ('acme', $1::uuid, $2, $2 || '-20240304-AM', 'succeeded', now())
             RETURNING id
         )
         INSERT INTO delivery_attempts (delivery_id, tenant_id, subscription_id, started_at, duration_ms, http_status)
         SELECT d.id, 'acme', $1::uuid, now() - i * make_interval(secs => $4), 3 + i % 40,
                CASE WHEN i % 10 = 0 THEN 500 ELSE 200 END
         FROM d, generate_series(1, $3) AS i",
    )
    .bind(subscription)
    .bind(version)
    .bind(count)
    .bind(every_s as f64)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn the_day_of_a_subscription_with_a_million_attempts_is_read_through_the_index(pool: PgPool) {
    sqlx::query("INSERT INTO tenants (id) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    // One attempt every 5 s for 58 days (17,280 a day), and a neighbour's history beside it.
    let busy = subscription(&pool, "https://example.com/busy").await;
    let neighbour = subscription(&pool, "https://example.com/neighbour").await;
    attempts(&pool, &busy, 1, 1_000_000, 5).await;
    attempts(&pool, &neighbour, 2, 200_000, 2).await;
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();

    let acme = TenantId::parse("acme").unwrap();
    let since = Utc::now() - Duration::hours(24);
    let busy = SubscriptionId::new(busy);
    let neighbour = SubscriptionId::new(neighbour);
    let plan = explain(&pool, &tallies_statement::<PgStore>(&acme, &busy, since)).await;
    for visited in attempts_visited(&plan) {
        assert!(
            (17_000..=17_400).contains(&visited),
            "the tallies visit {visited} attempts for a day of 17,280: {plan:#}"
        );
    }

    // The list's figures: the day of both (17,280 and 43,200 attempts), and the newest success and
    // failure of each, a few attempts back from the newest.
    let both = [&busy, &neighbour];
    let plan = explain(&pool, &tallies_of_statement::<PgStore>(&acme, &both, since)).await;
    let visited: i64 = attempts_visited(&plan).iter().sum();
    assert!(
        (60_000..=60_800).contains(&visited),
        "the tallies of both visit {visited} attempts for days of 60,480: {plan:#}"
    );
    for statement in [
        last_successes_statement::<PgStore>(&acme, &both),
        last_failures_statement::<PgStore>(&acme, &both),
    ] {
        let plan = explain(&pool, &statement).await;
        for visited in attempts_visited(&plan) {
            assert!(
                visited <= 40,
                "{visited} attempts visited for the newest of two subscriptions: {plan:#}"
            );
        }
    }
}
