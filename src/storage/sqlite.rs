//! SQLite storage: the embedded default.
//!
//! The layout (a public contract, see `FORMAT.md`) is defined in
//! `codec::sqlite`; this file opens a database for writing — WAL mode, so
//! readers never block the writer and several processes can share one file —
//! creates or migrates its schema, and commits batches.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, ErrorCode, OpenFlags, TransactionBehavior};

use super::checkpoint::Checkpointer;
use super::retention::Retention;
use super::{closed_error, ensure_parent_dir, open_owner_only, with_suffix, Durability, Storage};
use super::{fill, index_runs};
use crate::codec::columns::columns_of_schema;
use crate::codec::sqlite::{
    check_columns, check_schema_version, column_names, columns_added_after, keep_plans,
    read_meta_value, sqlite_error, sqlite_open_error, KeyLookup, RowEncoder, RowInsert,
    CREATE_INDEXES, CREATE_TABLES, DROPPED_INDEXES, ENTRIES, INDEXES,
};
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Under load that leaves the writer no idle moment, every batch after this
/// many without the index runs being found merged is followed by a merge
/// step: a burst of up to 128 batches (half a million entries) is written at
/// full speed and tidied up after, and a longer one merges as it goes, so a
/// look-up never probes more than a few hundred runs.
const MERGE_UNDER_LOAD_AFTER_BATCHES: u32 = 128;

/// With retention, under load that leaves the writer no idle moment, every
/// this many batches are followed by a retention step, so old runs go even
/// when the writer is never idle.
pub const RETENTION_UNDER_LOAD_AFTER_BATCHES: u32 = 64;

/// Adds this storage's newly dropped entries to the file's running total, so
/// the count survives restarts and several processes sharing the file.
const ADD_DROPPED: &str = "
INSERT INTO protocol_meta (key, value) VALUES ('dropped_entries', CAST(?1 AS TEXT))
ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + ?1 AS TEXT)";

/// Protocol entries in a SQLite file (table `protocol_entries`).
///
/// The first write starts a thread, `reagentic-protocol-checkpoint`, with a
/// connection of its own, which copies the WAL back into the database file
/// while this connection goes on writing; without it every commit that
/// crossed SQLite's checkpoint threshold would wait for two `fsync`s. Under
/// sustained writing the `-wal` file grows to about 64 MiB before a commit
/// checkpoints inline and the WAL starts over. [`Storage::close`] stops the
/// thread (waiting at most the busy timeout) before closing this connection,
/// which, when no other connection has the file open, checkpoints the rest
/// and removes the WAL.
///
/// ```
/// use reagentic_protocol::{SqliteStorage, Storage};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mut storage = SqliteStorage::open(dir.path().join("logs/protocol.db"))?;
/// storage.write_batch(&[])?;
/// storage.close()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
    /// `None` once closed.
    conn: Option<Connection>,
    /// Runs the WAL checkpoints off the writing thread; `None` without WAL.
    checkpointer: Option<Checkpointer>,
    /// How long `close` waits for a checkpoint in progress.
    close_wait: Duration,
    encoder: RowEncoder,
    /// Batches written since the index runs were last found merged.
    unmerged_batches: u32,
    /// The dropped total this storage has already added to the file.
    recorded_dropped: u64,
    /// Pruning old runs as it writes, when asked for.
    retention: Option<Retention>,
    /// Batches written since the last retention step.
    batches_since_retention: u32,
    /// Whether the failure of the upkeep done under load has been warned
    /// about (once per spell of failures).
    upkeep_warned: bool,
}

/// Options for opening a [`SqliteStorage`].
///
/// ```
/// use std::time::Duration;
/// use reagentic_protocol::{Durability, SqliteStorage};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let storage = SqliteStorage::builder(dir.path().join("protocol.db"))
///     .with_durability(Durability::Full)
///     .with_busy_timeout(Duration::from_secs(1))
///     .open()?;
/// # drop(storage); Ok(()) }
/// ```
#[derive(Debug)]
pub struct SqliteStorageBuilder {
    path: PathBuf,
    durability: Durability,
    busy_timeout: Duration,
    retention: Option<Duration>,
}

impl SqliteStorage {
    /// Opens or creates the protocol database at `path` with default settings
    /// ([`Durability::Normal`], 5 s busy timeout). Missing parent folders are
    /// created; a new file is readable by its owner only.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::SqliteStorage::open(dir.path().join("protocol.db"))?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// Starts configuring a database at `path`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::SqliteStorage::builder(dir.path().join("p.db")).open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> SqliteStorageBuilder {
        SqliteStorageBuilder {
            path: path.as_ref().to_path_buf(),
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
            retention: None,
        }
    }
}

impl SqliteStorageBuilder {
    /// Sets the durability (default [`Durability::Normal`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use reagentic_protocol::{Durability, SqliteStorage};
    /// let builder = SqliteStorage::builder(dir.path().join("p.db")).with_durability(Durability::Full);
    /// ```
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets how long a write waits for another connection's lock (default 5 s)
    /// before it fails (and the pipeline retries the batch later).
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use std::time::Duration;
    /// use reagentic_protocol::SqliteStorage;
    /// let builder = SqliteStorage::builder(dir.path().join("p.db"))
    ///     .with_busy_timeout(Duration::from_millis(500));
    /// ```
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Keeps only runs active within `age`: the writer thread deletes whole
    /// sessions (and session-less traces) whose last entry is older, and
    /// gives their space back, a bounded step at a time — while it has
    /// nothing to write, and every [`RETENTION_UNDER_LOAD_AFTER_BATCHES`]
    /// batches under steady load — so writing never stalls for it. A run
    /// still going on is kept whole, however long ago it began. Several
    /// processes may do this on one file. For a one-off, see
    /// [`SqliteStorage::prune`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// let storage = reagentic_protocol::SqliteStorage::builder(dir.path().join("p.db"))
    ///     .with_retention(Duration::from_secs(30 * 24 * 3600))
    ///     .open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn with_retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// Opens the database, creating its tables and indexes as needed.
    ///
    /// Fails with [`ProtocolError::Open`] when the file cannot be created or
    /// opened, [`ProtocolError::Corrupt`] when it is not SQLite or lacks the
    /// protocol's columns, and [`ProtocolError::UnsupportedSchema`] when a newer
    /// build wrote it.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::SqliteStorage::builder(dir.path().join("p.db")).open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn open(self) -> Result<SqliteStorage> {
        let path = self.path;
        ensure_parent_dir(&path)?;
        // Create the file ourselves so it is owner-only from its first byte;
        // SQLite then gives its -wal and -shm files the same mode.
        drop(
            open_owner_only(&path, false).map_err(|source| ProtocolError::Open {
                path: path.clone(),
                source,
            })?,
        );
        let is_new = std::fs::metadata(&path).is_ok_and(|m| m.len() == 0);
        // No SQLITE_OPEN_CREATE (the file exists) and no SQLITE_OPEN_URI (a path
        // starting with `file:` stays a path).
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_open_error(&path, e))?;
        conn.busy_timeout(self.busy_timeout)
            .map_err(|e| sqlite_error(&path, e))?;
        keep_plans(&conn, &path)?;
        if is_new {
            incremental_auto_vacuum(&conn, &path)?;
        }
        // The first statement that reads the file: garbage bytes fail here.
        let mode = switch_to_wal(&conn, &path, self.busy_timeout)?;
        let wal = mode.eq_ignore_ascii_case("wal");
        if !wal {
            // Some file systems (network shares) cannot do WAL; the rollback
            // journal is slower and blocks readers during commits, but is safe.
            tracing::warn!(path = %path.display(), %mode, "SQLite refused WAL mode");
        }
        let synchronous = match self.durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.pragma_update(None, "synchronous", synchronous)
            .map_err(|e| sqlite_error(&path, e))?;
        create_schema(&mut conn, &path)?;
        restrict_side_files(&path)?;
        let checkpointer = if wal {
            Some(Checkpointer::open(&path, self.busy_timeout)?)
        } else {
            None
        };
        Ok(SqliteStorage {
            path,
            conn: Some(conn),
            checkpointer,
            close_wait: self.busy_timeout,
            encoder: RowEncoder::default(),
            unmerged_batches: 0,
            recorded_dropped: 0,
            retention: self.retention.map(Retention::new),
            batches_since_retention: 0,
            upkeep_warned: false,
        })
    }
}

/// Makes a new, empty file give freed pages back in bounded steps
/// (`PRAGMA incremental_vacuum`, run by pruning) instead of keeping them
/// forever. SQLite fixes the setting when the file header is first written
/// (switching to WAL writes it), so this runs before anything else. A
/// process creating the same file at this moment holds the lock: it sets
/// the same, so being busy here is fine.
fn incremental_auto_vacuum(conn: &Connection, path: &Path) -> Result<()> {
    match conn.pragma_update(None, "auto_vacuum", "INCREMENTAL") {
        Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => Ok(()),
        result => result.map_err(|e| sqlite_error(path, e)),
    }
}

/// Puts the database in WAL mode and returns the mode SQLite reports.
///
/// When two processes open a new file at once, both read it in rollback mode
/// and both want the write lock to switch it; SQLite answers one of them with
/// SQLITE_BUSY at once rather than through the busy handler (waiting could
/// deadlock). The loser retries within the busy timeout; by then the winner
/// has switched the file and the retry only reads. Found by
/// `tests/two_processes_write_one_sqlite_file.rs`.
fn switch_to_wal(conn: &Connection, path: &Path, busy_timeout: Duration) -> Result<String> {
    let deadline = Instant::now() + busy_timeout;
    loop {
        match conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0)) {
            Err(e)
                if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result.map_err(|e| sqlite_error(path, e)),
        }
    }
}

/// Creates tables, indexes and the version row in one transaction, so a crash
/// or a concurrent opener never sees half a schema; checks an existing one.
fn create_schema(conn: &mut Connection, path: &Path) -> Result<()> {
    // A file that already has the whole schema is only read: taking the write
    // lock would make opening wait for (and, after the busy timeout, fail on)
    // any other process holding it — a pipeline could not start next to a
    // stalled writer. Found by tests/stalled_by_another_process_lock.rs.
    if schema_is_complete(conn, path)? {
        return Ok(());
    }
    let on = |e| sqlite_error(path, e);
    // IMMEDIATE: two processes creating the same file serialize here instead of
    // failing to upgrade a read lock.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(on)?;
    check_schema_version(&tx, path)?;
    // Asked before the tables are created: a file without index runs that
    // holds entries was written before schema 3, and they need indexing.
    let key_lookup = KeyLookup::of_file(&tx, path)?;
    tx.execute_batch(&CREATE_TABLES).map_err(on)?;
    // Before the indexes: indexing a column an old table lacks would fail with
    // a confusing SQL error instead of saying what is wrong with the file.
    let schema_1: Vec<&str> = columns_of_schema(1).map(|c| c.name).collect();
    check_columns(&tx, path, ENTRIES, &schema_1)?;
    migrate(&tx, path, key_lookup)?;
    check_columns(&tx, path, "protocol_meta", &["key", "value"])?;
    tx.execute_batch(&CREATE_INDEXES).map_err(on)?;
    tx.execute(
        "INSERT INTO protocol_meta (key, value) VALUES ('schema_version', ?1)
         ON CONFLICT (key) DO NOTHING",
        [SCHEMA_VERSION.to_string()],
    )
    .map_err(on)?;
    tx.commit().map_err(on)
}

/// Brings an older table up to this build's schema: adds the columns it
/// lacks, indexes its entries' traces and sessions as index runs, drops the indexes
/// this schema no longer has (`codec::sqlite::DROPPED_INDEXES`) and those it
/// has with other columns, gives the
/// index runs of schema 3 and 4 their `count` (each of their rows is one
/// entry, the column's default), and records the new version. Runs inside
/// `create_schema`'s transaction, so a crash
/// leaves the file at its old version or the new one, never half-migrated; a
/// file already current (or created just now) is left as it is. Takes time
/// in proportion to the file (building the identity index and the run), once.
fn migrate(tx: &Connection, path: &Path, key_lookup: KeyLookup) -> Result<()> {
    let on = |e| sqlite_error(path, e);
    match key_lookup {
        KeyLookup::Indexes => index_runs::index_existing(tx).map_err(on)?,
        KeyLookup::RunPairs => tx
            .execute_batch(
                "ALTER TABLE protocol_index_runs ADD COLUMN count INTEGER NOT NULL DEFAULT 1",
            )
            .map_err(on)?,
        KeyLookup::RunRanges => {}
    }
    for index in DROPPED_INDEXES {
        // Fixed names from the codec, never input.
        tx.execute_batch(&format!("DROP INDEX IF EXISTS {index}"))
            .map_err(on)?;
    }
    // An index of this build's name but other columns (the identity of
    // schemas 3 to 5 lacked the event type) is dropped here and built anew
    // by `create_schema`.
    for index in INDEXES {
        let columns: Option<String> = tx
            .query_row(
                "SELECT group_concat(name, ', ') FROM
                     (SELECT name FROM pragma_index_info(?1) ORDER BY seqno)",
                [index.name],
                |row| row.get(0),
            )
            .map_err(on)?;
        if columns.is_some_and(|columns| columns != index.columns) {
            tx.execute_batch(&format!("DROP INDEX {}", index.name))
                .map_err(on)?;
        }
    }
    let present = column_names(tx, path, ENTRIES)?;
    for (column, sql_type) in columns_added_after(1) {
        if !present.iter().any(|p| p == column) {
            // Names and types are fixed text from this file, never input.
            tx.execute_batch(&format!(
                "ALTER TABLE protocol_entries ADD COLUMN {column} {sql_type}"
            ))
            .map_err(on)?;
        }
    }
    // Only ever raises the version: a newer file was refused before this.
    tx.execute(
        "UPDATE protocol_meta SET value = ?1 WHERE key = 'schema_version'
         AND CAST(value AS INTEGER) < ?2",
        params![SCHEMA_VERSION.to_string(), i64::from(SCHEMA_VERSION)],
    )
    .map_err(on)?;
    Ok(())
}

/// Whether the file already holds everything `create_schema` would create, at
/// a version this build supports (a newer version is an error, as on the
/// creating path). Reads only; anything missing sends the caller to the
/// locked, creating path, which checks again under the lock.
fn schema_is_complete(conn: &Connection, path: &Path) -> Result<bool> {
    let on = |e| sqlite_error(path, e);
    check_schema_version(conn, path)?;
    // An older version goes through the locked path, which migrates it.
    let current = SCHEMA_VERSION.to_string();
    if read_meta_value(conn, path, "schema_version")?.as_deref() != Some(current.as_str()) {
        return Ok(false);
    }
    let has_columns = |table: &str, needed: &[&str]| -> Result<bool> {
        let present = column_names(conn, path, table)?;
        Ok(needed.iter().all(|c| present.iter().any(|p| p == c)))
    };
    let all: Vec<&str> = columns_of_schema(SCHEMA_VERSION).map(|c| c.name).collect();
    if !has_columns(ENTRIES, &all)? || !has_columns("protocol_meta", &["key", "value"])? {
        return Ok(false);
    }
    let mut stmt = conn
        .prepare_cached("SELECT 1 FROM sqlite_schema WHERE type = 'index' AND name = ?1")
        .map_err(on)?;
    for index in INDEXES {
        if !stmt.exists([index.name]).map_err(on)? {
            return Ok(false);
        }
    }
    Ok(KeyLookup::of_file(conn, path)? == KeyLookup::RunRanges)
}

/// Makes sure the -wal and -shm files are owner-only too. SQLite creates them
/// with the database file's mode, so this normally finds nothing to do; it
/// guards against a file system or SQLite build that behaves otherwise.
fn restrict_side_files(path: &Path) -> Result<()> {
    #[cfg(unix)]
    for suffix in ["-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let side = with_suffix(path, suffix);
        let open_error = |source| ProtocolError::Open {
            path: side.clone(),
            source,
        };
        match std::fs::metadata(&side) {
            Ok(meta) if meta.permissions().mode() & 0o777 != 0o600 => {
                super::restrict_to_owner(&side).map_err(open_error)?;
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(open_error(e)),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The upkeep a batch is followed by under load. The writer merges index
/// runs while it is idle; under load that leaves it no idle moment, a step
/// after every batch once the runs pile up keeps the number a look-up probes
/// bounded. Likewise retention: a steady producer leaves no idle moment.
fn upkeep_under_load(
    conn: &mut Connection,
    unmerged_batches: &mut u32,
    retention: &mut Option<Retention>,
    batches_since_retention: &mut u32,
) -> rusqlite::Result<()> {
    *unmerged_batches = unmerged_batches.saturating_add(1);
    if *unmerged_batches >= MERGE_UNDER_LOAD_AFTER_BATCHES {
        index_runs::merge_step(conn)?;
    }
    if let Some(retention) = retention {
        *batches_since_retention = batches_since_retention.saturating_add(1);
        if *batches_since_retention >= RETENTION_UNDER_LOAD_AFTER_BATCHES {
            *batches_since_retention = 0;
            retention.step(conn)?;
        }
    }
    Ok(())
}

impl SqliteStorage {
    /// The open connection and the file's path, for maintenance beside
    /// writing (`retention`).
    pub(super) fn connection(&mut self) -> Result<(&mut Connection, &Path)> {
        match self.conn.as_mut() {
            Some(conn) => Ok((conn, &self.path)),
            None => Err(closed_error(&self.path)),
        }
    }
}

impl Storage for SqliteStorage {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()> {
        let Self {
            path,
            conn,
            checkpointer,
            encoder,
            unmerged_batches,
            retention,
            batches_since_retention,
            upkeep_warned,
            ..
        } = self;
        let conn = conn.as_mut().ok_or_else(|| closed_error(path))?;
        if entries.is_empty() {
            return Ok(());
        }
        if let Some(checkpointer) = checkpointer {
            checkpointer.start_if_ready(conn, path);
        }
        let on = |e| sqlite_error(path, e);
        // IMMEDIATE takes the write lock up front (waiting up to the busy
        // timeout), so the batch cannot fail half-way on a lock upgrade. If
        // anything below fails, dropping `tx` rolls the whole batch back.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(on)?;
        {
            let mut insert = RowInsert::prepare(&tx).map_err(on)?;
            // Every entry really inserted (a rewrite inserts nothing), for
            // the batch's index runs.
            let mut inserted: Vec<(&ProtocolEntry, i64)> = Vec::with_capacity(entries.len());
            // Stored rows whose session a later copy filled in (the fill rule).
            let mut sessions_filled: Vec<(&str, i64)> = Vec::new();
            for entry in entries {
                if encoder.insert(&mut insert, entry).map_err(|e| e.on(path))? == 1 {
                    inserted.push((entry, tx.last_insert_rowid()));
                } else if let Some(filled) = fill::fill_stored(&tx, entry).map_err(on)? {
                    if let (true, Some(session)) = (filled.session, entry.session_id.as_deref()) {
                        sessions_filled.push((session, filled.rowid));
                    }
                }
            }
            index_runs::append_runs(&tx, &inserted).map_err(on)?;
            index_runs::append_session_pairs(&tx, &mut sessions_filled).map_err(on)?;
        }
        encoder.shrink();
        tx.commit().map_err(on)?;
        // The batch is stored: what the upkeep below meets is the upkeep's
        // failure, warned about once and tried again after the next batch,
        // not the batch's. Returned as the batch's, it had the writer count a
        // write failure and write the stored entries again.
        match upkeep_under_load(conn, unmerged_batches, retention, batches_since_retention) {
            Ok(()) => *upkeep_warned = false,
            Err(error) => {
                if !std::mem::replace(upkeep_warned, true) {
                    tracing::warn!(path = %path.display(), %error,
                        "SQLite upkeep after a batch failed (the batch is stored); it is tried again after the next one");
                }
            }
        }
        Ok(())
    }

    /// One step of merging index runs (see `index_runs`), then, once they
    /// are merged, one step of retention, if asked for.
    fn maintain(&mut self) -> Result<bool> {
        let conn = self.conn.as_mut().ok_or_else(|| closed_error(&self.path))?;
        let more = index_runs::merge_step(conn).map_err(|e| sqlite_error(&self.path, e))?;
        if more {
            return Ok(true);
        }
        self.unmerged_batches = 0;
        match &mut self.retention {
            Some(retention) => retention
                .step(conn)
                .map_err(|e| sqlite_error(&self.path, e)),
            None => Ok(false),
        }
    }

    fn record_dropped(&mut self, total_dropped: u64) -> Result<()> {
        let conn = self.conn.as_ref().ok_or_else(|| closed_error(&self.path))?;
        let delta = total_dropped.saturating_sub(self.recorded_dropped);
        if delta == 0 {
            return Ok(());
        }
        conn.execute(ADD_DROPPED, [i64::try_from(delta).unwrap_or(i64::MAX)])
            .map_err(|e| sqlite_error(&self.path, e))?;
        self.recorded_dropped = total_dropped;
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        if let Some(mut checkpointer) = self.checkpointer.take() {
            checkpointer.stop(self.close_wait);
        }
        match self.conn.take() {
            // Closing the last connection checkpoints the WAL into the main
            // file. On failure the connection is dropped anyway: it is unusable.
            Some(conn) => conn.close().map_err(|(_, e)| sqlite_error(&self.path, e)),
            None => Ok(()),
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Instant;

    use serde_json::Value;

    use super::*;
    use crate::codec::columns::COLUMNS;
    use crate::entry::format_timestamp;
    use crate::read::{EntryFilter, ProtocolReader};
    use crate::test_entries::{bare_entry, full_entry};

    fn db_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("protocol.db")
    }

    /// A protocol file in `dir` made by running `sql`, as an older release
    /// left it.
    fn file_from_sql(dir: &tempfile::TempDir, sql: &str) -> PathBuf {
        let path = db_path(dir);
        Connection::open(&path).unwrap().execute_batch(sql).unwrap();
        path
    }

    #[test]
    fn a_failing_upkeep_after_a_batch_fails_neither_that_batch_nor_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        // Every merge step deletes the ranges it moved: make that fail, from
        // a second connection, as a broken file or another process might.
        let other = Connection::open(&path).unwrap();
        other
            .execute_batch(
                "CREATE TRIGGER injected_upkeep_failure BEFORE DELETE ON protocol_index_runs
                 BEGIN SELECT RAISE(ABORT, 'injected upkeep failure'); END;",
            )
            .unwrap();
        // Enough batches for the upkeep under load to run, and fail, a few times.
        let batches = MERGE_UNDER_LOAD_AFTER_BATCHES + 3;
        let logs = crate::test_logs::logs_of(|| {
            for n in 0..batches {
                storage.write_batch(&[full_entry(n)]).unwrap();
            }
        });
        assert_eq!(
            logs.matches("SQLite upkeep after a batch failed").count(),
            1,
            "one warning for the spell: {logs}"
        );
        assert!(logs.contains("injected upkeep failure"), "{logs}");
        let unmerged: i64 = other
            .query_row(
                "SELECT count(*) FROM protocol_index_run_list WHERE level = 0",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unmerged, 2 * i64::from(batches), "no merge step took");

        // Every entry stored once, and found by its trace once merging works.
        other
            .execute_batch("DROP TRIGGER injected_upkeep_failure")
            .unwrap();
        while storage.maintain().unwrap() {}
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap().len(),
            batches as usize
        );
        let trace = full_entry(0).trace_id;
        let in_trace = (0..batches).filter(|n| n % 3 == 0).count();
        assert_eq!(
            reader
                .query(&EntryFilter::default().with_trace(trace.as_str()))
                .unwrap()
                .len(),
            in_trace
        );
    }

    /// Reads every row through a second, raw connection as a map from column
    /// name to the JSON value it decodes to (JSON columns parsed, others as-is).
    fn raw_rows(path: &Path) -> Vec<BTreeMap<String, Value>> {
        let conn = Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {} FROM protocol_entries ORDER BY timestamp, entry_id",
                COLUMNS.map(|c| c.name).join(", ")
            ))
            .unwrap();
        stmt.query_map([], |row| {
            let mut map = BTreeMap::new();
            for (i, column) in COLUMNS.iter().map(|c| c.name).enumerate() {
                let value = match row.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => Value::Null,
                    rusqlite::types::ValueRef::Integer(n) => Value::from(n),
                    rusqlite::types::ValueRef::Real(f) => Value::from(f),
                    rusqlite::types::ValueRef::Text(t) => {
                        let text = std::str::from_utf8(t).unwrap();
                        if ["input", "output", "error", "attributes", "finish_reasons"]
                            .contains(&column)
                        {
                            serde_json::from_str(text).unwrap()
                        } else {
                            Value::from(text)
                        }
                    }
                    rusqlite::types::ValueRef::Blob(_) => panic!("blob in {column}"),
                };
                map.insert(column.to_owned(), value);
            }
            Ok(map)
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
    }

    /// Every column's value as JSON: what the entry serializes to, and null
    /// for the empty fields the JSON form leaves out.
    fn as_json_map(entry: &ProtocolEntry) -> BTreeMap<String, Value> {
        let Value::Object(map) = serde_json::to_value(entry).unwrap() else {
            panic!("an entry serializes as an object");
        };
        COLUMNS
            .iter()
            .map(|c| {
                (
                    c.name.to_owned(),
                    map.get(c.name).cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    fn row_count(path: &Path) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row("SELECT count(*) FROM protocol_entries", [], |r| r.get(0))
            .unwrap()
    }

    fn meta(path: &Path, key: &str) -> Option<String> {
        Connection::open(path)
            .unwrap()
            .query_row(
                "SELECT value FROM protocol_meta WHERE key = ?1",
                [key],
                |r| r.get(0),
            )
            .ok()
    }

    #[test]
    fn written_entries_read_back_field_for_field_from_a_second_connection() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let batch = vec![full_entry(1), bare_entry(2), full_entry(3)];
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&batch).unwrap();

        // Raw rusqlite, while the writer is still open: committed and visible.
        let rows = raw_rows(&path);
        let expected: Vec<_> = batch.iter().map(as_json_map).collect();
        assert_eq!(rows, expected);
        // The timestamp column holds the contract's text form.
        assert_eq!(
            rows[0]["timestamp"],
            Value::from(format_timestamp(&batch[0].timestamp))
        );
        // JSON columns are JSON text; absent values are SQL NULL, not "null".
        let conn = Connection::open(&path).unwrap();
        let (input, error_is_null): (String, bool) = conn
            .query_row(
                "SELECT (SELECT input FROM protocol_entries WHERE entry_id = ?1),
                        (SELECT error IS NULL FROM protocol_entries WHERE entry_id = ?2)",
                [&batch[0].entry_id, &batch[1].entry_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(input, serde_json::to_string(&batch[0].input).unwrap());
        assert!(error_is_null);

        // And the reader API returns the very same entries.
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(reader.query(&EntryFilter::default()).unwrap(), batch);
    }

    #[test]
    fn writing_the_same_batch_twice_stores_each_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let batch = vec![full_entry(1), full_entry(2)];
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&batch).unwrap();
        storage.write_batch(&batch).unwrap();
        // Also across a reopen, as a restarted process would do.
        storage.close().unwrap();
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&batch[..1]).unwrap();
        assert_eq!(row_count(&path), 2);
    }

    #[test]
    fn creates_schema_meta_indexes_and_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/protocol.db");
        let _storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        let conn = Connection::open(&path).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        let mut indexes: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index'
                 AND tbl_name = 'protocol_entries' AND sql IS NOT NULL ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        indexes.sort();
        assert_eq!(indexes, ["protocol_entries_identity"]);
        // No index keyed by a random id, and no UNIQUE on entry_id.
        let unique_autoindexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NULL
                 AND tbl_name = 'protocol_entries'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unique_autoindexes, 0);
        // A rowid table, as chosen for large rows.
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_schema WHERE name = 'protocol_entries'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!sql.to_ascii_uppercase().contains("WITHOUT ROWID"));
    }

    #[test]
    fn reopening_is_idempotent_and_keeps_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        storage.close().unwrap();
        for _ in 0..2 {
            let storage = SqliteStorage::open(&path).unwrap();
            drop(storage);
        }
        assert_eq!(row_count(&path), 1);
        let versions: i64 = Connection::open(&path)
            .unwrap()
            .query_row(
                "SELECT count(*) FROM protocol_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(versions, 1);
    }

    #[test]
    fn full_durability_sets_synchronous_full() {
        let dir = tempfile::tempdir().unwrap();
        let storage = SqliteStorage::builder(db_path(&dir))
            .with_durability(Durability::Full)
            .open()
            .unwrap();
        let conn = storage.conn.as_ref().unwrap();
        let level: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(level, 2, "FULL");
        let normal = SqliteStorage::open(dir.path().join("n.db")).unwrap();
        let level: i64 = normal
            .conn
            .as_ref()
            .unwrap()
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(level, 1, "NORMAL");
    }

    #[cfg(unix)]
    #[test]
    fn database_and_side_files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        for file in [
            path.clone(),
            with_suffix(&path, "-wal"),
            with_suffix(&path, "-shm"),
        ] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_existing_world_readable_file_is_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        std::fs::write(&path, b"").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _storage = SqliteStorage::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn garbage_bytes_are_reported_as_corrupt_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i * 7 + 13) as u8).collect();
        std::fs::write(&path, &garbage).unwrap();
        let err = SqliteStorage::open(&path).unwrap_err();
        assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        // Refusing the file must not have changed it.
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
    }

    #[test]
    fn a_protocol_table_without_the_needed_columns_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE protocol_entries (entry_id TEXT, timestamp TEXT)")
            .unwrap();
        let err = SqliteStorage::open(&path).unwrap_err();
        match &err {
            ProtocolError::Corrupt { path: p, reason } => {
                assert_eq!(p, &path);
                assert!(reason.contains("session_id"), "{reason}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn an_unwritable_path_is_an_open_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where a folder should be: fails even for root.
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let path = blocker.join("protocol.db");
        let err = SqliteStorage::open(&path).unwrap_err();
        assert!(matches!(err, ProtocolError::Open { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    /// The schema-1 table exactly as the previous release created it.
    const SCHEMA_1_TABLE: &str = "
CREATE TABLE protocol_entries (
    schema INTEGER NOT NULL, entry_id TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
    parent_span_id TEXT, session_id TEXT, service_name TEXT, agent_name TEXT,
    name TEXT NOT NULL, model TEXT, provider TEXT, tool_name TEXT, tool_call_id TEXT,
    input TEXT, output TEXT, input_tokens INTEGER, output_tokens INTEGER,
    duration_ms REAL, status TEXT NOT NULL, error TEXT, attributes TEXT
);
CREATE TABLE protocol_meta (key TEXT PRIMARY KEY, value TEXT);
INSERT INTO protocol_meta VALUES ('schema_version', '1');
INSERT INTO protocol_entries VALUES (1, 't:s:end', '2026-11-27T03:00:00.000000Z',
    'tool_end', 't', 's', NULL, 'conv-1', NULL, 'planner', 'search', NULL, NULL,
    'search', 'c1', '{\"q\":1}', '\"ok\"', NULL, NULL, 12.5, 'ok', NULL, NULL);
CREATE INDEX protocol_entries_session ON protocol_entries (session_id, timestamp);
CREATE INDEX protocol_entries_trace ON protocol_entries (trace_id, timestamp);
CREATE INDEX protocol_entries_timestamp ON protocol_entries (timestamp);
CREATE INDEX protocol_entries_event_type ON protocol_entries (event_type, timestamp);
";

    #[test]
    fn a_schema_1_file_is_read_as_is_then_migrated_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_from_sql(&dir, SCHEMA_1_TABLE);

        // A reader never changes the file: the new columns read as NULL.
        let old = crate::read::ProtocolReader::open(&path)
            .unwrap()
            .query(&crate::read::EntryFilter::default())
            .unwrap();
        assert_eq!((old.len(), old[0].schema), (1, 1));
        assert_eq!(old[0].input, Some(serde_json::json!({"q": 1}).into()));
        assert_eq!((old[0].operation.clone(), old[0].cost_usd), (None, None));
        assert_eq!(meta(&path, "schema_version").as_deref(), Some("1"));

        // Opening for writing migrates, in one transaction.
        let reader = crate::read::ProtocolReader::open(&path).unwrap();
        let by_trace = crate::read::EntryFilter::default().with_trace("t");
        assert_eq!(
            reader.query(&by_trace).unwrap().len(),
            1,
            "via the old index"
        );
        let mut storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        let indexes: Vec<String> = Connection::open(&path)
            .unwrap()
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL
                 ORDER BY name",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            indexes,
            ["protocol_entries_identity"],
            "the trace, session, time and event type indexes are gone"
        );
        // The old entry was indexed as a trace run: found through it now.
        assert_eq!(reader.query(&by_trace).unwrap().len(), 1, "via the runs");
        storage.write_batch(&[full_entry(1)]).unwrap();
        // The old UNIQUE (entry_id) and the identity index both hold.
        let mut again = full_entry(1);
        again.entry_id = "t:s:end".into();
        again.timestamp = "2026-11-27T03:00:00Z".parse().unwrap();
        storage.write_batch(&[full_entry(1), again]).unwrap();
        storage.close().unwrap();
        let rows = raw_rows(&path);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["entry_id"], Value::from("t:s:end"));
        // The second copy of the old entry's identity filled the field the
        // old schema lacked (the fill rule) and changed nothing else.
        assert_eq!(rows[0]["operation"], Value::from("execute_tool"));
        assert_eq!(rows[0]["input"], serde_json::json!({"q": 1}));
        assert_eq!(rows[1], as_json_map(&full_entry(1)));
        // A reader opened before the migration sees the new fields too.
        let read = reader.query(&crate::read::EntryFilter::default()).unwrap();
        assert_eq!(read.len(), 2);
        assert!(read.contains(&full_entry(1)));

        // Reopening an already migrated file changes nothing.
        SqliteStorage::open(&path).unwrap().close().unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        assert_eq!(raw_rows(&path).len(), 2);
    }

    /// A schema-2 file as the release before index runs wrote it: the
    /// tables and indexes of a file that build created (its `.schema`, laid
    /// out shorter here), with one model call end carrying the fields
    /// schema 2 added.
    const SCHEMA_2_FILE: &str = "
CREATE TABLE protocol_entries (
    schema INTEGER NOT NULL, entry_id TEXT NOT NULL UNIQUE, timestamp TEXT NOT NULL,
    event_type TEXT NOT NULL, trace_id TEXT NOT NULL, span_id TEXT NOT NULL,
    parent_span_id TEXT, session_id TEXT, service_name TEXT, agent_name TEXT,
    name TEXT NOT NULL, model TEXT, provider TEXT, tool_name TEXT, tool_call_id TEXT,
    input TEXT, output TEXT, input_tokens INTEGER, output_tokens INTEGER,
    duration_ms REAL, status TEXT NOT NULL, error TEXT, attributes TEXT,
    operation TEXT, cache_read_input_tokens INTEGER, cache_creation_input_tokens INTEGER,
    reasoning_tokens INTEGER, finish_reasons TEXT, cost_usd REAL, time_to_first_chunk_ms REAL
);
CREATE TABLE protocol_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE INDEX protocol_entries_session ON protocol_entries (session_id, timestamp);
CREATE INDEX protocol_entries_trace ON protocol_entries (trace_id, timestamp);
CREATE INDEX protocol_entries_timestamp ON protocol_entries (timestamp);
CREATE INDEX protocol_entries_event_type ON protocol_entries (event_type, timestamp);
INSERT INTO protocol_meta VALUES ('schema_version', '2');
INSERT INTO protocol_entries VALUES (2, 'old:llm:end', '2026-11-27T02:59:00.000000Z',
    'llm_end', '0000000000000000000000004bf92f35', '00000000000000aa', NULL, 'conv-0',
    'travel-agent', 'planner', 'chat gpt-4o', 'gpt-4o', 'openai', NULL, NULL, NULL,
    '\"ok\"', 412, 37, 900.0, 'ok', NULL, NULL, 'chat', 100, 0, 12, '[\"stop\"]', 0.0021, 310.5);
";

    #[test]
    fn a_schema_2_file_is_read_as_is_then_migrated_and_written_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_from_sql(&dir, SCHEMA_2_FILE);
        let old_trace = "0000000000000000000000004bf92f35";
        let by_session = EntryFilter::default().with_session("conv-0");
        let by_trace = EntryFilter::default().with_trace(old_trace);

        // Read as it is, through its own indexes, without changing it.
        let reader = ProtocolReader::open(&path).unwrap();
        let old = reader.query(&by_session).unwrap();
        assert_eq!(old.len(), 1);
        let call = &old[0];
        assert_eq!((call.schema, call.operation.as_deref()), (2, Some("chat")));
        assert_eq!(
            (call.cache_read_input_tokens, call.reasoning_tokens),
            (Some(100), Some(12))
        );
        assert_eq!(call.finish_reasons, Some(vec!["stop".to_owned()]));
        assert_eq!(
            (call.cost_usd, call.time_to_first_chunk_ms),
            (Some(0.0021), Some(310.5))
        );
        // Schema 4's cost columns are not in the file: a cost it holds reads
        // as reported by the source, nothing reads as unpriced.
        assert_eq!(
            (call.cost_source, call.unpriced_tokens),
            (Some(crate::entry::CostSource::Reported), None)
        );
        assert_eq!(reader.query(&by_trace).unwrap(), old);
        assert_eq!(meta(&path, "schema_version").as_deref(), Some("2"));

        // Opening for writing migrates it: the random-key indexes give way
        // to the identity index, the old entry is indexed in runs.
        let mut storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        let indexes: Vec<String> = entry_indexes(&path)
            .into_iter()
            .filter(|(name, _)| !name.starts_with("sqlite_autoindex"))
            .map(|(name, _)| name)
            .collect();
        assert_eq!(indexes, ["protocol_entries_identity"]);
        assert_eq!(reader.query(&by_session).unwrap(), old, "via the runs");
        assert_eq!(reader.query(&by_trace).unwrap(), old, "via the runs");

        // Written on: full_entry(0) shares the old entry's trace and session,
        // and writing it twice (a retry) stores it once.
        storage.write_batch(&[full_entry(0)]).unwrap();
        storage.write_batch(&[full_entry(0)]).unwrap();
        storage.close().unwrap();
        assert_eq!(raw_rows(&path).len(), 2);
        let both = reader.query(&by_session).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(both[0], old[0]);
        assert_eq!(both[1], full_entry(0));
        assert_eq!(reader.query(&by_trace).unwrap(), both);
        let sessions = reader
            .sessions(&crate::read::SessionFilter::default())
            .unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(
            (sessions[0].id.as_str(), sessions[0].entries),
            ("conv-0", 2)
        );
        assert_eq!(sessions[0].input_tokens, 412, "the old model call's tokens");
    }

    /// The columns of each index on `protocol_entries`, by name.
    fn entry_indexes(path: &Path) -> Vec<(String, String)> {
        Connection::open(path)
            .unwrap()
            .prepare(
                "SELECT i.name, (SELECT group_concat(name, ', ') FROM
                     (SELECT name FROM pragma_index_info(i.name) ORDER BY seqno))
                 FROM sqlite_schema AS i WHERE i.type = 'index'
                 AND i.tbl_name = 'protocol_entries' ORDER BY i.name",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_schema_5_file_gets_the_event_type_in_its_identity_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let batch: Vec<ProtocolEntry> = (0..6)
            .map(|n| {
                let mut entry = full_entry(n);
                if n % 2 == 0 {
                    entry.event_type = crate::entry::EventType::ToolStart;
                }
                entry
            })
            .collect();
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&batch).unwrap();
        storage.close().unwrap();
        // The indexes of schemas 3 to 5.
        Connection::open(&path)
            .unwrap()
            .execute_batch(
                "DROP INDEX protocol_entries_identity;
                 CREATE UNIQUE INDEX protocol_entries_identity
                     ON protocol_entries (timestamp, entry_id);
                 CREATE INDEX protocol_entries_event_type
                     ON protocol_entries (event_type, timestamp);
                 UPDATE protocol_meta SET value = '5' WHERE key = 'schema_version';",
            )
            .unwrap();
        let by_type = crate::read::EntryFilter::default().with_event_type(batch[1].event_type);
        let reader = crate::read::ProtocolReader::open(&path).unwrap();
        let typed = reader.query(&by_type).unwrap();
        assert_eq!(typed.len(), 3);
        assert_eq!(
            meta(&path, "schema_version").as_deref(),
            Some("5"),
            "read as it is"
        );

        let mut storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        assert_eq!(
            entry_indexes(&path),
            [(
                "protocol_entries_identity".to_owned(),
                "timestamp, entry_id, event_type".to_owned()
            )]
        );
        // Every entry again, and one new: stored once, the new one added.
        let mut again = batch.clone();
        again.push(full_entry(6));
        storage.write_batch(&again).unwrap();
        storage.close().unwrap();
        assert_eq!(raw_rows(&path).len(), 7);
        // The reader opened before the migration reads the new layout.
        assert_eq!(reader.query(&by_type).unwrap().len(), typed.len() + 1);
        // Reopening changes nothing.
        SqliteStorage::open(&path).unwrap().close().unwrap();
        assert_eq!(entry_indexes(&path).len(), 1);
        assert_eq!(raw_rows(&path).len(), 7);
    }

    /// Rewrites a file's index runs the way schemas 3 and 4 wrote them: a
    /// row per entry, no `count`.
    fn index_runs_as_in_schema_4(path: &Path) {
        Connection::open(path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE pairs (run INTEGER NOT NULL, key TEXT NOT NULL,
                     entry INTEGER NOT NULL, PRIMARY KEY (run, key, entry)) WITHOUT ROWID;
                 WITH RECURSIVE rowids (run, key, entry, last) AS (
                     SELECT run, key, entry, entry + count - 1 FROM protocol_index_runs
                     UNION ALL
                     SELECT run, key, entry + 1, last FROM rowids WHERE entry < last)
                 INSERT INTO pairs SELECT run, key, entry FROM rowids;
                 DROP TABLE protocol_index_runs;
                 ALTER TABLE pairs RENAME TO protocol_index_runs;
                 UPDATE protocol_meta SET value = '4' WHERE key = 'schema_version';",
            )
            .unwrap();
    }

    #[test]
    fn a_schema_4_file_is_read_as_is_then_its_runs_get_counts() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        // Entries of one trace side by side: ranges of three.
        let batch: Vec<ProtocolEntry> = [0, 3, 6, 1, 4, 7, 2, 5, 8]
            .into_iter()
            .map(full_entry)
            .collect();
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&batch).unwrap();
        storage.close().unwrap();
        let rows = |path: &Path| -> i64 {
            Connection::open(path)
                .unwrap()
                .query_row("SELECT count(*) FROM protocol_index_runs", [], |r| r.get(0))
                .unwrap()
        };
        // Three trace ranges; sessions alternate, so six session ranges.
        assert_eq!(rows(&path), 3 + 9);
        index_runs_as_in_schema_4(&path);
        assert_eq!(rows(&path), 9 + 9);

        let trace = batch[0].trace_id.clone();
        let by_trace = crate::read::EntryFilter::default().with_trace(trace.as_str());
        let by_session = crate::read::EntryFilter::default().with_session("conv-0");
        let reader = crate::read::ProtocolReader::open(&path).unwrap();
        assert_eq!(reader.query(&by_trace).unwrap().len(), 3, "read as it is");
        assert_eq!(reader.query(&by_session).unwrap().len(), 5);

        let mut storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(
            meta(&path, "schema_version"),
            Some(SCHEMA_VERSION.to_string())
        );
        // One batch short of a merge's worth more: `FANOUT` runs per field,
        // merged into one.
        let end = 9 + u32::try_from(index_runs::FANOUT - 1).unwrap();
        for n in 9..end {
            storage.write_batch(&[full_entry(n)]).unwrap();
        }
        // `full_entry(n)` is in trace `n % 3` and session `conv-{n % 2}`.
        let (in_trace, in_session) = (
            (0..end).filter(|n| n % 3 == 0).count(),
            (0..end).filter(|n| n % 2 == 0).count(),
        );
        while storage.maintain().unwrap() {}
        storage.close().unwrap();
        let levels: Vec<i64> = Connection::open(&path)
            .unwrap()
            .prepare("SELECT level FROM protocol_index_run_list ORDER BY run")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(levels, [1, 1], "one merged run per field");
        // The old rows kept their meaning (one entry each) through the merge
        // with new ranges, and the reader opened before the migration finds
        // both.
        assert_eq!(reader.query(&by_trace).unwrap().len(), in_trace);
        assert_eq!(reader.query(&by_session).unwrap().len(), in_session);
        let fresh = crate::read::ProtocolReader::open(&path).unwrap();
        assert_eq!(fresh.query(&by_trace).unwrap().len(), in_trace);
        assert_eq!(
            fresh
                .query(&crate::read::EntryFilter::default())
                .unwrap()
                .len(),
            end as usize
        );
    }

    #[test]
    fn every_reading_path_works_read_only_on_a_schema_1_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_from_sql(&dir, SCHEMA_1_TABLE);
        let reader = crate::read::ProtocolReader::open(&path).unwrap();

        // Following (tail -f, convert) and checking select the file's own
        // columns, not the current build's.
        let mut position = crate::read::ReadPosition::start();
        let followed = reader.read_from(&mut position, 100).unwrap();
        assert_eq!(followed.len(), 1);
        assert_eq!(followed[0].entry_id, "t:s:end");
        let report = reader.check().unwrap();
        assert_eq!(report.entries, 1, "{report:?}");
        let sessions = reader
            .sessions(&crate::read::SessionFilter::default())
            .unwrap();
        assert_eq!(sessions.len(), 1);
        assert_eq!(meta(&path, "schema_version").as_deref(), Some("1"));
    }

    #[test]
    fn a_newer_schema_version_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        SqliteStorage::open(&path).unwrap().close().unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE protocol_meta SET value = ?1 WHERE key = 'schema_version'",
                [(SCHEMA_VERSION + 1).to_string()],
            )
            .unwrap();
        let err = SqliteStorage::open(&path).unwrap_err();
        assert!(
            matches!(
                err,
                ProtocolError::UnsupportedSchema {
                    found,
                    supported,
                    ..
                } if found == supported + 1 && supported == i64::from(SCHEMA_VERSION)
            ),
            "{err:?}"
        );
    }

    #[test]
    fn two_connections_creating_one_file_at_once_both_open() {
        // Found by tests/two_processes_write_one_sqlite_file.rs: the loser of
        // the race to switch a new file to WAL got SQLITE_BUSY at once.
        for _ in 0..30 {
            let dir = tempfile::tempdir().unwrap();
            let path = db_path(&dir);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
            let openers: Vec<_> = (0..2)
                .map(|_| {
                    let (path, barrier) = (path.clone(), barrier.clone());
                    std::thread::spawn(move || {
                        barrier.wait();
                        SqliteStorage::open(&path).map(drop)
                    })
                })
                .collect();
            for opener in openers {
                opener.join().unwrap().expect("both openers succeed");
            }
        }
    }

    #[test]
    fn an_existing_protocol_opens_while_another_connection_holds_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        drop(SqliteStorage::open(&path).unwrap());
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let started = Instant::now();
        let storage = SqliteStorage::builder(&path)
            .with_busy_timeout(Duration::from_secs(30))
            .open();
        assert!(storage.is_ok(), "{storage:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn a_held_write_lock_times_out_then_the_retry_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let timeout = Duration::from_millis(200);
        let mut storage = SqliteStorage::builder(&path)
            .with_busy_timeout(timeout)
            .open()
            .unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();

        let batch = [full_entry(1), full_entry(2)];
        let started = Instant::now();
        let err = storage.write_batch(&batch).unwrap_err();
        let waited = started.elapsed();
        assert!(waited >= timeout.mul_f32(0.9), "gave up after {waited:?}");
        assert!(waited < Duration::from_secs(3), "waited {waited:?}");
        assert!(
            matches!(&err, ProtocolError::Sqlite { source, .. }
                if source.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)),
            "{err:?}"
        );

        other.execute_batch("COMMIT").unwrap();
        storage.write_batch(&batch).unwrap();
        assert_eq!(row_count(&path), 2);
    }

    #[test]
    fn a_full_disk_rolls_back_the_whole_batch_and_the_retry_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(0)]).unwrap();
        let conn = storage.conn.as_ref().unwrap();
        let pages: i64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        // SQLite's own "disk full": the file may not grow past its size now.
        conn.pragma_update(None, "max_page_count", pages).unwrap();

        let mut big = full_entry(1);
        big.output = Some(crate::entry::Content::text(&"x".repeat(256 * 1024)));
        let batch = vec![full_entry(2), big, full_entry(3)];
        let err = storage.write_batch(&batch).unwrap_err();
        assert!(
            matches!(&err, ProtocolError::Sqlite { source, .. }
                if source.sqlite_error_code() == Some(ErrorCode::DiskFull)),
            "{err:?}"
        );
        assert_eq!(
            row_count(&path),
            1,
            "nothing of the failed batch is visible"
        );

        let conn = storage.conn.as_ref().unwrap();
        conn.pragma_update(None, "max_page_count", 1_000_000)
            .unwrap();
        storage.write_batch(&batch).unwrap();
        let read = ProtocolReader::open(&path)
            .unwrap()
            .query(&EntryFilter::default())
            .unwrap();
        // In timestamp order: the big entry is full_entry(1)'s slot.
        let expected = [&full_entry(0), &batch[1], &batch[0], &batch[2]];
        assert_eq!(read.len(), expected.len());
        assert!(read.iter().zip(expected).all(|(a, b)| a == b));
    }

    #[test]
    fn dropped_counts_accumulate_across_storages() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        assert_eq!(meta(&path, "dropped_entries"), None);
        storage.record_dropped(0).unwrap();
        assert_eq!(meta(&path, "dropped_entries"), None);
        storage.record_dropped(5).unwrap();
        storage.record_dropped(5).unwrap();
        storage.record_dropped(7).unwrap();
        assert_eq!(meta(&path, "dropped_entries").as_deref(), Some("7"));
        storage.close().unwrap();
        // A restarted pipeline counts from zero; the file keeps the sum.
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.record_dropped(2).unwrap();
        assert_eq!(meta(&path, "dropped_entries").as_deref(), Some("9"));
        assert_eq!(
            ProtocolReader::open(&path)
                .unwrap()
                .meta()
                .unwrap()
                .dropped_entries,
            9
        );
    }

    #[test]
    fn close_is_idempotent_and_later_writes_fail_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        storage.close().unwrap();
        storage.close().unwrap();
        let err = storage.write_batch(&[full_entry(2)]).unwrap_err();
        assert!(
            matches!(&err, ProtocolError::Closed { path: p } if *p == path),
            "{err:?}"
        );
        assert!(storage.record_dropped(3).is_err());
        assert_eq!(storage.describe(), path.display().to_string());
        // Closing the only connection checkpointed and removed the WAL.
        assert!(!with_suffix(&path, "-wal").exists());
        assert_eq!(row_count(&path), 1);
    }

    #[test]
    fn out_of_range_token_counts_are_clamped_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let path = db_path(&dir);
        let mut entry = full_entry(1);
        entry.input_tokens = Some(u64::MAX);
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[entry]).unwrap();
        let read = ProtocolReader::open(&path)
            .unwrap()
            .query(&EntryFilter::default())
            .unwrap();
        assert_eq!(read[0].input_tokens, Some(i64::MAX as u64));
    }
}
