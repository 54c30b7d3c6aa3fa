//! The service: built from [`ServeArgs`] (the store, the use cases, and the gRPC and HTTP listeners,
//! bound first so that port 0 works and the addresses can be read back), then run until a shutdown
//! signal: both APIs, the webhook dispatcher, the store's background tasks and the queue's upkeep;
//! then the traces still buffered are exported, within the shutdown timeout.

use crate::config::ServeArgs;
use crate::dispatch_loop;
use crate::store::{Store, StoreSettings};
use crate::telemetry::Traces;
use absync_adapter_grpc::GrpcApi;
use absync_adapter_http::{HttpApi, PrometheusMetrics};
use absync_adapter_webhook_http::{DnsGuard, HttpWebhookSender, SenderSettings};
use absync_application::ports::SystemClock;
use absync_application::{
    DispatchSettings, Dispatcher, HealthService, IngestService, SubscriptionService, TokenService,
    TrackingService,
};
use absync_domain::{DestinationPolicy, RetryPolicy};
use anyhow::Context;
use secrecy::ExposeSecret;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// How often finished (succeeded, cancelled) deliveries past the retention are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);
/// How often the deliveries of subscriptions that expired meanwhile are cancelled (claims skip
/// them from the moment they expire; this takes them out of the queue's counts).
const EXPIRY_EVERY: Duration = Duration::from_secs(60);

/// A built, not yet running, absync service.
#[derive(Debug)]
pub struct Application {
    grpc_listener: TcpListener,
    grpc_addr: SocketAddr,
    http_listener: TcpListener,
    http_addr: SocketAddr,
    store: Store,
    api: GrpcApi,
    http_api: HttpApi,
    dispatcher: Dispatcher,
    poll_interval: Duration,
    shutdown_timeout: Duration,
    retention: Duration,
    traces: Option<Traces>,
}

impl Application {
    /// The store it runs on (a handle to the same one).
    #[must_use]
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Connects to the database (creating it if needed), applies migrations, binds the gRPC and HTTP
    /// listeners and wires every adapter to its use cases. No traces.
    ///
    /// # Errors
    /// When the database cannot be reached or migrated, or an address cannot be bound.
    pub async fn build(args: &ServeArgs) -> anyhow::Result<Self> {
        Self::build_traced(args, None).await
    }

    /// [`Application::build`], with `traces` (from [`telemetry::init`](crate::telemetry::init)):
    /// the use cases and both APIs trace through its context, and shutdown flushes it within the
    /// shutdown timeout.
    ///
    /// # Errors
    /// As [`Application::build`].
    pub async fn build_traced(args: &ServeArgs, traces: Option<Traces>) -> anyhow::Result<Self> {
        let trace = traces.as_ref().map(Traces::context);
        let url = args.database.database_url.expose_secret();
        let store = Store::open(
            url,
            StoreSettings {
                max_connections: args
                    .database_max_connections
                    .unwrap_or_else(|| crate::store::default_max_connections(url)),
                acquire_timeout: args.database_acquire_timeout,
                exclusive: true,
            },
        )
        .await?;
        tracing::info!(store = store.kind(), "store opened");
        let ports = store.ports();

        let policy = DestinationPolicy::with_allowlist(&args.allow_destinations)
            .context("ABSYNC_ALLOW_DESTINATIONS")?;
        let sender = HttpWebhookSender::new(SenderSettings {
            timeout: args.delivery_timeout,
            policy: policy.clone(),
            // As many kept-alive connections to a receiver as can be in flight to it.
            pool_max_idle_per_host: usize::from(args.dispatch_per_subscription),
            ..SenderSettings::default()
        })
        .context("building the webhook HTTP client")?;
        let retry =
            RetryPolicy::new(args.retry_schedule.clone()).context("ABSYNC_RETRY_SCHEDULE")?;

        let clock = Arc::new(SystemClock);
        let metrics = Arc::new(PrometheusMetrics::default());
        let mut ingest = IngestService::new(
            ports.absences.clone(),
            ports.subscriptions.clone(),
            clock.clone(),
        )
        .with_metrics(metrics.clone());
        if let Some(trace) = &trace {
            ingest = ingest.with_tracing(trace.clone());
        }
        let api = GrpcApi {
            ingest,
            subscriptions: SubscriptionService::new(
                ports.subscriptions.clone(),
                clock.clone(),
                Arc::new(DnsGuard::new(policy)),
                args.allow_http,
            ),
            tokens: TokenService::new(ports.tokens.clone()),
            tracking: TrackingService::new(ports.tracking.clone(), clock.clone()),
            readiness: ports.health.clone(),
            trace: trace.clone(),
        };
        let mut dispatcher = Dispatcher::new(
            ports.queue.clone(),
            Arc::new(sender),
            clock,
            DispatchSettings {
                retry,
                batch_size: args.dispatch_batch_size,
                concurrency: usize::from(args.dispatch_concurrency),
                per_subscription: usize::from(args.dispatch_per_subscription),
                lease: args.dispatch_lease,
            },
        )
        .with_metrics(metrics.clone());
        if let Some(trace) = &trace {
            dispatcher = dispatcher.with_tracing(trace.clone());
        }

        let grpc_listener = TcpListener::bind(args.grpc_addr).await.with_context(|| {
            format!(
                "binding the gRPC address {} (ABSYNC_GRPC_ADDR)",
                args.grpc_addr
            )
        })?;
        let grpc_addr = grpc_listener.local_addr()?;
        let http_listener = TcpListener::bind(args.http_addr).await.with_context(|| {
            format!(
                "binding the HTTP address {} (ABSYNC_HTTP_ADDR)",
                args.http_addr
            )
        })?;
        let http_addr = http_listener.local_addr()?;
        let http_api = HttpApi {
            subscriptions: api.subscriptions.clone(),
            ingest: api.ingest.clone(),
            tokens: api.tokens.clone(),
            health: ports.health.clone(),
            tracking: api.tracking.clone(),
            metrics: metrics.clone(),
            subscription_health: HealthService::new(
                ports.subscriptions.clone(),
                ports.attempts.clone(),
                Arc::new(SystemClock),
            ),
            trace,
        };
        Ok(Self {
            grpc_listener,
            grpc_addr,
            http_listener,
            http_addr,
            store,
            api,
            http_api,
            dispatcher,
            poll_interval: args.dispatch_poll_interval,
            shutdown_timeout: args.shutdown_timeout,
            retention: args.retention,
            traces,
        })
    }

    /// The address the gRPC API listens on.
    #[must_use]
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// The address the HTTP API listens on.
    #[must_use]
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Serves until `shutdown` resolves; then stops accepting calls and claiming deliveries, and waits
    /// (at most the shutdown timeout) for in-flight calls and sends to finish. Deliveries still leased
    /// when the time is up are sent again after their lease expires.
    ///
    /// # Errors
    /// When the gRPC or the HTTP server fails.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut grpc_stop = stop_rx.clone();
        let grpc = tokio::spawn(absync_adapter_grpc::serve(
            self.grpc_listener,
            self.api,
            async move {
                let _ = grpc_stop.wait_for(|stop| *stop).await;
            },
        ));
        let mut http_stop = stop_rx.clone();
        let http = tokio::spawn(absync_adapter_http::serve(
            self.http_listener,
            self.http_api,
            async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            },
        ));
        // Sends in flight get half the shutdown timeout; the rest of it covers recording and releasing.
        let dispatcher = tokio::spawn(dispatch_loop::run(
            self.dispatcher,
            self.store.clone(),
            self.poll_interval,
            self.shutdown_timeout / 2,
            stop_rx.clone(),
        ));
        let background = self.store.background(&stop_rx);
        let purge = tokio::spawn(dispatch_loop::maintain(
            self.store.ports().queue,
            self.retention,
            EXPIRY_EVERY,
            PURGE_EVERY,
            stop_rx,
        ));
        tracing::info!(grpc_addr = %self.grpc_addr, http_addr = %self.http_addr, "absync is serving");

        let mut grpc = grpc;
        let early = tokio::select! {
            () = shutdown => None,
            result = &mut grpc => Some(result),
        };
        tracing::info!("shutting down");
        let stopping_since = std::time::Instant::now();
        let _ = stop_tx.send(true);
        let grpc_result = match early {
            Some(result) => result,
            None => match tokio::time::timeout(self.shutdown_timeout, &mut grpc).await {
                Ok(result) => result,
                Err(_) => {
                    tracing::warn!(
                        "gRPC calls still running at the shutdown timeout; abandoning them"
                    );
                    grpc.abort();
                    Ok(Ok(()))
                }
            },
        };
        let mut http = http;
        let http_result = match tokio::time::timeout(self.shutdown_timeout, &mut http).await {
            Ok(result) => result,
            Err(_) => {
                tracing::warn!(
                    "HTTP requests still running at the shutdown timeout; abandoning them"
                );
                http.abort();
                Ok(Ok(()))
            }
        };
        let mut dispatcher = dispatcher;
        if tokio::time::timeout(self.shutdown_timeout, &mut dispatcher)
            .await
            .is_err()
        {
            tracing::warn!(
                "deliveries still in flight at the shutdown timeout; they will be retried"
            );
            dispatcher.abort();
        }
        for task in background {
            task.abort();
        }
        purge.abort();
        self.store.close().await;
        if let Some(traces) = &self.traces {
            // What is left of the shutdown timeout.
            traces
                .flush_within(
                    self.shutdown_timeout
                        .saturating_sub(stopping_since.elapsed()),
                )
                .await;
        }
        grpc_result
            .context("the gRPC server task failed")?
            .context("the gRPC server failed")?;
        http_result
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")?;
        tracing::info!("stopped");
        Ok(())
    }
}
