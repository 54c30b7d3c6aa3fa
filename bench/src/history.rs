//! (g) The unit workload's delivery rate on an empty store and on a store holding a long history:
//! [`HISTORY_ITEMS`] succeeded deliveries with their attempts, events, leaves and absences (see
//! `seed.rs`). Both runs take the same steps on a fresh database — migrated, token issued,
//! subscribed, for the second seeded, vacuumed and analyzed, and checkpointed — before absync starts
//! on it, and both warm the service up with a short unmeasured run first.

use crate::receiver;
use crate::seed::{self, Seeded};
use crate::store::BenchStore;
use crate::workloads::{self, CONCURRENCY, UnitRate};
use absync_e2e::client::Clients;
use absync_e2e::process::AbsyncProcess;

/// Unit absences of each run.
pub(crate) const HISTORY_ABSENCES: usize = 10_000;
/// Unit absences sent first, unmeasured, in both runs: the service's connections opened and its
/// statements prepared, the store's files past their first growth.
const WARM_UP_ABSENCES: usize = 1_000;
/// History items seeded for the second run.
pub(crate) const HISTORY_ITEMS: i64 = 1_000_000;
/// absync's default retention, passed explicitly: the seeded history (at most seven days old) must
/// stay whole while the service runs.
const RETENTION: &str = "30days";

/// The two runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct History {
    /// On an empty store.
    pub(crate) empty: UnitRate,
    /// On the seeded store.
    pub(crate) history: UnitRate,
    /// The seeded history.
    pub(crate) seeded: Seeded,
}

/// Measures both runs, each on a database of its own, removed afterwards.
pub(crate) async fn measure(absync: &str, store: &BenchStore) -> anyhow::Result<History> {
    eprintln!("bench: (g) unit workload on an empty store");
    let (empty, _) = rate_on(absync, store, 0).await?;
    eprintln!("bench: (g) unit workload beside {HISTORY_ITEMS} succeeded deliveries");
    let (history, seeded) = rate_on(absync, store, HISTORY_ITEMS).await?;
    Ok(History {
        empty,
        history,
        seeded,
    })
}

/// The unit workload's rate on a fresh database holding `items` history items.
async fn rate_on(
    absync: &str,
    store: &BenchStore,
    items: i64,
) -> anyhow::Result<(UnitRate, Seeded)> {
    let name = format!("absync_bench_history_{}", std::process::id());
    let url = store.fresh(&name).await?;
    let (receiver_addr, arrivals) = receiver::start().await?;
    store.migrate(&url).await?;
    let token = store.token(&url).await?;
    let subscription = store
        .subscribe(&url, &format!("http://{receiver_addr}/hook"))
        .await?;
    let seeded = if items > 0 {
        let seeded = seed::history(store, &url, &subscription, items).await?;
        eprintln!(
            "bench: seeded {} deliveries in {:.1} s",
            seeded.deliveries, seeded.seconds
        );
        // Vacuumed and analyzed, as the history would be long after it was written. Not the empty
        // store: statistics of empty tables would leave the planner expecting them to stay empty
        // until the next autoanalyze, while a new store has none and is planned by the defaults.
        store.settle(&url).await?;
        seeded
    } else {
        // What earlier measurements left to write out is written before this one, as it is after
        // the seeding in the other run.
        store.quiesce(&url).await?;
        Seeded {
            deliveries: 0,
            seconds: 0.0,
        }
    };
    let concurrency = CONCURRENCY.to_string();
    let service = AbsyncProcess::start(
        absync,
        &url,
        &[
            "--dispatch-concurrency",
            &concurrency,
            "--retention",
            RETENTION,
        ],
    );
    let clients = Clients::connect(service.grpc_addr, Some(token)).await;
    workloads::unit(&clients, &arrivals, "warm-up", WARM_UP_ABSENCES).await?;
    let rate = workloads::unit(&clients, &arrivals, "unit", HISTORY_ABSENCES).await?;
    drop(service);
    store.discard(&name).await?;
    Ok((rate, seeded))
}
