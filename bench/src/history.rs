//! (g) The unit workload's delivery rate on an empty store and on a store holding a long history,
//! and (i) the time of a metrics scrape on each (before the workload):
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
/// Metrics scrapes measured on each store (after [`SCRAPE_WARM_UP`] unmeasured ones).
const SCRAPES: usize = 50;
/// Scrapes first sent unmeasured: the HTTP connection opened, the statements prepared.
const SCRAPE_WARM_UP: usize = 5;
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
    /// `GET /metrics` on the empty store: median milliseconds.
    pub(crate) scrape_empty_ms: f64,
    /// `GET /metrics` on the seeded store, before the workload: median milliseconds.
    pub(crate) scrape_history_ms: f64,
    /// The seeded history.
    pub(crate) seeded: Seeded,
}

/// Measures both runs, each on a database of its own, removed afterwards.
pub(crate) async fn measure(absync: &str, store: &BenchStore) -> anyhow::Result<History> {
    eprintln!("bench: (g) unit workload on an empty store");
    let (empty, _, scrape_empty_ms) = rate_on(absync, store, 0).await?;
    eprintln!("bench: (g) unit workload beside {HISTORY_ITEMS} succeeded deliveries");
    let (history, seeded, scrape_history_ms) = rate_on(absync, store, HISTORY_ITEMS).await?;
    Ok(History {
        empty,
        history,
        scrape_empty_ms,
        scrape_history_ms,
        seeded,
    })
}

/// (i) The median time of a `GET /metrics` scrape, in milliseconds.
async fn scrape_ms(service: &AbsyncProcess) -> anyhow::Result<f64> {
    let client = reqwest::Client::new();
    let url = format!("http://{}/metrics", service.http_addr);
    let mut times = Vec::with_capacity(SCRAPES);
    for i in 0..SCRAPE_WARM_UP + SCRAPES {
        let started = std::time::Instant::now();
        let response = client.get(&url).send().await?.error_for_status()?;
        let body = response.text().await?;
        anyhow::ensure!(
            body.contains("absync_deliveries{"),
            "the scrape has no absync_deliveries gauge"
        );
        if i >= SCRAPE_WARM_UP {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// The unit workload's rate on a fresh database holding `items` history items, and the median
/// metrics scrape before it.
async fn rate_on(
    absync: &str,
    store: &BenchStore,
    items: i64,
) -> anyhow::Result<(UnitRate, Seeded, f64)> {
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
    let scrape = scrape_ms(&service).await?;
    eprintln!("bench: (i) metrics scrape beside {items} deliveries: median {scrape:.2} ms");
    workloads::unit(&clients, &arrivals, "warm-up", WARM_UP_ABSENCES).await?;
    let rate = workloads::unit(&clients, &arrivals, "unit", HISTORY_ABSENCES).await?;
    drop(service);
    store.discard(&name).await?;
    Ok((rate, seeded, scrape))
}
