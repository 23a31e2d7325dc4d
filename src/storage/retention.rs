//! Keeping a SQLite protocol to the runs that matter: pruning whole
//! sessions and traces, giving the space back, and reporting what the file
//! holds.
//!
//! A *run* is what `sessions` lists: the entries sharing a `session_id`, or
//! the entries of one trace that have none. Pruning deletes whole runs,
//! never part of one, judged by their last entry: a session still going on
//! is kept whole even when it began long ago. Everything a prune deletes —
//! the entries and their index ranges — goes in one transaction, so a
//! crash leaves the file as it was before or after, and readers never see
//! half a run.
//!
//! Freed pages are given back by incremental auto-vacuum (new files are
//! created with it), in bounded steps of [`RECLAIM_STEP_PAGES`] pages, each
//! its own short transaction, so an application writing the file waits
//! milliseconds at most. A file created before that keeps its free pages
//! for reuse; [`SqliteStorage::vacuum`] rewrites it once, with incremental
//! auto-vacuum from then on.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use serde::Serialize;

use super::sqlite::SqliteStorage;
use super::with_suffix;
use crate::codec::columns::COLUMNS;
use crate::codec::sqlite::{sqlite_error, sqlite_open_error, verify_protocol_schema, ENTRIES};
use crate::entry::format_timestamp;
use crate::error::{ProtocolError, Result};

/// At most this many pages are given back per step (32 MiB at SQLite's
/// default 4 KiB page): a step is one short write transaction.
pub const RECLAIM_STEP_PAGES: u32 = 8_192;

/// Which runs a prune deletes.
///
/// ```
/// use std::time::Duration;
/// use reagentic_protocol::storage::PruneRule;
/// let month = PruneRule::older_than(Duration::from_secs(30 * 24 * 3600));
/// let keep = PruneRule::KeepLast(1_000);
/// let one = PruneRule::Session("conv-42".into());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PruneRule {
    /// Runs whose last entry is before this time.
    Before(DateTime<Utc>),
    /// Every run but this many most recently active.
    KeepLast(u64),
    /// One session, or one trace without a session, by its id.
    Session(String),
}

impl PruneRule {
    /// Runs whose last entry is older than `age`: [`PruneRule::Before`] now
    /// minus `age`.
    ///
    /// ```
    /// let rule = reagentic_protocol::storage::PruneRule::older_than(std::time::Duration::from_secs(3600));
    /// ```
    pub fn older_than(age: Duration) -> Self {
        let age = chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX);
        PruneRule::Before(
            Utc::now()
                .checked_sub_signed(age)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
        )
    }
}

/// What a prune deleted (or, for a dry run, would delete).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PruneReport {
    /// Sessions and session-less traces (JSON Lines: those with entries in
    /// the files removed; a run that continues in a newer file keeps that
    /// part).
    pub runs: u64,
    /// Entries.
    pub entries: u64,
    /// The bytes their values take (the file's pages they free are a little
    /// more: row headers, index entries). JSON Lines: the removed files'
    /// size.
    pub bytes: u64,
    /// JSON Lines: the rotated files removed (0 for the other forms).
    pub files: u64,
    /// Whether nothing was deleted (a dry run).
    pub dry_run: bool,
}

impl PruneReport {
    /// The report of a database prune from the counts its plan query gave
    /// (SQL counts are signed). Every planned run has entries, but an
    /// unknown session id plans one that has none: no runs then.
    pub(crate) fn of_planned(runs: i64, entries: i64, bytes: i64, dry_run: bool) -> Self {
        PruneReport {
            runs: if entries == 0 {
                0
            } else {
                u64::try_from(runs).unwrap_or(0)
            },
            entries: u64::try_from(entries).unwrap_or(0),
            bytes: u64::try_from(bytes).unwrap_or(0),
            files: 0,
            dry_run,
        }
    }
}

/// What giving free pages back to the file system did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ReclaimReport {
    /// Pages given back.
    pub pages: u64,
    /// Bytes given back.
    pub bytes: u64,
    /// Free pages left in the file: all of them when the file was created
    /// without incremental auto-vacuum (see [`SqliteStorage::vacuum`]).
    pub free_pages_left: u64,
    /// Whether the file gives pages back incrementally.
    pub incremental: bool,
}

/// How a SQLite file is laid out on disk.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct StorageReport {
    /// The database file's size in bytes.
    pub file_bytes: u64,
    /// The `-wal` file's size in bytes (0 when there is none).
    pub wal_bytes: u64,
    /// Entries stored.
    pub entries: u64,
    /// SQLite's page size in bytes.
    pub page_size: u64,
    /// Pages in the file.
    pub pages: u64,
    /// Pages holding nothing, kept for reuse.
    pub free_pages: u64,
    /// Bytes a reclaim (or a vacuum) would give back: the free pages.
    pub reclaimable_bytes: u64,
    /// `none`, `full` or `incremental`: whether freed pages can be given
    /// back without rewriting the file.
    pub auto_vacuum: String,
}

/// The sum of every column's stored length, for a row of `protocol_entries`.
fn row_bytes_sql() -> String {
    COLUMNS
        .iter()
        .map(|c| format!("coalesce(octet_length(e.{}), 0)", c.name))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// The temporary tables a prune plans in: the runs to delete and their
/// entries' rowids. Temporary, so a dry run writes nothing to the file.
const PLAN_TABLES: &str = "
CREATE TEMP TABLE IF NOT EXISTS prune_runs (field TEXT NOT NULL, key TEXT NOT NULL, last TEXT,
    PRIMARY KEY (field, key));
CREATE TEMP TABLE IF NOT EXISTS prune_rows (id INTEGER PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS prune_keys (field TEXT NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (field, key));
DELETE FROM temp.prune_runs;
DELETE FROM temp.prune_rows;
DELETE FROM temp.prune_keys;";

/// Every run with its last entry's time: one pass over the table's leading
/// columns (content lies further along each row and is not read).
const ALL_RUNS: &str = "
INSERT INTO temp.prune_runs (field, key, last)
SELECT field, key, max(timestamp) FROM (
    SELECT CASE WHEN session_id IS NULL THEN 'trace_id' ELSE 'session_id' END AS field,
           coalesce(session_id, trace_id) AS key, timestamp
    FROM protocol_entries)
GROUP BY field, key";

/// The rowids of the planned runs' entries, found through the index runs
/// (one seek per index run and planned run), each checked against its run.
const PLANNED_ROWS: &str = "
INSERT OR IGNORE INTO temp.prune_rows (id)
SELECT e.rowid FROM temp.prune_runs AS r
CROSS JOIN protocol_index_run_list AS l ON l.field = r.field
CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = r.key
CROSS JOIN protocol_entries AS e ON e.rowid BETWEEN t.entry AND t.entry + t.count - 1
WHERE (r.field = 'session_id' AND e.session_id = r.key)
   OR (r.field = 'trace_id' AND e.trace_id = r.key AND e.session_id IS NULL)";

/// The index-run keys the planned entries are filed under.
const PLANNED_KEYS: &str = "
INSERT OR IGNORE INTO temp.prune_keys (field, key)
SELECT 'trace_id', e.trace_id FROM temp.prune_rows AS p CROSS JOIN protocol_entries AS e ON e.rowid = p.id
UNION ALL
SELECT 'session_id', e.session_id FROM temp.prune_rows AS p CROSS JOIN protocol_entries AS e ON e.rowid = p.id
WHERE e.session_id IS NOT NULL";

/// The ranges filed under one key (the field, then the key) that hold a
/// planned entry: a seek per index run of the field, then the key's few
/// ranges, each checked against the plan with a seek.
const PLANNED_RANGES: &str = "
SELECT t.run, t.entry, t.count FROM protocol_index_run_list AS l
CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = ?2
WHERE l.field = ?1 AND EXISTS (
    SELECT 1 FROM temp.prune_rows WHERE id BETWEEN t.entry AND t.entry + t.count - 1)";

impl SqliteStorage {
    /// Deletes the runs `rule` picks — whole sessions and session-less
    /// traces, with their index ranges — in one transaction; or, with
    /// `dry_run`, only says what would go. Waits for the write lock up to
    /// the busy timeout, so it works while another process writes the file.
    /// The space is given back by [`reclaim`](Self::reclaim).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use reagentic_protocol::storage::PruneRule;
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let mut storage = reagentic_protocol::SqliteStorage::open("protocol.db")?;
    /// let gone = storage.prune(&PruneRule::older_than(Duration::from_secs(30 * 86_400)), false)?;
    /// println!("{} runs, {} entries pruned", gone.runs, gone.entries);
    /// storage.reclaim()?;
    /// # Ok(()) }
    /// ```
    pub fn prune(&mut self, rule: &PruneRule, dry_run: bool) -> Result<PruneReport> {
        let (conn, path) = self.connection()?;
        let on = |e| sqlite_error(path, e);
        // A dry run only reads the file (its plan is in temporary tables):
        // it never waits for, or holds, the write lock.
        let behavior = if dry_run {
            TransactionBehavior::Deferred
        } else {
            TransactionBehavior::Immediate
        };
        let tx = conn.transaction_with_behavior(behavior).map_err(on)?;
        tx.execute_batch(PLAN_TABLES).map_err(on)?;
        plan_runs(&tx, rule).map_err(on)?;
        tx.execute_batch(PLANNED_ROWS).map_err(on)?;
        let (runs, entries, bytes): (i64, i64, i64) = tx
            .query_row(
                &format!(
                    "SELECT (SELECT count(*) FROM temp.prune_runs), count(*), coalesce(sum({}), 0)
                     FROM temp.prune_rows AS p CROSS JOIN {ENTRIES} AS e ON e.rowid = p.id",
                    row_bytes_sql()
                ),
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .map_err(on)?;
        let report = PruneReport::of_planned(runs, entries, bytes, dry_run);
        if dry_run || entries == 0 {
            // Rolls back: nothing of the file was changed.
            drop(tx);
            return Ok(report);
        }
        delete_planned(&tx).map_err(on)?;
        tx.commit().map_err(on)?;
        Ok(report)
    }

    /// Gives the file's free pages back to the file system, at most
    /// [`RECLAIM_STEP_PAGES`] per step, each step its own short transaction
    /// (waiting up to the busy timeout for a writer). Does nothing on a file
    /// created without incremental auto-vacuum (see [`vacuum`](Self::vacuum)),
    /// and says so in the report. In WAL mode the file shrinks when the
    /// pages are checkpointed: at once unless a reader holds an older
    /// snapshot, else at the next checkpoint.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let mut storage = reagentic_protocol::SqliteStorage::open("protocol.db")?;
    /// let back = storage.reclaim()?;
    /// println!("{} bytes given back", back.bytes);
    /// # Ok(()) }
    /// ```
    pub fn reclaim(&mut self) -> Result<ReclaimReport> {
        let (conn, path) = self.connection()?;
        let on = |e| sqlite_error(path, e);
        let incremental = auto_vacuum(conn).map_err(on)? == 2;
        let page_size = pragma_u64(conn, "page_size").map_err(on)?;
        let before = pragma_u64(conn, "freelist_count").map_err(on)?;
        let mut left = before;
        if incremental {
            while left > 0 {
                // `incremental_vacuum` returns a row per page moved; reading
                // them all runs the step to its end.
                let mut step = conn
                    .prepare(&format!("PRAGMA incremental_vacuum({RECLAIM_STEP_PAGES})"))
                    .map_err(on)?;
                let mut rows = step.query([]).map_err(on)?;
                while rows.next().map_err(on)?.is_some() {}
                drop(rows);
                let now = pragma_u64(conn, "freelist_count").map_err(on)?;
                if now >= left {
                    // Another connection freed pages as fast as this gives
                    // them back: stop rather than chase it.
                    left = now;
                    break;
                }
                left = now;
            }
        }
        let pages = before.saturating_sub(left);
        if pages > 0 {
            // In WAL mode the file shrinks when a checkpoint copies the last
            // step back: do it now, as far as readers allow, rather than at
            // the next one. PASSIVE never waits.
            conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                .map_err(on)?;
        }
        Ok(ReclaimReport {
            pages,
            bytes: pages.saturating_mul(page_size),
            free_pages_left: left,
            incremental,
        })
    }

    /// Rewrites the whole file compactly (SQLite `VACUUM`), switching it to
    /// incremental auto-vacuum, so a file created before that gives space
    /// back by [`reclaim`](Self::reclaim) from then on. Checks first that
    /// the file system has room for the copy SQLite writes (twice the data,
    /// on Linux; elsewhere SQLite's own "disk full" leaves the file as it
    /// was). Holds the write lock for the whole rewrite: writers wait, up to
    /// their busy timeout.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let mut storage = reagentic_protocol::SqliteStorage::open("protocol.db")?;
    /// storage.vacuum()?;
    /// # Ok(()) }
    /// ```
    pub fn vacuum(&mut self) -> Result<()> {
        let (conn, path) = self.connection()?;
        let on = |e| sqlite_error(path, e);
        let page_size = pragma_u64(conn, "page_size").map_err(on)?;
        let used = pragma_u64(conn, "page_count")
            .map_err(on)?
            .saturating_sub(pragma_u64(conn, "freelist_count").map_err(on)?)
            .saturating_mul(page_size);
        check_free_space(path, used.saturating_mul(2))?;
        conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")
            .map_err(on)?;
        conn.execute_batch("VACUUM").map_err(on)?;
        Ok(())
    }
}

/// Deletes the planned entries (`temp.prune_rows`) and their index-run
/// ranges, and clears the plan, inside the caller's transaction.
fn delete_planned(tx: &Connection) -> rusqlite::Result<()> {
    tx.execute_batch(PLANNED_KEYS)?;
    {
        let mut keys = tx.prepare_cached("SELECT field, key FROM temp.prune_keys")?;
        let mut rows = keys.query([])?;
        while let Some(row) = rows.next()? {
            let (field, key): (String, String) = (row.get(0)?, row.get(1)?);
            cut_planned_rows_out(tx, &field, &key)?;
        }
    }
    tx.execute(
        &format!("DELETE FROM {ENTRIES} WHERE rowid IN (SELECT id FROM temp.prune_rows)"),
        [],
    )?;
    tx.execute_batch(
        "DELETE FROM temp.prune_runs; DELETE FROM temp.prune_rows; DELETE FROM temp.prune_keys;",
    )
}

/// Takes the planned entries out of the index ranges filed under `key`: a
/// range all planned goes, one partly planned (a trace whose session-less
/// entries go while those of a session stay) is replaced by what is left of
/// it, so every range keeps naming only entries that exist.
fn cut_planned_rows_out(tx: &Connection, field: &str, key: &str) -> rusqlite::Result<()> {
    let ranges: Vec<(i64, i64, i64)> = tx
        .prepare_cached(PLANNED_RANGES)?
        .query_map(params![field, key], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let mut planned =
        tx.prepare_cached("SELECT id FROM temp.prune_rows WHERE id BETWEEN ?1 AND ?2 ORDER BY id")?;
    let mut delete = tx.prepare_cached(
        "DELETE FROM protocol_index_runs WHERE run = ?1 AND key = ?2 AND entry = ?3",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO protocol_index_runs (run, key, entry, count) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (run, first, count) in ranges {
        let last = first + count - 1;
        let gone: Vec<i64> = planned
            .query_map(params![first, last], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        delete.execute(params![run, key, first])?;
        // The rowids between the planned ones stay, as ranges of their own.
        let mut next = first;
        for id in gone.into_iter().chain(std::iter::once(last + 1)) {
            if id > next {
                insert.execute(params![run, key, next, id - next])?;
            }
            next = id + 1;
        }
    }
    Ok(())
}

/// Pruning from the writer thread (`SqliteStorageBuilder::with_retention`):
/// runs whose last entry is older than `age` go, a bounded amount per step.
#[derive(Debug)]
pub(super) struct Retention {
    age: Duration,
    /// The oldest entries not yet looked at, after a step that found old
    /// entries of runs still going on: `(timestamp, entry_id)`.
    cursor: Option<(String, String)>,
}

/// Old entries looked at per step: their runs (at most this many) are
/// checked and the finished ones deleted whole.
const RETENTION_STEP_ENTRIES: i64 = 256;

/// Free pages given back per step in the writer: small, so a step stays
/// milliseconds.
const RETENTION_RECLAIM_PAGES: u32 = 256;

impl Retention {
    pub(super) fn new(age: Duration) -> Self {
        Retention { age, cursor: None }
    }

    /// One bounded step: gives back some free pages if there are any, else
    /// deletes the finished runs among the oldest entries past the age, in
    /// one transaction. Returns whether more may remain.
    pub(super) fn step(&mut self, conn: &mut Connection) -> rusqlite::Result<bool> {
        if auto_vacuum(conn)? == 2 && pragma_u64(conn, "freelist_count")? > 0 {
            let mut step = conn.prepare_cached(&format!(
                "PRAGMA incremental_vacuum({RETENTION_RECLAIM_PAGES})"
            ))?;
            let mut rows = step.query([])?;
            while rows.next()?.is_some() {}
            return Ok(true);
        }
        let age = chrono::TimeDelta::from_std(self.age).unwrap_or(chrono::TimeDelta::MAX);
        let Some(cutoff) = Utc::now().checked_sub_signed(age) else {
            return Ok(false);
        };
        let cutoff = format_timestamp(&cutoff);
        let (after_time, after_id) = self.cursor.clone().unwrap_or_default();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch(PLAN_TABLES)?;
        // The oldest entries past the age, through the identity index.
        let last_seen: Option<(String, String)> = {
            let mut oldest = tx.prepare_cached(
                "SELECT timestamp, entry_id, session_id, trace_id FROM protocol_entries
                 WHERE timestamp < ?1 AND (timestamp, entry_id) > (?2, ?3)
                 ORDER BY timestamp, entry_id LIMIT ?4",
            )?;
            let mut plan = tx.prepare_cached(
                "INSERT OR IGNORE INTO temp.prune_runs (field, key) VALUES (?1, ?2)",
            )?;
            let mut rows = oldest.query(params![
                cutoff,
                after_time,
                after_id,
                RETENTION_STEP_ENTRIES
            ])?;
            let mut last = None;
            while let Some(row) = rows.next()? {
                let session: Option<String> = row.get(2)?;
                match session {
                    Some(session) => plan.execute(params!["session_id", session])?,
                    None => plan.execute(params!["trace_id", row.get::<_, String>(3)?])?,
                };
                last = Some((row.get(0)?, row.get(1)?));
            }
            last
        };
        let Some(last_seen) = last_seen else {
            // Nothing (more) past the age: start from the oldest next time.
            self.cursor = None;
            return Ok(false);
        };
        // Keep only runs that are over: their last entry is past the age too.
        tx.execute(
            "UPDATE temp.prune_runs SET last = (
                 SELECT max(e.timestamp) FROM protocol_index_run_list AS l
                 CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = prune_runs.key
                 CROSS JOIN protocol_entries AS e
                     ON e.rowid BETWEEN t.entry AND t.entry + t.count - 1
                 WHERE l.field = prune_runs.field
                   AND ((prune_runs.field = 'session_id' AND e.session_id = prune_runs.key)
                     OR (prune_runs.field = 'trace_id' AND e.trace_id = prune_runs.key
                         AND e.session_id IS NULL)))",
            [],
        )?;
        tx.execute(
            "DELETE FROM temp.prune_runs WHERE last IS NULL OR last >= ?1",
            [&cutoff],
        )?;
        tx.execute_batch(PLANNED_ROWS)?;
        delete_planned(&tx)?;
        tx.commit()?;
        // Entries of runs still going on stay; the next step looks past them.
        self.cursor = Some(last_seen);
        Ok(true)
    }
}

/// Fills `temp.prune_runs` with the runs `rule` picks.
fn plan_runs(tx: &Connection, rule: &PruneRule) -> rusqlite::Result<()> {
    match rule {
        PruneRule::Before(cutoff) => {
            tx.execute_batch(ALL_RUNS)?;
            tx.execute(
                "DELETE FROM temp.prune_runs WHERE last >= ?1",
                [format_timestamp(cutoff)],
            )?;
        }
        PruneRule::KeepLast(keep) => {
            tx.execute_batch(ALL_RUNS)?;
            tx.execute(
                "DELETE FROM temp.prune_runs WHERE rowid IN (
                     SELECT rowid FROM temp.prune_runs ORDER BY last DESC, key DESC LIMIT ?1)",
                [i64::try_from(*keep).unwrap_or(i64::MAX)],
            )?;
        }
        PruneRule::Session(id) => {
            // A session of that id, else a session-less trace of it.
            let is_session: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM protocol_index_run_list AS l
                     CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = ?1
                     WHERE l.field = 'session_id')",
                [id],
                |r| r.get(0),
            )?;
            let field = if is_session { "session_id" } else { "trace_id" };
            tx.execute(
                "INSERT INTO temp.prune_runs (field, key) VALUES (?1, ?2)",
                params![field, id],
            )?;
        }
    }
    Ok(())
}

fn pragma_u64(conn: &Connection, name: &str) -> rusqlite::Result<u64> {
    let value: i64 = conn.pragma_query_value(None, name, |r| r.get(0))?;
    Ok(u64::try_from(value).unwrap_or(0))
}

/// SQLite's `auto_vacuum`: 0 none, 1 full, 2 incremental.
fn auto_vacuum(conn: &Connection) -> rusqlite::Result<i64> {
    conn.pragma_query_value(None, "auto_vacuum", |r| r.get(0))
}

/// Fails when the file system holding `path` has less than `needed` bytes
/// free for an unprivileged writer.
#[cfg(target_os = "linux")]
fn check_free_space(path: &Path, needed: u64) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let stat = rustix::fs::statvfs(dir).map_err(|e| ProtocolError::Io {
        path: dir.to_path_buf(),
        source: e.into(),
    })?;
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    if free < needed {
        return Err(ProtocolError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "vacuuming needs about {needed} bytes free on its file system, which has \
                     {free}; free some space, or prune and reclaim instead"
                ),
            ),
        });
    }
    Ok(())
}

/// Elsewhere SQLite's own SQLITE_FULL leaves the file as it was.
#[cfg(not(target_os = "linux"))]
fn check_free_space(_path: &Path, _needed: u64) -> Result<()> {
    Ok(())
}

/// How the SQLite protocol at `path` is laid out: its size, entries, free
/// pages and what a reclaim would give back. Opens it read-only; works
/// while another process writes.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// let report = reagentic_protocol::storage::sqlite_storage_report("protocol.db")?;
/// println!("{} of {} bytes reclaimable", report.reclaimable_bytes, report.file_bytes);
/// # Ok(()) }
/// ```
pub fn sqlite_storage_report(path: impl AsRef<Path>) -> Result<StorageReport> {
    let path = path.as_ref();
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
    let file_bytes = size(path).ok_or_else(|| ProtocolError::Open {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
    })?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| sqlite_open_error(path, e))?;
    verify_protocol_schema(&conn, path)?;
    let on = |e| sqlite_error(path, e);
    let page_size = pragma_u64(&conn, "page_size").map_err(on)?;
    let free_pages = pragma_u64(&conn, "freelist_count").map_err(on)?;
    let entries: Option<i64> = conn
        .query_row(&format!("SELECT count(*) FROM {ENTRIES}"), [], |r| r.get(0))
        .optional()
        .map_err(on)?;
    Ok(StorageReport {
        file_bytes,
        wal_bytes: size(&with_suffix(path, "-wal")).unwrap_or(0),
        entries: entries.and_then(|n| u64::try_from(n).ok()).unwrap_or(0),
        page_size,
        pages: pragma_u64(&conn, "page_count").map_err(on)?,
        free_pages,
        reclaimable_bytes: free_pages.saturating_mul(page_size),
        auto_vacuum: match auto_vacuum(&conn).map_err(on)? {
            1 => "full",
            2 => "incremental",
            _ => "none",
        }
        .to_owned(),
    })
}
