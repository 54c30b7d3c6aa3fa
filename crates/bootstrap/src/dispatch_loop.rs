//! The dispatcher's lifecycle: run batches while work is due, otherwise sleep until new work is queued
//! in this process, the poll interval passes (retries, other instances' work) or shutdown is asked.

use absync_adapter_postgres::PgStore;
use absync_application::Dispatcher;
use std::time::Duration;
use tokio::sync::watch;

pub(crate) async fn run(
    dispatcher: Dispatcher,
    store: PgStore,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
) {
    tracing::info!("dispatcher started");
    loop {
        if *stop.borrow() {
            break;
        }
        let busy = match dispatcher.dispatch_due().await {
            Ok(sent) => sent > 0,
            Err(err) => {
                tracing::warn!(error = %err, "dispatch cycle failed; retrying after the poll interval");
                false
            }
        };
        if busy {
            continue;
        }
        tokio::select! {
            _ = stop.changed() => {}
            () = store.work_queued() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
    tracing::info!("dispatcher stopped");
}
