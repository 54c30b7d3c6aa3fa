//! The skeleton of a new store, as docs/extending.md walks through it: the least a store writes to
//! get delivery tracking, subscriptions and tokens from the store core. Here a plain sqlx pool over
//! an SQLite file with transactions of the pool (no group commit, no single writer: what absync's own
//! SQLite store adds for speed and for concurrent writers). The test runs the core's queries on it.

use absync_application::fixtures::new_subscription;
use absync_application::ports::{
    DeliveryFilter, DeliveryTracking, StoreError, Subscription, SubscriptionChanges,
    SubscriptionQuery, SubscriptionStore, TokenStore,
};
use absync_domain::{DeliveryId, Scope, SubscriptionStatus, TenantId};
use absync_store_core::{Arg, Dialect, Engine, Rows, Statement, WriteTx, store_error};
use async_trait::async_trait;
use chrono::{Duration, Utc};
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqlitePool, SqliteRow};
use sqlx::{Sqlite, Transaction};
use std::sync::atomic::{AtomicU32, Ordering};

/// Step 1: the store handle. Cheap to clone; the ports hang off it.
#[derive(Debug, Clone)]
struct SketchStore {
    pool: SqlitePool,
    /// How often the dispatchers would have been woken.
    wakeups: std::sync::Arc<AtomicU32>,
}

/// Step 2: the error mapping. This database's own codes that mean "not now": SQLITE_BUSY and
/// SQLITE_LOCKED.
fn sketch_error(err: sqlx::Error) -> StoreError {
    store_error(err, |code| matches!(code, "5" | "6"))
}

/// Step 3: the dialect. The schema of `migrations/sqlite` keeps times as microseconds and UUIDs as
/// text.
impl Dialect for SketchStore {
    const NOW: &'static str = "(CAST(unixepoch('subsec') * 1000 AS INTEGER) * 1000)";
    const FOR_UPDATE: &'static str = "";

    fn uuid(n: u8) -> String {
        format!("${n}")
    }

    fn uuid_text(column: &str) -> String {
        column.to_owned()
    }

    fn hour_of(column: &str) -> String {
        format!("({column} / 3600000000) * 3600000000")
    }
}

impl Rows for SketchStore {
    type Row = SqliteRow;
}

/// Step 4: binding an argument in this database's column types.
fn bind<'q>(
    query: sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>,
    arg: &'q Arg,
) -> sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>> {
    match arg {
        Arg::Text(text) => query.bind(text.as_deref()),
        Arg::Int(n) => query.bind(*n),
        Arg::Bool(b) => query.bind(*b),
        Arg::Time(at) => query.bind(at.map(|at| at.timestamp_micros())),
        Arg::Date(date) => query.bind(date.map(|d| d.to_string())),
        Arg::Bytes(bytes) => query.bind(bytes.as_slice()),
        Arg::Names(names) => query.bind(serde_json::Value::from(names.clone()).to_string()),
    }
}

fn prepared(statement: &Statement) -> sqlx::query::Query<'_, Sqlite, SqliteArguments<'_>> {
    statement
        .args()
        .iter()
        .fold(sqlx::query(statement.sql()), bind)
}

/// Step 5: a write transaction. Dropped uncommitted, sqlx rolls it back.
struct SketchWrite(Transaction<'static, Sqlite>);

#[async_trait]
impl WriteTx for SketchWrite {
    type Row = SqliteRow;

    async fn execute(&mut self, statement: Statement) -> Result<u64, StoreError> {
        let conn = &mut *self.0;
        let done = prepared(&statement).execute(conn).await;
        done.map(|d| d.rows_affected()).map_err(sketch_error)
    }

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<SqliteRow>, StoreError> {
        let conn = &mut *self.0;
        prepared(&statement)
            .fetch_all(conn)
            .await
            .map_err(sketch_error)
    }

    async fn commit(self) -> Result<(), StoreError> {
        self.0.commit().await.map_err(sketch_error)
    }
}

/// Step 6: the engine: reads, write transactions, and waking the dispatchers.
#[async_trait]
impl Engine for SketchStore {
    type Write = SketchWrite;

    async fn fetch_all(&self, statement: Statement) -> Result<Vec<SqliteRow>, StoreError> {
        let reading = prepared(&statement).fetch_all(&self.pool);
        reading.await.map_err(sketch_error)
    }

    async fn fetch_optional(&self, statement: Statement) -> Result<Option<SqliteRow>, StoreError> {
        let reading = prepared(&statement).fetch_optional(&self.pool);
        reading.await.map_err(sketch_error)
    }

    async fn write(&self) -> Result<SketchWrite, StoreError> {
        let begun = self.pool.begin().await;
        begun.map(SketchWrite).map_err(sketch_error)
    }

    fn work_queued(&self) {
        self.wakeups.fetch_add(1, Ordering::Relaxed);
    }
}

// Step 7: the ports the store core answers: DeliveryTracking, SubscriptionStore, TokenStore.
absync_store_core::store_ports!(SketchStore);

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");

async fn sketch_store() -> SketchStore {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "skeleton-{}-{}.db",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&file);
    let options = SqliteConnectOptions::new()
        .filename(&file)
        .create_if_missing(true);
    let pool = SqlitePool::connect_with(options).await.expect("open");
    MIGRATOR.run(&pool).await.expect("migrate");
    SketchStore {
        pool,
        wakeups: std::sync::Arc::default(),
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).expect("tenant")
}

#[tokio::test]
async fn the_skeleton_keeps_tokens() {
    let store = sketch_store().await;
    let acme = tenant("acme");
    let created = TokenStore::create(&store, &acme, [7; 32], &[Scope::AbsencesWrite], None)
        .await
        .expect("create");
    let found = store.find_active([7; 32]).await.expect("find");
    assert_eq!(found.as_ref().map(|t| &t.id), Some(&created.id));
    assert_eq!(found.map(|t| t.scopes), Some(vec![Scope::AbsencesWrite]));
    assert_eq!(store.list_tokens(Some(acme)).await.expect("list").len(), 1);
    assert!(store.revoke_token(&created.id).await.expect("revoke"));
    assert!(!store.revoke_token("not-a-uuid").await.expect("revoke"));
    assert_eq!(store.find_active([7; 32]).await.expect("find"), None);
}

#[tokio::test]
async fn the_skeleton_keeps_subscriptions_per_tenant() {
    let store = sketch_store().await;
    let (acme, other) = (tenant("acme"), tenant("other"));
    let first =
        SubscriptionStore::create(&store, new_subscription(acme.clone(), "https://a.example/"))
            .await
            .expect("create");
    let second =
        SubscriptionStore::create(&store, new_subscription(acme.clone(), "https://b.example/"))
            .await
            .expect("create");
    assert_eq!(
        store.get(&acme, &first.id).await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(store.get(&other, &first.id).await.expect("get"), None);
    // Pages go oldest first; two made within one clock tick are ordered by id.
    let key = |s: &Subscription| (s.created_at, s.id.as_str().to_owned());
    let (older, newer) = if key(&first) <= key(&second) {
        (&first, &second)
    } else {
        (&second, &first)
    };
    let page = store
        .page(&acme, SubscriptionQuery::new(Utc::now(), 1))
        .await
        .expect("page");
    assert_eq!(page, vec![older.clone()]);
    let cursor = absync_application::ports::SubscriptionCursor {
        created_at: older.created_at,
        id: older.id.clone(),
    };
    assert_eq!(
        store
            .page(
                &acme,
                SubscriptionQuery::new(Utc::now(), 10).after(Some(cursor))
            )
            .await
            .expect("page"),
        vec![newer.clone()]
    );

    let disabled = store
        .update(
            &acme,
            &second.id,
            SubscriptionChanges {
                status: Some(SubscriptionStatus::Disabled),
                ..SubscriptionChanges::default()
            },
        )
        .await
        .expect("update");
    assert_eq!(
        disabled.map(|s| s.status),
        Some(SubscriptionStatus::Disabled)
    );
    let until = Utc::now() + Duration::days(1);
    let rotated = store
        .rotate_secret(&acme, &first.id, first.signing_secret.clone(), until)
        .await
        .expect("rotate");
    assert!(rotated.is_some_and(|s| s.previous_secret.is_some()));
    assert!(store.delete(&acme, &first.id).await.expect("delete"));
    assert!(!store.delete(&acme, &first.id).await.expect("delete"));
    let left: Vec<_> = store
        .list(&acme)
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(left, vec![second.id]);
}

#[tokio::test]
async fn the_skeleton_tracks_an_empty_queue() {
    let store = sketch_store().await;
    let acme = tenant("acme");
    let listed = store
        .list_deliveries(&acme, DeliveryFilter::default(), None, 50)
        .await
        .expect("list");
    assert!(listed.is_empty());
    assert_eq!(
        store
            .get_delivery(&acme, DeliveryId::new(1))
            .await
            .expect("get"),
        None
    );
    assert_eq!(
        store
            .resync(&acme, DeliveryId::new(1), false, Utc::now())
            .await
            .expect("resync"),
        None
    );
    assert_eq!(
        store
            .resync_failed(&acme, None, Utc::now())
            .await
            .expect("resync"),
        0
    );
    assert!(store.pending_tasks(&acme).await.expect("tasks").is_empty());
    let stats = store.queue_stats(Utc::now()).await.expect("stats");
    assert_eq!((stats.due, stats.oldest_due), (0, None));
    assert_eq!(store.wakeups.load(Ordering::Relaxed), 0);
}
