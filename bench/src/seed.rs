//! The history of (g): succeeded deliveries of past unit absences, written straight into a migrated
//! database with set-based SQL in one transaction (`generate_series` on PostgreSQL, a recursive CTE on
//! SQLite), as if absync had ingested and delivered them over the last seven days.
//!
//! Each history item `n` is what one unit absence leaves behind: an absence `history-n` with number
//! `n` covering the morning of a weekday of 2023, its one leave, that leave's `approved` event with
//! change version `n`, a delivery to the given subscription that succeeded on its first attempt, and
//! that attempt. The JSON columns are the stores' stored forms (`absync_store_core::stored_forms`) of
//! such an absence (built here as PutAbsence builds it), with the id, number and date set per row. The counters absync hands out
//! absence numbers and change versions from are moved past `n`. All of it is younger than absync's
//! retention, so nothing is purged while it runs.

use crate::store::{BenchStore, TENANT};
use crate::workloads;
use absync_domain::{
    Absence, AbsenceNumber, Deletion, DeletionReason, LeaveEvent, LeaveEventRecord, LocalTimestamp,
    derive_events, split_into_leaves,
};
use absync_store_core::stored_forms::{
    AbsenceForm, LeaveEventRecordForm, absence_json, leave_json, record_json,
};
use anyhow::Context;
use serde_json::Value;
use sqlx::{Connection, PgConnection, SqliteConnection};
use std::time::Instant;

/// A seeded history.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Seeded {
    /// Succeeded deliveries in the database afterwards.
    pub(crate) deliveries: i64,
    /// How long seeding took.
    pub(crate) seconds: f64,
}

/// Writes `items` history items for `subscription` into the migrated database of `url`, whose tenant
/// [`TENANT`] exists; checks them.
pub(crate) async fn history(
    store: &BenchStore,
    url: &str,
    subscription: &str,
    items: i64,
) -> anyhow::Result<Seeded> {
    let templates = Templates::new()?;
    let started = Instant::now();
    let sample = match store {
        BenchStore::Postgres { .. } => on_postgres(url, subscription, items, &templates).await?,
        BenchStore::Sqlite { .. } => on_sqlite(url, subscription, items, &templates).await?,
    };
    let seconds = started.elapsed().as_secs_f64();
    sample.check(items)?;
    Ok(Seeded {
        deliveries: sample.deliveries,
        seconds,
    })
}

/// The JSON columns of one history item, with the fields the seed sets per row.
struct Templates {
    /// `absences.body`: the absence; per row its `id` and the dates of its period.
    absence: String,
    /// `leaves.leave`: its leave; per row the key's absence number and date.
    leave: String,
    /// `leave_events.record`: the leave's `approved` event; the same two fields, in its leave.
    record: String,
}

/// The fields the seed sets, as JSON pointers (`/a/b` is `{a,b}` on PostgreSQL, `$.a.b` on SQLite).
const ABSENCE_FIELDS: [&str; 3] = [
    "/id",
    "/period/HalfDays/start/date",
    "/period/HalfDays/end/date",
];
const LEAVE_FIELDS: [&str; 2] = ["/key/absence", "/key/date"];
const RECORD_FIELDS: [&str; 2] = ["/leave/key/absence", "/leave/key/date"];

impl Templates {
    /// A unit absence converted as PutAbsence converts it, split into its leave and that leave's
    /// event by the domain, in the stored forms the adapters write.
    fn new() -> anyhow::Result<Self> {
        let absence: Absence = absync_adapter_grpc::fuzzing::absence_from_proto(Some(
            workloads::half_day("history-1", 4),
        ))
        .map_err(|violations| anyhow::anyhow!("the template absence is refused: {violations:?}"))?;
        let leaves = split_into_leaves(AbsenceNumber::new(1)?, &absence);
        let deletion = Deletion {
            reason: DeletionReason::AbsenceDeleted,
            at: LocalTimestamp::parse("2024-03-01T00:00:00.000")
                .map_err(|e| anyhow::anyhow!("template timestamp: {e:?}"))?,
        };
        let events = derive_events(&[], &leaves, deletion);
        let [record] = events.as_slice() else {
            anyhow::bail!(
                "a new half-day absence makes one event, not {}",
                events.len()
            );
        };
        anyhow::ensure!(
            record.event == LeaveEvent::Approved && record.leave.key.to_string() == "1-20240304-AM",
            "the template event is not the approval of leave 1-20240304-AM: {record:?}"
        );
        let templates = Self {
            absence: absence_json(&absence)?,
            leave: leave_json(&record.leave)?,
            record: record_json(record)?,
        };
        templates.check_fields()?;
        Ok(templates)
    }

    /// Fails if the stored forms no longer have a field the seed sets (the rows would not decode).
    fn check_fields(&self) -> anyhow::Result<()> {
        for (json, fields) in [
            (&self.absence, &ABSENCE_FIELDS[..]),
            (&self.leave, &LEAVE_FIELDS[..]),
            (&self.record, &RECORD_FIELDS[..]),
        ] {
            let value: Value = serde_json::from_str(json)?;
            for field in fields {
                anyhow::ensure!(
                    value.pointer(field).is_some(),
                    "the stored form has no {field} any more; update bench/src/seed.rs:\n{json}"
                );
            }
        }
        Ok(())
    }
}

/// One seeded item read back, and the counts.
struct Sample {
    absence_id: String,
    body: String,
    leave_key: String,
    record: String,
    deliveries: i64,
    attempts: i64,
}

impl Sample {
    /// Checks the counts and that the sampled absence and event decode as absync decodes them, with
    /// the id and key of their columns.
    fn check(&self, items: i64) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.deliveries == items && self.attempts == items,
            "seeded {} succeeded deliveries and {} attempts, {items} of each expected",
            self.deliveries,
            self.attempts
        );
        let absence: Absence = serde_json::from_str::<AbsenceForm>(&self.body)
            .context("seeded absence")?
            .try_into()
            .context("seeded absence")?;
        let record: LeaveEventRecord = serde_json::from_str::<LeaveEventRecordForm>(&self.record)
            .context("seeded leave event")?
            .try_into()
            .context("seeded leave event")?;
        anyhow::ensure!(
            absence.id().as_str() == self.absence_id
                && record.leave.key.to_string() == self.leave_key,
            "seeded rows disagree with their JSON: {} / {} vs {} / {}",
            self.absence_id,
            self.leave_key,
            absence.id(),
            record.leave.key
        );
        Ok(())
    }
}

const POSTGRES_TEMPLATE: &str = "CREATE TEMP TABLE seed_template ON COMMIT DROP AS
SELECT $1::jsonb AS absence, $2::jsonb AS leave, $3::jsonb AS record, $4::text AS tenant,
       $5::uuid AS subscription";

/// Item `n`: its absence id, leave date (the weekdays of 2023 in turn), leave key, and time.
const POSTGRES_ITEMS: &str = "CREATE TEMP TABLE seed ON COMMIT DROP AS
SELECT n, 'history-' || n AS absence_id, leave_date,
       n || '-' || to_char(leave_date, 'YYYYMMDD') || '-AM' AS leave_key,
       now() - interval '7 days' + n * (interval '7 days' / $1::float8) AS at
FROM generate_series(1, $1::bigint) AS n,
     LATERAL (SELECT date '2023-01-02' + ((n - 1) % 260 / 5 * 7 + (n - 1) % 5)::int AS leave_date) AS day";

const POSTGRES_ROWS: [&str; 6] = [
    "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body, created_at, updated_at)
     SELECT t.tenant, s.absence_id, s.n, 1, 1,
            jsonb_set(jsonb_set(jsonb_set(t.absence, '{id}', to_jsonb(s.absence_id)),
                                '{period,HalfDays,start,date}', to_jsonb(s.leave_date)),
                      '{period,HalfDays,end,date}', to_jsonb(s.leave_date)),
            s.at, s.at
     FROM seed s, seed_template t",
    "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
     SELECT t.tenant, s.n, s.leave_date, 'AM', 'approved',
            jsonb_set(jsonb_set(t.leave, '{key,absence}', to_jsonb(s.n)), '{key,date}', to_jsonb(s.leave_date)),
            s.n
     FROM seed s, seed_template t",
    "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
     SELECT t.tenant, s.n, s.n, s.leave_key, 'approved',
            jsonb_set(jsonb_set(t.record, '{leave,key,absence}', to_jsonb(s.n)),
                      '{leave,key,date}', to_jsonb(s.leave_date)),
            s.at
     FROM seed s, seed_template t",
    "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, attempt_count,
                             next_attempt_at, last_http_status, created_at, updated_at)
     SELECT t.tenant, t.subscription, s.n, s.leave_key, 'succeeded', 1, s.at, 200, s.at, s.at + interval '20 ms'
     FROM seed s, seed_template t ORDER BY s.n",
    "INSERT INTO delivery_attempts (delivery_id, tenant_id, subscription_id, started_at, duration_ms, http_status, response_excerpt)
     SELECT id, tenant_id, subscription_id, next_attempt_at + interval '5 ms', 1, 200, ''::bytea
     FROM deliveries WHERE status = 'succeeded' ORDER BY id",
    "SELECT setval('absence_numbers', max(n)), setval('change_versions', max(n)) FROM seed",
];

/// Reads back the middle item and the counts.
const SAMPLE: &str =
    "SELECT a.absence_id, CAST(a.body AS TEXT), e.leave_key, CAST(e.record AS TEXT),
       (SELECT count(*) FROM deliveries WHERE status = 'succeeded'),
       (SELECT count(*) FROM delivery_attempts)
FROM absences a JOIN leave_events e ON e.absence_number = a.number
WHERE a.number = (SELECT max(number) / 2 + 1 FROM absences)";

type SampleRow = (String, String, String, String, i64, i64);

fn sample(row: SampleRow) -> Sample {
    let (absence_id, body, leave_key, record, deliveries, attempts) = row;
    Sample {
        absence_id,
        body,
        leave_key,
        record,
        deliveries,
        attempts,
    }
}

async fn on_postgres(
    url: &str,
    subscription: &str,
    items: i64,
    templates: &Templates,
) -> anyhow::Result<Sample> {
    let mut conn = PgConnection::connect(url).await?;
    let mut tx = conn.begin().await?;
    sqlx::query(POSTGRES_TEMPLATE)
        .bind(&templates.absence)
        .bind(&templates.leave)
        .bind(&templates.record)
        .bind(TENANT)
        .bind(subscription)
        .execute(&mut *tx)
        .await?;
    sqlx::query(POSTGRES_ITEMS)
        .bind(items)
        .execute(&mut *tx)
        .await?;
    for statement in POSTGRES_ROWS {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let row: SampleRow = sqlx::query_as(SAMPLE).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(sample(row))
}

const SQLITE_TEMPLATE: &str = "CREATE TEMP TABLE seed_template AS
SELECT ?1 AS absence, ?2 AS leave, ?3 AS record, ?4 AS tenant, ?5 AS subscription";

/// As [`POSTGRES_ITEMS`]; times are microseconds (`?2` is now).
const SQLITE_ITEMS: &str = "CREATE TEMP TABLE seed AS
WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < ?1),
days AS (SELECT n, date('2023-01-02', '+' || ((n - 1) % 260 / 5 * 7 + (n - 1) % 5) || ' days') AS leave_date
         FROM g)
SELECT n, 'history-' || n AS absence_id, leave_date,
       n || '-' || strftime('%Y%m%d', leave_date) || '-AM' AS leave_key,
       ?2 - 604800000000 + n * (604800000000 / ?1) AS at
FROM days";

const SQLITE_ROWS: [&str; 6] = [
    "INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body, created_at, updated_at)
     SELECT t.tenant, s.absence_id, s.n, 1, 1,
            json_set(t.absence, '$.id', s.absence_id, '$.period.HalfDays.start.date', s.leave_date,
                     '$.period.HalfDays.end.date', s.leave_date),
            s.at, s.at
     FROM seed s, seed_template t",
    "INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
     SELECT t.tenant, s.n, s.leave_date, 'AM', 'approved',
            json_set(t.leave, '$.key.absence', s.n, '$.key.date', s.leave_date), s.n
     FROM seed s, seed_template t",
    "INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record, created_at)
     SELECT t.tenant, s.n, s.n, s.leave_key, 'approved',
            json_set(t.record, '$.leave.key.absence', s.n, '$.leave.key.date', s.leave_date), s.at
     FROM seed s, seed_template t",
    "INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, attempt_count,
                             next_attempt_at, last_http_status, created_at, updated_at)
     SELECT t.tenant, t.subscription, s.n, s.leave_key, 'succeeded', 1, s.at, 200, s.at, s.at + 20000
     FROM seed s, seed_template t ORDER BY s.n",
    "INSERT INTO delivery_attempts (delivery_id, tenant_id, subscription_id, started_at, duration_ms, http_status, response_excerpt)
     SELECT id, tenant_id, subscription_id, next_attempt_at + 5000, 1, 200, x''
     FROM deliveries WHERE status = 'succeeded' ORDER BY id",
    "UPDATE counters SET value = (SELECT max(n) FROM seed) WHERE name IN ('absence_number', 'change_version')",
];

async fn on_sqlite(
    url: &str,
    subscription: &str,
    items: i64,
    templates: &Templates,
) -> anyhow::Result<Sample> {
    let mut conn = SqliteConnection::connect(url).await?;
    // A large page cache: the indexes of a million rows are written in one go.
    sqlx::query("PRAGMA cache_size = -262144")
        .execute(&mut conn)
        .await?;
    let mut tx = conn.begin().await?;
    sqlx::query(SQLITE_TEMPLATE)
        .bind(&templates.absence)
        .bind(&templates.leave)
        .bind(&templates.record)
        .bind(TENANT)
        .bind(subscription)
        .execute(&mut *tx)
        .await?;
    sqlx::query(SQLITE_ITEMS)
        .bind(items)
        .bind(chrono::Utc::now().timestamp_micros())
        .execute(&mut *tx)
        .await?;
    for statement in SQLITE_ROWS {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    let row: SampleRow = sqlx::query_as(SAMPLE).fetch_one(&mut conn).await?;
    conn.close().await?;
    Ok(sample(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The templates are the stores' stored forms: absync decodes them, with the id and key the seed
    /// gives item 1.
    #[test]
    fn the_templates_decode_as_absync_decodes_stored_rows() {
        let templates = Templates::new().unwrap();
        let sample = Sample {
            absence_id: "history-1".into(),
            body: templates.absence,
            leave_key: "1-20240304-AM".into(),
            record: templates.record,
            deliveries: 1,
            attempts: 1,
        };
        sample.check(1).unwrap();
    }
}
