//! The gRPC server: every `absync.v1` service, health and reflection, on a listener the caller bound.

use crate::auth::Authenticator;
use crate::deliveries::DeliveriesApi;
use crate::ingest::IngestApi;
use crate::oversized::{MAX_MESSAGE, OversizedIsResourceExhausted};
use crate::proto;
use crate::proto::absence_ingest_server::AbsenceIngestServer;
use crate::proto::deliveries_server::DeliveriesServer;
use crate::proto::subscriptions_server::SubscriptionsServer;
use crate::subscriptions::SubscriptionsApi;
use absync_application::{IngestService, SubscriptionService, TokenService, TrackingService};
use std::future::Future;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;

/// The use cases the gRPC services call.
#[derive(Debug, Clone)]
pub struct GrpcApi {
    /// Absence ingest.
    pub ingest: IngestService,
    /// Subscriptions.
    pub subscriptions: SubscriptionService,
    /// Token checks.
    pub tokens: TokenService,
    /// Delivery tracking.
    pub tracking: TrackingService,
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
    health.set_serving::<AbsenceIngestServer<IngestApi>>().await;
    health
        .set_serving::<SubscriptionsServer<SubscriptionsApi>>()
        .await;
    health
        .set_serving::<DeliveriesServer<DeliveriesApi>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
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
