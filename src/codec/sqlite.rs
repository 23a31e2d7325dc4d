//! The SQLite layout, shared by the writer (`storage::sqlite`) and the reader
//! (`read::sqlite`): the tables and indexes, the INSERT, an entry's binding
//! and a row's decoding — all derived from [`COLUMNS`] — and the checks both
//! sides make on an existing file.
//!
//! Table `protocol_entries` has one column per field (JSON-valued fields as
//! JSON text, timestamps as RFC 3339 microsecond text, which sorts
//! chronologically); table `protocol_meta(key, value)` holds
//! `schema_version` and `dropped_entries`; `protocol_index_runs` and
//! `protocol_index_run_list` find a trace's or a session's entries (see
//! `storage::index_runs`).
//!
//! The one index an insert touches grows at its end (it starts with the
//! time), never where a random or interleaved key falls:
//! an index keyed by trace, entry or session id puts the inserts of one
//! commit on as many B-tree pages as it has different keys, so a commit of a
//! few thousand entries rewrote megabytes of pages (about 8 KB of WAL per
//! 550-byte row) and writing ran at a sixth of what the same rows cost
//! without such an index.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::LazyLock;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ErrorCode, Row};

use super::columns::{self, columns_of_schema, Cell, Raw, COLUMNS};
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// The entries table.
pub(crate) const ENTRIES: &str = "protocol_entries";

/// The tables, derived from [`COLUMNS`]. A rowid table (not `WITHOUT
/// ROWID`): rows carry content and can be large, which rowid tables store
/// more efficiently, and the rowid is the order entries were written in.
pub(crate) static CREATE_TABLES: LazyLock<String> = LazyLock::new(|| {
    let mut sql = format!("CREATE TABLE IF NOT EXISTS {ENTRIES} (");
    for (i, column) in COLUMNS.iter().enumerate() {
        let separator = if i == 0 { "" } else { "," };
        let not_null = if column.required { " NOT NULL" } else { "" };
        let _ = write!(
            sql,
            "{separator}\n    {} {}{not_null}",
            column.name,
            column.kind.sqlite_type()
        );
    }
    sql.push_str("\n);\n");
    sql.push_str(CREATE_OTHER_TABLES);
    sql
});

/// The meta table and the index runs: a trace's or session's entries are
/// found through sorted runs of `(key, first rowid, count)` ranges, one run
/// appended per batch and field and merged in bounded steps
/// (`storage::index_runs`), instead of through B-tree indexes on those ids.
/// `count` came with schema 5 (before, each row was one entry: the default).
const CREATE_OTHER_TABLES: &str = "CREATE TABLE IF NOT EXISTS protocol_meta (
    key   TEXT PRIMARY KEY,
    value TEXT
);
CREATE TABLE IF NOT EXISTS protocol_index_runs (
    run   INTEGER NOT NULL,
    key   TEXT    NOT NULL,
    entry INTEGER NOT NULL,
    count INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (run, key, entry)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS protocol_index_run_list (
    run          INTEGER PRIMARY KEY,
    field        TEXT    NOT NULL,
    level        INTEGER NOT NULL,
    merging_into INTEGER
);
";

/// A field found through index runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunField {
    /// `trace_id`.
    Trace,
    /// `session_id` (entries without one are not in its runs).
    Session,
}

impl RunField {
    pub(crate) const ALL: [RunField; 2] = [RunField::Trace, RunField::Session];

    /// The column, and the `field` of its runs.
    pub(crate) fn name(self) -> &'static str {
        match self {
            RunField::Trace => "trace_id",
            RunField::Session => "session_id",
        }
    }

    /// The entry's key in this field's runs.
    pub(crate) fn key_of(self, entry: &ProtocolEntry) -> Option<&str> {
        match self {
            RunField::Trace => Some(&entry.trace_id),
            RunField::Session => entry.session_id.as_deref(),
        }
    }
}

/// The one index of `protocol_entries`: the entry's identity, which starts
/// with the time, so it also answers time windows (in time order), and ends
/// with the event type, so a walk of it decides a filter by type without
/// reading the rows it rejects (a read by type over all time scans the
/// table instead). Traces and sessions are found
/// through index runs.
///
/// The identity is `(timestamp, entry_id)` rather than `entry_id` alone: an
/// entry id always comes with the same timestamp (a start entry's is its
/// span's start, an end entry's its end), so it identifies the entry just as
/// well, and it keeps the index in time order. The event type comes with
/// the entry id too (it is the kind of the span's start or end), so adding
/// it makes no two copies of one entry different keys.
///
/// One index, not a second one on `(event_type, timestamp)` (schemas 3–5):
/// that index took inserts at one place per event type, each a seek through
/// its own part of the tree comparing type and time, and cost a quarter of
/// inserting a row: 24 200 instructions an entry with it, 18 100 with the
/// type at the end of the identity instead, 17 800 with no type at all
/// (callgrind of `insert_rows` on the tool burst's 40 000 entries) — the
/// time decides nearly every comparison, so the extra column is all but
/// free.
pub(crate) const INDEXES: [Index; 1] = [Index {
    name: "protocol_entries_identity",
    columns: "timestamp, entry_id, event_type",
    unique: true,
}];

/// The indexes files of older schemas had and this one drops: the trace,
/// session and time indexes of files before schema 3 (index runs replace
/// the first two; the identity index starts with the time) and the event
/// type index of schemas 3 to 5 (the identity index ends with the type).
/// Files before schema 3 keep their `UNIQUE` constraint on `entry_id`,
/// which only rebuilding the table could remove.
pub(crate) const DROPPED_INDEXES: [&str; 4] = [
    "protocol_entries_trace",
    "protocol_entries_session",
    "protocol_entries_timestamp",
    "protocol_entries_event_type",
];

/// An index of `protocol_entries`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Index {
    pub(crate) name: &'static str,
    pub(crate) columns: &'static str,
    pub(crate) unique: bool,
}

/// The statement creating [`INDEXES`].
pub(crate) static CREATE_INDEXES: LazyLock<String> = LazyLock::new(|| {
    INDEXES
        .iter()
        .map(|index| {
            let unique = if index.unique { "UNIQUE " } else { "" };
            format!(
                "CREATE {unique}INDEX IF NOT EXISTS {} ON {ENTRIES} ({});\n",
                index.name, index.columns
            )
        })
        .collect()
});

/// The INSERT of one entry, its parameters in [`COLUMNS`] order.
///
/// `ON CONFLICT DO NOTHING` rather than `INSERT OR IGNORE`: both make a
/// rewrite of the same entry a no-op, but `OR IGNORE` would also silently
/// skip a row that broke a `NOT NULL` constraint, hiding a bug as data loss.
/// No conflict target: the identity index is the only uniqueness constraint
/// of a file created since schema 3, and a file migrated from an older schema also keeps
/// its `UNIQUE (entry_id)`; either one makes the rewrite a no-op.
pub(crate) static INSERT: LazyLock<String> = LazyLock::new(|| {
    let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
    let marks: Vec<String> = (1..=COLUMNS.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {ENTRIES} ({}) VALUES ({}) ON CONFLICT DO NOTHING",
        names.join(", "),
        marks.join(", ")
    )
});

/// Makes `conn` keep a prepared statement's plan whatever values are bound.
///
/// SQLite (3.54) marks a statement with `column = ?` for re-preparing when
/// a bound value may change its plan, and `sqlite3_clear_bindings` — which
/// rusqlite calls on every cached statement it takes back — then expires it:
/// each use of a cached look-up was parsed and planned anew. That was a
/// quarter of `sessions` on 1 000 000 entries (callgrind of `--scenario
/// read_1m`; every session look-up went through `sqlite3Reprepare`). The
/// plans here never depend on a bound value (no `LIKE` on a parameter, no
/// `ANALYZE` statistics), so the query planner's stability guarantee costs
/// nothing.
pub(crate) fn keep_plans(conn: &Connection, path: &Path) -> Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )
    .map(drop)
    .map_err(|e| sqlite_error(path, e))
}

/// How a file finds a trace's or a session's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KeyLookup {
    /// B-tree indexes on `trace_id` and `session_id` (before schema 3).
    Indexes,
    /// Index runs of one `(key, rowid)` row per entry (schemas 3 and 4).
    RunPairs,
    /// Index runs of `(key, first rowid, count)` ranges (since schema 5).
    RunRanges,
}

impl KeyLookup {
    /// The file's way, read from its tables.
    pub(crate) fn of_file(conn: &Connection, path: &Path) -> Result<Self> {
        let (runs, ranges): (bool, bool) = conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_schema
                                WHERE type = 'table' AND name = 'protocol_index_run_list'),
                        EXISTS (SELECT 1 FROM pragma_table_info('protocol_index_runs')
                                WHERE name = 'count')",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(|e| sqlite_error(path, e))?;
        Ok(match (runs, ranges) {
            (false, _) => KeyLookup::Indexes,
            (true, false) => KeyLookup::RunPairs,
            (true, true) => KeyLookup::RunRanges,
        })
    }

    /// The query of the rowids of the entries with a key in a field (the
    /// key, then the field's name, bound as parameters); `None` for a file
    /// that finds them through B-tree indexes.
    pub(crate) fn rowids_sql(self) -> Option<&'static str> {
        match self {
            KeyLookup::Indexes => None,
            KeyLookup::RunPairs => Some(RUN_PAIR_ROWIDS),
            KeyLookup::RunRanges => Some(RUN_ROWIDS),
        }
    }
}

/// The rowids of the entries with a key in a field (the key, then the
/// field's name, bound as parameters), probing each run of the field through
/// its primary key, then reading each range's rowids off the table's own
/// B-tree (a range of the integer primary key: the pages a read of those
/// rows visits anyway). `CROSS JOIN` fixes the order: with no statistics,
/// SQLite would otherwise scan every range and look its run up, instead of
/// seeking into each (few) run. Against counting the ranges out with a
/// recursive CTE, `sessions` (50 look-ups) on 1 000 000 entries took
/// 10.7 ms instead of 12.1 (`--scenario read_1m`).
pub(crate) const RUN_ROWIDS: &str = "SELECT e.rowid FROM protocol_index_run_list AS l
    CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = ?
    CROSS JOIN protocol_entries AS e ON e.rowid BETWEEN t.entry AND t.entry + t.count - 1
    WHERE l.field = ?";

/// [`RUN_ROWIDS`] for a file of schema 3 or 4, read as it is: one row per
/// entry, no `count`.
const RUN_PAIR_ROWIDS: &str = "SELECT t.entry FROM protocol_index_run_list AS l
    CROSS JOIN protocol_index_runs AS t ON t.run = l.run AND t.key = ?
    WHERE l.field = ?";

/// The columns a file written at `schema` lacks, with their SQL types: what
/// migrating it to this build's schema adds.
pub(crate) fn columns_added_after(
    schema: u32,
) -> impl Iterator<Item = (&'static str, &'static str)> {
    COLUMNS
        .iter()
        .filter(move |c| c.since_schema > schema)
        .map(|c| (c.name, c.kind.sqlite_type()))
}

/// "The step failed", in SQL: the same test as [`ProtocolEntry::is_error`].
pub(crate) const IS_ERROR: &str = "(status = 'error' OR error IS NOT NULL)";

/// The prepared [`INSERT`] of one batch, and which of its parameters are
/// bound to NULL. Most of an entry's columns are empty, and SQLite keeps a
/// statement's bindings from one row to the next: a NULL already bound is
/// not bound again. Binding each of some twenty NULLs a row anew held our
/// storage alone at 149 000 entries/s on the tool burst, against 160 000
/// without (`--scenario sqlite_storage_tool_burst`, means of three).
pub(crate) struct RowInsert<'conn> {
    statement: rusqlite::CachedStatement<'conn>,
    null_bound: [bool; COLUMNS.len()],
}

impl<'conn> RowInsert<'conn> {
    /// Prepares (or takes from the cache) [`INSERT`] on `conn`, every
    /// parameter NULL.
    pub(crate) fn prepare(conn: &'conn Connection) -> rusqlite::Result<Self> {
        let mut statement = conn.prepare_cached(&INSERT)?;
        statement.clear_bindings();
        Ok(RowInsert {
            statement,
            null_bound: [true; COLUMNS.len()],
        })
    }
}

/// Binds entries to the [`INSERT`] statement, serializing JSON values and
/// timestamps into buffers it keeps, so a batch allocates once per column
/// rather than once per value.
#[derive(Debug, Default)]
pub(crate) struct RowEncoder {
    buffers: Vec<Vec<u8>>,
}

impl RowEncoder {
    /// Above this, a buffer is released after the batch rather than kept: one
    /// huge value should not pin its memory for the life of the storage.
    const KEEP_CAPACITY: usize = 1 << 20;

    /// Inserts `entry` through `insert`; returns the number of rows inserted
    /// (0 when the entry was already stored).
    pub(crate) fn insert(
        &mut self,
        insert: &mut RowInsert<'_>,
        entry: &ProtocolEntry,
    ) -> std::result::Result<usize, EncodeError> {
        self.buffers.resize_with(COLUMNS.len(), Vec::new);
        for (column, buffer) in COLUMNS.iter().zip(&mut self.buffers) {
            buffer.clear();
            match (column.get)(entry) {
                Cell::Json(value) => value.write_json(buffer).map_err(EncodeError::Json)?,
                // The contract's own formatter keeps the stored text identical
                // to the JSON Lines form by construction.
                Cell::Timestamp(ts) => buffer
                    .extend_from_slice(crate::entry::TimestampText::of(ts).as_str().as_bytes()),
                _ => {}
            }
        }
        let RowInsert {
            statement,
            null_bound,
        } = insert;
        for (i, (column, buffer)) in COLUMNS.iter().zip(&self.buffers).enumerate() {
            let value = match (column.get)(entry) {
                Cell::Null if null_bound[i] => continue,
                Cell::Null => ValueRef::Null,
                Cell::Text(text) => ValueRef::Text(text.as_bytes()),
                Cell::Integer(n) => ValueRef::Integer(n),
                Cell::Real(f) => ValueRef::Real(f),
                // serde_json writes UTF-8 and so does the formatter: binding
                // the bytes as TEXT is sound.
                Cell::Json(_) | Cell::Timestamp(_) => ValueRef::Text(buffer),
            };
            // Unknown until the bind succeeds: a failed bind ends the batch.
            null_bound[i] = false;
            statement
                .raw_bind_parameter(i + 1, ToSqlOutput::Borrowed(value))
                .map_err(EncodeError::Sqlite)?;
            null_bound[i] = value == ValueRef::Null;
        }
        statement.raw_execute().map_err(EncodeError::Sqlite)
    }

    /// Releases buffers that one huge value grew.
    pub(crate) fn shrink(&mut self) {
        for buffer in &mut self.buffers {
            if buffer.capacity() > Self::KEEP_CAPACITY {
                *buffer = Vec::new();
            }
        }
    }
}

/// Why an entry could not be inserted.
#[derive(Debug)]
pub(crate) enum EncodeError {
    /// A JSON value did not serialize.
    Json(serde_json::Error),
    /// SQLite refused the row or the statement.
    Sqlite(rusqlite::Error),
}

impl EncodeError {
    /// The error as the crate reports it, naming the file.
    pub(crate) fn on(self, path: &Path) -> ProtocolError {
        match self {
            EncodeError::Json(e) => ProtocolError::Json(e),
            EncodeError::Sqlite(e) => sqlite_error(path, e),
        }
    }
}

/// Builds an entry from a row whose columns, from `first` on, are the
/// [`COLUMNS`] (a select list from [`select_list`]); the error names the
/// column that did not decode.
pub(crate) fn decode_row(
    row: &Row<'_>,
    first: usize,
) -> std::result::Result<ProtocolEntry, String> {
    let mut failed = None;
    let values = (0..COLUMNS.len()).map_while(|i| match row.get_ref(first + i) {
        Ok(value) => Some(raw(value)),
        Err(e) => {
            failed = Some(format!("column {}: {e}", COLUMNS[i].name));
            None
        }
    });
    let decoded = columns::decode(values);
    match failed {
        Some(reason) => Err(reason),
        None => decoded,
    }
}

fn raw(value: ValueRef<'_>) -> Raw<'_> {
    match value {
        ValueRef::Null => Raw::Null,
        ValueRef::Integer(n) => Raw::Integer(n),
        ValueRef::Real(f) => Raw::Real(f),
        ValueRef::Text(bytes) => Raw::Text(bytes),
        ValueRef::Blob(_) => Raw::Blob,
    }
}

/// Which columns a read selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every field.
    All,
    /// Every field but content (inputs, outputs, attributes), which read as
    /// empty: for reads that count and time steps.
    WithoutContent,
}

impl Selection {
    /// Whether a read of this selection leaves `column` out (reads it as
    /// NULL).
    pub(crate) fn leaves_out(self, column: &columns::Column) -> bool {
        match self {
            Selection::All => false,
            Selection::WithoutContent => column.content,
        }
    }
}

/// The SELECT list of [`COLUMNS`] for a file whose table has the columns
/// `present`: a column the file lacks (a schema-1 file no writer has migrated
/// yet) or that `selection` leaves out reads as NULL.
pub(crate) fn select_list(present: &[String], selection: Selection) -> String {
    COLUMNS
        .iter()
        .map(|column| {
            if selection.leaves_out(column) || !present.iter().any(|p| p == column.name) {
                format!("NULL AS {}", column.name)
            } else {
                column.name.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Checks that an existing database is a protocol this build can read (its
/// schema version is not newer and `protocol_entries` has every schema-1
/// column) and returns the entry columns it has. Reads only.
pub(crate) fn verify_protocol_schema(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    check_schema_version(conn, path)?;
    let schema_1: Vec<&str> = columns_of_schema(1).map(|c| c.name).collect();
    check_columns(conn, path, ENTRIES, &schema_1)?;
    column_names(conn, path, ENTRIES)
}

/// Fails when `protocol_meta` records a schema version this build does not know.
/// A file without `protocol_meta` (new, or not yet initialised) passes.
pub(crate) fn check_schema_version(conn: &Connection, path: &Path) -> Result<()> {
    let Some(found) = read_meta_value(conn, path, "schema_version")? else {
        return Ok(());
    };
    let supported = i64::from(SCHEMA_VERSION);
    match found.parse::<i64>() {
        Ok(version) if version > supported => Err(ProtocolError::UnsupportedSchema {
            path: path.to_path_buf(),
            found: version,
            supported,
        }),
        Ok(version) if version >= 1 => Ok(()),
        _ => Err(ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("protocol_meta has an invalid schema_version {found:?}"),
        }),
    }
}

/// Reads one `protocol_meta` value as text; `None` when the key or the whole
/// table is absent.
pub(crate) fn read_meta_value(conn: &Connection, path: &Path, key: &str) -> Result<Option<String>> {
    let on = |e| sqlite_error(path, e);
    let has_meta: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'protocol_meta')",
            [],
            |row| row.get(0),
        )
        .map_err(on)?;
    if !has_meta {
        return Ok(None);
    }
    let mut stmt = conn
        .prepare_cached("SELECT value FROM protocol_meta WHERE key = ?1")
        .map_err(on)?;
    let mut rows = stmt.query([key]).map_err(on)?;
    let Some(row) = rows.next().map_err(on)? else {
        return Ok(None);
    };
    // The column is TEXT, but a hand-edited or foreign file may hold a number.
    match row.get_ref(0).map_err(on)? {
        ValueRef::Text(bytes) => Ok(Some(String::from_utf8_lossy(bytes).into())),
        ValueRef::Integer(n) => Ok(Some(n.to_string())),
        other => Err(ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "protocol_meta value for {key:?} has type {}",
                other.data_type()
            ),
        }),
    }
}

/// Reads a numeric `protocol_meta` value.
pub(crate) fn read_meta_number<T: std::str::FromStr>(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Option<T>> {
    let Some(text) = read_meta_value(conn, path, key)? else {
        return Ok(None);
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("protocol_meta {key} is not a number: {text:?}"),
        })
}

/// Fails with [`ProtocolError::Corrupt`] unless `table` exists with every
/// `needed` column (extra columns are fine: the format only ever grows).
pub(crate) fn check_columns(
    conn: &Connection,
    path: &Path,
    table: &str,
    needed: &[&str],
) -> Result<()> {
    let present = column_names(conn, path, table)?;
    if present.is_empty() {
        return Err(ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("it has no {table} table"),
        });
    }
    let missing: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|column| !present.iter().any(|p| p == column))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("table {table} lacks column(s) {}", missing.join(", ")),
        })
    }
}

/// The column names of `table` (empty when there is no such table).
pub(crate) fn column_names(conn: &Connection, path: &Path, table: &str) -> Result<Vec<String>> {
    let on = |e| sqlite_error(path, e);
    let mut stmt = conn
        .prepare_cached("SELECT name FROM pragma_table_info(?1)")
        .map_err(on)?;
    let names = stmt
        .query_map([table], |row| row.get::<_, String>(0))
        .map_err(on)?
        .collect::<rusqlite::Result<Vec<String>>>()
        .map_err(on)?;
    Ok(names)
}

/// Maps an error from opening the connection: SQLite's "cannot open" is an
/// [`ProtocolError::Open`] like any other unopenable path.
pub(crate) fn sqlite_open_error(path: &Path, e: rusqlite::Error) -> ProtocolError {
    if e.sqlite_error_code() == Some(ErrorCode::CannotOpen) {
        ProtocolError::Open {
            path: path.to_path_buf(),
            source: std::io::Error::other(e),
        }
    } else {
        sqlite_error(path, e)
    }
}

/// Maps a SQLite error on `path`; "file is not a database" becomes
/// [`ProtocolError::Corrupt`] so callers can tell a wrong file from a failure.
pub(crate) fn sqlite_error(path: &Path, e: rusqlite::Error) -> ProtocolError {
    if e.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
        ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: format!("not a SQLite database ({e})"),
        }
    } else {
        ProtocolError::Sqlite {
            path: path.to_path_buf(),
            source: e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entries::{bare_entry, full_entry};

    #[test]
    fn the_derived_statements_name_every_column() {
        for column in &COLUMNS {
            assert!(
                CREATE_TABLES.contains(&format!("\n    {} ", column.name)),
                "{}",
                column.name
            );
            assert!(INSERT.contains(column.name), "{}", column.name);
        }
        assert!(INSERT.contains(&format!("?{})", COLUMNS.len())));
        assert_eq!(
            CREATE_INDEXES.matches("INDEX IF NOT EXISTS").count(),
            INDEXES.len()
        );
        assert_eq!(CREATE_INDEXES.matches("CREATE UNIQUE INDEX").count(), 1);
        let added: Vec<&str> = columns_added_after(1).map(|(name, _)| name).collect();
        assert_eq!(added.first(), Some(&"operation"));
        assert_eq!(added.len(), 11);
    }

    #[test]
    fn rows_round_trip_and_the_error_test_agrees_with_is_error() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&CREATE_TABLES).unwrap();
        conn.execute_batch(&CREATE_INDEXES).unwrap();
        let mut encoder = RowEncoder::default();
        let mut failed = full_entry(1);
        failed.error = None;
        let mut errored_but_ok = bare_entry(3);
        errored_but_ok.error = Some(crate::entry::EntryError::default());
        let entries = [full_entry(0), bare_entry(2), failed, errored_but_ok];
        {
            let mut insert = RowInsert::prepare(&conn).unwrap();
            for entry in &entries {
                assert_eq!(encoder.insert(&mut insert, entry).unwrap(), 1);
                assert_eq!(
                    encoder.insert(&mut insert, entry).unwrap(),
                    0,
                    "stored once"
                );
            }
        }
        let present = column_names(&conn, Path::new("memory"), ENTRIES).unwrap();
        let sql = format!(
            "SELECT {IS_ERROR}, {} FROM {ENTRIES} ORDER BY rowid",
            select_list(&present, Selection::All)
        );
        let mut stmt = conn.prepare(&sql).unwrap();
        let read: Vec<(bool, ProtocolEntry)> = stmt
            .query_map([], |row| Ok((row.get(0)?, decode_row(row, 1).unwrap())))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        for ((is_error, entry), original) in read.iter().zip(&entries) {
            assert_eq!(entry, original);
            assert_eq!(*is_error, original.is_error(), "{}", original.entry_id);
        }
        let light = format!(
            "SELECT {} FROM {ENTRIES} ORDER BY rowid",
            select_list(&present, Selection::WithoutContent)
        );
        let entry = conn
            .query_row(&light, [], |row| Ok(decode_row(row, 0).unwrap()))
            .unwrap();
        assert_eq!(
            (entry.input, entry.output, entry.attributes),
            (None, None, None)
        );
        assert!(entry.error.is_some(), "the error is not content");
    }
}
