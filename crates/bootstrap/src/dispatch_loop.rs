//! The dispatcher's lifecycle: the continuous dispatcher (`Dispatcher::run`) woken when new work is
//! queued (in this process, or with PostgreSQL in another one through `LISTEN/NOTIFY`) or the poll
//! interval passes (retries, expired leases). On shutdown it stops claiming, sends in flight get
//! `grace` to finish, and the rest are released for another dispatcher.

use crate::store::Store;
use absync_application::{Dispatcher, Wakeup};
use std::time::Duration;
use tokio::sync::watch;

/// Wakes the dispatcher when the store says work was queued.
struct StoreWakeup(Store);

#[async_trait::async_trait]
impl Wakeup for StoreWakeup {
    async fn wait(&self, at_most: Duration) {
        tokio::select! {
            () = self.0.work_queued() => {}
            () = tokio::time::sleep(at_most) => {}
        }
    }
}

/// Resolves when `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Resolves `grace` after `stop` turns true.
async fn stopped_with_grace(stop: watch::Receiver<bool>, grace: Duration) {
    stopped(stop).await;
    tokio::time::sleep(grace).await;
}

pub(crate) async fn run(
    dispatcher: Dispatcher,
    store: Store,
    poll: Duration,
    grace: Duration,
    stop: watch::Receiver<bool>,
) {
    tracing::info!("dispatcher started");
    dispatcher
        .run(
            &StoreWakeup(store),
            poll,
            stopped(stop.clone()),
            stopped_with_grace(stop, grace),
        )
        .await;
    tracing::info!("dispatcher stopped");
}

/// The queue's upkeep: cancels the deliveries of expired subscriptions once at start and then every
/// `expiry_every`, and deletes finished (succeeded, cancelled) deliveries older than `retention` once
/// at start and then every `purge_every`.
pub(crate) async fn maintain(
    queue: std::sync::Arc<dyn absync_application::ports::DeliveryQueue>,
    retention: Duration,
    expiry_every: Duration,
    purge_every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let mut purged_at: Option<tokio::time::Instant> = None;
    loop {
        let now = chrono::Utc::now();
        match queue.cancel_expired(now).await {
            Ok(0) => {}
            Ok(cancelled) => {
                tracing::info!(
                    cancelled,
                    "cancelled the deliveries of expired subscriptions"
                );
            }
            Err(err) => {
                tracing::warn!(error = %err, "cancelling the deliveries of expired subscriptions failed; will try again");
            }
        }
        if purged_at.is_none_or(|at| at.elapsed() >= purge_every) {
            purged_at = Some(tokio::time::Instant::now());
            match queue.purge_finished(now - retention).await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::info!(purged, "purged finished deliveries past the retention");
                }
                Err(err) => {
                    tracing::warn!(error = %err, "purging old deliveries failed; will try again");
                }
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(expiry_every.min(purge_every)) => {}
        }
    }
}
