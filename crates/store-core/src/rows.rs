//! The rows both stores read, and their decoding into the ports' types.

use crate::stored_forms::{AbsenceForm, LeaveEventRecordForm, LeaveForm};
use crate::{ScopeNames, Stamp};
use absync_application::ports::stored::{self, decode_error};
use absync_application::ports::{
    AttemptSummary, AttemptTally, CancelReason, ClaimedDelivery, CurrentLeave, DeliveryStatus,
    DeliverySummary, FailedAttempt, PendingTask, PreviousSecret, StoreError, StoredAbsence,
    Subscription, TokenRecord, TraceParent,
};
use absync_domain::{
    AbsenceNumber, ChangeVersion, DeliveryId, DestinationUrl, EventFilter, Leave, LeaveEvent,
    MaxPerSecond, Revision, Scope, SubscriptionId, SubscriptionStatus, TenantId,
};
use sqlx::types::Json;

/// A delivery with everything needed to render and send it (its subscription's destination and
/// secrets, its event's record): what a claim hands the dispatcher, and a delivery's detail shows.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimRow {
    /// `deliveries.id`.
    pub id: i64,
    /// `deliveries.tenant_id`.
    pub tenant_id: String,
    /// `deliveries.subscription_id`, as text.
    pub subscription_id: String,
    /// `subscriptions.collection`.
    pub collection: String,
    /// `subscriptions.destination`.
    pub destination: String,
    /// `subscriptions.authorization_value`.
    pub authorization_value: Option<String>,
    /// `deliveries.change_version`.
    pub change_version: i64,
    /// `leave_events.record`.
    pub record: Json<LeaveEventRecordForm>,
    /// `deliveries.attempt_count`.
    pub attempt_count: i32,
    /// `subscriptions.signing_secret`.
    pub signing_secret: String,
    /// `subscriptions.previous_signing_secret`, while it is still valid.
    pub previous_signing_secret: Option<String>,
    /// `leave_events.traceparent`.
    pub traceparent: Option<String>,
}

impl TryFrom<ClaimRow> for ClaimedDelivery {
    type Error = StoreError;

    fn try_from(row: ClaimRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: DeliveryId::new(row.id),
            tenant: stored::tenant(&row.tenant_id)?,
            subscription: SubscriptionId::new(row.subscription_id),
            payload_format: stored::payload_format(&row.collection)?,
            destination: DestinationUrl::from_trusted(row.destination),
            authorization: stored::authorization(row.authorization_value)?,
            change_version: ChangeVersion::new(row.change_version),
            record: row.record.0.try_into()?,
            attempts_made: u32::try_from(row.attempt_count).unwrap_or(0),
            signing_secrets: std::iter::once(row.signing_secret)
                .chain(row.previous_signing_secret)
                .map(|s| stored::signing_secret(&s))
                .collect::<Result<_, _>>()?,
            // A damaged trace context costs a link, never the delivery.
            traceparent: row.traceparent.as_deref().and_then(TraceParent::parse),
        })
    }
}

/// The deliveries a claim took, noted as `claimed` on the current span.
///
/// # Errors
/// [`StoreError::Unexpected`] when a row does not decode.
pub fn claimed(rows: Vec<ClaimRow>) -> Result<Vec<ClaimedDelivery>, StoreError> {
    tracing::Span::current().record("claimed", rows.len());
    rows.into_iter().map(ClaimedDelivery::try_from).collect()
}

/// A delivery as listed: its state, not its message.
#[derive(Debug, sqlx::FromRow)]
pub struct SummaryRow {
    /// `deliveries.id`.
    pub id: i64,
    /// `deliveries.subscription_id`, as text.
    pub subscription_id: String,
    /// `deliveries.leave_key`.
    pub leave_key: String,
    /// `leave_events.event`.
    pub event: String,
    /// `deliveries.change_version`.
    pub change_version: i64,
    /// `deliveries.status`.
    pub status: String,
    /// `deliveries.attempt_count`.
    pub attempt_count: i32,
    /// `deliveries.next_attempt_at`.
    pub next_attempt_at: Stamp,
    /// `deliveries.last_http_status`.
    pub last_http_status: Option<i32>,
    /// `deliveries.last_error`.
    pub last_error: Option<String>,
    /// `deliveries.created_at`.
    pub created_at: Stamp,
    /// `deliveries.updated_at`.
    pub updated_at: Stamp,
    /// `deliveries.processed_note`.
    pub processed_note: Option<String>,
    /// `deliveries.cancel_reason`.
    pub cancel_reason: Option<String>,
}

impl TryFrom<SummaryRow> for DeliverySummary {
    type Error = StoreError;

    fn try_from(row: SummaryRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: DeliveryId::new(row.id),
            subscription: SubscriptionId::new(row.subscription_id),
            leave_key: row.leave_key,
            event: LeaveEvent::parse(&row.event)
                .ok_or_else(|| decode_error("leave event", &row.event))?,
            change_version: row.change_version,
            status: DeliveryStatus::parse(&row.status)
                .ok_or_else(|| decode_error("delivery status", &row.status))?,
            attempts: u32::try_from(row.attempt_count).unwrap_or(0),
            next_attempt_at: row.next_attempt_at.into(),
            last_http_status: row.last_http_status.and_then(|s| u16::try_from(s).ok()),
            last_error: row.last_error,
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
            processed_note: row.processed_note,
            cancel_reason: row
                .cancel_reason
                .map(|r| CancelReason::parse(&r).ok_or_else(|| decode_error("cancel reason", &r)))
                .transpose()?,
        })
    }
}

/// A subscription, its id read as text.
#[derive(Debug, sqlx::FromRow)]
pub struct SubscriptionRow {
    /// `subscriptions.id`, as text.
    pub id: String,
    /// `subscriptions.tenant_id`.
    pub tenant_id: String,
    /// `subscriptions.collection`.
    pub collection: String,
    /// `subscriptions.destination`.
    pub destination: String,
    /// `subscriptions.authorization_value`.
    pub authorization_value: Option<String>,
    /// `subscriptions.event_filter`.
    pub event_filter: String,
    /// `subscriptions.status`.
    pub status: String,
    /// `subscriptions.valid_until`.
    pub valid_until: Option<Stamp>,
    /// `subscriptions.created_at`.
    pub created_at: Stamp,
    /// `subscriptions.signing_secret`.
    pub signing_secret: String,
    /// `subscriptions.previous_signing_secret`.
    pub previous_signing_secret: Option<String>,
    /// `subscriptions.previous_secret_expires_at`.
    pub previous_secret_expires_at: Option<Stamp>,
    /// `subscriptions.paused_at`.
    pub paused_at: Option<Stamp>,
    /// `subscriptions.max_per_second`.
    pub max_per_second: Option<i64>,
    /// `subscriptions.secret_created_at`.
    pub secret_created_at: Stamp,
    /// `subscriptions.deleted_at`.
    pub deleted_at: Option<Stamp>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = StoreError;

    fn try_from(row: SubscriptionRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: SubscriptionId::new(row.id),
            tenant: stored::tenant(&row.tenant_id)?,
            payload_format: stored::payload_format(&row.collection)?,
            destination: DestinationUrl::from_trusted(row.destination),
            authorization: stored::authorization(row.authorization_value)?,
            event_filter: EventFilter::parse(&row.event_filter)
                .ok_or_else(|| decode_error("event filter", &row.event_filter))?,
            status: match SubscriptionStatus::parse(&row.status) {
                Some(SubscriptionStatus::Enabled) if row.paused_at.is_some() => {
                    SubscriptionStatus::Paused
                }
                Some(status) => status,
                None => return Err(decode_error("subscription status", &row.status)),
            },
            valid_until: row.valid_until.map(Into::into),
            created_at: row.created_at.into(),
            signing_secret: stored::signing_secret(&row.signing_secret)?,
            previous_secret: match (row.previous_signing_secret, row.previous_secret_expires_at) {
                (Some(secret), Some(until)) => Some(PreviousSecret {
                    secret: stored::signing_secret(&secret)?,
                    until: until.into(),
                }),
                _ => None,
            },
            max_per_second: row
                .max_per_second
                .map(|n| {
                    u32::try_from(n)
                        .ok()
                        .and_then(|n| MaxPerSecond::new(n).ok())
                        .ok_or_else(|| decode_error("max_per_second", n))
                })
                .transpose()?,
            secret_created_at: row.secret_created_at.into(),
            paused_since: row.paused_at.map(Into::into),
            deleted_at: row.deleted_at.map(Into::into),
        })
    }
}

/// An API token, its id read as text (never its hash).
#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    /// `api_tokens.id`, as text.
    pub id: String,
    /// `api_tokens.tenant_id`.
    pub tenant_id: String,
    /// `api_tokens.scopes`.
    pub scopes: ScopeNames,
    /// `api_tokens.label`.
    pub label: Option<String>,
    /// `api_tokens.created_at`.
    pub created_at: Stamp,
    /// `api_tokens.revoked_at`.
    pub revoked_at: Option<Stamp>,
}

impl TryFrom<TokenRow> for TokenRecord {
    type Error = StoreError;

    fn try_from(row: TokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: row.id,
            tenant: TenantId::parse(&row.tenant_id).map_err(|e| decode_error("tenant id", e))?,
            scopes: row
                .scopes
                .0
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<Result<_, _>>()
                .map_err(|e| decode_error("token scope", e))?,
            label: row.label,
            created_at: row.created_at.into(),
            revoked_at: row.revoked_at.map(Into::into),
        })
    }
}

/// An absence as stored, without its leaves (they are rows of their own).
#[derive(Debug, sqlx::FromRow)]
pub struct AbsenceRow {
    /// `absences.number`.
    pub number: i64,
    /// `absences.revision`.
    pub revision: i64,
    /// `absences.row_version`.
    pub row_version: i64,
    /// `absences.body`; `None` once deleted.
    pub body: Option<Json<AbsenceForm>>,
}

impl AbsenceRow {
    /// The stored absence with its current `leaves` (`leaves.leave`, in date and half order).
    ///
    /// # Errors
    /// [`StoreError::Unexpected`] when the number or the revision is out of range, or the absence or
    /// a leave does not decode.
    pub fn with_leaves(
        self,
        leaves: impl IntoIterator<Item = LeaveForm>,
    ) -> Result<StoredAbsence, StoreError> {
        Ok(StoredAbsence {
            number: AbsenceNumber::new(self.number)
                .map_err(|e| decode_error("absence number", e))?,
            row_version: self.row_version,
            revision: u64::try_from(self.revision)
                .ok()
                .and_then(|r| Revision::new(r).ok())
                .ok_or_else(|| decode_error("revision", self.revision))?,
            absence: self.body.map(|b| b.0.try_into()).transpose()?,
            leaves: leaves
                .into_iter()
                .map(Leave::try_from)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// A current leave with the change version of its latest event.
#[derive(Debug, sqlx::FromRow)]
pub struct LeaveRow {
    /// `leaves.leave`.
    pub leave: Json<LeaveForm>,
    /// `leaves.change_version`.
    pub change_version: i64,
}

impl TryFrom<LeaveRow> for CurrentLeave {
    type Error = StoreError;

    fn try_from(row: LeaveRow) -> Result<Self, StoreError> {
        Ok(Self {
            leave: row.leave.0.try_into()?,
            change_version: ChangeVersion::new(row.change_version),
        })
    }
}

/// One attempt of a delivery, as its detail lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct AttemptSummaryRow {
    /// `delivery_attempts.started_at`.
    pub started_at: Stamp,
    /// `delivery_attempts.duration_ms`.
    pub duration_ms: i32,
    /// `delivery_attempts.http_status`.
    pub http_status: Option<i32>,
    /// `delivery_attempts.error_kind`.
    pub error_kind: Option<String>,
    /// `delivery_attempts.error_detail`.
    pub error_detail: Option<String>,
    /// `delivery_attempts.response_excerpt`.
    pub response_excerpt: Option<Vec<u8>>,
}

impl From<AttemptSummaryRow> for AttemptSummary {
    fn from(row: AttemptSummaryRow) -> Self {
        Self {
            started_at: row.started_at.into(),
            duration_ms: u32::try_from(row.duration_ms).unwrap_or(0),
            http_status: row.http_status.and_then(|s| u16::try_from(s).ok()),
            error_kind: row.error_kind,
            error_detail: row.error_detail,
            response_excerpt: row.response_excerpt.unwrap_or_default(),
        }
    }
}

/// What a re-sync must know of a delivery before it re-queues it.
#[derive(Debug, sqlx::FromRow)]
pub struct ResyncRow {
    /// `deliveries.status`.
    pub status: String,
    /// A later change of the same leave was delivered.
    pub superseded: bool,
    /// A later change of the same leave is still to be sent.
    pub newer_in_flight: bool,
    /// The subscription is deleted, disabled or expired.
    pub inactive: bool,
}

/// The number of deliveries in one status.
#[derive(Debug, sqlx::FromRow)]
pub struct StatusCountRow {
    /// `delivery_counts.status`.
    pub status: String,
    /// How many.
    pub n: i64,
}

/// The deliveries due now.
#[derive(Debug, sqlx::FromRow)]
pub struct DueRow {
    /// How many.
    pub due: i64,
    /// The oldest due time among them.
    pub oldest_due: Option<Stamp>,
}

/// The failed deliveries of one subscription, as the pending-tasks dashboard shows them.
#[derive(Debug, sqlx::FromRow)]
pub struct PendingTaskRow {
    /// `deliveries.subscription_id`, as text.
    pub subscription_id: String,
    /// `subscriptions.destination`.
    pub destination: String,
    /// How many deliveries failed.
    pub failed: i64,
    /// When the oldest of them was queued.
    pub oldest: Stamp,
    /// The HTTP status or error of the latest failure.
    pub latest_error: Option<String>,
}

impl From<PendingTaskRow> for PendingTask {
    fn from(row: PendingTaskRow) -> Self {
        Self {
            subscription: SubscriptionId::new(row.subscription_id),
            destination: row.destination,
            failed: u64::try_from(row.failed).unwrap_or(0),
            oldest: row.oldest.into(),
            latest_error: row.latest_error.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary_row(event: &str) -> SummaryRow {
        SummaryRow {
            id: 7,
            subscription_id: "s1".into(),
            leave_key: "5-20240304-AM".into(),
            event: event.into(),
            change_version: 3,
            status: "pending".into(),
            attempt_count: 0,
            next_attempt_at: Stamp::from_micros(0),
            last_http_status: None,
            last_error: None,
            created_at: Stamp::from_micros(0),
            updated_at: Stamp::from_micros(0),
            processed_note: None,
            cancel_reason: None,
        }
    }

    #[test]
    fn a_summary_decodes_its_event_and_refuses_an_unknown_one() {
        for event in absync_domain::LeaveEvent::ALL {
            let summary = DeliverySummary::try_from(summary_row(event.as_str())).unwrap();
            assert_eq!(summary.event, event);
        }
        match DeliverySummary::try_from(summary_row("updated")) {
            Err(StoreError::Unexpected(source)) => assert_eq!(
                source.to_string(),
                "stored leave event does not decode: updated"
            ),
            other => panic!("an unknown event decoded: {other:?}"),
        }
    }
}

/// Attempts of one hour, outcome and duration ([`absync_application::ports::AttemptTally`]).
#[derive(Debug, sqlx::FromRow)]
pub struct AttemptTallyRow {
    /// The start of the hour.
    pub hour: Stamp,
    /// A 2xx answer.
    pub succeeded: bool,
    /// `delivery_attempts.duration_ms`.
    pub duration_ms: i64,
    /// How many.
    pub n: i64,
}

impl TryFrom<AttemptTallyRow> for AttemptTally {
    type Error = StoreError;

    fn try_from(row: AttemptTallyRow) -> Result<Self, StoreError> {
        Ok(Self {
            hour: row.hour.into(),
            succeeded: row.succeeded,
            duration_ms: u32::try_from(row.duration_ms)
                .map_err(|_| decode_error("attempt duration", row.duration_ms))?,
            count: u64::try_from(row.n).map_err(|_| decode_error("attempt count", row.n))?,
        })
    }
}

/// A failed attempt ([`absync_application::ports::FailedAttempt`]).
#[derive(Debug, sqlx::FromRow)]
pub struct FailedAttemptRow {
    /// `delivery_attempts.delivery_id`.
    pub delivery_id: i64,
    /// `delivery_attempts.started_at`.
    pub started_at: Stamp,
    /// `delivery_attempts.http_status`.
    pub http_status: Option<i64>,
    /// `delivery_attempts.error_kind`.
    pub error_kind: Option<String>,
}

impl TryFrom<FailedAttemptRow> for FailedAttempt {
    type Error = StoreError;

    fn try_from(row: FailedAttemptRow) -> Result<Self, StoreError> {
        Ok(Self {
            delivery: DeliveryId::new(row.delivery_id),
            at: row.started_at.into(),
            http_status: row
                .http_status
                .map(|s| u16::try_from(s).map_err(|_| decode_error("http status", s)))
                .transpose()?,
            error: row.error_kind,
        })
    }
}

/// A point in time, or none (`max(...)` over no row).
#[derive(Debug, sqlx::FromRow)]
pub struct MomentRow {
    /// The time.
    pub at: Option<Stamp>,
}

/// A row of a figure read for several subscriptions at once: whose it is, and the figure.
#[derive(Debug, sqlx::FromRow)]
pub struct OfSubscription<T> {
    /// The subscription's id, as text.
    pub subscription_id: String,
    /// The figure's own row.
    #[sqlx(flatten)]
    pub row: T,
}
