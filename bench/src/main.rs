//! `absync-bench`: measures a release absync on this machine, on PostgreSQL, on SQLite or on both, and
//! prints (a)–(i) with one column per store; run it through `cargo xtask bench`, which builds it and
//! absync in release mode and makes sure PostgreSQL is up.
//!
//! (a) raw limit: POSTs/s from a client with the dispatcher's concurrency straight to the receiver;
//! (b) unit workload: 20,000 half-day absences, one PutAbsence each, 32 concurrent callers: PutAbsence
//!     calls answered per second, and deliveries arrived per second;
//! (c) batch workload: 2,000 five-day absences (20,000 leaves) through PutAbsences;
//! (c') fan-out workload: 2,000 half-day absences, one PutAbsence each, to 10 subscriptions (20,000
//!     deliveries, as Svix's fan-out in `compare.sh`), run last, after (f) is read;
//! (d) latency at 200 leaves/s paced: from the PutAbsence reply (ack) to the leave's first arrival at
//!     the receiver, p50 and p99;
//! (d') the same calls, from just before each PutAbsence call to the leave's first arrival;
//! (e) claim cost: mean claim-cycle time, empty queue vs 1,000,000 future-scheduled retries;
//! (f) peak RSS of the service;
//! (g) history: the unit workload (10,000 absences, after an unmeasured warm-up) delivered per second
//!     on an empty store and beside 1,000,000 succeeded deliveries (with their attempts, events, leaves
//!     and absences) seeded with SQL before absync starts, and the ratio of the two;
//! (h) per delivery, over a separate run of 2,000 unit absences (after an unmeasured warm-up) with
//!     every SQL statement logged:
//!     transactions (PostgreSQL: `pg_stat_database`; both stores: the explicit transactions in absync's
//!     log — on SQLite its `BEGIN IMMEDIATE` write transactions), statements (absync's log, and
//!     `pg_stat_statements` when PostgreSQL preloads it) and WAL bytes (PostgreSQL);
//! (i) metrics scrape: the median time of `GET /metrics` (50, after 5 unmeasured) on the empty store
//!     and beside the 1,000,000 deliveries of (g), before its workload, and the ratio of the two.
//!
//! Results go to one JSON file with an entry per store. A run on one store keeps the other store's
//! earlier entry and shows it beside the new numbers, marked as an earlier run. The statement logs of
//! (h) are kept beside it (`<store>-statements.log`).

mod claim;
mod costs;
mod history;
mod logged;
mod pg_stats;
mod receiver;
mod report;
mod seed;
mod sqlite_wal;
mod store;
mod workloads;

use anyhow::Context;
use report::Measured;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use store::BenchStore;

const USAGE: &str = "usage: absync-bench --absync PATH [--store postgres|sqlite|both] \
                     [--database-url URL] [--out PATH]";

/// Command-line arguments.
struct Args {
    absync: String,
    stores: Vec<String>,
    database_url: Option<String>,
    out: PathBuf,
}

/// The command line's arguments; `None` when help was asked for (and printed).
fn args() -> anyhow::Result<Option<Args>> {
    let mut absync = None;
    let mut stores = vec!["postgres".to_owned(), "sqlite".to_owned()];
    let mut database_url = std::env::var("DATABASE_URL").ok();
    let mut out = PathBuf::from("target/bench/results.json");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            return Ok(None);
        }
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--absync" => absync = Some(value),
            "--store" => {
                stores = match value.as_str() {
                    "postgres" | "sqlite" => vec![value],
                    "both" => vec!["postgres".to_owned(), "sqlite".to_owned()],
                    other => anyhow::bail!("--store {other:?}: expected postgres, sqlite or both"),
                }
            }
            "--database-url" => database_url = Some(value),
            "--out" => out = PathBuf::from(value),
            other => anyhow::bail!("unknown flag {other}\n{USAGE}"),
        }
    }
    Ok(Some(Args {
        absync: absync.context("--absync PATH (the release absync binary) is required")?,
        stores,
        database_url,
        out,
    }))
}

/// The earlier results file's entries by store (none when missing or unreadable).
fn earlier(out: &Path) -> Map<String, Value> {
    std::fs::read(out)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|json| json.get("stores").and_then(Value::as_object).cloned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Some(args) = args()? else {
        return Ok(());
    };
    let mut entries = earlier(&args.out);
    let mut measured_now = Vec::new();
    let out_dir = args
        .out
        .parent()
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    for name in &args.stores {
        let store = match name.as_str() {
            "postgres" => BenchStore::Postgres {
                server: args
                    .database_url
                    .clone()
                    .context("--database-url or DATABASE_URL is required for PostgreSQL")?,
            },
            _ => BenchStore::Sqlite {
                folder: out_dir.join("sqlite"),
            },
        };
        eprintln!("bench: on {}", store.name());
        let results = workloads::run(&args.absync, &store).await?;
        let claim = claim::measure(&store).await?;
        let history = history::measure(&args.absync, &store).await?;
        eprintln!("bench: (h) per-delivery costs");
        let costs = costs::measure(&args.absync, &store, &out_dir).await?;
        let mut json = report::to_json(&results, &claim, &history, &costs);
        json["measured_at"] =
            Value::String(chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string());
        entries.insert(store.name().to_owned(), json);
        measured_now.push(store.name().to_owned());
    }
    let shown: Vec<Measured> = ["postgres", "sqlite"]
        .into_iter()
        .filter_map(|name| {
            let json = entries.get(name)?.clone();
            Some(Measured {
                store: name.to_owned(),
                measured_at: json["measured_at"].as_str().unwrap_or("unknown").to_owned(),
                now: measured_now.iter().any(|m| m == name),
                json,
            })
        })
        .collect();
    println!("{}", report::table(&shown));
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let document = serde_json::json!({ "stores": entries });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)?;
    println!("results written to {}", args.out.display());
    Ok(())
}
