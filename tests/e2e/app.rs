//! `spawn_app`: one running absync per test, with a token, a receiver and clients.

use absync_adapter_grpc::proto::deliveries_client::DeliveriesClient;
use absync_adapter_grpc::proto::{self, AbsenceStatus};
use absync_application::TokenService;
use absync_bootstrap::store::{Store, StoreSettings};
use absync_bootstrap::{Application, Cli, Command};
use absync_domain::{Scope, TenantId};
use absync_e2e::client::Clients;
use absync_e2e::database::{StoreKind, TestDatabase};
use absync_e2e::fixtures::one_morning;
use absync_e2e::receiver::Receiver;
use clap::Parser;
use sqlx::AnyPool;
use std::time::Duration;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// A running absync and what a test needs around it.
pub(crate) struct TestApp {
    pub(crate) clients: Clients,
    pub(crate) receiver: Receiver,
    /// For a test's own queries: portable SQL only (`$1` parameters, integers and text), as the
    /// suite runs on either store.
    pub(crate) pool: AnyPool,
    pub(crate) grpc_addr: std::net::SocketAddr,
    pub(crate) http_addr: std::net::SocketAddr,
    pub(crate) token: String,
    /// The store the running app uses (the same handle, not another connection).
    pub(crate) app_store: Store,
    tokens: TokenService,
    _stop: oneshot::Sender<()>,
    /// Last: removed once the app is told to stop.
    _database: TestDatabase,
}

/// Starts absync on a database of its own (on the store of `ABSYNC_E2E_STORE`), with a 50 ms
/// poll interval, http destinations allowed, a receiver and a token with every scope for tenant `acme`.
pub(crate) async fn spawn_app() -> TestApp {
    spawn_app_with(&["--allow-destinations", "127.0.0.0/8"]).await
}

/// [`spawn_app`] with the retry cascade `schedule` (e.g. `30ms,30ms,30ms,30ms`).
pub(crate) async fn spawn_app_retrying(schedule: &str) -> TestApp {
    let flags = [
        "--allow-destinations",
        "127.0.0.0/8",
        "--retry-schedule",
        schedule,
    ];
    spawn_app_with(&flags).await
}

/// [`spawn_app`] with more `absync serve` flags (and no SSRF allowlist unless given).
pub(crate) async fn spawn_app_with(extra: &[&str]) -> TestApp {
    let database = TestDatabase::create().await;
    let mut args = vec![
        "absync",
        "serve",
        "--database-url",
        database.url(),
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
        "--allow-http",
        "--dispatch-poll-interval",
        "50ms",
        "--shutdown-timeout",
        "5s",
    ];
    args.extend_from_slice(extra);
    let cli = Cli::try_parse_from(args).unwrap();
    let Command::Serve(args) = cli.command else {
        unreachable!()
    };
    let app = Application::build(&args).await.unwrap();
    let grpc_addr = app.grpc_addr();
    let http_addr = app.http_addr();
    let app_store = app.store();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));

    // The app has migrated the database; tokens are issued as `absync token create` does, beside it.
    let store = Store::open(
        database.url(),
        StoreSettings {
            max_connections: 2,
            acquire_timeout: Duration::from_secs(5),
            exclusive: false,
        },
    )
    .await
    .unwrap();
    let tokens = TokenService::new(store.ports().tokens);
    let pool = database.pool().await;
    let token = tokens
        .issue(
            &TenantId::parse("acme").unwrap(),
            &Scope::ALL,
            Some("e2e".into()),
        )
        .await
        .unwrap()
        .token;
    TestApp {
        clients: Clients::connect(grpc_addr, Some(token.clone())).await,
        token,
        app_store,
        receiver: Receiver::start().await,
        pool,
        grpc_addr,
        http_addr,
        tokens,
        _stop: stop,
        _database: database,
    }
}

impl TestApp {
    /// Subscribes the receiver's `/hook` to `leaves` with an Authorization value.
    pub(crate) async fn subscribe(&mut self, filter: proto::EventFilter) -> proto::Subscription {
        self.subscribe_to(proto::Collection::Leaves, filter)
            .await
            .subscription
            .unwrap()
    }

    /// Subscribes the receiver's `/hook` to `collection`; the answer carries the signing secret.
    pub(crate) async fn subscribe_to(
        &mut self,
        collection: proto::Collection,
        filter: proto::EventFilter,
    ) -> proto::CreateSubscriptionResponse {
        self.clients
            .create_subscription(proto::CreateSubscriptionRequest {
                destination_url: self.receiver.url("/hook"),
                collection: collection.into(),
                authorization: Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l".into()),
                event_filter: filter.into(),
                valid_until: String::new(),
                max_per_second: None,
            })
            .await
            .unwrap()
    }

    /// Puts an absence.
    pub(crate) async fn put(
        &mut self,
        absence: proto::Absence,
    ) -> Result<proto::ChangeResponse, tonic::Status> {
        self.clients.put(absence).await
    }

    /// Puts two approved absences of one morning each: `hr-1` on 2024-03-04, then `hr-2` on
    /// 2024-03-05.
    pub(crate) async fn put_two_mornings(&mut self) {
        for (id, date) in [("hr-1", "2024-03-04"), ("hr-2", "2024-03-05")] {
            self.put(one_morning(id, date, 1, AbsenceStatus::Approved))
                .await
                .unwrap();
        }
    }

    /// Counts rows of a table.
    pub(crate) async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .unwrap();
        n
    }

    /// A token of tenant `acme` with only `scopes`.
    pub(crate) async fn token_with(&self, tenant: &str, scopes: &[Scope]) -> String {
        self.tokens
            .issue(&TenantId::parse(tenant).unwrap(), scopes, None)
            .await
            .unwrap()
            .token
    }

    /// A Deliveries client (requests still need [`Clients::request`] for the token).
    pub(crate) async fn deliveries(&self) -> DeliveriesClient<Channel> {
        let channel = Channel::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        DeliveriesClient::new(channel)
    }

    /// The store it runs on.
    pub(crate) fn store(&self) -> StoreKind {
        self._database.kind()
    }

    /// The URL of `path` on the HTTP API.
    pub(crate) fn http(&self, path: &str) -> String {
        format!("http://{}{path}", self.http_addr)
    }
}
