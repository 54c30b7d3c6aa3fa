//! `absync-bench`: measures a release absync on this machine and prints (a)–(f); run it through
//! `cargo xtask bench`, which builds it and absync in release mode and makes sure PostgreSQL is up.
//!
//! (a) raw limit: POSTs/s from a client with the dispatcher's concurrency straight to the receiver;
//! (b) unit workload: 20,000 half-day absences, one PutAbsence each, 32 concurrent callers;
//! (c) batch workload: 2,000 five-day absences (20,000 leaves) through PutAbsences;
//! (d) latency: PutAbsence ack to arrival at 200 leaves/s paced;
//! (e) claim cost: mean claim-cycle time, empty queue vs 1,000,000 future-scheduled retries;
//! (f) peak RSS of the service.

mod claim;
mod receiver;
mod workloads;

use anyhow::Context;
use std::path::PathBuf;

/// Command-line arguments: `--absync PATH --database-url URL --out PATH`.
struct Args {
    absync: String,
    database_url: String,
    out: PathBuf,
}

fn args() -> anyhow::Result<Args> {
    let mut absync = None;
    let mut database_url = std::env::var("DATABASE_URL").ok();
    let mut out = PathBuf::from("target/bench/results.json");
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--absync" => absync = Some(value),
            "--database-url" => database_url = Some(value),
            "--out" => out = PathBuf::from(value),
            other => anyhow::bail!(
                "unknown flag {other}; usage: absync-bench --absync PATH [--database-url URL] [--out PATH]"
            ),
        }
    }
    Ok(Args {
        absync: absync.context("--absync PATH (the release absync binary) is required")?,
        database_url: database_url.context("--database-url or DATABASE_URL is required")?,
        out,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    let results = workloads::run(&args.absync, &args.database_url).await?;
    let claim = claim::measure(&args.database_url).await?;
    let report = workloads::report(&results, &claim);
    println!("{}", report.table);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&report.json)?)?;
    println!("results written to {}", args.out.display());
    Ok(())
}
