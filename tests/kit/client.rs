//! gRPC clients of a running absync, with the bearer token attached to every call.

use absync_adapter_grpc::proto;
use absync_adapter_grpc::proto::absence_ingest_client::AbsenceIngestClient;
use absync_adapter_grpc::proto::subscriptions_client::SubscriptionsClient;
use std::net::SocketAddr;
use tonic::transport::Channel;
use tonic::{Request, Response, Status};

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

    /// `PutAbsence` of `absence`.
    ///
    /// # Errors
    /// The call's status.
    pub async fn put(&self, absence: proto::Absence) -> Result<proto::ChangeResponse, Status> {
        let request = self.request(proto::PutAbsenceRequest {
            absence: Some(absence),
        });
        let mut ingest = self.ingest.clone();
        ingest.put_absence(request).await.map(Response::into_inner)
    }

    /// `PutAbsences` of `absences`: one result each.
    ///
    /// # Errors
    /// The call's status.
    pub async fn put_all(
        &self,
        absences: Vec<proto::Absence>,
    ) -> Result<Vec<proto::PutAbsenceResult>, Status> {
        let request = self.request(proto::PutAbsencesRequest { absences });
        let mut ingest = self.ingest.clone();
        let answer = ingest.put_absences(request).await?;
        Ok(answer.into_inner().results)
    }

    /// `DeleteAbsence` of `absence_id` at `revision`.
    ///
    /// # Errors
    /// The call's status.
    pub async fn delete_absence(
        &self,
        absence_id: &str,
        revision: u64,
    ) -> Result<proto::ChangeResponse, Status> {
        let request = self.request(proto::DeleteAbsenceRequest {
            absence_id: absence_id.to_owned(),
            revision,
        });
        let mut ingest = self.ingest.clone();
        ingest
            .delete_absence(request)
            .await
            .map(Response::into_inner)
    }

    /// `CreateSubscription` as asked.
    ///
    /// # Errors
    /// The call's status.
    pub async fn create_subscription(
        &self,
        asked: proto::CreateSubscriptionRequest,
    ) -> Result<proto::CreateSubscriptionResponse, Status> {
        let request = self.request(asked);
        let mut subscriptions = self.subscriptions.clone();
        let answer = subscriptions.create_subscription(request).await;
        answer.map(Response::into_inner)
    }

    /// `GetSubscription` of `id`.
    ///
    /// # Errors
    /// The call's status.
    pub async fn get_subscription(&self, id: &str) -> Result<proto::Subscription, Status> {
        let request = self.request(proto::GetSubscriptionRequest { id: id.to_owned() });
        let mut subscriptions = self.subscriptions.clone();
        let answer = subscriptions.get_subscription(request).await;
        answer.map(Response::into_inner)
    }

    /// The ids of subscriptions `ids` (not deleted) in the order every listing gives them: oldest
    /// first, and by id among those made within one clock tick.
    ///
    /// # Panics
    /// When a subscription cannot be read.
    pub async fn in_listing_order(&self, ids: &[String]) -> Vec<String> {
        let mut made = Vec::new();
        for id in ids {
            made.push(self.get_subscription(id).await.expect("GetSubscription"));
        }
        oldest_first(&made)
    }

    /// `UpdateSubscription` of `id`'s status alone, as an operator sets it.
    ///
    /// # Errors
    /// The call's status.
    pub async fn set_status(
        &self,
        id: &str,
        status: proto::SubscriptionStatus,
    ) -> Result<proto::Subscription, Status> {
        let request = self.request(proto::UpdateSubscriptionRequest {
            subscription: Some(proto::Subscription {
                id: id.to_owned(),
                status: status.into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["status".into()],
            }),
        });
        let mut subscriptions = self.subscriptions.clone();
        let answer = subscriptions.update_subscription(request).await;
        answer.map(Response::into_inner)
    }

    /// `ListSubscriptions`, the first page.
    ///
    /// # Errors
    /// The call's status.
    pub async fn list_subscriptions(&self) -> Result<Vec<proto::Subscription>, Status> {
        let request = self.request(proto::ListSubscriptionsRequest::default());
        let mut subscriptions = self.subscriptions.clone();
        let answer = subscriptions.list_subscriptions(request).await?;
        Ok(answer.into_inner().subscriptions)
    }

    /// `DeleteSubscription` of `id`.
    ///
    /// # Errors
    /// The call's status.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), Status> {
        let request = self.request(proto::DeleteSubscriptionRequest { id: id.to_owned() });
        let mut subscriptions = self.subscriptions.clone();
        subscriptions.delete_subscription(request).await?;
        Ok(())
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

/// The ids of `subscriptions` in the order every listing gives them: by creation time, then by id
/// (two made within one clock tick are listed by id).
///
/// # Panics
/// When a creation time is not RFC 3339.
#[must_use]
pub fn oldest_first(subscriptions: &[proto::Subscription]) -> Vec<String> {
    let mut keyed: Vec<_> = subscriptions
        .iter()
        .map(|s| {
            let created = chrono::DateTime::parse_from_rfc3339(&s.created_at)
                .unwrap_or_else(|e| panic!("created_at {:?}: {e}", s.created_at));
            (created, s.id.clone())
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, id)| id).collect()
}
