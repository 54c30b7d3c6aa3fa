//! The connection pool and the handle every port implementation hangs off.

use crate::MIGRATOR;
use crate::batch::Coalesced;
use crate::error::ConnectError;
use crate::group::GroupWriter;
use crate::rate_limits::LimitedSubscriptions;
use absync_application::ports::{StoredAbsence, Subscription, TokenRecord};
use absync_domain::{AbsenceId, TenantId};
use absync_store_core::RateLimitChange;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// The channel writes `NOTIFY` when they queue deliveries.
const WORK_CHANNEL: &str = "absync_work";

/// The channel a store `NOTIFY`s after it sets or lifts a subscription's rate limit, or deletes a
/// subscription: the other instances check again whether their claims must spend token buckets.
const LIMITS_CHANNEL: &str = "absync_subscriptions";

/// Pool sizing and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections held.
    pub max_connections: u32,
    /// How long a caller waits for a connection before the store counts as unavailable.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// absync's PostgreSQL store. Cheap to clone; implements every store port.
#[derive(Debug, Clone)]
pub struct PgStore {
    pub(crate) pool: PgPool,
    work: Arc<Notify>,
    announce: Arc<Notify>,
    /// Absence numbers taken from the sequence ahead of need (gaps after a restart are harmless).
    pub(crate) spare_numbers: absync_application::ports::stored::SpareNumbers,
    /// Absence writes, committed in groups.
    pub(crate) group: GroupWriter,
    /// Absence loads, coalesced.
    pub(crate) loads: Coalesced<(TenantId, AbsenceId), Option<StoredAbsence>>,
    /// Subscription lists (ingest's "who receives this"), coalesced.
    pub(crate) subscription_lists: Coalesced<TenantId, Vec<Subscription>>,
    /// Token look-ups (every call's authentication), coalesced.
    pub(crate) token_lookups: Coalesced<[u8; 32], Option<TokenRecord>>,
    /// Whether some subscription may be rate-limited: which claim to run.
    pub(crate) limited: Arc<LimitedSubscriptions>,
}

impl PgStore {
    /// Connects to `url`, creating the database first when it does not exist.
    ///
    /// # Errors
    /// [`ConnectError`] when the URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, ConnectError> {
        // Generic plans: every query here is shaped so its generic plan is the right one, and the
        // claim, run constantly, would otherwise be re-planned each time (its `<= $1` bound makes
        // PostgreSQL prefer custom plans, and planning costs more than running it).
        let options = PgConnectOptions::from_str(url)
            .map_err(ConnectError::Url)?
            .options([("plan_cache_mode", "force_generic_plan")]);
        if !Postgres::database_exists(url)
            .await
            .map_err(ConnectError::Connect)?
        {
            tracing::info!(database = options.get_database(), "creating database");
            Postgres::create_database(url)
                .await
                .map_err(ConnectError::Connect)?;
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(ConnectError::Connect)?;
        Ok(Self::from_pool(pool))
    }

    /// Wraps an existing pool (tests hand in their per-test database). Starts the group-commit task,
    /// so it must be called within a tokio runtime.
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            group: GroupWriter::start(pool.clone()),
            loads: Coalesced::start(crate::absences::load_many(pool.clone())),
            subscription_lists: Coalesced::start(crate::subscriptions::list_many(pool.clone())),
            token_lookups: Coalesced::start(crate::tokens::find_many(pool.clone())),
            pool,
            work: Arc::new(Notify::new()),
            announce: Arc::new(Notify::new()),
            limited: Arc::default(),
            spare_numbers: absync_application::ports::stored::SpareNumbers::default(),
        }
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// [`ConnectError::Migrate`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(ConnectError::Migrate)
    }

    /// Resolves when a write in this process has queued new deliveries (or at once if one did since the
    /// last wait). Dispatchers wait on it between polls so new work goes out at once.
    pub async fn work_queued(&self) {
        self.work.notified().await;
    }

    pub(crate) fn signal_work(&self) {
        self.work.notify_one();
    }

    /// Asks [`PgStore::announce_queued_work`] to tell the other processes.
    pub(crate) fn announce_work(&self) {
        self.announce.notify_one();
    }

    /// Sends `NOTIFY absync_work` after writes in this process queued deliveries, until `stop` turns
    /// true: one notification at a time, however many writes asked meanwhile. (A `NOTIFY` inside the
    /// ingest transaction would serialise every commit on PostgreSQL's notification-queue lock.)
    pub async fn announce_queued_work(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => return,
                () = self.announce.notified() => {}
            }
            if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
                .bind(WORK_CHANNEL)
                .execute(&self.pool)
                .await
            {
                tracing::debug!(error = %err, "cannot NOTIFY other instances; their poll will find the work");
            }
        }
    }

    /// A subscription's rate limit was set or lifted here, or a subscription deleted: this store's
    /// claims know at once (or check again), the other instances' through `NOTIFY
    /// absync_subscriptions` (their periodic check finds it if the notification is lost).
    pub(crate) async fn rate_limit_changed(&self, change: RateLimitChange) {
        match change {
            RateLimitChange::Set => self.limited.limit_set(),
            RateLimitChange::Lifted => self.limited.recheck(),
        }
        if let Err(err) = sqlx::query("SELECT pg_notify($1, '')")
            .bind(LIMITS_CHANNEL)
            .execute(&self.pool)
            .await
        {
            tracing::debug!(error = %err, "cannot NOTIFY other instances of a rate limit; their periodic check will find it");
        }
    }

    /// Relays `NOTIFY absync_work` (sent after writes that queue deliveries, in any process) to
    /// [`PgStore::work_queued`] until `stop` turns true, and `NOTIFY absync_subscriptions` (a rate
    /// limit set or lifted) to the claim, which checks again whether it must spend token buckets,
    /// then to [`PgStore::work_queued`] too. A lost connection is re-established, and the claim checks
    /// again then; what was missed meanwhile is found by the dispatcher's poll.
    pub async fn relay_notifications(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let mut listener = match PgListener::connect_with(&self.pool).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot LISTEN for queued work; retrying");
                    tokio::select! {
                        _ = stop.wait_for(|stop| *stop) => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    }
                }
            };
            if let Err(err) = listener.listen_all([WORK_CHANNEL, LIMITS_CHANNEL]).await {
                tracing::warn!(error = %err, "cannot LISTEN for queued work; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            // A limit may have changed while nobody listened.
            self.limited.recheck();
            loop {
                tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => return,
                    received = listener.recv() => match received {
                        Ok(notification) => {
                            if notification.channel() == LIMITS_CHANNEL {
                                self.limited.recheck();
                            }
                            self.signal_work();
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "LISTEN connection lost; reconnecting");
                            break;
                        }
                    },
                }
            }
        }
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait::async_trait]
impl absync_application::ports::StoreHealth for PgStore {
    async fn ping(&self) -> Result<(), absync_application::ports::StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(drop)
            .map_err(crate::error::store_error)
    }
}
