//! The continuous dispatcher: keeps up to `concurrency` sends in flight, claims more as sends finish
//! or new work arrives, and records finished attempts in batches. A slow or dead receiver holds only
//! its own slots (at most `per_subscription`), never the others' deliveries: nothing waits for the
//! slowest send of a batch.

use super::Dispatcher;
use crate::ports::{AttemptReport, ClaimedDelivery};
use absync_domain::{DeliveryId, SubscriptionId};
use async_trait::async_trait;
use futures::future::{self, Either, FutureExt};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

/// Finished attempts wait at most this long before they are recorded (the next delivery of their
/// leave is promoted when they are).
const RECORD_LINGER: Duration = Duration::from_millis(50);
/// While sends are in flight, look for due work (retries, other instances' work) at least this often.
const BUSY_POLL: Duration = Duration::from_millis(100);

/// What the dispatcher waits on when it has nothing to claim; given by the runtime.
#[async_trait]
pub trait Wakeup: Send + Sync {
    /// Resolves when new work may have been queued (in this process, or announced by another one),
    /// or once `at_most` has passed.
    async fn wait(&self, at_most: Duration);
}

/// A claimed delivery waiting for a send slot of its subscription.
struct Held {
    delivery: ClaimedDelivery,
    since: Instant,
}

/// The sends in flight, the claimed deliveries waiting for a slot, and finished attempts not yet
/// recorded.
#[derive(Default)]
struct Slots {
    in_flight: HashMap<SubscriptionId, usize>,
    held: HashMap<SubscriptionId, VecDeque<Held>>,
    deliveries: HashSet<DeliveryId>,
    finished: Vec<AttemptReport>,
    oldest_finished: Option<Instant>,
}

impl Slots {
    fn in_flight(&self, subscription: &SubscriptionId) -> usize {
        self.in_flight.get(subscription).copied().unwrap_or(0)
    }

    fn held(&self, subscription: &SubscriptionId) -> usize {
        self.held.get(subscription).map_or(0, VecDeque::len)
    }

    fn start(&mut self, delivery: &ClaimedDelivery) {
        *self
            .in_flight
            .entry(delivery.subscription.clone())
            .or_default() += 1;
        self.deliveries.insert(delivery.id);
    }

    fn hold(&mut self, delivery: ClaimedDelivery) {
        self.held
            .entry(delivery.subscription.clone())
            .or_default()
            .push_back(Held {
                delivery,
                since: Instant::now(),
            });
    }

    /// The next held delivery of `subscription`, if any.
    fn next_held(&mut self, subscription: &SubscriptionId) -> Option<Held> {
        let queue = self.held.get_mut(subscription)?;
        let next = queue.pop_front();
        if queue.is_empty() {
            self.held.remove(subscription);
        }
        next
    }

    fn finish(&mut self, subscription: &SubscriptionId, report: AttemptReport) {
        if let Some(n) = self.in_flight.get_mut(subscription) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(subscription);
            }
        }
        self.deliveries.remove(&report.delivery);
        self.oldest_finished.get_or_insert_with(Instant::now);
        self.finished.push(report);
    }

    /// Subscriptions with every send slot busy and a slot's worth held: claims skip them.
    fn saturated(&self, cap: usize) -> Vec<SubscriptionId> {
        self.in_flight
            .iter()
            .filter(|(s, n)| **n >= cap && self.held(s) >= cap)
            .map(|(s, _)| s.clone())
            .collect()
    }

    /// Every held delivery, for release.
    fn drain_held(&mut self) -> Vec<DeliveryId> {
        self.held
            .drain()
            .flat_map(|(_, queue)| queue.into_iter().map(|h| h.delivery.id))
            .collect()
    }
}

impl Dispatcher {
    /// Dispatches until `stopping` resolves: claims due deliveries whenever send slots are free,
    /// sends them (each subscription with at most `per_subscription` in flight, and as many claimed
    /// and waiting for its slots), records finished attempts in batches, and waits on `wakeup` (at
    /// most `poll`, or until the next delivery is due) when nothing is claimable. Then it stops
    /// claiming, lets the sends in flight finish until `abandon` resolves, records them and releases
    /// the leases of the rest for another dispatcher.
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
        let cap = self.settings.per_subscription.clamp(1, concurrency);
        // A held delivery still has this long on its lease when it is sent, or it is released.
        let hold_limit = self.settings.lease / 2;
        let mut slots = Slots::default();
        let mut sends = FuturesUnordered::new();
        let mut stopping = pin!(stopping.fuse());
        // Whether a claim may find something: after new work, a timer, a record (promotions), or a
        // claim that came back full; not after one that came back short, until one of those.
        let mut more_due = true;
        loop {
            // Collect every send that has finished, without waiting.
            while let Some(Some((subscription, report))) = sends.next().now_or_never() {
                slots.finish(&subscription, report);
            }
            // Give the freed slots to held deliveries of their subscriptions.
            let subscriptions: Vec<SubscriptionId> = slots.held.keys().cloned().collect();
            let mut expired = Vec::new();
            for subscription in subscriptions {
                while slots.in_flight(&subscription) < cap
                    && sends.len() < concurrency
                    && let Some(held) = slots.next_held(&subscription)
                {
                    if held.since.elapsed() > hold_limit {
                        expired.push(held.delivery.id);
                        continue;
                    }
                    slots.start(&held.delivery);
                    sends.push(self.send_one(held.delivery));
                }
            }
            if !expired.is_empty() {
                self.release_quietly(expired).await;
                more_due = true;
            }
            let lingered = slots
                .oldest_finished
                .is_some_and(|t| t.elapsed() >= RECORD_LINGER);
            if !slots.finished.is_empty()
                && (sends.is_empty() || lingered || slots.finished.len() >= concurrency)
            {
                self.record_finished(&mut slots).await;
                more_due = true; // recording may have promoted the next delivery of a leave
            }

            // Claim to fill the free slots, once at least a quarter are free (or all).
            let free = concurrency - sends.len();
            let mut store_failed = false;
            if more_due && free > 0 && (free * 4 >= concurrency || sends.is_empty()) {
                // At most a subscription's share at a time: one busy subscription does not make the
                // claim take (and hand back) far more than it can send.
                let asked = free
                    .min(cap)
                    .min(usize::try_from(self.settings.batch_size).unwrap_or(free));
                match self.claim(asked, &slots.saturated(cap)).await {
                    Ok(claimed) => {
                        more_due = claimed.len() == asked;
                        let mut over = Vec::new();
                        for delivery in claimed {
                            let subscription = &delivery.subscription;
                            if slots.in_flight(subscription) < cap && sends.len() < concurrency {
                                slots.start(&delivery);
                                sends.push(self.send_one(delivery));
                            } else if slots.held(subscription) < cap {
                                slots.hold(delivery);
                            } else {
                                over.push(delivery.id);
                            }
                        }
                        if !over.is_empty() {
                            self.release_quietly(over).await;
                        }
                        if more_due {
                            continue;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "claiming failed; retrying after the poll interval");
                        store_failed = true;
                    }
                }
            }

            // Wait for a send to finish, new work, the next due time, or the stop.
            let mut at_most = if store_failed {
                poll
            } else if !sends.is_empty() {
                BUSY_POLL.min(poll)
            } else {
                self.idle_for(poll).await
            };
            if let Some(oldest) = slots.oldest_finished {
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
                    // A subscription that was at its cap may have more due now.
                    more_due |=
                        slots.in_flight(&subscription) >= cap && slots.held(&subscription) == 0;
                    slots.finish(&subscription, report);
                }
                Woken::Finished(None) => {}
                Woken::Waited => more_due = true,
                Woken::Stopping => break,
            }
        }

        // Stopping: no more claims; the sends in flight have until `abandon`.
        let held = slots.drain_held();
        if !held.is_empty() {
            self.release_quietly(held).await;
        }
        let mut abandon = pin!(abandon.fuse());
        while !sends.is_empty() {
            match future::select(sends.next(), abandon.as_mut()).await {
                Either::Left((Some((subscription, report)), _)) => {
                    slots.finish(&subscription, report);
                }
                Either::Left((None, _)) | Either::Right(_) => break,
            }
        }
        drop(sends);
        self.record_finished(&mut slots).await;
        let unfinished: Vec<DeliveryId> = slots.deliveries.drain().collect();
        if !unfinished.is_empty() {
            tracing::info!(
                released = unfinished.len(),
                "released deliveries still in flight at shutdown"
            );
            self.release_quietly(unfinished).await;
        }
    }

    /// Sends one delivery; the answer comes with its subscription.
    async fn send_one(&self, delivery: ClaimedDelivery) -> (SubscriptionId, AttemptReport) {
        let subscription = delivery.subscription.clone();
        (subscription, self.attempt(delivery).await)
    }

    async fn record_finished(&self, slots: &mut Slots) {
        let reports = std::mem::take(&mut slots.finished);
        slots.oldest_finished = None;
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
