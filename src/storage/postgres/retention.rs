//! Pruning a PostgreSQL protocol: the same rules and the same unit as
//! SQLite (`storage/retention.rs`) — whole runs, a session or a session-less
//! trace, judged by its last entry, deleted in one transaction — planned and
//! deleted by the server in a handful of statements.
//!
//! Empty day partitions are left in place: a writer that has seen a day's
//! partition keeps inserting into it without asking again, and a partition
//! without rows costs a catalogue entry. The space deleted rows took is
//! reused by new rows after PostgreSQL's autovacuum has passed.

use postgres::types::ToSql;

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
        // An unknown session id plans a run without entries.
        let runs = if entries == 0 { 0 } else { runs };
        let report = PruneReport {
            runs: u64::try_from(runs).unwrap_or(0),
            entries: u64::try_from(entries).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
            dry_run,
        };
        if dry_run || entries == 0 {
            // Rolls back: the database is as it was.
            drop(tx);
            return Ok(report);
        }
        tx.batch_execute(&format!(
            "DELETE FROM {ENTRIES} AS e USING prune_runs AS r
                 WHERE r.field = 'session_id' AND e.session_id = r.key;
             DELETE FROM {ENTRIES} AS e USING prune_runs AS r
                 WHERE r.field = 'trace_id' AND e.trace_id = r.key AND e.session_id IS NULL;"
        ))
        .map_err(on)?;
        tx.commit().map_err(on)?;
        Ok(report)
    }
}
