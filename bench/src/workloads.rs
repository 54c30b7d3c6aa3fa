//! Workloads (a)–(d) and (f), against a release absync started as a process, and the report.

use crate::claim::ClaimCost;
use crate::receiver::{self, Arrivals};
use crate::store::BenchStore;
use absync_adapter_grpc::proto::{self, AbsenceStatus, HalfDay};
use absync_e2e::client::Clients;
use absync_e2e::fixtures::half_days;
use absync_e2e::process::AbsyncProcess;
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The dispatcher's concurrency, also used by the raw-limit client.
const CONCURRENCY: usize = 64;
const UNIT_ABSENCES: usize = 20_000;
const UNIT_CALLERS: usize = 32;
const BATCH_ABSENCES: usize = 2_000;
const BATCH_SIZE: usize = 100;
const PACED_PER_SECOND: u64 = 200;
const PACED_SECONDS: u64 = 5;

/// What (a)–(d) and (f) measured.
#[derive(Debug)]
pub(crate) struct Results {
    raw_posts_per_s: f64,
    unit_accepted_per_s: f64,
    unit_deliveries_per_s: f64,
    unit_seconds: f64,
    batch_deliveries_per_s: f64,
    batch_seconds: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    latency_samples: usize,
    peak_rss_mb: f64,
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

fn half_day(id: &str, day: u32) -> proto::Absence {
    let date = format!("2024-03-{day:02}");
    half_days(
        id,
        1,
        AbsenceStatus::Approved,
        (&date, HalfDay::Am),
        (&date, HalfDay::Am),
    )
}

/// (b) One PutAbsence per half-day absence, `UNIT_CALLERS` at a time.
async fn unit(clients: &Clients, arrivals: &Arrivals) -> anyhow::Result<(f64, f64, f64)> {
    arrivals.reset();
    let started = Instant::now();
    futures::stream::iter(0..UNIT_ABSENCES)
        .map(|i| {
            let mut clients = clients.clone();
            async move {
                let request = clients.request(proto::PutAbsenceRequest {
                    absence: Some(half_day(
                        &format!("unit-{i}"),
                        4 + u32::try_from(i % 5).unwrap_or(0),
                    )),
                });
                clients.ingest.put_absence(request).await
            }
        })
        .buffer_unordered(UNIT_CALLERS)
        .for_each(|result| async move {
            if let Err(status) = result {
                eprintln!("bench: PutAbsence failed: {status}");
            }
        })
        .await;
    let accepted = started.elapsed().as_secs_f64();
    let last = arrivals.wait_for(UNIT_ABSENCES).await;
    let delivered = last.duration_since(started).as_secs_f64();
    Ok((
        UNIT_ABSENCES as f64 / accepted,
        UNIT_ABSENCES as f64 / delivered,
        delivered,
    ))
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

/// (d) Ack-to-arrival latency at a paced rate.
async fn latency(clients: &Clients, arrivals: &Arrivals) -> anyhow::Result<(f64, f64, usize)> {
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
            let answer = clients.ingest.put_absence(request).await.ok()?.into_inner();
            let acked = Instant::now();
            Some((answer.events.first()?.leave_id.clone(), acked))
        }));
    }
    let acks: Vec<(String, Instant)> = futures::future::join_all(calls)
        .await
        .into_iter()
        .filter_map(|r| r.ok().flatten())
        .collect();
    arrivals.wait_for(acks.len()).await;
    let seen = arrivals.first_seen.lock().expect("arrivals lock");
    let mut samples: Vec<f64> = acks
        .iter()
        .filter_map(|(id, acked)| {
            seen.get(id)
                .map(|at| at.saturating_duration_since(*acked).as_secs_f64() * 1000.0)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    Ok((pick(0.50), pick(0.99), samples.len()))
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
    let request = clients.request(proto::CreateSubscriptionRequest {
        destination_url: receiver_url,
        collection: proto::Collection::Leaves.into(),
        event_filter: proto::EventFilter::All.into(),
        ..Default::default()
    });
    clients.subscriptions.create_subscription(request).await?;

    eprintln!("bench: (b) unit workload");
    let (unit_accepted_per_s, unit_deliveries_per_s, unit_seconds) =
        unit(&clients, &arrivals).await?;
    eprintln!("bench: (c) batch workload");
    let (batch_deliveries_per_s, batch_seconds) = batch(&clients, &arrivals).await?;
    // Latency is measured in the steady state: the 40,000 rows just written are settled first
    // (vacuumed, or checkpointed), so housekeeping does not wake in the middle of the paced run.
    store.settle(&url).await?;
    eprintln!("bench: (d) paced latency");
    let (latency_p50_ms, latency_p99_ms, latency_samples) = latency(&clients, &arrivals).await?;
    let peak_rss_mb = peak_rss_mb(service.pid());
    drop(service);
    store.discard(&name).await?;
    Ok(Results {
        raw_posts_per_s,
        unit_accepted_per_s,
        unit_deliveries_per_s,
        unit_seconds,
        batch_deliveries_per_s,
        batch_seconds,
        latency_p50_ms,
        latency_p99_ms,
        latency_samples,
        peak_rss_mb,
    })
}

/// One store's measurements, as printed and as written to the results file.
pub(crate) struct Measured {
    /// `postgres` or `sqlite`.
    pub(crate) store: String,
    /// When it was measured (RFC 3339).
    pub(crate) measured_at: String,
    /// Measured by this run (not read back from an earlier results file).
    pub(crate) now: bool,
    /// The numbers, as in the results file.
    pub(crate) json: Value,
}

/// The JSON document of one store's run.
pub(crate) fn to_json(r: &Results, claim: &ClaimCost) -> Value {
    let empty_ms = claim.empty.as_secs_f64() * 1000.0;
    let backlog_ms = claim.backlog.as_secs_f64() * 1000.0;
    json!({
        "raw_posts_per_s": r.raw_posts_per_s,
        "unit": {"accepted_per_s": r.unit_accepted_per_s, "deliveries_per_s": r.unit_deliveries_per_s,
                 "seconds": r.unit_seconds, "ratio_to_raw": r.unit_deliveries_per_s / r.raw_posts_per_s},
        "batch": {"deliveries_per_s": r.batch_deliveries_per_s, "seconds": r.batch_seconds,
                  "ratio_to_raw": r.batch_deliveries_per_s / r.raw_posts_per_s},
        "latency_ms": {"p50": r.latency_p50_ms, "p99": r.latency_p99_ms, "samples": r.latency_samples,
                       "paced_per_s": PACED_PER_SECOND},
        "claim_cycle_ms": {"empty": empty_ms, "backlog": backlog_ms, "backlog_rows": claim.backlog_rows,
                           "ratio": backlog_ms / empty_ms},
        "peak_rss_mb": r.peak_rss_mb,
    })
}

/// A number of a results document (NaN when missing).
fn number(json: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(json, |value, key| &value[*key])
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// One row: a measure, its target, and per store the cell text and whether it met the target.
struct Row {
    name: &'static str,
    target: &'static str,
    cell: fn(&Value) -> (String, Option<bool>),
}

const ROWS: &[Row] = &[
    Row {
        name: "(a) raw limit",
        target: "reference",
        cell: |j| {
            (
                format!("{:.0} POSTs/s", number(j, &["raw_posts_per_s"])),
                None,
            )
        },
    },
    Row {
        name: "(b) unit: accepted",
        target: "",
        cell: |j| {
            let v = number(j, &["unit", "accepted_per_s"]);
            (format!("{v:.0} PutAbsence/s"), None)
        },
    },
    Row {
        name: "(b) unit: delivered",
        target: "≥ 3,000/s",
        cell: |j| {
            let v = number(j, &["unit", "deliveries_per_s"]);
            let s = number(j, &["unit", "seconds"]);
            let ratio = number(j, &["unit", "ratio_to_raw"]);
            (
                format!("{v:.0}/s ({s:.1} s; {ratio:.3} of (a))"),
                Some(v >= 3000.0),
            )
        },
    },
    Row {
        name: "(c) batch: delivered",
        target: "≥ 10,000/s",
        cell: |j| {
            let v = number(j, &["batch", "deliveries_per_s"]);
            let s = number(j, &["batch", "seconds"]);
            let ratio = number(j, &["batch", "ratio_to_raw"]);
            (
                format!("{v:.0}/s ({s:.1} s; {ratio:.3} of (a))"),
                Some(v >= 10_000.0),
            )
        },
    },
    Row {
        name: "(d) latency at 200/s",
        target: "p99 < 5 ms",
        cell: |j| {
            let p50 = number(j, &["latency_ms", "p50"]);
            let p99 = number(j, &["latency_ms", "p99"]);
            (format!("p50 {p50:.2} ms, p99 {p99:.2} ms"), Some(p99 < 5.0))
        },
    },
    Row {
        name: "(e) claim cycle",
        target: "backlog ≤ 2× empty",
        cell: |j| {
            let empty = number(j, &["claim_cycle_ms", "empty"]);
            let backlog = number(j, &["claim_cycle_ms", "backlog"]);
            let ratio = number(j, &["claim_cycle_ms", "ratio"]);
            (
                format!("empty {empty:.3} ms, 1M backlog {backlog:.3} ms ({ratio:.2}×)"),
                Some(ratio <= 2.0),
            )
        },
    },
    Row {
        name: "(f) peak RSS",
        target: "< 64 MB",
        cell: |j| {
            let v = number(j, &["peak_rss_mb"]);
            (format!("{v:.1} MB"), Some(v < 64.0))
        },
    },
];

/// The table: one row per measure, one column per store.
pub(crate) fn report(stores: &[Measured]) -> String {
    let mut table = String::from("| measure | target |");
    for m in stores {
        let when = if m.now {
            String::new()
        } else {
            format!(" (earlier run, {})", m.measured_at)
        };
        table.push_str(&format!(" {}{when} |", m.store));
    }
    table.push_str("\n|---|---|");
    table.push_str(&"---|".repeat(stores.len()));
    table.push('\n');
    for row in ROWS {
        table.push_str(&format!("| {} | {} |", row.name, row.target));
        for m in stores {
            let (text, met) = (row.cell)(&m.json);
            let verdict = match met {
                Some(true) => " — met",
                Some(false) => " — MISSED",
                None => "",
            };
            table.push_str(&format!(" {text}{verdict} |"));
        }
        table.push('\n');
    }
    table
}
