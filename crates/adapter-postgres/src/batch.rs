//! Coalesced reads: the reads of one kind asked while one is in progress are answered together by
//! the next, one statement for all of them. A read at idle runs at once; each statement starts after
//! every request it answers was made, so a caller never gets an answer older than its call.

use absync_application::ports::StoreError;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most requests answered by one statement.
const MAX_BATCH: usize = 256;

/// A read of many keys at once: one answer per key, in order.
pub(crate) type ReadMany<K, V> = Arc<
    dyn Fn(Vec<K>) -> Pin<Box<dyn Future<Output = Result<Vec<V>, StoreError>> + Send>>
        + Send
        + Sync,
>;

struct Request<K, V> {
    key: K,
    reply: oneshot::Sender<Result<V, StoreError>>,
}

/// The handle to one kind of coalesced read. Cheap to clone.
pub(crate) struct Coalesced<K, V> {
    requests: mpsc::UnboundedSender<Request<K, V>>,
}

impl<K, V> Clone for Coalesced<K, V> {
    fn clone(&self) -> Self {
        Self {
            requests: self.requests.clone(),
        }
    }
}

impl<K, V> std::fmt::Debug for Coalesced<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coalesced").finish_non_exhaustive()
    }
}

impl<K: Send + 'static, V: Send + 'static> Coalesced<K, V> {
    /// Starts the task that answers requests with `read`.
    pub(crate) fn start(read: ReadMany<K, V>) -> Self {
        let (requests, inbox) = mpsc::unbounded_channel();
        tokio::spawn(serve(read, inbox));
        Self { requests }
    }

    /// Reads `key` in the next batch.
    ///
    /// # Errors
    /// The batch's error, or [`StoreError::Unavailable`] when the store was dropped.
    pub(crate) async fn get(&self, key: K) -> Result<V, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { key, reply })
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

async fn serve<K, V>(read: ReadMany<K, V>, mut inbox: mpsc::UnboundedReceiver<Request<K, V>>) {
    while let Some(first) = inbox.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(request) => batch.push(request),
                Err(_) => break,
            }
        }
        let (keys, replies): (Vec<K>, Vec<_>) = batch.into_iter().map(|r| (r.key, r.reply)).unzip();
        let count = keys.len();
        match read(keys).await {
            Ok(values) if values.len() == count => {
                for (reply, value) in replies.into_iter().zip(values) {
                    let _ = reply.send(Ok(value));
                }
            }
            Ok(_) => {
                for reply in replies {
                    let _ = reply.send(Err(StoreError::Unexpected(
                        "a batched read answered a different number of requests".into(),
                    )));
                }
            }
            Err(err) => {
                for reply in replies {
                    let _ = reply.send(Err(err.copied()));
                }
            }
        }
    }
}
