//! Workloads (a)–(d), (c') and (f), against a release absync started as a process; the unit
//! workload (b) is also what (g) and (h) run.

use crate::receiver::{self, Arrivals};
use crate::store::BenchStore;
use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::{half_days, one_morning};
use absync_e2e::process::AbsyncProcess;
use futures::StreamExt;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The dispatcher's concurrency, also used by the raw-limit client.
pub(crate) const CONCURRENCY: usize = 64;
const UNIT_ABSENCES: usize = 20_000;
const UNIT_CALLERS: usize = 32;
const BATCH_ABSENCES: usize = 2_000;
const BATCH_SIZE: usize = 100;
/// (c') Unit absences sent to `FAN_OUT_SUBSCRIPTIONS` subscriptions each: 20,000 deliveries, as
/// Svix's fan-out workload in `compare.sh` (2,000 messages to 10 endpoints).
const FAN_OUT_ABSENCES: usize = 2_000;
const FAN_OUT_SUBSCRIPTIONS: usize = 10;
/// The paced rate of (d), leaves per second.
pub(crate) const PACED_PER_SECOND: u64 = 200;
const PACED_SECONDS: u64 = 5;

/// What (a)–(d) and (f) measured.
#[derive(Debug)]
pub(crate) struct Results {
    pub(crate) raw_posts_per_s: f64,
    pub(crate) unit: UnitRate,
    pub(crate) batch_deliveries_per_s: f64,
    pub(crate) batch_seconds: f64,
    /// (c'): deliveries arrived per second, and from the first call to the last arrival.
    pub(crate) fan_out_deliveries_per_s: f64,
    pub(crate) fan_out_seconds: f64,
    /// (d): from the PutAbsence reply (ack) to the first arrival at the receiver.
    pub(crate) ack_latency: Percentiles,
    /// (d'): from just before the PutAbsence call to the first arrival at the receiver.
    pub(crate) send_latency: Percentiles,
    pub(crate) peak_rss_mb: f64,
}

/// A run of the unit workload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct UnitRate {
    /// PutAbsence calls answered per second.
    pub(crate) accepted_per_s: f64,
    /// Deliveries arrived per second, from the first call to the last arrival.
    pub(crate) deliveries_per_s: f64,
    /// From the first call to the last arrival.
    pub(crate) seconds: f64,
}

/// The median and 99th percentile of a sample, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Percentiles {
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) samples: usize,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (NaN when empty).
    fn of(mut samples: Vec<f64>) -> Self {
        samples.sort_by(f64::total_cmp);
        let pick = |q: f64| {
            samples
                .get(((samples.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(f64::NAN)
        };
        Self {
            p50: pick(0.50),
            p99: pick(0.99),
            samples: samples.len(),
        }
    }
}

/// (a) POSTs/s straight to the receiver, `CONCURRENCY` at a time, for three seconds.
async fn raw_limit(url: &str, arrivals: &Arrivals) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()?;
    let body = r#"{"id":"1-20240304-AM","date":"2024-03-04","isAm":true,"owner":{"id":134,"name":"Luca Pacioli","email":"luca@example.com","employeeNumber":"00001"},"leaveAccount":{"id":1718,"name":"Paid leave 2024","categoryId":1,"categoryName":"Paid leave"},"isConfirmed":true,"confirmationDate":"2024-02-21T10:30:15.250","isCancelled":false,"cancellationDate":"","creationDate":"2024-02-20T09:00:00.000"}"#;
    arrivals.reset();
    let deadline = Instant::now() + Duration::from_secs(3);
    let started = Instant::now();
    let workers = (0..CONCURRENCY).map(|_| {
        let client = client.clone();
        let url = url.to_owned();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                let _ = client
                    .post(&url)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
            }
        })
    });
    futures::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    Ok(arrivals.count.load(Ordering::SeqCst) as f64 / elapsed)
}

/// An approved absence of one half-day: the morning of 2024-03-`day`.
pub(crate) fn half_day(id: &str, day: u32) -> proto::Absence {
    let date = format!("2024-03-{day:02}");
    one_morning(id, &date, 1, AbsenceStatus::Approved)
}

/// Sends `absence(0)`, `absence(1)`, … `absence(count - 1)`, one PutAbsence each, `UNIT_CALLERS` at a
/// time; a refused call is reported, not retried.
async fn put_one_by_one(
    clients: &Clients,
    count: usize,
    absence: impl Fn(usize) -> proto::Absence,
) {
    futures::stream::iter(0..count)
        .map(|i| {
            let mut clients = clients.clone();
            let request = clients.request(proto::PutAbsenceRequest {
                absence: Some(absence(i)),
            });
            async move { clients.ingest.put_absence(request).await }
        })
        .buffer_unordered(UNIT_CALLERS)
        .for_each(|result| async move {
            if let Err(status) = result {
                eprintln!("bench: PutAbsence failed: {status}");
            }
        })
        .await;
}

/// (b) One PutAbsence per half-day absence, `UNIT_CALLERS` at a time, `absences` of them (ids
/// `{prefix}-0`, `{prefix}-1`, …); returns once every delivery arrived.
pub(crate) async fn unit(
    clients: &Clients,
    arrivals: &Arrivals,
    prefix: &str,
    absences: usize,
) -> anyhow::Result<UnitRate> {
    arrivals.reset();
    let started = Instant::now();
    put_one_by_one(clients, absences, |i| {
        half_day(
            &format!("{prefix}-{i}"),
            4 + u32::try_from(i % 5).unwrap_or(0),
        )
    })
    .await;
    let accepted = started.elapsed().as_secs_f64();
    let last = arrivals.wait_for(absences).await;
    let delivered = last.duration_since(started).as_secs_f64();
    Ok(UnitRate {
        accepted_per_s: absences as f64 / accepted,
        deliveries_per_s: absences as f64 / delivered,
        seconds: delivered,
    })
}

/// (c) Five-day absences through PutAbsences.
async fn batch(clients: &Clients, arrivals: &Arrivals) -> anyhow::Result<(f64, f64)> {
    arrivals.reset();
    let absences: Vec<proto::Absence> = (0..BATCH_ABSENCES)
        .map(|i| {
            half_days(
                &format!("batch-{i}"),
                1,
                AbsenceStatus::Approved,
                ("2024-03-11", HalfDay::Am),
                ("2024-03-15", HalfDay::Pm),
            )
        })
        .collect();
    let leaves = BATCH_ABSENCES * 10;
    let started = Instant::now();
    futures::stream::iter(absences.chunks(BATCH_SIZE).map(<[proto::Absence]>::to_vec))
        .map(|chunk| {
            let mut clients = clients.clone();
            async move {
                let request = clients.request(proto::PutAbsencesRequest { absences: chunk });
                clients.ingest.put_absences(request).await
            }
        })
        .buffer_unordered(4)
        .for_each(|result| async move {
            if let Err(status) = result {
                eprintln!("bench: PutAbsences failed: {status}");
            }
        })
        .await;
    let last = arrivals.wait_for(leaves).await;
    let seconds = last.duration_since(started).as_secs_f64();
    Ok((leaves as f64 / seconds, seconds))
}

/// (c') Unit absences, one PutAbsence each, `UNIT_CALLERS` at a time, to `FAN_OUT_SUBSCRIPTIONS`
/// subscriptions: deliveries arrived per second, from the first call to the last arrival.
async fn fan_out(clients: &Clients, arrivals: &Arrivals) -> anyhow::Result<(f64, f64)> {
    arrivals.reset();
    let started = Instant::now();
    put_one_by_one(clients, FAN_OUT_ABSENCES, |i| {
        half_day(&format!("fan-out-{i}"), 18)
    })
    .await;
    let deliveries = FAN_OUT_ABSENCES * FAN_OUT_SUBSCRIPTIONS;
    let last = arrivals.wait_for(deliveries).await;
    let seconds = last.duration_since(started).as_secs_f64();
    Ok((deliveries as f64 / seconds, seconds))
}

/// One paced call: its leave id, when the call was made and when its answer came.
struct PacedCall {
    leave_id: String,
    sent: Instant,
    acked: Instant,
}

/// (d) and (d') Arrival latency at a paced rate: from the PutAbsence reply (ack) and from just before
/// the call, to the first arrival of the leave at the receiver.
async fn latency(
    clients: &Clients,
    arrivals: &Arrivals,
) -> anyhow::Result<(Percentiles, Percentiles)> {
    arrivals.reset();
    let total = PACED_PER_SECOND * PACED_SECONDS;
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / PACED_PER_SECOND));
    let mut calls = Vec::new();
    for i in 0..total {
        ticker.tick().await;
        let mut clients = clients.clone();
        calls.push(tokio::spawn(async move {
            let request = clients.request(proto::PutAbsenceRequest {
                absence: Some(half_day(
                    &format!("paced-{i}"),
                    18 + u32::try_from(i % 5).unwrap_or(0),
                )),
            });
            let sent = Instant::now();
            let answer = clients.ingest.put_absence(request).await.ok()?.into_inner();
            let acked = Instant::now();
            Some(PacedCall {
                leave_id: answer.events.first()?.leave_id.clone(),
                sent,
                acked,
            })
        }));
    }
    let answered: Vec<PacedCall> = futures::future::join_all(calls)
        .await
        .into_iter()
        .filter_map(|r| r.ok().flatten())
        .collect();
    arrivals.wait_for(answered.len()).await;
    let seen = arrivals.first_seen.lock().expect("arrivals lock");
    let millis_since =
        |from: Instant, at: Instant| at.saturating_duration_since(from).as_secs_f64() * 1000.0;
    let (from_ack, from_send): (Vec<f64>, Vec<f64>) = answered
        .iter()
        .filter_map(|call| {
            let at = *seen.get(&call.leave_id)?;
            Some((millis_since(call.acked, at), millis_since(call.sent, at)))
        })
        .unzip();
    Ok((Percentiles::of(from_ack), Percentiles::of(from_send)))
}

/// Peak resident set of a process, from /proc.
fn peak_rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|kb| kb.parse::<f64>().ok())
                })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Runs (a)–(d) and (f) on a fresh database of `store`.
pub(crate) async fn run(absync: &str, store: &BenchStore) -> anyhow::Result<Results> {
    let name = format!("absync_bench_{}", std::process::id());
    let url = store.fresh(&name).await?;
    let (receiver_addr, arrivals) = receiver::start().await?;
    let receiver_url = format!("http://{receiver_addr}/hook");

    eprintln!("bench: (a) raw limit");
    let raw_posts_per_s = raw_limit(&receiver_url, &arrivals).await?;

    let concurrency = CONCURRENCY.to_string();
    let service = AbsyncProcess::start(absync, &url, &["--dispatch-concurrency", &concurrency]);
    let token = store.token(&url).await?;
    let mut clients = Clients::connect(service.grpc_addr, Some(token)).await;
    clients.subscribe_leaves(receiver_url.clone()).await;

    eprintln!("bench: (b) unit workload");
    let unit = unit(&clients, &arrivals, "unit", UNIT_ABSENCES).await?;
    eprintln!("bench: (c) batch workload");
    let (batch_deliveries_per_s, batch_seconds) = batch(&clients, &arrivals).await?;
    // Latency is measured in the steady state: the 40,000 rows just written are settled first
    // (vacuumed, or checkpointed), so housekeeping does not wake in the middle of the paced run.
    store.settle(&url).await?;
    eprintln!("bench: (d) paced latency");
    let (ack_latency, send_latency) = latency(&clients, &arrivals).await?;
    let peak_rss_mb = peak_rss_mb(service.pid());
    eprintln!("bench: (c') fan-out workload");
    for k in 1..FAN_OUT_SUBSCRIPTIONS {
        clients
            .subscribe_leaves(format!("{receiver_url}/{k}"))
            .await;
    }
    let (fan_out_deliveries_per_s, fan_out_seconds) = fan_out(&clients, &arrivals).await?;
    drop(service);
    store.discard(&name).await?;
    Ok(Results {
        raw_posts_per_s,
        unit,
        batch_deliveries_per_s,
        batch_seconds,
        fan_out_deliveries_per_s,
        fan_out_seconds,
        ack_latency,
        send_latency,
        peak_rss_mb,
    })
}
