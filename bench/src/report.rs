//! One store's results as a JSON document (the results file keeps one per store), and the markdown
//! table: one row per measure, one column per store.

use crate::claim::ClaimCost;
use crate::costs::{Costs, StoreCounts};
use crate::history::{HISTORY_ABSENCES, History};
use crate::workloads::{PACED_PER_SECOND, Percentiles, Results, UnitRate};
use serde_json::{Value, json};

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

/// The JSON document of one store's run. Keys are only ever added, so that earlier results files
/// still read.
pub(crate) fn to_json(r: &Results, claim: &ClaimCost, history: &History, costs: &Costs) -> Value {
    let empty_ms = claim.empty.as_secs_f64() * 1000.0;
    let backlog_ms = claim.backlog.as_secs_f64() * 1000.0;
    let mut latency = latency_json(&r.ack_latency);
    latency["paced_per_s"] = json!(PACED_PER_SECOND);
    let mut send_latency = latency_json(&r.send_latency);
    send_latency["paced_per_s"] = json!(PACED_PER_SECOND);
    json!({
        "raw_posts_per_s": r.raw_posts_per_s,
        "unit": {"accepted_per_s": r.unit.accepted_per_s, "deliveries_per_s": r.unit.deliveries_per_s,
                 "seconds": r.unit.seconds, "ratio_to_raw": r.unit.deliveries_per_s / r.raw_posts_per_s},
        "batch": {"deliveries_per_s": r.batch_deliveries_per_s, "seconds": r.batch_seconds,
                  "ratio_to_raw": r.batch_deliveries_per_s / r.raw_posts_per_s},
        "fan_out": {"deliveries_per_s": r.fan_out_deliveries_per_s, "seconds": r.fan_out_seconds},
        "latency_ms": latency,
        "send_latency_ms": send_latency,
        "claim_cycle_ms": {"empty": empty_ms, "backlog": backlog_ms, "backlog_rows": claim.backlog_rows,
                           "ratio": backlog_ms / empty_ms},
        "peak_rss_mb": r.peak_rss_mb,
        "history": history_json(history),
        "per_delivery": costs_json(costs),
    })
}

fn latency_json(p: &Percentiles) -> Value {
    json!({"p50": p.p50, "p99": p.p99, "samples": p.samples})
}

fn unit_json(rate: &UnitRate) -> Value {
    json!({"accepted_per_s": rate.accepted_per_s, "deliveries_per_s": rate.deliveries_per_s,
           "seconds": rate.seconds})
}

fn history_json(h: &History) -> Value {
    json!({
        "absences": HISTORY_ABSENCES,
        "rows": h.seeded.deliveries,
        "seed_seconds": h.seeded.seconds,
        "empty": unit_json(&h.empty),
        "history": unit_json(&h.history),
        "ratio": h.history.deliveries_per_s / h.empty.deliveries_per_s,
        "scrape_ms": {"empty": h.scrape_empty_ms, "history": h.scrape_history_ms,
                      "ratio": h.scrape_history_ms / h.scrape_empty_ms},
    })
}

fn costs_json(c: &Costs) -> Value {
    let per = |count: f64| count / c.deliveries as f64;
    let mut json = json!({
        "deliveries": c.deliveries,
        "log_transactions": per(c.log.transactions() as f64),
        "statements": per(c.log.executed() as f64),
        "log_counts": {"logged": c.log.logged, "begins": c.log.begins, "commits": c.log.commits,
                       "rollbacks": c.log.rollbacks},
        "in_triggers": per(c.log.in_triggers as f64),
    });
    let store = match &c.store {
        StoreCounts::Postgres(pg) => json!({
            "transactions": per(pg.transactions as f64),
            "transactions_source": "pg_stat_database",
            "wal_bytes": per(pg.wal_bytes as f64),
            "wal_source": "pg_current_wal_lsn",
            "other_database_transactions": pg.other_transactions,
            "pg_stat_statements": pg.statements.as_ref().ok().map(|n| per(*n as f64)),
            "pg_stat_statements_note": pg.statements.as_ref().err(),
        }),
        StoreCounts::Sqlite(wal) => json!({
            "transactions": per(wal.commits as f64),
            "transactions_source": "sqlite_wal_commit_frames",
            "wal_bytes": per(wal.bytes as f64),
            "wal_source": "sqlite_wal_frames",
            // More commits in the WAL than write transactions in absync's log: some statements were
            // not logged, and the count is short.
            "statements_note": (wal.commits > c.log.transactions())
                .then_some("the log shows fewer write transactions than the WAL: statements missing"),
        }),
    };
    if let (Some(json), Value::Object(store)) = (json.as_object_mut(), store) {
        json.extend(store);
    }
    json
}

/// A number of a results document (NaN when missing).
fn number(json: &Value, path: &[&str]) -> f64 {
    path.iter()
        .fold(json, |value, key| &value[*key])
        .as_f64()
        .unwrap_or(f64::NAN)
}

/// The cell of a measure an earlier results file does not have.
fn not_measured() -> (String, Option<bool>) {
    ("not measured".to_owned(), None)
}

/// `1234567` as `1,234,567`.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Transactions of other databases during (h) above which its server-wide WAL figure is flagged.
const OTHER_DATABASES_NOISE: i64 = 10;

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
        name: "(c') fan-out: delivered",
        target: "Svix fan-out (compare.sh)",
        cell: |j| {
            if j.get("fan_out").is_none() {
                return ("not measured in this run".to_owned(), None);
            }
            let v = number(j, &["fan_out", "deliveries_per_s"]);
            let s = number(j, &["fan_out", "seconds"]);
            (
                format!("{v:.0}/s ({s:.1} s; 2,000 absences × 10 subscriptions)"),
                None,
            )
        },
    },
    Row {
        name: "(d) latency at 200/s: ack → arrival",
        target: "p99 < 2 ms",
        cell: |j| {
            let p50 = number(j, &["latency_ms", "p50"]);
            let p99 = number(j, &["latency_ms", "p99"]);
            (format!("p50 {p50:.2} ms, p99 {p99:.2} ms"), Some(p99 < 2.0))
        },
    },
    Row {
        name: "(d') latency at 200/s: send → arrival",
        target: "p99 < 5 ms",
        cell: |j| {
            if j.get("send_latency_ms").is_none() {
                return not_measured();
            }
            let p50 = number(j, &["send_latency_ms", "p50"]);
            let p99 = number(j, &["send_latency_ms", "p99"]);
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
        target: "< 32 MB",
        cell: |j| {
            let v = number(j, &["peak_rss_mb"]);
            (format!("{v:.1} MB"), Some(v < 32.0))
        },
    },
    Row {
        name: "(g) history: unit delivered",
        target: "≥ 0.8× empty",
        cell: |j| {
            let h = &j["history"];
            if h.is_null() {
                return not_measured();
            }
            let empty = number(h, &["empty", "deliveries_per_s"]);
            let history = number(h, &["history", "deliveries_per_s"]);
            let ratio = number(h, &["ratio"]);
            let rows = grouped(h["rows"].as_i64().unwrap_or_default());
            (
                format!("empty {empty:.0}/s, beside {rows} delivered {history:.0}/s ({ratio:.2}×)"),
                Some(ratio >= 0.8),
            )
        },
    },
    Row {
        name: "(h) per delivery: transactions",
        target: "Svix ≈ 3.9 tx per message",
        cell: |j| {
            let p = &j["per_delivery"];
            if p.is_null() {
                return not_measured();
            }
            let tx = number(p, &["transactions"]);
            let log = number(p, &["log_transactions"]);
            let text = match p["transactions_source"].as_str() {
                Some("pg_stat_database") => {
                    format!("{tx:.2} (pg_stat_database; {log:.2} explicit in absync's log)")
                }
                _ => format!(
                    "{tx:.2} write tx (WAL commit frames; {log:.2} BEGIN IMMEDIATE in absync's log)"
                ),
            };
            (text, None)
        },
    },
    Row {
        name: "(h) per delivery: statements",
        target: "",
        cell: |j| {
            let p = &j["per_delivery"];
            if p.is_null() {
                return not_measured();
            }
            let log = number(p, &["statements"]);
            let mut text = format!("{log:.2} (absync's log");
            if let Some(note) = p["statements_note"].as_str() {
                text.push_str(&format!(", {note}"));
            }
            text.push(')');
            if let Some(triggered) = p["in_triggers"].as_f64().filter(|n| *n > 0.0) {
                text.push_str(&format!(" + {triggered:.2} run by triggers"));
            }
            match (
                p["pg_stat_statements"].as_f64(),
                p["pg_stat_statements_note"].as_str(),
            ) {
                (Some(counted), _) => text.push_str(&format!("; pg_stat_statements {counted:.2}")),
                (None, Some(note)) => text.push_str(&format!("; pg_stat_statements: n/a ({note})")),
                (None, None) => {}
            }
            (text, None)
        },
    },
    Row {
        name: "(h) per delivery: WAL bytes",
        target: "Svix ≈ 2 kB per message",
        cell: |j| {
            let p = &j["per_delivery"];
            if p.is_null() {
                return not_measured();
            }
            let Some(bytes) = p["wal_bytes"].as_f64() else {
                return ("n/a".to_owned(), None);
            };
            let text = match p["wal_source"].as_str() {
                Some("pg_current_wal_lsn") => {
                    let others = p["other_database_transactions"]
                        .as_i64()
                        .unwrap_or_default();
                    let noise = if others > OTHER_DATABASES_NOISE {
                        format!("; other databases ran {others} tx meanwhile")
                    } else {
                        String::new()
                    };
                    format!("{bytes:.0} B (pg_current_wal_lsn, server-wide{noise})")
                }
                _ => format!("{bytes:.0} B (WAL frames: page images)"),
            };
            (text, None)
        },
    },
    Row {
        name: "(i) metrics scrape",
        target: "1M deliveries ≤ 2× empty",
        cell: |j| {
            let s = &j["history"]["scrape_ms"];
            if s.is_null() {
                return not_measured();
            }
            let empty = number(s, &["empty"]);
            let history = number(s, &["history"]);
            let ratio = number(s, &["ratio"]);
            let rows = grouped(j["history"]["rows"].as_i64().unwrap_or_default());
            (
                format!("empty {empty:.2} ms, beside {rows} {history:.2} ms ({ratio:.2}×)"),
                Some(ratio <= 2.0),
            )
        },
    },
];

/// The table: one row per measure, one column per store.
pub(crate) fn table(stores: &[Measured]) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(-12_345), "-12,345");
    }

    #[test]
    fn an_earlier_results_file_without_the_new_measures_still_prints() {
        let earlier = Measured {
            store: "sqlite".into(),
            measured_at: "2025-01-01 00:00 UTC".into(),
            now: false,
            json: json!({"raw_posts_per_s": 1000.0, "latency_ms": {"p50": 0.5, "p99": 1.0}}),
        };
        let printed = table(&[earlier]);
        assert!(printed.contains(
            "| (d) latency at 200/s: ack → arrival | p99 < 2 ms | p50 0.50 ms, p99 1.00 ms — met |"
        ));
        assert!(printed.contains("| (g) history: unit delivered | ≥ 0.8× empty | not measured |"));
        assert!(
            printed.contains("| (i) metrics scrape | 1M deliveries ≤ 2× empty | not measured |")
        );
        assert!(
            printed.contains(
                "| (h) per delivery: WAL bytes | Svix ≈ 2 kB per message | not measured |"
            )
        );
    }
}
