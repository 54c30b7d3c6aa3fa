//! Group commit of absence writes: the changes that arrive while a write is in progress are written
//! together in the next one, as one set-based statement (arrays and `UNNEST`), so the fixed cost of a
//! statement and of a commit is paid once per group instead of once per change.
//!
//! One task ([`GroupWriter`]) takes the queued changes. Changes of distinct absences go into one
//! statement (a *round*, of at most [`ROUND_EVENTS`] events); a later change of an absence already in the round goes into the next
//! round, and rounds run in order in one transaction, so changes of one absence apply in order. A
//! lone change at idle is written at once; nothing waits to fill a group. Each caller gets its own
//! result once the group has committed: a change whose absence row no longer holds the expected
//! version is a [`StoreError::Conflict`] with nothing of it written. If a group's statement fails, the
//! group is written again one change at a time, so a change that breaks a constraint fails alone.

use crate::error::store_error;
use absync_application::ports::{AbsenceWrite, AppliedEvent, OutboxEvent, StoreError};
use absync_domain::{ChangeVersion, LeaveState, Revision};
use absync_store_core::stored_forms::{absence_json, leave_json, record_json};
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, PgPool, Postgres};
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};

/// A group takes no more requests once it holds this many changes, or this many events (which bound
/// the size of the statement's arrays, and so the memory a group takes).
const MAX_GROUP: usize = 512;
const MAX_GROUP_EVENTS: usize = 1024;
/// One statement carries at most this many events; a larger group is written as several statements
/// in its one transaction. A statement's arguments are copied twice on their way to the server (into
/// the bound arguments, then into the connection's send buffer, which keeps its size), so this bounds
/// the memory a large group takes: at 256 events about a quarter of a 1,000-event call's, for a few
/// more statements.
const ROUND_EVENTS: usize = 256;

/// The write of a round: the absences (inserted when `expected` is 0, else updated if their row
/// version is still `expected`) decide which changes go on; then their events get change versions
/// from the sequence in event order, the current leaves follow the events (created/approved leaves
/// are upserted, deleted ones removed: the events are exactly the leave diff), and each delivery
/// waits behind an unfinished one of its (subscription, leave) — the share lock waits for a dispatcher
/// finishing that one and re-reads it, so either its promotion sees the new row or the new row is
/// first in line. Returns the positions of the changes written, and the positions and versions of
/// their events.
///
/// The leading comment names what it writes, for operators reading `pg_stat_activity` (which shows only
/// the first kilobyte of a statement).
const WRITE_ROUND: &str = "
/* absync group write: absences, leave_events, leaves, deliveries */
WITH changes AS MATERIALIZED (
    SELECT * FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[],
                         $7::timestamptz[], $18::text[])
         WITH ORDINALITY AS c(tenant_id, absence_id, number, revision, body, expected, at, traceparent,
                              position)
), inserted AS (
    INSERT INTO absences (tenant_id, absence_id, number, revision, row_version, body)
    SELECT tenant_id, absence_id, number, revision, 1, body::jsonb FROM changes WHERE expected = 0
    ON CONFLICT (tenant_id, absence_id) DO NOTHING
    RETURNING tenant_id, absence_id
), updated AS (
    UPDATE absences a
    SET revision = c.revision, row_version = a.row_version + 1, body = c.body::jsonb, updated_at = now()
    FROM changes c
    WHERE c.expected <> 0 AND a.tenant_id = c.tenant_id AND a.absence_id = c.absence_id
      AND a.row_version = c.expected AND a.number = c.number
    RETURNING c.position
), written AS MATERIALIZED (
    SELECT c.position, c.tenant_id, c.number, c.at, c.traceparent
    FROM changes c JOIN inserted i ON i.tenant_id = c.tenant_id AND i.absence_id = c.absence_id
    WHERE c.expected = 0
    UNION ALL
    SELECT c.position, c.tenant_id, c.number, c.at, c.traceparent
    FROM changes c JOIN updated u ON u.position = c.position
), listed AS MATERIALIZED (
    SELECT e.position, w.tenant_id, w.number, w.at, w.traceparent, e.leave_key, e.event, e.record,
           e.leave_date, e.half, e.state, e.leave, row_number() OVER (ORDER BY e.position) AS rank
    FROM UNNEST($8::bigint[], $9::text[], $10::text[], $11::text[], $12::date[], $13::text[], $14::text[],
                $15::text[])
         WITH ORDINALITY AS e(change, leave_key, event, record, leave_date, half, state, leave, position)
    JOIN written w ON w.position = e.change
), taken AS MATERIALIZED (
    SELECT nextval('change_versions') AS version
    FROM generate_series(1, (SELECT count(*) FROM listed))
), versions AS MATERIALIZED (
    SELECT version, row_number() OVER (ORDER BY version) AS rank FROM taken
), events AS MATERIALIZED (
    SELECT l.*, v.version FROM listed l JOIN versions v ON v.rank = l.rank
), logged AS (
    INSERT INTO leave_events (tenant_id, change_version, absence_number, leave_key, event, record,
                              traceparent)
    SELECT tenant_id, version, number, leave_key, event, record::jsonb, traceparent FROM events
), gone AS (
    DELETE FROM leaves l USING events e
    WHERE e.event = 'deleted' AND l.tenant_id = e.tenant_id AND l.absence_number = e.number
      AND l.leave_date = e.leave_date AND l.half = e.half
), kept AS (
    INSERT INTO leaves (tenant_id, absence_number, leave_date, half, state, leave, change_version)
    SELECT tenant_id, number, leave_date, half, state, leave::jsonb, version FROM events
    WHERE event <> 'deleted'
    ON CONFLICT (tenant_id, absence_number, leave_date, half)
    DO UPDATE SET state = EXCLUDED.state, leave = EXCLUDED.leave, change_version = EXCLUDED.change_version
), queued AS (
    INSERT INTO deliveries (tenant_id, subscription_id, change_version, leave_key, status, next_attempt_at)
    SELECT e.tenant_id, d.subscription::uuid, e.version, e.leave_key,
           CASE WHEN EXISTS (
                    SELECT 1 FROM deliveries o
                    WHERE o.subscription_id = d.subscription::uuid AND o.leave_key = e.leave_key
                      AND o.status IN ('pending', 'waiting')
                    FOR SHARE)
                THEN 'waiting' ELSE 'pending' END,
           e.at
    FROM UNNEST($16::text[], $17::bigint[]) AS d(subscription, event)
    JOIN events e ON e.position = d.event
)
SELECT COALESCE((SELECT array_agg(position ORDER BY position) FROM written), '{}'),
       COALESCE((SELECT array_agg(position ORDER BY position) FROM events), '{}'),
       COALESCE((SELECT array_agg(version ORDER BY position) FROM events), '{}')";

fn revision_to_db(revision: Revision) -> i64 {
    // Revision::new caps revisions at i64::MAX, so this never saturates.
    i64::try_from(revision.get()).unwrap_or(i64::MAX)
}

/// The column arrays of one round: a change per position (1-based; with its trace, `$18`), an event
/// per position with the position of its change, and a delivery per (subscription, event position).
#[derive(Default)]
struct RoundColumns {
    tenants: Vec<String>,
    absence_ids: Vec<String>,
    numbers: Vec<i64>,
    revisions: Vec<i64>,
    bodies: Vec<Option<String>>,
    expected: Vec<i64>,
    at: Vec<DateTime<Utc>>,
    traceparents: Vec<Option<String>>,
    event_changes: Vec<i64>,
    keys: Vec<String>,
    kinds: Vec<&'static str>,
    records: Vec<String>,
    dates: Vec<NaiveDate>,
    halves: Vec<&'static str>,
    states: Vec<&'static str>,
    leaves: Vec<String>,
    delivery_subscriptions: Vec<String>,
    delivery_events: Vec<i64>,
}

impl RoundColumns {
    fn push(&mut self, change: &AbsenceWrite) -> Result<(), StoreError> {
        let body = change.absence.as_ref().map(absence_json).transpose()?;
        let position = i64::try_from(self.tenants.len() + 1).unwrap_or(i64::MAX);
        for event in &change.events {
            self.push_event(position, event)?;
        }
        self.tenants.push(change.tenant.as_str().to_owned());
        self.absence_ids.push(change.absence_id.as_str().to_owned());
        self.numbers.push(change.number.get());
        self.revisions.push(revision_to_db(change.revision));
        self.bodies.push(body);
        self.expected.push(change.expected_row_version.unwrap_or(0));
        self.at.push(change.at);
        self.traceparents
            .push(change.traceparent.as_ref().map(|t| t.as_str().to_owned()));
        Ok(())
    }

    fn push_event(&mut self, change: i64, event: &OutboxEvent) -> Result<(), StoreError> {
        let leave = &event.record.leave;
        let record = record_json(&event.record)?;
        let leave_document = leave_json(leave)?;
        self.event_changes.push(change);
        self.keys.push(leave.key.to_string());
        self.kinds.push(event.record.event.as_str());
        self.records.push(record);
        self.dates.push(leave.key.date());
        self.halves.push(leave.key.half().as_str());
        self.states.push(match leave.state {
            LeaveState::Pending => "pending",
            LeaveState::Approved => "approved",
        });
        self.leaves.push(leave_document);
        let position = i64::try_from(self.keys.len()).unwrap_or(i64::MAX);
        for subscription in &event.subscriptions {
            self.delivery_subscriptions
                .push(subscription.as_str().to_owned());
            self.delivery_events.push(position);
        }
        Ok(())
    }
}

/// What a round wrote: per change (in round order), its events with their versions, or `None` when
/// its absence row refused it.
type RoundOutcome = Vec<Option<Vec<AppliedEvent>>>;

/// Writes `changes` (of distinct absences) in one statement on `conn`.
async fn write_round(
    conn: &mut PgConnection,
    changes: &[&AbsenceWrite],
) -> Result<RoundOutcome, StoreError> {
    let mut columns = RoundColumns::default();
    for change in changes {
        columns.push(change)?;
    }
    let (written, event_positions, versions): (Vec<i64>, Vec<i64>, Vec<i64>) =
        sqlx::query_as(WRITE_ROUND)
            .bind(&columns.tenants)
            .bind(&columns.absence_ids)
            .bind(&columns.numbers)
            .bind(&columns.revisions)
            .bind(&columns.bodies)
            .bind(&columns.expected)
            .bind(&columns.at)
            .bind(&columns.event_changes)
            .bind(&columns.keys)
            .bind(&columns.kinds)
            .bind(&columns.records)
            .bind(&columns.dates)
            .bind(&columns.halves)
            .bind(&columns.states)
            .bind(&columns.leaves)
            .bind(&columns.delivery_subscriptions)
            .bind(&columns.delivery_events)
            .bind(&columns.traceparents)
            .fetch_one(conn)
            .await
            .map_err(store_error)?;
    let version_of: HashMap<i64, i64> = event_positions.into_iter().zip(versions).collect();
    let mut outcome = Vec::with_capacity(changes.len());
    let mut event_position = 0_i64;
    for (position, change) in (1_i64..).zip(changes) {
        let accepted = written.binary_search(&position).is_ok();
        let mut applied = Vec::with_capacity(change.events.len());
        for event in &change.events {
            event_position += 1;
            if let Some(version) = version_of.get(&event_position) {
                applied.push(AppliedEvent {
                    leave_key: event.record.key(),
                    event: event.record.event,
                    change_version: ChangeVersion::new(*version),
                });
            }
        }
        outcome.push(accepted.then_some(applied));
    }
    Ok(outcome)
}

/// Splits `changes` into rounds of distinct absences, each change in a later round than any earlier
/// change of its absence, and each round holding at most [`ROUND_EVENTS`] events (unless one change
/// alone has more). `changes` gives each change's absence and number of events; returns the indexes
/// of each round's changes.
fn rounds<K: Eq + std::hash::Hash>(
    changes: impl IntoIterator<Item = (K, usize)>,
) -> Vec<Vec<usize>> {
    let mut rounds: Vec<(Vec<usize>, usize)> = Vec::new();
    let mut last_round: HashMap<K, usize> = HashMap::new();
    for (index, (key, events)) in changes.into_iter().enumerate() {
        let mut round = last_round.get(&key).map_or(0, |r| r + 1);
        while let Some((members, held)) = rounds.get(round)
            && !members.is_empty()
            && held + events > ROUND_EVENTS
        {
            round += 1;
        }
        last_round.insert(key, round);
        if rounds.len() <= round {
            rounds.resize_with(round + 1, Default::default);
        }
        rounds[round].0.push(index);
        rounds[round].1 += events;
    }
    rounds.into_iter().map(|(members, _)| members).collect()
}

/// Writes `changes` together: one statement per round, in one transaction when there are several.
/// Returns per change what it wrote (`None`: refused by its absence row).
async fn write_group(
    line: &mut Line,
    changes: &[&AbsenceWrite],
) -> Result<RoundOutcome, StoreError> {
    let rounds = rounds(
        changes
            .iter()
            .map(|c| ((c.tenant.as_str(), c.absence_id.as_str()), c.events.len())),
    );
    let mut outcome: RoundOutcome = vec![None; changes.len()];
    let conn = line.connection().await?;
    if let [only] = rounds.as_slice() {
        // One statement commits by itself.
        let round: Vec<&AbsenceWrite> = only.iter().map(|&i| changes[i]).collect();
        for (&index, written) in only.iter().zip(write_round(conn, &round).await?) {
            outcome[index] = written;
        }
        return Ok(outcome);
    }
    let mut tx = conn.begin().await.map_err(store_error)?;
    for indexes in &rounds {
        let round: Vec<&AbsenceWrite> = indexes.iter().map(|&i| changes[i]).collect();
        for (&index, written) in indexes.iter().zip(write_round(&mut tx, &round).await?) {
            outcome[index] = written;
        }
    }
    tx.commit().await.map_err(store_error)?;
    Ok(outcome)
}

/// Changes queued by one call, and where its results go.
struct Request {
    changes: Vec<AbsenceWrite>,
    reply: oneshot::Sender<Vec<Result<Vec<AppliedEvent>, StoreError>>>,
}

/// The handle to the group-commit task. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct GroupWriter {
    requests: mpsc::UnboundedSender<Request>,
}

/// The answer when the task is gone (the store was dropped).
fn writer_gone() -> StoreError {
    StoreError::Unavailable("the store is closed".into())
}

impl GroupWriter {
    /// Starts the task on `pool`.
    pub(crate) fn start(pool: PgPool) -> Self {
        let (requests, inbox) = mpsc::unbounded_channel();
        tokio::spawn(serve(pool, inbox));
        Self { requests }
    }

    /// Writes `changes` in order, in the next group; each gets its own result once the group has
    /// committed (or failed).
    pub(crate) async fn write(
        &self,
        changes: Vec<AbsenceWrite>,
    ) -> Vec<Result<Vec<AppliedEvent>, StoreError>> {
        let count = changes.len();
        let (reply, answer) = oneshot::channel();
        if self.requests.send(Request { changes, reply }).is_err() {
            return (0..count).map(|_| Err(writer_gone())).collect();
        }
        answer
            .await
            .unwrap_or_else(|_| (0..count).map(|_| Err(writer_gone())).collect())
    }
}

/// The group writer's connection: taken from the pool once and kept (its buffers grow to the size of
/// a group's statement, so one connection holds them rather than every connection of the pool), and
/// given back after a failure, to be taken anew.
struct Line {
    pool: PgPool,
    conn: Option<PoolConnection<Postgres>>,
}

impl Line {
    async fn connection(&mut self) -> Result<&mut PgConnection, StoreError> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            None => self.pool.acquire().await.map_err(store_error)?,
        };
        Ok(&mut **self.conn.insert(conn))
    }

    /// Gives the connection back to the pool (which checks it before lending it again).
    fn release(&mut self) {
        self.conn = None;
    }
}

async fn serve(pool: PgPool, mut inbox: mpsc::UnboundedReceiver<Request>) {
    let mut line = Line { pool, conn: None };
    while let Some(first) = inbox.recv().await {
        let events = |r: &Request| r.changes.iter().map(|c| c.events.len()).sum::<usize>();
        let (mut size, mut events_in) = (first.changes.len(), events(&first));
        let mut group = vec![first];
        while size < MAX_GROUP && events_in < MAX_GROUP_EVENTS {
            match inbox.try_recv() {
                Ok(request) => {
                    size += request.changes.len();
                    events_in += events(&request);
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        answer(&mut line, group).await;
    }
}

/// Writes a group and answers each request.
#[tracing::instrument(name = "pg.group_commit", skip_all, fields(requests = group.len()))]
async fn answer(line: &mut Line, group: Vec<Request>) {
    let changes: Vec<&AbsenceWrite> = group.iter().flat_map(|r| &r.changes).collect();
    let first = write_group(line, &changes).await;
    if first.is_err() {
        line.release();
    }
    let results: Vec<Result<Vec<AppliedEvent>, StoreError>> = match first {
        Ok(outcome) => outcome
            .into_iter()
            .map(|written| written.ok_or(StoreError::Conflict))
            .collect(),
        Err(err) if changes.len() > 1 => {
            // Each change alone, in order: the one at fault fails by itself.
            tracing::warn!(error = %err, "a group write failed; writing its changes one by one");
            let mut results = Vec::with_capacity(changes.len());
            for change in &changes {
                results.push(match write_group(line, &[change]).await {
                    Ok(mut outcome) => outcome.pop().flatten().ok_or(StoreError::Conflict),
                    Err(err) => {
                        line.release();
                        Err(err)
                    }
                });
            }
            results
        }
        Err(err) => vec![Err(err)],
    };
    let mut results = results.into_iter();
    for request in group {
        let mine: Vec<_> = results.by_ref().take(request.changes.len()).collect();
        // The caller may have gone (its call was cancelled); the write stands either way.
        let _ = request.reply.send(mine);
    }
}

#[cfg(test)]
mod tests {
    use super::{ROUND_EVENTS, rounds};

    #[test]
    fn distinct_absences_share_a_round_until_it_holds_enough_events() {
        let changes = (0..10).map(|i| (i, ROUND_EVENTS / 4));
        assert_eq!(
            rounds(changes),
            vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
        );
    }

    #[test]
    fn a_later_change_of_an_absence_goes_in_a_later_round() {
        // "a" twice, then "b": b joins the first round; a's second change waits for the next.
        assert_eq!(
            rounds([("a", 1), ("a", 1), ("b", 1)]),
            vec![vec![0, 2], vec![1]]
        );
        // A full round pushes a change on, and the absence's next change after it.
        let big = ROUND_EVENTS - 1;
        assert_eq!(
            rounds([("a", big), ("b", 2), ("b", 1), ("c", 1)]),
            vec![vec![0, 3], vec![1], vec![2]]
        );
    }

    #[test]
    fn one_change_larger_than_a_round_has_a_round_of_its_own() {
        assert_eq!(
            rounds([("a", 1), ("b", ROUND_EVENTS * 2), ("c", 1)]),
            vec![vec![0, 2], vec![1]]
        );
    }
}
