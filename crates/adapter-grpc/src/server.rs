//! The gRPC server: both services, health and reflection, on a listener the caller bound.

use crate::auth::Authenticator;
use crate::deliveries::DeliveriesApi;
use crate::ingest::IngestApi;
use crate::proto;
use crate::proto::absence_ingest_server::AbsenceIngestServer;
use crate::proto::deliveries_server::DeliveriesServer;
use crate::proto::subscriptions_server::SubscriptionsServer;
use crate::subscriptions::SubscriptionsApi;
use absync_application::{IngestService, SubscriptionService, TokenService, TrackingService};
use std::future::Future;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};
use tonic::server::NamedService;
use tonic::{Code, Status};

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
        .add_service(OversizedIsResourceExhausted(AbsenceIngestServer::new(
            IngestApi {
                auth: auth.clone(),
                ingest: api.ingest,
            },
        )))
        .add_service(OversizedIsResourceExhausted(SubscriptionsServer::new(
            SubscriptionsApi {
                auth: auth.clone(),
                subscriptions: api.subscriptions,
            },
        )))
        .add_service(OversizedIsResourceExhausted(DeliveriesServer::new(
            DeliveriesApi {
                auth,
                tracking: api.tracking,
            },
        )))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown)
        .await?;
    Ok(())
}

/// Answers a request message over the size limit (4 MiB) with `RESOURCE_EXHAUSTED`, the code the gRPC
/// status code document gives it; tonic's decoder says `OUT_OF_RANGE`. Nothing else is changed.
#[derive(Debug, Clone)]
struct OversizedIsResourceExhausted<S>(S);

impl<S: NamedService> NamedService for OversizedIsResourceExhausted<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<http::Request<Body>> for OversizedIsResourceExhausted<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let answer = self.0.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            // A refused request is answered in the headers alone (trailers-only).
            if let Some(status) = Status::from_header_map(response.headers())
                && status.code() == Code::OutOfRange
                && status.message().contains("message length too large")
            {
                let exhausted = Status::resource_exhausted(status.message());
                if exhausted.add_header(response.headers_mut()).is_err() {
                    tracing::warn!("cannot rewrite the status of an oversized request");
                }
            }
            Ok(response)
        })
    }
}
