//! Pruning a PostgreSQL protocol: the same rules and the same unit as
//! SQLite (`storage/retention.rs`) — whole runs, a session or a session-less
//! trace, judged by its last entry, deleted in one transaction — planned and
//! deleted by the server in a handful of statements.
//!
//! Empty day partitions are left in place: a writer that has seen a day's
//! partition keeps inserting into it without asking again, and a partition
//! without rows costs a catalogue entry. The space deleted rows took is
//! reused by new rows after PostgreSQL's autovacuum has passed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::Client;

use super::PostgresStorage;
use crate::codec::postgres::ENTRIES;
use crate::error::Result;
use crate::storage::{PruneReport, PruneRule};

/// The planned runs, dropped with the transaction.
const PLAN_TABLE: &str = "CREATE TEMPORARY TABLE prune_runs (
    field text NOT NULL, key text NOT NULL, last timestamptz,
    PRIMARY KEY (field, key)) ON COMMIT DROP";

/// Every run with its last entry's time, where `{having}` picks.
fn all_runs(having: &str) -> String {
    format!(
        "INSERT INTO prune_runs (field, key, last)
         SELECT field, key, max(timestamp) FROM (
             SELECT CASE WHEN session_id IS NULL THEN 'trace_id' ELSE 'session_id' END AS field,
                    coalesce(session_id, trace_id) AS key, timestamp
             FROM {ENTRIES}) AS runs
         GROUP BY field, key {having}"
    )
}

/// The planned runs' entries: a session's through the session index, a
/// session-less trace's through the trace index.
fn planned_entries(what: &str) -> String {
    format!(
        "SELECT {what} FROM {ENTRIES} AS e JOIN prune_runs AS r
             ON r.field = 'session_id' AND e.session_id = r.key
         UNION ALL
         SELECT {what} FROM {ENTRIES} AS e JOIN prune_runs AS r
             ON r.field = 'trace_id' AND e.trace_id = r.key AND e.session_id IS NULL"
    )
}

/// Deletes the planned runs' entries: a session's by the session index, a
/// session-less trace's by the trace index.
fn delete_planned() -> String {
    format!(
        "DELETE FROM {ENTRIES} AS e USING prune_runs AS r
             WHERE r.field = 'session_id' AND e.session_id = r.key;
         DELETE FROM {ENTRIES} AS e USING prune_runs AS r
             WHERE r.field = 'trace_id' AND e.trace_id = r.key AND e.session_id IS NULL;"
    )
}

/// Pruning from the writer (`PostgresStorageBuilder::with_retention`):
/// runs whose last entry is older than `age` go, whole, a bounded number
/// per step, the way SQLite's writer does it (`storage/retention.rs`).
#[derive(Debug)]
pub(in crate::storage) struct Retention {
    age: Duration,
    /// The oldest entries not yet looked at, after a step that found old
    /// entries of runs still going on.
    cursor: Option<(DateTime<Utc>, String)>,
    /// No step before this: once everything old is gone, the server is
    /// asked again only after [`RETENTION_PAUSE`].
    next_step: Instant,
}

/// Old entries looked at per step: their runs (at most this many) are
/// checked and the finished ones deleted whole.
const RETENTION_STEP_ENTRIES: i64 = 256;

/// How long the writer waits, once nothing is past the age, before it
/// looks again: the age moves on slowly, and every look is a query.
const RETENTION_PAUSE: Duration = Duration::from_secs(60);

impl Retention {
    pub(in crate::storage) fn new(age: Duration) -> Self {
        Retention {
            age,
            cursor: None,
            next_step: Instant::now(),
        }
    }

    /// One bounded step, when one is due: deletes the finished runs among
    /// the oldest entries past the age, in one transaction. Returns whether
    /// more may remain.
    pub(in crate::storage) fn step(
        &mut self,
        client: &mut Client,
    ) -> Result<bool, postgres::Error> {
        if Instant::now() < self.next_step {
            return Ok(false);
        }
        let age = chrono::TimeDelta::from_std(self.age).unwrap_or(chrono::TimeDelta::MAX);
        let Some(cutoff) = Utc::now().checked_sub_signed(age) else {
            self.next_step = Instant::now() + RETENTION_PAUSE;
            return Ok(false);
        };
        let mut tx = client.transaction()?;
        tx.batch_execute(PLAN_TABLE)?;
        // The oldest entries past the age, through the primary key.
        let oldest = match &self.cursor {
            Some((after_time, after_id)) => tx.query(
                &format!(
                    "SELECT timestamp, entry_id, session_id, trace_id FROM {ENTRIES}
                     WHERE timestamp < $1 AND (timestamp, entry_id) > ($2, $3)
                     ORDER BY timestamp, entry_id LIMIT $4"
                ),
                &[&cutoff, after_time, after_id, &RETENTION_STEP_ENTRIES],
            )?,
            None => tx.query(
                &format!(
                    "SELECT timestamp, entry_id, session_id, trace_id FROM {ENTRIES}
                     WHERE timestamp < $1 ORDER BY timestamp, entry_id LIMIT $2"
                ),
                &[&cutoff, &RETENTION_STEP_ENTRIES],
            )?,
        };
        let Some(last) = oldest.last() else {
            // Nothing (more) past the age: from the oldest, after a pause.
            self.cursor = None;
            self.next_step = Instant::now() + RETENTION_PAUSE;
            return Ok(false);
        };
        let last_seen = (last.get(0), last.get(1));
        let (fields, keys): (Vec<&str>, Vec<String>) = oldest
            .iter()
            .map(|row| match row.get::<_, Option<String>>(2) {
                Some(session) => ("session_id", session),
                None => ("trace_id", row.get(3)),
            })
            .unzip();
        tx.execute(
            "INSERT INTO prune_runs (field, key)
             SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING",
            &[&fields, &keys],
        )?;
        // Keep only runs that are over: their last entry is past the age too.
        tx.batch_execute(&format!(
            "UPDATE prune_runs AS r SET last = (SELECT max(timestamp) FROM {ENTRIES} AS e
                 WHERE e.session_id = r.key) WHERE r.field = 'session_id';
             UPDATE prune_runs AS r SET last = (SELECT max(timestamp) FROM {ENTRIES} AS e
                 WHERE e.trace_id = r.key AND e.session_id IS NULL) WHERE r.field = 'trace_id';"
        ))?;
        tx.execute("DELETE FROM prune_runs WHERE last >= $1", &[&cutoff])?;
        tx.batch_execute(&delete_planned())?;
        tx.commit()?;
        self.cursor = Some(last_seen);
        Ok(true)
    }
}

impl PostgresStorage {
    /// Deletes the runs `rule` picks — whole sessions and session-less
    /// traces — in one transaction; or, with `dry_run`, only says what would
    /// go. Works while other processes write the database: a run they are
    /// still adding to is not old, and entries are only ever deleted whole
    /// runs at a time. `bytes` in the report is the rows' size on disk
    /// (`pg_column_size`).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use reagentic_protocol::storage::PruneRule;
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let mut storage = reagentic_protocol::PostgresStorage::connect("postgres://agents@db/protocol")?;
    /// let gone = storage.prune(&PruneRule::older_than(Duration::from_secs(30 * 86_400)), false)?;
    /// println!("{} runs, {} entries pruned", gone.runs, gone.entries);
    /// # Ok(()) }
    /// ```
    pub fn prune(&mut self, rule: &PruneRule, dry_run: bool) -> Result<PruneReport> {
        let target = self.target.clone();
        let on = |e| target.error(e);
        let client = self.client()?;
        let mut tx = client.transaction().map_err(on)?;
        tx.batch_execute(PLAN_TABLE).map_err(on)?;
        match rule {
            PruneRule::Before(cutoff) => {
                tx.execute(&all_runs("HAVING max(timestamp) < $1"), &[cutoff])
                    .map_err(on)?;
            }
            PruneRule::KeepLast(keep) => {
                tx.batch_execute(&all_runs("")).map_err(on)?;
                let keep = i64::try_from(*keep).unwrap_or(i64::MAX);
                tx.execute(
                    "DELETE FROM prune_runs WHERE (field, key) IN (
                         SELECT field, key FROM prune_runs ORDER BY last DESC, key DESC LIMIT $1)",
                    &[&keep],
                )
                .map_err(on)?;
            }
            PruneRule::Session(id) => {
                // A session of that id, else a session-less trace of it.
                let params: [&(dyn ToSql + Sync); 1] = [id];
                tx.execute(
                    &format!(
                        "INSERT INTO prune_runs (field, key)
                         SELECT CASE WHEN EXISTS (SELECT 1 FROM {ENTRIES} WHERE session_id = $1)
                                THEN 'session_id' ELSE 'trace_id' END, $1"
                    ),
                    &params,
                )
                .map_err(on)?;
            }
        }
        let row = tx
            .query_one(
                &format!(
                    "SELECT (SELECT count(*) FROM prune_runs), count(*), coalesce(sum(size), 0)::bigint
                     FROM ({}) AS planned",
                    planned_entries("pg_column_size(e.*) AS size")
                ),
                &[],
            )
            .map_err(on)?;
        let (runs, entries, bytes): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        let report = PruneReport::of_planned(runs, entries, bytes, dry_run);
        if dry_run || entries == 0 {
            // Rolls back: the database is as it was.
            drop(tx);
            return Ok(report);
        }
        tx.batch_execute(&delete_planned()).map_err(on)?;
        tx.commit().map_err(on)?;
        Ok(report)
    }
}
