//! The `Deliveries` service: tracking and the pending-tasks dashboard.

use crate::auth::Authenticator;
use crate::convert::{Violations, delivery_id, subscription_filter};
use crate::proto;
use crate::proto::deliveries_server::Deliveries;
use crate::status::{invalid_argument, to_status};
use absync_application::TrackingService;
use absync_application::ports::{DeliveryFilter, DeliveryStatus, DeliverySummary};
use absync_domain::limits::{self, check_length};
use absync_domain::{DeliveryId, LeaveEvent, LeaveKey, Scope, SubscriptionId};
use chrono::{DateTime, Utc};
use std::collections::HashSet;
use std::time::Duration;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Serves the Deliveries RPCs.
#[derive(Debug, Clone)]
pub(crate) struct DeliveriesApi {
    pub(crate) auth: Authenticator,
    pub(crate) tracking: TrackingService,
}

/// How often WatchDeliveries looks for changes.
const WATCH_POLL: Duration = Duration::from_millis(200);
/// How far back each look re-reads.
const WATCH_OVERLAP: Duration = Duration::from_secs(2);

const DEFAULT_PAGE_SIZE: u32 = 100;
const MAX_PAGE_SIZE: u32 = 1000;

impl From<DeliveryStatus> for proto::DeliveryStatus {
    fn from(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Waiting => Self::Waiting,
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Succeeded => Self::Succeeded,
            DeliveryStatus::Failed => Self::Failed,
            DeliveryStatus::Processed => Self::Processed,
            DeliveryStatus::Cancelled => Self::Cancelled,
        }
    }
}

/// A wire status that names no delivery status: `DELIVERY_STATUS_UNSPECIFIED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no delivery status given")]
pub struct UnspecifiedStatus;

impl TryFrom<proto::DeliveryStatus> for DeliveryStatus {
    type Error = UnspecifiedStatus;

    fn try_from(status: proto::DeliveryStatus) -> Result<Self, UnspecifiedStatus> {
        Ok(match status {
            proto::DeliveryStatus::Unspecified => return Err(UnspecifiedStatus),
            proto::DeliveryStatus::Waiting => Self::Waiting,
            proto::DeliveryStatus::Pending => Self::Pending,
            proto::DeliveryStatus::Succeeded => Self::Succeeded,
            proto::DeliveryStatus::Failed => Self::Failed,
            proto::DeliveryStatus::Processed => Self::Processed,
            proto::DeliveryStatus::Cancelled => Self::Cancelled,
        })
    }
}

fn status_to_proto(status: DeliveryStatus) -> proto::DeliveryStatus {
    status.into()
}

fn status_from_proto(v: &mut Violations, value: i32) -> Option<Option<DeliveryStatus>> {
    match proto::DeliveryStatus::try_from(value) {
        Ok(status) => Some(DeliveryStatus::try_from(status).ok()),
        Err(_) => {
            v.add("status", "unknown status");
            None
        }
    }
}

/// Reads a ListDeliveries request: the filter, where the page ends and its size, naming every bad
/// field.
fn list_request(
    body: proto::ListDeliveriesRequest,
) -> Result<(DeliveryFilter, Option<DeliveryId>, u32), Status> {
    let mut v = Violations::default();
    let page_size = match body.page_size {
        0 => Some(DEFAULT_PAGE_SIZE),
        n @ 1..=MAX_PAGE_SIZE => Some(n),
        _ => {
            v.add("page_size", "must be 1..=1000");
            None
        }
    };
    let before = match body.page_token.as_str() {
        "" => Some(None),
        token => match token.parse::<i64>() {
            // Tokens are delivery ids, all positive.
            Ok(id) if id > 0 => Some(Some(DeliveryId::new(id))),
            _ => {
                v.add("page_token", "is not a token this API gave");
                None
            }
        },
    };
    let since = match body.since.as_str() {
        "" => Some(None),
        text => v
            .check(
                "since",
                DateTime::parse_from_rfc3339(text).map_err(|_| "must be RFC 3339"),
            )
            .map(|t| Some(t.with_timezone(&Utc))),
    };
    let subscription = subscription_filter(&mut v, "subscription_id", &body.subscription_id);
    let status = status_from_proto(&mut v, body.status);
    let leave_key = match non_empty(body.leave_id) {
        None => Some(None),
        Some(text) => v
            .check(
                "leave_id",
                LeaveKey::parse(&text)
                    .map_err(|_| "must be a leave id {number}-{YYYYMMDD}-{AM|PM}"),
            )
            .map(|_| Some(text)),
    };
    let event = match body.event.as_str() {
        "" => Some(None),
        text => v
            .check(
                "event",
                LeaveEvent::parse(text).ok_or("must be created, approved or deleted"),
            )
            .map(Some),
    };
    let request = (|| {
        let filter = DeliveryFilter {
            subscription: subscription?,
            status: status?,
            leave_key: leave_key?,
            event: event?,
            since: since?,
        };
        Some((filter, before?, page_size?))
    })();
    v.into_result(request)
        .map_err(|violations| invalid_argument(&violations))
}

/// A request's delivery `id`.
fn id_field(id: i64) -> Result<DeliveryId, Status> {
    let mut v = Violations::default();
    let id = delivery_id(&mut v, "id", id);
    v.into_result(id)
        .map_err(|violations| invalid_argument(&violations))
}

/// MarkProcessed's delivery `id` and its optional `note` (empty for none).
fn mark_request(body: proto::MarkProcessedRequest) -> Result<(DeliveryId, Option<String>), Status> {
    let mut v = Violations::default();
    let id = delivery_id(&mut v, "id", body.id);
    let note = v.check("note", check_length(&body.note, limits::NOTE));
    let request = id.zip(note).map(|(id, ())| (id, non_empty(body.note)));
    v.into_result(request)
        .map_err(|violations| invalid_argument(&violations))
}

/// A request's optional `subscription_id` filter.
fn subscription_field(text: &str) -> Result<Option<SubscriptionId>, Status> {
    let mut v = Violations::default();
    let subscription = subscription_filter(&mut v, "subscription_id", text);
    v.into_result(subscription)
        .map_err(|violations| invalid_argument(&violations))
}

fn delivery_to_proto(d: &DeliverySummary) -> proto::Delivery {
    proto::Delivery {
        id: d.id.get(),
        subscription_id: d.subscription.to_string(),
        leave_id: d.leave_key.clone(),
        event: d.event.as_str().to_owned(),
        change_version: u64::try_from(d.change_version).unwrap_or_default(),
        status: status_to_proto(d.status).into(),
        attempts: d.attempts,
        next_attempt_at: d.next_attempt_at.to_rfc3339(),
        last_http_status: d.last_http_status.map(u32::from).unwrap_or_default(),
        last_error: d.last_error.clone().unwrap_or_default(),
        created_at: d.created_at.to_rfc3339(),
        updated_at: d.updated_at.to_rfc3339(),
        processed_note: d.processed_note.clone().unwrap_or_default(),
        cancel_reason: d
            .cancel_reason
            .map(|r| r.as_str().to_owned())
            .unwrap_or_default(),
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

#[tonic::async_trait]
impl Deliveries for DeliveriesApi {
    async fn list_deliveries(
        &self,
        request: Request<proto::ListDeliveriesRequest>,
    ) -> Result<Response<proto::ListDeliveriesResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesRead).await?;
        let (filter, before, page_size) = list_request(request.into_inner())?;
        let mut listed = self
            .tracking
            .list(&tenant, filter, before, page_size + 1)
            .await
            .map_err(to_status)?;
        let more = listed.len() > page_size as usize;
        listed.truncate(page_size as usize);
        let next_page_token = match listed.last() {
            Some(last) if more => last.id.to_string(),
            _ => String::new(),
        };
        Ok(Response::new(proto::ListDeliveriesResponse {
            deliveries: listed.iter().map(delivery_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_delivery(
        &self,
        request: Request<proto::GetDeliveryRequest>,
    ) -> Result<Response<proto::DeliveryDetail>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesRead).await?;
        let id = id_field(request.into_inner().id)?;
        let detail = self.tracking.get(&tenant, id).await.map_err(to_status)?;
        let message = detail.inspect();
        let headers = message
            .headers
            .into_iter()
            .map(|(name, value)| proto::Header { name, value })
            .collect();
        Ok(Response::new(proto::DeliveryDetail {
            delivery: Some(delivery_to_proto(&detail.summary)),
            destination_url: message.destination,
            headers,
            body: String::from_utf8_lossy(&message.body).into_owned(),
            attempts: detail
                .attempts
                .iter()
                .map(|a| proto::Attempt {
                    started_at: a.started_at.to_rfc3339(),
                    duration_ms: a.duration_ms,
                    http_status: a.http_status.map(u32::from).unwrap_or_default(),
                    error_kind: a.error_kind.clone().unwrap_or_default(),
                    error_detail: a.error_detail.clone().unwrap_or_default(),
                    response_excerpt: a.response_excerpt.clone(),
                })
                .collect(),
        }))
    }

    async fn resync_delivery(
        &self,
        request: Request<proto::ResyncDeliveryRequest>,
    ) -> Result<Response<proto::Delivery>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesWrite).await?;
        let body = request.into_inner();
        let done = self
            .tracking
            .resync(&tenant, id_field(body.id)?, body.force)
            .await
            .map_err(to_status)?;
        Ok(Response::new(delivery_to_proto(&done)))
    }

    async fn mark_processed(
        &self,
        request: Request<proto::MarkProcessedRequest>,
    ) -> Result<Response<proto::Delivery>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesWrite).await?;
        let (id, note) = mark_request(request.into_inner())?;
        let done = self
            .tracking
            .mark_processed(&tenant, id, note)
            .await
            .map_err(to_status)?;
        Ok(Response::new(delivery_to_proto(&done)))
    }

    async fn resync_failed(
        &self,
        request: Request<proto::ResyncFailedRequest>,
    ) -> Result<Response<proto::ResyncFailedResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesWrite).await?;
        let subscription = subscription_field(&request.into_inner().subscription_id)?;
        let resynced = self
            .tracking
            .resync_failed(&tenant, subscription)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::ResyncFailedResponse { resynced }))
    }

    type WatchDeliveriesStream = ReceiverStream<Result<proto::Delivery, Status>>;

    async fn watch_deliveries(
        &self,
        request: Request<proto::WatchDeliveriesRequest>,
    ) -> Result<Response<Self::WatchDeliveriesStream>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesRead).await?;
        let subscription = subscription_field(&request.into_inner().subscription_id)?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        let tracking = self.tracking.clone();
        tokio::spawn(async move {
            // Poll for changes; re-read a short overlap (changes commit out of timestamp order) and
            // skip what was already sent.
            let mut cursor = Utc::now();
            let mut sent: HashSet<(i64, DateTime<Utc>)> = HashSet::new();
            loop {
                let since = cursor - chrono::Duration::from_std(WATCH_OVERLAP).unwrap_or_default();
                match tracking
                    .changed_since(&tenant, subscription.clone(), since, 1000)
                    .await
                {
                    Ok(changed) => {
                        for d in changed {
                            cursor = cursor.max(d.updated_at);
                            if sent.insert((d.id.get(), d.updated_at))
                                && tx.send(Ok(delivery_to_proto(&d))).await.is_err()
                            {
                                return;
                            }
                        }
                        sent.retain(|(_, at)| *at >= since);
                    }
                    Err(err) => {
                        let _ = tx.send(Err(to_status(err))).await;
                        return;
                    }
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(WATCH_POLL).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn get_pending_tasks(
        &self,
        request: Request<proto::GetPendingTasksRequest>,
    ) -> Result<Response<proto::GetPendingTasksResponse>, Status> {
        let tenant = self.auth.tenant(&request, Scope::DeliveriesRead).await?;
        let tasks = self
            .tracking
            .pending_tasks(&tenant)
            .await
            .map_err(to_status)?;
        Ok(Response::new(proto::GetPendingTasksResponse {
            tasks: tasks
                .into_iter()
                .map(|t| proto::PendingTask {
                    subscription_id: t.subscription.to_string(),
                    destination_url: t.destination,
                    failed: t.failed,
                    oldest: t.oldest.to_rfc3339(),
                    latest_error: t.latest_error,
                })
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{UnspecifiedStatus, proto};
    use absync_application::ports::DeliveryStatus;

    #[test]
    fn every_status_crosses_the_wire_and_back() {
        for status in DeliveryStatus::ALL {
            let wire = proto::DeliveryStatus::from(status);
            assert_eq!(DeliveryStatus::try_from(wire), Ok(status));
            // The wire's name ends with the stored one.
            assert!(
                wire.as_str_name()
                    .ends_with(&status.as_str().to_uppercase()),
                "{status:?}"
            );
        }
        assert_eq!(
            DeliveryStatus::try_from(proto::DeliveryStatus::Unspecified),
            Err(UnspecifiedStatus)
        );
    }
}
