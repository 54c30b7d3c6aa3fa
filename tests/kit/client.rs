//! gRPC clients of a running absync, with the bearer token attached to every call.

use absync_adapter_grpc::proto;
use absync_adapter_grpc::proto::absence_ingest_client::AbsenceIngestClient;
use absync_adapter_grpc::proto::subscriptions_client::SubscriptionsClient;
use std::net::SocketAddr;
use tonic::Request;
use tonic::transport::Channel;

/// Clients of both services.
#[derive(Debug, Clone)]
pub struct Clients {
    /// AbsenceIngest.
    pub ingest: AbsenceIngestClient<Channel>,
    /// Subscriptions.
    pub subscriptions: SubscriptionsClient<Channel>,
    token: Option<String>,
}

impl Clients {
    /// Connects to `addr`; `token` is sent as `authorization: Bearer …` when given.
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn connect(addr: SocketAddr, token: Option<String>) -> Self {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .expect("valid URI")
            .connect()
            .await
            .expect("connect to absync");
        Self {
            ingest: AbsenceIngestClient::new(channel.clone()),
            subscriptions: SubscriptionsClient::new(channel),
            token,
        }
    }

    /// Wraps a message in a request carrying the token.
    ///
    /// # Panics
    /// When the token is not a valid header value.
    #[must_use]
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(token) = &self.token {
            request.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("token is ASCII"),
            );
        }
        request
    }

    /// Subscribes `destination` to the `leaves` collection, every event.
    ///
    /// # Panics
    /// When the call fails.
    pub async fn subscribe_leaves(&mut self, destination: String) {
        let request = self.request(proto::CreateSubscriptionRequest {
            destination_url: destination,
            collection: proto::Collection::Leaves.into(),
            event_filter: proto::EventFilter::All.into(),
            ..Default::default()
        });
        self.subscriptions
            .create_subscription(request)
            .await
            .expect("create the subscription");
    }
}
