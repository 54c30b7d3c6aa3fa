//! The claim's plan (with token buckets or without) does not visit cancelled deliveries: after a subscription with 1,000 unsent
//! deliveries is deleted, claiming reads none of them (they are out of the `deliveries_due` index).

#![allow(clippy::unwrap_used)] // Tests fail loudly on purpose.

use absync_adapter_postgres::{CLAIM, CLAIM_UNLIMITED, PgStore};
use absync_application::ports::SubscriptionStore;
use absync_domain::{SubscriptionId, TenantId};
use chrono::{Duration, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// Every plan node of `plan` that reads `deliveries`, with how many rows it returned and removed.
fn deliveries_nodes(plan: &Value, found: &mut Vec<(String, i64)>) {
    if plan.get("Relation Name").and_then(Value::as_str) == Some("deliveries")
        && plan.get("Node Type").and_then(Value::as_str) != Some("ModifyTable")
    {
        let rows = [
            "Actual Rows",
            "Rows Removed by Filter",
            "Rows Removed by Index Recheck",
        ]
        .iter()
        .filter_map(|key| plan.get(*key).and_then(Value::as_f64))
        .sum::<f64>();
        let loops = plan
            .get("Actual Loops")
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        #[allow(clippy::cast_possible_truncation)]
        let visited = (rows * loops) as i64;
        let node = format!(
            "{} on deliveries{}",
            plan["Node Type"].as_str().unwrap_or("?"),
            plan.get("Index Name")
                .and_then(Value::as_str)
                .map(|i| format!(" using {i}"))
                .unwrap_or_default()
        );
        found.push((node, visited));
    }
    for child in plan
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        deliveries_nodes(child, found);
    }
}

#[sqlx::test(migrator = "absync_adapter_postgres::MIGRATOR")]
async fn the_claim_does_not_visit_cancelled_deliveries(pool: PgPool) {
    sqlx::query("INSERT INTO tenants (id) VALUES ('acme')")
        .execute(&pool)
        .await
        .unwrap();
    let id: String = sqlx::query_scalar(
        "INSERT INTO subscriptions (tenant_id, collection, destination, event_filter, status, signing_secret)
         VALUES ('acme', 'leaves', 'https://example.com/hook', 'all', 'Enabled', 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')
         RETURNING id::text",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    // 1,000 leave events and a due delivery of each.
    sqlx::query(
        "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record)
         SELECT 'acme', v, v, v || '-20240304-AM', 'created', '{}' FROM generate_series(1, 1000) AS v",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
         SELECT 'acme', $1::uuid, v, v || '-20240304-AM', 'pending', now() - interval '1 hour'
         FROM generate_series(1, 1000) AS v",
    )
    .bind(&id)
    .execute(&pool)
    .await
    .unwrap();

    let store = PgStore::from_pool(pool.clone());
    let tenant = TenantId::parse("acme").unwrap();
    assert!(
        store
            .delete(&tenant, &SubscriptionId::new(id))
            .await
            .unwrap()
    );
    let (unsent, cancelled): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status IN ('pending', 'waiting')),
                count(*) FILTER (WHERE status = 'cancelled' AND cancel_reason = 'subscription deleted')
         FROM deliveries",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((unsent, cancelled), (0, 1000));

    // Statistics as a long-running store has them.
    sqlx::query("ANALYZE").execute(&pool).await.unwrap();
    let now = Utc::now();
    for (name, claim) in [("CLAIM", CLAIM), ("CLAIM_UNLIMITED", CLAIM_UNLIMITED)] {
        let plan: Value = sqlx::query_scalar(&format!("EXPLAIN (ANALYZE, FORMAT JSON) {claim}"))
            .bind(now)
            .bind(100_i64)
            .bind(now + Duration::minutes(1))
            .bind(Vec::<String>::new())
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut nodes = Vec::new();
        deliveries_nodes(&plan[0]["Plan"], &mut nodes);
        assert!(!nodes.is_empty(), "{name} reads deliveries: {plan}");
        for (node, visited) in &nodes {
            assert_eq!(
                *visited, 0,
                "{name}: {node} visits {visited} rows: {plan:#}"
            );
        }
        assert!(
            nodes
                .iter()
                .any(|(node, _)| node.ends_with("using deliveries_due")),
            "{name}: due deliveries are found through the due index: {nodes:?}"
        );
    }
}
