//! The dispatcher's lifecycle: run batches while work is due, otherwise sleep until new work is queued
//! (in this process, or with PostgreSQL in another one through `LISTEN/NOTIFY`), the poll interval passes (retries,
//! expired leases) or shutdown is asked. On shutdown, sends in flight get `grace` to finish; the rest
//! are released for another dispatcher.

use crate::store::Store;
use absync_application::Dispatcher;
use std::time::Duration;
use tokio::sync::watch;

/// Resolves `grace` after `stop` turns true.
async fn stopped_with_grace(mut stop: watch::Receiver<bool>, grace: Duration) {
    let _ = stop.wait_for(|stop| *stop).await;
    tokio::time::sleep(grace).await;
}

pub(crate) async fn run(
    dispatcher: Dispatcher,
    store: Store,
    poll: Duration,
    grace: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!("dispatcher started");
    loop {
        if *stop.borrow() {
            break;
        }
        let busy = match dispatcher
            .dispatch_due(stopped_with_grace(stop.clone(), grace))
            .await
        {
            Ok(claimed) => claimed > 0,
            Err(err) => {
                tracing::warn!(error = %err, "dispatch cycle failed; retrying after the poll interval");
                false
            }
        };
        if busy {
            continue;
        }
        let idle = dispatcher.idle_for(poll).await;
        tokio::select! {
            _ = stop.changed() => {}
            () = store.work_queued() => {}
            () = tokio::time::sleep(idle) => {}
        }
    }
    tracing::info!("dispatcher stopped");
}

/// Deletes succeeded deliveries older than `retention`, once at start and then every `every`.
pub(crate) async fn purge(
    queue: std::sync::Arc<dyn absync_application::ports::DeliveryQueue>,
    retention: Duration,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    loop {
        let before = chrono::Utc::now() - retention;
        match queue.purge_succeeded(before).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged succeeded deliveries past the retention"),
            Err(err) => {
                tracing::warn!(error = %err, "purging old deliveries failed; will try again");
            }
        }
        tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep(every) => {}
        }
    }
}
