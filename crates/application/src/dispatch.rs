//! Dispatching: claim due deliveries, send them concurrently, record every attempt. `run` (in
//! `pipeline`) is the service's continuous dispatcher; this module has its settings and one attempt.

mod pipeline;

pub use pipeline::Wakeup;

use crate::ports::{
    AttemptReport, ClaimRequest, ClaimedDelivery, Clock, DeliveryQueue, Metrics, NextStep,
    OutboundRequest, StoreError, TraceContext, TraceParent, WebhookSender,
};
use absync_domain::SubscriptionId;
use absync_domain::{AttemptVerdict, RenderContext, RetryPolicy, payload, signature_header};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the dispatcher works.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// The retry cascade.
    pub retry: RetryPolicy,
    /// Deliveries claimed at once, at most.
    pub batch_size: u32,
    /// Sends in flight at once.
    pub concurrency: usize,
    /// Sends in flight at once to one subscription, so that a slow or dead receiver cannot take
    /// every slot (at most `concurrency`).
    pub per_subscription: usize,
    /// How long a claim is held before another dispatcher may take the delivery over.
    pub lease: Duration,
}

impl Default for DispatchSettings {
    fn default() -> Self {
        Self {
            retry: RetryPolicy::default(),
            batch_size: 256,
            concurrency: 128,
            per_subscription: 64,
            lease: Duration::from_secs(60),
        }
    }
}

/// Sends due deliveries.
#[derive(Clone)]
pub struct Dispatcher {
    queue: Arc<dyn DeliveryQueue>,
    sender: Arc<dyn WebhookSender>,
    clock: Arc<dyn Clock>,
    settings: DispatchSettings,
    metrics: Option<Arc<dyn Metrics>>,
    trace: Option<Arc<dyn TraceContext>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// Builds a dispatcher.
    #[must_use]
    pub fn new(
        queue: Arc<dyn DeliveryQueue>,
        sender: Arc<dyn WebhookSender>,
        clock: Arc<dyn Clock>,
        settings: DispatchSettings,
    ) -> Self {
        Self {
            queue,
            sender,
            clock,
            settings,
            metrics: None,
            trace: None,
        }
    }

    /// Counts every attempt in `metrics`.
    #[must_use]
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Traces every attempt through `trace`: its span is linked to the change that queued the
    /// delivery, carries the HTTP attributes of the conventions, and is named by the `traceparent`
    /// the POST sends.
    #[must_use]
    pub fn with_tracing(mut self, trace: Arc<dyn TraceContext>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// With tracing: links the attempt's `span` to the change of `delivery`, and gives the
    /// `traceparent` naming the span.
    fn trace_attempt(
        &self,
        span: &tracing::Span,
        delivery: &ClaimedDelivery,
    ) -> Option<TraceParent> {
        let trace = self.trace.as_ref()?;
        if let Some(cause) = &delivery.traceparent {
            trace.link(span, cause);
        }
        trace.traceparent(span)
    }

    /// Claims up to `limit` due deliveries (of no subscription in `skip`), leased for the lease time.
    async fn claim(
        &self,
        limit: usize,
        skip: &[SubscriptionId],
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = self.clock.now();
        let lease =
            chrono::Duration::from_std(self.settings.lease).unwrap_or(chrono::Duration::MAX);
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        self.queue
            .claim_due(ClaimRequest::new(now, limit, now + lease).skipping(skip.to_vec()))
            .await
    }

    /// How long an idle dispatcher may sleep before something is due: until the earliest pending
    /// delivery is due, at most `max`. Store errors count as "now + max".
    pub async fn idle_for(&self, max: Duration) -> Duration {
        match self.queue.next_due().await {
            Ok(Some(due)) => (due - self.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(max),
            Ok(None) => max,
            Err(err) => {
                tracing::debug!(error = %err, "cannot read the next due time");
                max
            }
        }
    }

    /// One attempt, in a span of its own: its answer's status (`http.response.status_code`) or why
    /// none came (`error.type`); when traced, the OpenTelemetry HTTP client attributes too (a
    /// span's kind is read when it is made, so they are fields of its making).
    #[tracing::instrument(name = "deliver", skip_all, fields(
        tenant = %delivery.tenant, delivery_id = %delivery.id, subscription_id = %delivery.subscription,
        leave_id = %delivery.record.key(), event = delivery.record.event.as_str(), attempt = delivery.attempts_made + 1,
        http.response.status_code, error.type,
        otel.kind = self.trace.as_ref().map(|_| "client"),
        http.request.method = self.trace.as_ref().map(|_| "POST"),
        url.full = self.trace.as_ref().map(|_| tracing::field::display(delivery.destination.redacted()))))]
    async fn attempt(&self, delivery: ClaimedDelivery) -> AttemptReport {
        let span = tracing::Span::current();
        let traceparent = self.trace_attempt(&span, &delivery);
        let message = payload::render(
            delivery.payload_format,
            &delivery.record,
            RenderContext {
                tenant: &delivery.tenant,
                change_version: delivery.change_version,
            },
        );
        let mut headers: Vec<(String, String)> = message
            .headers
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        if let Some(auth) = &delivery.authorization {
            headers.push(("Authorization".to_owned(), auth.expose().to_owned()));
        }
        let started_at = self.clock.now();
        // Standard Webhooks: the id is stable across retries, timestamp and signature are per attempt.
        let id = delivery.id.to_string();
        let timestamp = started_at.timestamp();
        headers.push((
            "webhook-signature".to_owned(),
            signature_header(&delivery.signing_secrets, &id, timestamp, &message.body),
        ));
        headers.push(("webhook-id".to_owned(), id));
        headers.push(("webhook-timestamp".to_owned(), timestamp.to_string()));
        let timer = Instant::now();
        let outcome = self
            .sender
            .send(OutboundRequest {
                url: delivery.destination.as_str().to_owned(),
                headers,
                body: message.body,
                traceparent,
            })
            .await;
        let duration = timer.elapsed();
        let next = if outcome.is_success() {
            NextStep::Succeeded
        } else {
            match self
                .settings
                .retry
                .after_failure(delivery.attempts_made + 1)
            {
                AttemptVerdict::RetryAfter(delay) => NextStep::RetryAt(
                    self.clock.now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                ),
                AttemptVerdict::GiveUp => NextStep::Failed {
                    disable_subscription: delivery.payload_format.disabled_when_retries_exhausted(),
                },
            }
        };
        if let Some(metrics) = &self.metrics {
            let outcome = match next {
                NextStep::Succeeded => "succeeded",
                NextStep::RetryAt(_) => "retry",
                NextStep::Failed { .. } => "failed",
            };
            metrics.attempt(outcome, duration);
        }
        match &outcome {
            crate::ports::SendOutcome::Answered { status, .. } => {
                span.record("http.response.status_code", status);
            }
            crate::ports::SendOutcome::NoAnswer { kind, .. } => {
                span.record("error.type", kind.as_str());
            }
        }
        tracing::debug!(?next, elapsed_ms = duration.as_millis(), "attempt finished");
        AttemptReport {
            delivery: delivery.id,
            started_at,
            duration,
            outcome,
            next,
        }
    }
}

#[cfg(test)]
mod tests;
