//! `absync-bench`: measures a release absync on this machine, on PostgreSQL, on SQLite or on both, and
//! prints (a)–(f) with one column per store; run it through `cargo xtask bench`, which builds it and
//! absync in release mode and makes sure PostgreSQL is up.
//!
//! (a) raw limit: POSTs/s from a client with the dispatcher's concurrency straight to the receiver;
//! (b) unit workload: 20,000 half-day absences, one PutAbsence each, 32 concurrent callers;
//! (c) batch workload: 2,000 five-day absences (20,000 leaves) through PutAbsences;
//! (d) latency: PutAbsence ack to arrival at 200 leaves/s paced;
//! (e) claim cost: mean claim-cycle time, empty queue vs 1,000,000 future-scheduled retries;
//! (f) peak RSS of the service.
//!
//! Results go to one JSON file with an entry per store. A run on one store keeps the other store's
//! earlier entry and shows it beside the new numbers, marked as an earlier run.

mod claim;
mod receiver;
mod store;
mod workloads;

use anyhow::Context;
use serde_json::{Map, Value};
use std::path::PathBuf;
use store::BenchStore;
use workloads::Measured;

const USAGE: &str = "usage: absync-bench --absync PATH [--store postgres|sqlite|both] \
                     [--database-url URL] [--out PATH]";

/// Command-line arguments.
struct Args {
    absync: String,
    stores: Vec<String>,
    database_url: Option<String>,
    out: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut absync = None;
    let mut stores = vec!["postgres".to_owned(), "sqlite".to_owned()];
    let mut database_url = std::env::var("DATABASE_URL").ok();
    let mut out = PathBuf::from("target/bench/results.json");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
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
    Ok(Args {
        absync: absync.context("--absync PATH (the release absync binary) is required")?,
        stores,
        database_url,
        out,
    })
}

/// The earlier results file's entries by store (none when missing or unreadable).
fn earlier(out: &PathBuf) -> Map<String, Value> {
    std::fs::read(out)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|json| json.get("stores").and_then(Value::as_object).cloned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let mut entries = earlier(&args.out);
    let mut measured_now = Vec::new();
    for name in &args.stores {
        let store = match name.as_str() {
            "postgres" => BenchStore::Postgres {
                server: args
                    .database_url
                    .clone()
                    .context("--database-url or DATABASE_URL is required for PostgreSQL")?,
            },
            _ => BenchStore::Sqlite {
                folder: args
                    .out
                    .parent()
                    .map_or_else(|| PathBuf::from("."), PathBuf::from)
                    .join("sqlite"),
            },
        };
        eprintln!("bench: on {}", store.name());
        let results = workloads::run(&args.absync, &store).await?;
        let claim = claim::measure(&store).await?;
        let mut json = workloads::to_json(&results, &claim);
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
    println!("{}", workloads::report(&shown));
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let document = serde_json::json!({ "stores": entries });
    std::fs::write(&args.out, serde_json::to_string_pretty(&document)?)?;
    println!("results written to {}", args.out.display());
    Ok(())
}
