//! The continuous dispatcher: keeps up to `concurrency` sends in flight, claims more as sends finish
//! or new work arrives, and records finished attempts in batches. A slow or dead receiver holds only
//! its own slots (at most `per_subscription`), never the others' deliveries: nothing waits for the
//! slowest send of a batch.

use super::Dispatcher;
use crate::ports::AttemptReport;
use absync_domain::{DeliveryId, SubscriptionId};
use async_trait::async_trait;
use futures::future::{self, Either, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

/// Finished attempts wait at most this long before they are recorded (the next delivery of their
/// leave is promoted when they are).
const RECORD_LINGER: Duration = Duration::from_millis(20);

/// What the dispatcher waits on when it has nothing to claim; given by the runtime.
#[async_trait]
pub trait Wakeup: Send + Sync {
    /// Resolves when new work may have been queued (in this process, or announced by another one),
    /// or once `at_most` has passed.
    async fn wait(&self, at_most: Duration);
}

/// The sends in flight and what is known about them.
#[derive(Default)]
struct InFlight {
    by_subscription: HashMap<SubscriptionId, usize>,
    deliveries: HashSet<DeliveryId>,
    finished: Vec<AttemptReport>,
    oldest_finished: Option<Instant>,
}

impl InFlight {
    fn start(&mut self, subscription: SubscriptionId, delivery: DeliveryId) {
        *self.by_subscription.entry(subscription).or_default() += 1;
        self.deliveries.insert(delivery);
    }

    fn finish(&mut self, subscription: &SubscriptionId, report: AttemptReport) {
        if let Some(n) = self.by_subscription.get_mut(subscription) {
            *n -= 1;
            if *n == 0 {
                self.by_subscription.remove(subscription);
            }
        }
        self.deliveries.remove(&report.delivery);
        self.oldest_finished.get_or_insert_with(Instant::now);
        self.finished.push(report);
    }

    /// Subscriptions with `cap` or more sends in flight.
    fn saturated(&self, cap: usize) -> Vec<SubscriptionId> {
        self.by_subscription
            .iter()
            .filter(|(_, n)| **n >= cap)
            .map(|(s, _)| s.clone())
            .collect()
    }
}

impl Dispatcher {
    /// Dispatches until `stopping` resolves: claims due deliveries whenever send slots are free,
    /// sends them (each subscription with at most `per_subscription` in flight), records finished
    /// attempts in batches, and waits on `wakeup` (at most `poll`, or until the next delivery is due)
    /// when nothing is claimable. Then it stops claiming, lets the sends in flight finish until
    /// `abandon` resolves, records them and releases the leases of the rest for another dispatcher.
    ///
    /// Store errors are logged and retried after `poll`: the leases of unrecorded attempts expire
    /// and those deliveries are sent again (at-least-once).
    #[tracing::instrument(name = "dispatcher", skip_all)]
    pub async fn run(
        &self,
        wakeup: &dyn Wakeup,
        poll: Duration,
        stopping: impl Future<Output = ()>,
        abandon: impl Future<Output = ()>,
    ) {
        let concurrency = self.settings.concurrency.max(1);
        let per_subscription = self.settings.per_subscription.clamp(1, concurrency);
        let mut state = InFlight::default();
        let mut sends = FuturesUnordered::new();
        let mut stopping = pin!(stopping.fuse());
        let mut claim_now = true;
        loop {
            // Collect every send that has finished, without waiting.
            while let Some(Some((subscription, report))) = sends.next().now_or_never() {
                state.finish(&subscription, report);
            }
            let lingered = state
                .oldest_finished
                .is_some_and(|t| t.elapsed() >= RECORD_LINGER);
            if !state.finished.is_empty()
                && (sends.is_empty() || lingered || state.finished.len() >= concurrency / 2)
            {
                self.record_finished(&mut state).await;
                // Recording may have promoted the next delivery of a leave.
                claim_now = true;
            }

            let free = concurrency - sends.len();
            let mut store_failed = false;
            if claim_now && free > 0 {
                claim_now = false;
                let asked = free.min(usize::try_from(self.settings.batch_size).unwrap_or(free));
                match self.claim(asked, &state.saturated(per_subscription)).await {
                    Ok(claimed) => {
                        let full = claimed.len() == asked;
                        let mut over = Vec::new();
                        for delivery in claimed {
                            let subscription = delivery.subscription.clone();
                            if state
                                .by_subscription
                                .get(&subscription)
                                .copied()
                                .unwrap_or(0)
                                >= per_subscription
                            {
                                over.push(delivery.id);
                                continue;
                            }
                            state.start(subscription.clone(), delivery.id);
                            sends.push(
                                self.attempt(delivery)
                                    .map(move |report| (subscription, report)),
                            );
                        }
                        if !over.is_empty() {
                            self.release_quietly(over).await;
                            claim_now = true;
                        }
                        // Everything claimed fitted: there may be more due right now.
                        claim_now |= full && sends.len() < concurrency;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "claiming failed; retrying after the poll interval");
                        store_failed = true;
                    }
                }
                if claim_now {
                    continue;
                }
            }

            // Wait for a send to finish, new work, the next due time, or the stop.
            let mut at_most = if store_failed || sends.len() == concurrency {
                poll
            } else {
                self.idle_for(poll).await
            };
            if let Some(oldest) = state.oldest_finished {
                at_most = at_most.min(RECORD_LINGER.saturating_sub(oldest.elapsed()));
            }
            let woken = {
                let next_send = pin!(async {
                    if sends.is_empty() {
                        future::pending().await
                    } else {
                        sends.next().await
                    }
                });
                let waited = pin!(wakeup.wait(at_most));
                match future::select(next_send, future::select(waited, stopping.as_mut())).await {
                    Either::Left((finished, _)) => Woken::Finished(finished),
                    Either::Right((Either::Left(((), _)), _)) => Woken::Waited,
                    Either::Right((Either::Right(((), _)), _)) => Woken::Stopping,
                }
            };
            match woken {
                Woken::Finished(Some((subscription, report))) => {
                    state.finish(&subscription, report);
                    // A slot is free: fill it once at least a quarter are, or none is busy.
                    let free = concurrency - sends.len();
                    claim_now = free * 4 >= concurrency || sends.is_empty();
                }
                Woken::Finished(None) => {}
                Woken::Waited => claim_now = true,
                Woken::Stopping => break,
            }
        }

        // Stopping: no more claims; the sends in flight have until `abandon`.
        let mut abandon = pin!(abandon.fuse());
        while !sends.is_empty() {
            match future::select(sends.next(), abandon.as_mut()).await {
                Either::Left((Some((subscription, report)), _)) => {
                    state.finish(&subscription, report);
                }
                Either::Left((None, _)) | Either::Right(_) => break,
            }
        }
        drop(sends);
        self.record_finished(&mut state).await;
        let unfinished: Vec<DeliveryId> = state.deliveries.drain().collect();
        if !unfinished.is_empty() {
            tracing::info!(
                released = unfinished.len(),
                "released deliveries still in flight at shutdown"
            );
            self.release_quietly(unfinished).await;
        }
    }

    async fn record_finished(&self, state: &mut InFlight) {
        let reports = std::mem::take(&mut state.finished);
        state.oldest_finished = None;
        if reports.is_empty() {
            return;
        }
        let n = reports.len();
        if let Err(err) = self.queue.record(reports).await {
            tracing::warn!(error = %err, attempts = n,
                "recording attempts failed; their leases expire and they are sent again");
        }
    }

    async fn release_quietly(&self, deliveries: Vec<DeliveryId>) {
        if let Err(err) = self.queue.release(deliveries).await {
            tracing::warn!(error = %err, "releasing deliveries failed; their leases expire instead");
        }
    }
}

enum Woken {
    Finished(Option<(SubscriptionId, AttemptReport)>),
    Waited,
    Stopping,
}
