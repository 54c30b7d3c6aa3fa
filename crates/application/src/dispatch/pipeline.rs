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
use std::pin::{Pin, pin};
use std::task::Poll;
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
        let mut pipeline = Pipeline::new(self, |delivery| self.send_one(delivery));
        let mut stopping = pin!(stopping.fuse());
        loop {
            pipeline.collect_finished();
            pipeline.start_held().await;
            pipeline.record_if_due().await;
            let claim = pipeline.claim_if_room().await;
            if claim == Claim::Full {
                continue; // more may be due at once
            }
            let at_most = pipeline.wait_limit(poll, claim == Claim::Failed).await;
            match pipeline.wait(wakeup, at_most, stopping.as_mut()).await {
                Event::Finished(subscription, report) => pipeline.finished(&subscription, report),
                Event::Woken => pipeline.something_changed(),
                Event::Stopping => break,
            }
        }
        pipeline.shut_down(abandon).await;
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

/// What the dispatcher woke up to.
enum Event {
    /// A send finished.
    Finished(SubscriptionId, AttemptReport),
    /// The wakeup: new work may have been queued, or the wait ran out.
    Woken,
    /// `stopping` resolved.
    Stopping,
}

/// What a claim step came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// Claimed as many as asked: more may be due at once.
    Full,
    /// Claimed fewer than asked (everything due), or claimed nothing because there was no room or
    /// nothing could be due.
    Done,
    /// The store failed: try again after the poll interval.
    Failed,
}

/// The continuous dispatcher's state between its steps: the sends in flight (`start` makes one), the
/// slots and held deliveries, and whether a claim may find something.
struct Pipeline<'d, Start, Sending> {
    dispatcher: &'d Dispatcher,
    start: Start,
    sends: FuturesUnordered<Sending>,
    slots: Slots,
    /// Whether a claim may find something: after new work, a timer, a record (promotions), a release,
    /// or a claim that came back full; not after one that came back short, until one of those.
    more_due: bool,
    /// Sends in flight at once.
    concurrency: usize,
    /// Sends in flight at once to one subscription, and held deliveries per subscription.
    cap: usize,
    /// Deliveries asked for per claim, at most.
    batch_size: usize,
    /// A held delivery still has this long on its lease when it is sent, or it is released.
    hold_limit: Duration,
}

impl<'d, Start, Sending> Pipeline<'d, Start, Sending>
where
    Start: Fn(ClaimedDelivery) -> Sending,
    Sending: Future<Output = (SubscriptionId, AttemptReport)>,
{
    fn new(dispatcher: &'d Dispatcher, start: Start) -> Self {
        let settings = &dispatcher.settings;
        let concurrency = settings.concurrency.max(1);
        Self {
            dispatcher,
            start,
            sends: FuturesUnordered::new(),
            slots: Slots::default(),
            more_due: true,
            concurrency,
            cap: settings.per_subscription.clamp(1, concurrency),
            batch_size: usize::try_from(settings.batch_size).unwrap_or(usize::MAX),
            hold_limit: settings.lease / 2,
        }
    }

    /// Something changed that a claim may find: new work was announced or a wait ran out, deliveries
    /// were released, or attempts were recorded (which promotes the next delivery of their leave).
    fn something_changed(&mut self) {
        self.more_due = true;
    }

    /// Sends `delivery` now.
    fn send(&mut self, delivery: ClaimedDelivery) {
        self.slots.start(&delivery);
        self.sends.push((self.start)(delivery));
    }

    /// Takes every send that has finished, without waiting.
    fn collect_finished(&mut self) {
        while let Some(Some((subscription, report))) = self.sends.next().now_or_never() {
            self.slots.finish(&subscription, report);
        }
    }

    /// A send finished, found by waiting.
    fn finished(&mut self, subscription: &SubscriptionId, report: AttemptReport) {
        // A subscription that was at its cap may have more due now.
        if self.slots.in_flight(subscription) >= self.cap && self.slots.held(subscription) == 0 {
            self.something_changed();
        }
        self.slots.finish(subscription, report);
    }

    /// Gives the free slots to held deliveries of their subscriptions; releases those held too long.
    async fn start_held(&mut self) {
        let subscriptions: Vec<SubscriptionId> = self.slots.held.keys().cloned().collect();
        let mut expired = Vec::new();
        for subscription in subscriptions {
            while self.slots.in_flight(&subscription) < self.cap
                && self.sends.len() < self.concurrency
                && let Some(held) = self.slots.next_held(&subscription)
            {
                if held.since.elapsed() > self.hold_limit {
                    expired.push(held.delivery.id);
                    continue;
                }
                self.send(held.delivery);
            }
        }
        if !expired.is_empty() {
            self.dispatcher.release_quietly(expired).await;
            self.something_changed();
        }
    }

    /// Records the finished attempts when no send is in flight, the oldest has waited
    /// `RECORD_LINGER`, or there are as many as the concurrency.
    async fn record_if_due(&mut self) {
        let finished = self.slots.finished.len();
        let lingered = self
            .slots
            .oldest_finished
            .is_some_and(|t| t.elapsed() >= RECORD_LINGER);
        if finished > 0 && (self.sends.is_empty() || lingered || finished >= self.concurrency) {
            self.dispatcher.record_finished(&mut self.slots).await;
            self.something_changed();
        }
    }

    /// Claims to fill the free slots, once at least a quarter are free (or all), when a claim may find
    /// something; sends what has a slot, holds what its subscription's slots wait for, and releases
    /// the rest.
    async fn claim_if_room(&mut self) -> Claim {
        let free = self.concurrency - self.sends.len();
        if !self.more_due || free == 0 || (free * 4 < self.concurrency && !self.sends.is_empty()) {
            return Claim::Done;
        }
        // At most a subscription's share at a time: one busy subscription does not make the claim
        // take (and hand back) far more than it can send.
        let asked = free.min(self.cap).min(self.batch_size);
        let saturated = self.slots.saturated(self.cap);
        let claimed = match self.dispatcher.claim(asked, &saturated).await {
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "claiming failed; retrying after the poll interval");
                return Claim::Failed;
            }
        };
        // A full claim may have left more due; a short one took everything.
        let claim = if claimed.len() == asked {
            Claim::Full
        } else {
            Claim::Done
        };
        self.more_due = claim == Claim::Full;
        let mut over = Vec::new();
        for delivery in claimed {
            let subscription = &delivery.subscription;
            if self.slots.in_flight(subscription) < self.cap && self.sends.len() < self.concurrency
            {
                self.send(delivery);
            } else if self.slots.held(subscription) < self.cap {
                self.slots.hold(delivery);
            } else {
                over.push(delivery.id);
            }
        }
        if !over.is_empty() {
            self.dispatcher.release_quietly(over).await;
        }
        claim
    }

    /// How long to wait at most: `poll` after a store error, `BUSY_POLL` while sends are in flight,
    /// until the next delivery is due otherwise; never past the record linger of a finished attempt.
    // `&mut self`: the future holds it across an await, and must be `Send` (the sends are not `Sync`).
    async fn wait_limit(&mut self, poll: Duration, claim_failed: bool) -> Duration {
        let at_most = if claim_failed {
            poll
        } else if !self.sends.is_empty() {
            BUSY_POLL.min(poll)
        } else {
            self.dispatcher.idle_for(poll).await
        };
        match self.slots.oldest_finished {
            Some(oldest) => at_most.min(RECORD_LINGER.saturating_sub(oldest.elapsed())),
            None => at_most,
        }
    }

    /// Waits for the first of: a send finishing, the wakeup (new work, or `at_most` passed), the stop.
    async fn wait(
        &mut self,
        wakeup: &dyn Wakeup,
        at_most: Duration,
        mut stopping: Pin<&mut impl Future<Output = ()>>,
    ) -> Event {
        let mut woken = wakeup.wait(at_most);
        let sends = &mut self.sends;
        future::poll_fn(|cx| {
            if !sends.is_empty()
                && let Poll::Ready(Some((subscription, report))) = sends.poll_next_unpin(cx)
            {
                return Poll::Ready(Event::Finished(subscription, report));
            }
            if woken.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Woken);
            }
            if stopping.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Event::Stopping);
            }
            Poll::Pending
        })
        .await
    }

    /// Stopping: no more claims; the held deliveries are released, the sends in flight have until
    /// `abandon` to finish, the finished attempts are recorded and the rest released.
    async fn shut_down(mut self, abandon: impl Future<Output = ()>) {
        let held = self.slots.drain_held();
        if !held.is_empty() {
            self.dispatcher.release_quietly(held).await;
        }
        let mut abandon = pin!(abandon.fuse());
        while !self.sends.is_empty() {
            match future::select(self.sends.next(), abandon.as_mut()).await {
                Either::Left((Some((subscription, report)), _)) => {
                    self.slots.finish(&subscription, report);
                }
                Either::Left((None, _)) | Either::Right(_) => break,
            }
        }
        self.sends.clear();
        self.dispatcher.record_finished(&mut self.slots).await;
        let unfinished: Vec<DeliveryId> = self.slots.deliveries.drain().collect();
        if !unfinished.is_empty() {
            tracing::info!(
                released = unfinished.len(),
                "released deliveries still in flight at shutdown"
            );
            self.dispatcher.release_quietly(unfinished).await;
        }
    }
}
