//! The gRPC server: every `absync.v1` service, health and reflection, on a listener the caller bound.
//!
//! Reflection is served in both versions, `grpc.reflection.v1` and `v1alpha`, which many clients
//! still speak. The health service follows the same readiness as `/readyz`: `SERVING` while the
//! store answers, `NOT_SERVING` while it does not and from the moment shutdown begins.

use crate::auth::Authenticator;
use crate::deliveries::DeliveriesApi;
use crate::ingest::IngestApi;
use crate::oversized::{MAX_MESSAGE, OversizedIsResourceExhausted};
use crate::proto;
use crate::proto::absence_ingest_server::AbsenceIngestServer;
use crate::proto::deliveries_server::DeliveriesServer;
use crate::proto::subscriptions_server::SubscriptionsServer;
use crate::subscriptions::SubscriptionsApi;
use crate::traced::server_spans;
use absync_application::ports::{StoreHealth, TraceContext};
use absync_application::{IngestService, SubscriptionService, TokenService, TrackingService};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often the health service asks the store whether it answers.
const READINESS_PROBE: Duration = Duration::from_secs(1);
/// How long a probe may take before the store counts as unreachable.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The use cases the gRPC services call.
#[derive(Clone)]
pub struct GrpcApi {
    /// Absence ingest.
    pub ingest: IngestService,
    /// Subscriptions.
    pub subscriptions: SubscriptionService,
    /// Token checks.
    pub tokens: TokenService,
    /// Delivery tracking.
    pub tracking: TrackingService,
    /// Readiness: whether the store answers (what `/readyz` asks too).
    pub readiness: Arc<dyn StoreHealth>,
    /// When traces are exported: each call gets a server span, the child of the caller's
    /// `traceparent`.
    pub trace: Option<Arc<dyn TraceContext>>,
}

impl std::fmt::Debug for GrpcApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcApi").finish_non_exhaustive()
    }
}

/// Sets every service's health, and the server's (the empty service name), to `status`.
async fn set_all(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status("", status).await;
    for name in [
        <AbsenceIngestServer<IngestApi> as tonic::server::NamedService>::NAME,
        <SubscriptionsServer<SubscriptionsApi> as tonic::server::NamedService>::NAME,
        <DeliveriesServer<DeliveriesApi> as tonic::server::NamedService>::NAME,
    ] {
        health.set_service_status(name, status).await;
    }
}

/// `SERVING` when the store answers within [`PROBE_TIMEOUT`], `NOT_SERVING` otherwise.
async fn probe(readiness: &dyn StoreHealth) -> ServingStatus {
    match tokio::time::timeout(PROBE_TIMEOUT, readiness.ping()).await {
        Ok(Ok(())) => ServingStatus::Serving,
        _ => ServingStatus::NotServing,
    }
}

/// Keeps the health service in step with the store (`last` is what it says now) until `stopping`
/// turns true, then reports `NOT_SERVING` for good.
async fn follow_readiness(
    health: HealthReporter,
    readiness: Arc<dyn StoreHealth>,
    mut last: ServingStatus,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(READINESS_PROBE) => {}
            _ = stopping.wait_for(|stop| *stop) => break,
        }
        let status = probe(readiness.as_ref()).await;
        if status != last && !*stopping.borrow() {
            if status == ServingStatus::Serving {
                tracing::info!("the store answers again: gRPC health is SERVING");
            } else {
                tracing::warn!("the store does not answer: gRPC health is NOT_SERVING");
            }
            set_all(&health, status).await;
            last = status;
        }
    }
    set_all(&health, ServingStatus::NotServing).await;
}

/// The server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Reflection could not be built from the descriptor set.
    #[error("cannot build the reflection service")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("gRPC transport error")]
    Transport(#[from] tonic::transport::Error),
}

/// Serves the gRPC API on `listener` until `shutdown` resolves, then lets in-flight calls finish.
///
/// # Errors
/// [`ServeError`] when reflection cannot be built or the transport fails.
pub async fn serve(
    listener: TcpListener,
    api: GrpcApi,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let auth = Authenticator::new(api.tokens);
    let (health, health_service) = tonic_health::server::health_reporter();
    let first = probe(api.readiness.as_ref()).await;
    set_all(&health, first).await;
    let (stop_tx, stop_rx) = watch::channel(false);
    let follower = tokio::spawn(follow_readiness(health, api.readiness, first, stop_rx));
    // From the moment shutdown begins, health says NOT_SERVING; then the server stops.
    let shutdown = async move {
        shutdown.await;
        let _ = stop_tx.send(true);
        let _ = follower.await;
    };
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;
    tonic::transport::Server::builder()
        .layer(server_spans(api.trace))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(OversizedIsResourceExhausted(
            AbsenceIngestServer::new(IngestApi {
                auth: auth.clone(),
                ingest: api.ingest,
            })
            .max_decoding_message_size(MAX_MESSAGE),
        ))
        .add_service(OversizedIsResourceExhausted(
            SubscriptionsServer::new(SubscriptionsApi {
                auth: auth.clone(),
                subscriptions: api.subscriptions,
            })
            .max_decoding_message_size(MAX_MESSAGE),
        ))
        .add_service(OversizedIsResourceExhausted(
            DeliveriesServer::new(DeliveriesApi {
                auth,
                tracking: api.tracking,
            })
            .max_decoding_message_size(MAX_MESSAGE),
        ))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}
