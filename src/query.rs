//! Reading a protocol back: filters, the reader, and an async wrapper.
//!
//! The reader never creates or changes a protocol file: SQLite is opened
//! read-only (and, being in WAL mode, can be read while another process
//! writes), JSON Lines is only read. Both forms answer the same
//! [`EntryFilter`] with the same results, in timestamp order.

use std::collections::{BTreeSet, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags, Row};
use serde::de::DeserializeOwned;

use crate::entry::{EventType, ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};
use crate::storage::{
    check_jsonl_header, read_jsonl_meta, read_meta_value, sqlite_error, sqlite_open_error,
    verify_protocol_schema, COLUMNS,
};

/// Lines longer than this are skipped as too long instead of being read into
/// memory: a protocol line is at most a few MiB even at `DetailLevel::Full`.
const MAX_LINE_BYTES: usize = 64 << 20;

/// At most this many skipped lines are remembered per query, so a file of
/// garbage cannot grow the report without bound.
const MAX_REPORTED_SKIPS: usize = 10_000;

/// The storage form of a protocol file.
///
/// ```
/// use std::path::Path;
/// use reagentic_protocol::ProtocolFormat;
///
/// assert_eq!(ProtocolFormat::from_path(Path::new("runs/protocol.db")).unwrap(), ProtocolFormat::Sqlite);
/// assert_eq!(ProtocolFormat::from_path(Path::new("protocol.NDJSON")).unwrap(), ProtocolFormat::Jsonl);
/// assert!(ProtocolFormat::from_path(Path::new("protocol.txt")).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProtocolFormat {
    /// A SQLite database (`.db`, `.sqlite`, `.sqlite3`).
    Sqlite,
    /// A JSON Lines file (`.jsonl`, `.ndjson`).
    Jsonl,
}

impl ProtocolFormat {
    /// Tells the format from the file extension, ignoring case; any other
    /// extension is [`ProtocolError::UnknownFormat`].
    ///
    /// ```
    /// use std::path::Path;
    /// use reagentic_protocol::ProtocolFormat;
    /// assert_eq!(ProtocolFormat::from_path(Path::new("a.SQLite3")).unwrap(), ProtocolFormat::Sqlite);
    /// ```
    pub fn from_path(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("db" | "sqlite" | "sqlite3") => Ok(ProtocolFormat::Sqlite),
            Some("jsonl" | "ndjson") => Ok(ProtocolFormat::Jsonl),
            _ => Err(ProtocolError::UnknownFormat {
                path: path.to_path_buf(),
            }),
        }
    }
}

/// Which entries a query returns, and in what order.
///
/// Every condition set must hold (they are combined with AND); an empty filter
/// returns everything. Results are in timestamp order, oldest first unless
/// [`newest_first`](Self::newest_first), ties broken by `entry_id`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use reagentic_protocol::{EntryFilter, EventType};
///
/// let filter = EntryFilter::default()
///     .with_session("conv-42")
///     .with_event_types([EventType::ToolStart, EventType::ToolEnd])
///     .with_since(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap())
///     .errors_only()
///     .newest_first()
///     .with_limit(20);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryFilter {
    session: Option<String>,
    trace: Option<String>,
    event_types: BTreeSet<EventType>,
    agent: Option<String>,
    tool: Option<String>,
    model: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    errors_only: bool,
    limit: Option<usize>,
    newest_first: bool,
}

impl EntryFilter {
    /// Keeps entries of this session (`session_id`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_session("conv-42");
    /// ```
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.session = Some(session_id.into());
        self
    }

    /// Keeps entries of this trace (`trace_id`, 32 lowercase hex digits).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default()
    ///     .with_trace("4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub fn with_trace(mut self, trace_id: impl Into<String>) -> Self {
        self.trace = Some(trace_id.into());
        self
    }

    /// Adds one event type to keep; with none added, every type is kept.
    ///
    /// ```
    /// use reagentic_protocol::{EntryFilter, EventType};
    /// let filter = EntryFilter::default().with_event_type(EventType::Handoff);
    /// ```
    pub fn with_event_type(mut self, event_type: EventType) -> Self {
        self.event_types.insert(event_type);
        self
    }

    /// Adds several event types to keep; with none added, every type is kept.
    ///
    /// ```
    /// use reagentic_protocol::{EntryFilter, EventType};
    /// let filter = EntryFilter::default().with_event_types([EventType::LlmStart, EventType::LlmEnd]);
    /// ```
    pub fn with_event_types(mut self, event_types: impl IntoIterator<Item = EventType>) -> Self {
        self.event_types.extend(event_types);
        self
    }

    /// Keeps entries of this agent (`agent_name`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_agent("planner");
    /// ```
    pub fn with_agent(mut self, agent_name: impl Into<String>) -> Self {
        self.agent = Some(agent_name.into());
        self
    }

    /// Keeps entries of this tool (`tool_name`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_tool("search_flights");
    /// ```
    pub fn with_tool(mut self, tool_name: impl Into<String>) -> Self {
        self.tool = Some(tool_name.into());
        self
    }

    /// Keeps entries of this model (`model`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_model("gpt-4o");
    /// ```
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Keeps entries at or after `since` (inclusive).
    ///
    /// ```
    /// use chrono::{TimeDelta, Utc};
    /// let filter = reagentic_protocol::EntryFilter::default()
    ///     .with_since(Utc::now() - TimeDelta::hours(1));
    /// ```
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(ceil_to_micros(since));
        self
    }

    /// Keeps entries before `until` (exclusive), so consecutive windows
    /// `[a, b)`, `[b, c)` never return an entry twice.
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_until(chrono::Utc::now());
    /// ```
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.until = Some(ceil_to_micros(until));
        self
    }

    /// Keeps only failed steps: status `error` or an `error` recorded
    /// (see [`ProtocolEntry::is_error`]).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().errors_only();
    /// ```
    pub fn errors_only(mut self) -> Self {
        self.errors_only = true;
        self
    }

    /// Returns at most `limit` entries: the oldest ones, or the newest ones
    /// with [`newest_first`](Self::newest_first).
    ///
    /// ```
    /// let last_ten = reagentic_protocol::EntryFilter::default().newest_first().with_limit(10);
    /// ```
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Orders the results newest first (the default is oldest first).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().newest_first();
    /// ```
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// Whether `entry` passes every condition of the filter (ordering and
    /// limit aside): the same test the queries apply.
    ///
    /// ```
    /// use reagentic_protocol::EntryFilter;
    /// # fn check(entry: &reagentic_protocol::ProtocolEntry) {
    /// let failed_in_session = EntryFilter::default().with_session("conv-42").errors_only();
    /// if failed_in_session.matches(entry) { /* … */ }
    /// # }
    /// ```
    pub fn matches(&self, entry: &ProtocolEntry) -> bool {
        fn wanted(want: &Option<String>, have: &Option<String>) -> bool {
            want.as_ref()
                .is_none_or(|want| have.as_deref() == Some(want.as_str()))
        }
        wanted(&self.session, &entry.session_id)
            && self.trace.as_ref().is_none_or(|t| *t == entry.trace_id)
            && (self.event_types.is_empty() || self.event_types.contains(&entry.event_type))
            && wanted(&self.agent, &entry.agent_name)
            && wanted(&self.tool, &entry.tool_name)
            && wanted(&self.model, &entry.model)
            && self.since.is_none_or(|since| entry.timestamp >= since)
            && self.until.is_none_or(|until| entry.timestamp < until)
            && (!self.errors_only || entry.is_error())
    }

    /// Sorts entries into the filter's order.
    fn sort(&self, entries: &mut [ProtocolEntry]) {
        // entry_ids are unique after dedup, so an unstable sort is exact.
        entries.sort_unstable_by(|a, b| {
            let order = a
                .timestamp
                .cmp(&b.timestamp)
                .then_with(|| a.entry_id.cmp(&b.entry_id));
            if self.newest_first {
                order.reverse()
            } else {
                order
            }
        });
    }

    /// The SELECT of `columns` (the file's list for [`COLUMNS`]) for this
    /// filter and its parameters. Only fixed SQL text is put into the
    /// statement; every value from the filter is bound as a parameter, so no
    /// session id or tool name can change the SQL.
    fn to_sql(&self, columns: &str) -> (String, Vec<Value>) {
        let mut sql = format!("SELECT rowid, {columns} FROM protocol_entries");
        let mut conditions: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        let mut equal = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                conditions.push(format!("{column} = ?"));
                params.push(Value::Text(value.clone()));
            }
        };
        equal("session_id", &self.session);
        equal("trace_id", &self.trace);
        equal("agent_name", &self.agent);
        equal("tool_name", &self.tool);
        equal("model", &self.model);
        if !self.event_types.is_empty() {
            let marks = vec!["?"; self.event_types.len()].join(", ");
            conditions.push(format!("event_type IN ({marks})"));
            params.extend(
                self.event_types
                    .iter()
                    .map(|t| Value::Text(t.as_str().to_owned())),
            );
        }
        // The stored text sorts chronologically, so text comparison is time
        // comparison (and can use the indexes).
        if let Some(since) = self.since {
            conditions.push("timestamp >= ?".into());
            params.push(Value::Text(crate::entry::format_timestamp(&since)));
        }
        if let Some(until) = self.until {
            conditions.push("timestamp < ?".into());
            params.push(Value::Text(crate::entry::format_timestamp(&until)));
        }
        if self.errors_only {
            // Same test as ProtocolEntry::is_error.
            conditions.push("(status = ? OR error IS NOT NULL)".into());
            params.push(Value::Text(
                crate::entry::EntryStatus::Error.as_str().into(),
            ));
        }
        if !conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conditions.join(" AND "));
        }
        sql.push_str(if self.newest_first {
            " ORDER BY timestamp DESC, entry_id DESC"
        } else {
            " ORDER BY timestamp ASC, entry_id ASC"
        });
        if let Some(limit) = self.limit {
            sql.push_str(" LIMIT ?");
            params.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        }
        (sql, params)
    }
}

/// Rounds up to whole microseconds, the precision entries are stored with, so
/// a bound with nanoseconds selects the same entries from SQLite (comparing
/// microsecond text) as from JSON Lines (comparing times).
fn ceil_to_micros(ts: DateTime<Utc>) -> DateTime<Utc> {
    let below_micros = ts.timestamp_subsec_nanos() % 1_000;
    if below_micros == 0 {
        return ts;
    }
    ts.checked_add_signed(TimeDelta::nanoseconds(i64::from(1_000 - below_micros)))
        .unwrap_or(ts)
}

/// A protocol file's meta data.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// let meta = reagentic_protocol::ProtocolReader::open("protocol.db")?.meta()?;
/// if meta.dropped_entries > 0 {
///     eprintln!("warning: {} entries were dropped", meta.dropped_entries);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolMeta {
    /// The entry format version of the file.
    pub schema_version: u32,
    /// How many entries the writing pipelines dropped in total (the queue
    /// stayed full past its bound), summed over every run that wrote the file.
    pub dropped_entries: u64,
}

/// A record the last query could not read and skipped.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// use reagentic_protocol::{EntryFilter, ProtocolReader};
/// let reader = ProtocolReader::open("protocol.jsonl")?;
/// let entries = reader.query(&EntryFilter::default())?;
/// for skipped in reader.skipped_lines() {
///     eprintln!("line {}: {}", skipped.line_number, skipped.reason);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedLine {
    /// JSON Lines: the 1-based line number. SQLite: the row's `rowid`.
    pub line_number: u64,
    /// Why it was skipped.
    pub reason: String,
}

/// Reads a protocol file, SQLite or JSON Lines, without changing it.
///
/// ```no_run
/// use reagentic_protocol::{EntryFilter, ProtocolReader};
///
/// # fn main() -> reagentic_protocol::Result<()> {
/// let reader = ProtocolReader::open("protocol.db")?;
/// for entry in reader.query(&EntryFilter::default().with_session("conv-42"))? {
///     println!("{} {} {}", entry.timestamp, entry.event_type, entry.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProtocolReader {
    path: PathBuf,
    backend: Backend,
    /// The SELECT list of a SQLite file's entry columns (NULL for the columns
    /// a not yet migrated schema-1 file lacks); empty for JSON Lines.
    columns: String,
    /// What the last query skipped; behind a lock because `query` takes `&self`.
    skipped: Mutex<Vec<SkippedLine>>,
}

/// Where a reader's entries come from; the other reading modules
/// (`sessions`, `stats`, `check`) answer per backend too.
#[derive(Debug)]
pub(crate) enum Backend {
    Sqlite(Connection),
    /// JSON Lines is re-read by every query, so new lines are always seen.
    Jsonl {
        max_line_bytes: usize,
    },
}

impl ProtocolReader {
    /// Opens the protocol at `path`, telling its format from the extension
    /// (see [`ProtocolFormat::from_path`]).
    ///
    /// Fails with [`ProtocolError::Open`] when the file does not exist or
    /// cannot be opened (it is never created), [`ProtocolError::Corrupt`] when
    /// it is not a protocol file, and [`ProtocolError::UnsupportedSchema`] when
    /// a newer build wrote it.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = reagentic_protocol::ProtocolReader::open("protocol.jsonl")?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::open_as(path, ProtocolFormat::from_path(path)?)
    }

    /// Opens the protocol at `path` as the given format, whatever its
    /// extension.
    ///
    /// ```no_run
    /// use reagentic_protocol::{ProtocolFormat, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open_as("agent.log", ProtocolFormat::Jsonl)?;
    /// # Ok(()) }
    /// ```
    pub fn open_as(path: impl AsRef<Path>, format: ProtocolFormat) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let open_error = |source| ProtocolError::Open {
            path: path.clone(),
            source,
        };
        // Checked up front so a missing file is reported with the operating
        // system's words, and SQLite is never asked to open (or create) it.
        let metadata = std::fs::metadata(&path).map_err(open_error)?;
        if metadata.is_dir() {
            return Err(open_error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory",
            )));
        }
        let mut columns = String::new();
        let backend = match format {
            ProtocolFormat::Sqlite => {
                // Read-only, no URI parsing, no create. WAL mode lets this
                // connection read the last committed state while another
                // process writes.
                let conn = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(|e| sqlite_open_error(&path, e))?;
                columns = verify_protocol_schema(&conn, &path)?;
                Backend::Sqlite(conn)
            }
            ProtocolFormat::Jsonl => {
                let file = File::open(&path).map_err(open_error)?;
                check_jsonl_header(&file, &path)?;
                if let Some(meta) = read_jsonl_meta(&path)? {
                    if meta.schema_version > SCHEMA_VERSION {
                        return Err(ProtocolError::UnsupportedSchema {
                            path,
                            found: i64::from(meta.schema_version),
                            supported: i64::from(SCHEMA_VERSION),
                        });
                    }
                }
                Backend::Jsonl {
                    max_line_bytes: MAX_LINE_BYTES,
                }
            }
        };
        Ok(ProtocolReader {
            path,
            backend,
            columns,
            skipped: Mutex::new(Vec::new()),
        })
    }

    /// The file being read.
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.db").unwrap();
    /// println!("reading {}", reader.path().display());
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's format.
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.db").unwrap();
    /// assert_eq!(reader.format(), reagentic_protocol::ProtocolFormat::Sqlite);
    /// ```
    pub fn format(&self) -> ProtocolFormat {
        match self.backend {
            Backend::Sqlite(_) => ProtocolFormat::Sqlite,
            Backend::Jsonl { .. } => ProtocolFormat::Jsonl,
        }
    }

    /// The entries that pass `filter`, in its order, up to its limit.
    ///
    /// Unreadable records are skipped, not fatal (see
    /// [`skipped_lines`](Self::skipped_lines)): in JSON Lines, lines that are
    /// not entries (a torn last line from a crash, garbage, invalid UTF-8,
    /// lines over 64 MiB, entries of a newer schema); in SQLite, rows whose
    /// values do not decode. JSON Lines entries stored twice are returned
    /// once, the first occurrence winning, as SQLite stores them.
    ///
    /// SQLite answers from its indexes. JSON Lines is read from the start on
    /// every query, holding the matching entries (at most about twice the
    /// limit, when one is set) and the set of entry ids seen, for dedup.
    ///
    /// ```no_run
    /// use reagentic_protocol::{EntryFilter, EventType, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open("protocol.db")?;
    /// let failed_tools = reader.query(
    ///     &EntryFilter::default().with_event_type(EventType::ToolEnd).errors_only(),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn query(&self, filter: &EntryFilter) -> Result<Vec<ProtocolEntry>> {
        self.recording_skips(|skips| match &self.backend {
            Backend::Sqlite(conn) => {
                let columns = self.entry_columns(conn)?;
                query_sqlite(conn, &self.path, &columns, filter, skips)
            }
            Backend::Jsonl { max_line_bytes } => {
                query_jsonl(&self.path, *max_line_bytes, filter, skips)
            }
        })
    }

    /// The SELECT list of this file's entry columns. A schema-1 file may
    /// have been migrated by a writer since it was opened: then look again,
    /// so new rows show their new fields.
    pub(crate) fn entry_columns(&self, conn: &Connection) -> Result<std::borrow::Cow<'_, str>> {
        if self.columns.contains(" AS ") {
            verify_protocol_schema(conn, &self.path).map(std::borrow::Cow::Owned)
        } else {
            Ok(std::borrow::Cow::Borrowed(&self.columns))
        }
    }

    /// What the last [`query`](Self::query) skipped (at most the first 10 000).
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.jsonl").unwrap();
    /// # reader.query(&Default::default()).unwrap();
    /// let bad_lines = reader.skipped_lines().len();
    /// ```
    pub fn skipped_lines(&self) -> Vec<SkippedLine> {
        self.skipped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The file's meta data. A JSON Lines file without a meta side file has
    /// the current schema version and no dropped entries.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let meta = reagentic_protocol::ProtocolReader::open("protocol.db")?.meta()?;
    /// println!("schema {}, {} dropped", meta.schema_version, meta.dropped_entries);
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> Result<ProtocolMeta> {
        match &self.backend {
            Backend::Sqlite(conn) => Ok(ProtocolMeta {
                schema_version: self
                    .parse_meta(conn, "schema_version")?
                    .unwrap_or(SCHEMA_VERSION),
                dropped_entries: self.parse_meta(conn, "dropped_entries")?.unwrap_or(0),
            }),
            Backend::Jsonl { .. } => Ok(read_jsonl_meta(&self.path)?.map_or(
                ProtocolMeta {
                    schema_version: SCHEMA_VERSION,
                    dropped_entries: 0,
                },
                |meta| ProtocolMeta {
                    schema_version: meta.schema_version,
                    dropped_entries: meta.dropped_entries,
                },
            )),
        }
    }

    /// Reads a numeric `protocol_meta` value.
    fn parse_meta<T: std::str::FromStr>(&self, conn: &Connection, key: &str) -> Result<Option<T>> {
        let Some(text) = read_meta_value(conn, &self.path, key)? else {
            return Ok(None);
        };
        text.trim()
            .parse()
            .map(Some)
            .map_err(|_| ProtocolError::Corrupt {
                path: self.path.clone(),
                reason: format!("protocol_meta {key} is not a number: {text:?}"),
            })
    }
}

impl ProtocolReader {
    /// The storage behind this reader, for the crate's other reading modules.
    pub(crate) fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Runs one read with a fresh skip record, then keeps that record as what
    /// [`skipped_lines`](Self::skipped_lines) reports, as `query` does.
    pub(crate) fn recording_skips<T>(
        &self,
        read: impl FnOnce(&mut Skips) -> Result<T>,
    ) -> Result<T> {
        let mut skips = Skips::default();
        let result = read(&mut skips);
        *self.skipped.lock().unwrap_or_else(PoisonError::into_inner) = skips.reported;
        result
    }
}

/// Queries the protocol at `path` without blocking the async runtime: the
/// file is opened and read on a dedicated OS thread, and the result awaited.
/// Works on any runtime, `current_thread` included.
///
/// ```no_run
/// use reagentic_protocol::{query_file, EntryFilter};
///
/// # async fn run() -> reagentic_protocol::Result<()> {
/// let recent = query_file("protocol.db", EntryFilter::default().newest_first().with_limit(50)).await?;
/// # Ok(()) }
/// ```
pub async fn query_file(path: impl AsRef<Path>, filter: EntryFilter) -> Result<Vec<ProtocolEntry>> {
    let path = path.as_ref().to_path_buf();
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("reagentic-protocol-query".into())
        .spawn(move || {
            let result = ProtocolReader::open(&path).and_then(|reader| reader.query(&filter));
            // A dropped receiver means the caller stopped waiting; the result
            // has nowhere to go.
            let _ = send.send(result);
        })
        .map_err(|e| ProtocolError::Worker(format!("cannot start the query thread: {e}")))?;
    receive
        .await
        .map_err(|_| ProtocolError::Worker("the query thread ended without a result".into()))?
}

/// Skipped records: the first [`MAX_REPORTED_SKIPS`] kept, all counted.
#[derive(Default)]
pub(crate) struct Skips {
    pub(crate) reported: Vec<SkippedLine>,
    pub(crate) total: u64,
}

impl Skips {
    pub(crate) fn push(&mut self, line_number: u64, reason: String) {
        self.total += 1;
        if self.reported.len() < MAX_REPORTED_SKIPS {
            self.reported.push(SkippedLine {
                line_number,
                reason,
            });
        }
    }
}

fn query_sqlite(
    conn: &Connection,
    path: &Path,
    columns: &str,
    filter: &EntryFilter,
    skips: &mut Skips,
) -> Result<Vec<ProtocolEntry>> {
    let on = |e| sqlite_error(path, e);
    let (sql, params) = filter.to_sql(columns);
    let mut stmt = conn.prepare_cached(&sql).map_err(on)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(on)?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().map_err(on)? {
        match decode_row(row) {
            Ok(entry) => entries.push(entry),
            Err(reason) => {
                let rowid: i64 = row.get(0).map_err(on)?;
                skips.push(u64::try_from(rowid).unwrap_or(0), reason);
            }
        }
    }
    if skips.total > 0 {
        tracing::warn!(path = %path.display(), skipped = skips.total,
            "skipped protocol rows that could not be decoded");
    }
    Ok(entries)
}

/// Builds an entry from a row of `SELECT rowid, <COLUMNS>`; the error names
/// the column that did not decode.
pub(crate) fn decode_row(row: &Row<'_>) -> std::result::Result<ProtocolEntry, String> {
    Ok(ProtocolEntry {
        schema: integer(row, 0)?,
        entry_id: text(row, 1)?,
        timestamp: parsed(row, 2, |s| {
            DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc))
        })?,
        event_type: parsed(row, 3, str::parse::<EventType>)?,
        trace_id: text(row, 4)?,
        span_id: text(row, 5)?,
        parent_span_id: optional_text(row, 6)?,
        session_id: optional_text(row, 7)?,
        service_name: optional_text(row, 8)?,
        agent_name: optional_text(row, 9)?,
        name: text(row, 10)?,
        model: optional_text(row, 11)?,
        provider: optional_text(row, 12)?,
        tool_name: optional_text(row, 13)?,
        tool_call_id: optional_text(row, 14)?,
        input: json(row, 15)?,
        output: json(row, 16)?,
        input_tokens: optional(row, 17, |v| match v {
            ValueRef::Integer(n) => u64::try_from(n).ok(),
            _ => None,
        })?,
        output_tokens: optional(row, 18, |v| match v {
            ValueRef::Integer(n) => u64::try_from(n).ok(),
            _ => None,
        })?,
        duration_ms: optional(row, 19, |v| match v {
            ValueRef::Real(f) => Some(f),
            // A whole number of milliseconds written by another tool.
            ValueRef::Integer(n) => Some(n as f64),
            _ => None,
        })?,
        status: parsed(row, 20, str::parse)?,
        error: json(row, 21)?,
        attributes: json(row, 22)?,
        operation: optional_text(row, 23)?,
        cache_read_input_tokens: optional(row, 24, count)?,
        cache_creation_input_tokens: optional(row, 25, count)?,
        reasoning_tokens: optional(row, 26, count)?,
        finish_reasons: json(row, 27)?,
        cost_usd: optional(row, 28, real)?,
        time_to_first_chunk_ms: optional(row, 29, real)?,
    })
}

/// A stored token count.
fn count(value: ValueRef<'_>) -> Option<u64> {
    match value {
        ValueRef::Integer(n) => u64::try_from(n).ok(),
        _ => None,
    }
}

/// A stored real number; a whole number written by another tool counts too.
fn real(value: ValueRef<'_>) -> Option<f64> {
    match value {
        ValueRef::Real(f) => Some(f),
        ValueRef::Integer(n) => Some(n as f64),
        _ => None,
    }
}

/// The value of entry column `column` (0-based in [`COLUMNS`]; the row has
/// `rowid` first).
fn value<'r>(row: &'r Row<'_>, column: usize) -> std::result::Result<ValueRef<'r>, String> {
    row.get_ref(column + 1)
        .map_err(|e| format!("column {}: {e}", column_name(column)))
}

fn column_name(column: usize) -> &'static str {
    COLUMNS.get(column).copied().unwrap_or("?")
}

fn mismatch(column: usize, value: ValueRef<'_>) -> String {
    format!(
        "column {} has an unexpected {} value",
        column_name(column),
        value.data_type()
    )
}

/// A nullable column converted by `convert`, which returns `None` on a value
/// it cannot take.
fn optional<T>(
    row: &Row<'_>,
    column: usize,
    convert: impl FnOnce(ValueRef<'_>) -> Option<T>,
) -> std::result::Result<Option<T>, String> {
    match value(row, column)? {
        ValueRef::Null => Ok(None),
        v => convert(v).map(Some).ok_or_else(|| mismatch(column, v)),
    }
}

fn optional_text(row: &Row<'_>, column: usize) -> std::result::Result<Option<String>, String> {
    match value(row, column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => std::str::from_utf8(bytes)
            .map(|s| Some(s.to_owned()))
            .map_err(|e| format!("column {} is not UTF-8: {e}", column_name(column))),
        v => Err(mismatch(column, v)),
    }
}

fn text(row: &Row<'_>, column: usize) -> std::result::Result<String, String> {
    optional_text(row, column)?.ok_or_else(|| format!("column {} is NULL", column_name(column)))
}

fn integer<T: TryFrom<i64>>(row: &Row<'_>, column: usize) -> std::result::Result<T, String> {
    match value(row, column)? {
        ValueRef::Integer(n) => T::try_from(n).map_err(|_| mismatch(column, ValueRef::Integer(n))),
        v => Err(mismatch(column, v)),
    }
}

fn parsed<T, E: std::fmt::Display>(
    row: &Row<'_>,
    column: usize,
    parse: impl FnOnce(&str) -> std::result::Result<T, E>,
) -> std::result::Result<T, String> {
    let text = text(row, column)?;
    parse(&text).map_err(|e| format!("column {}: {e}", column_name(column)))
}

fn json<T: DeserializeOwned>(
    row: &Row<'_>,
    column: usize,
) -> std::result::Result<Option<T>, String> {
    match value(row, column)? {
        ValueRef::Null => Ok(None),
        ValueRef::Text(bytes) => serde_json::from_slice(bytes)
            .map(Some)
            .map_err(|e| format!("column {}: invalid JSON: {e}", column_name(column))),
        v => Err(mismatch(column, v)),
    }
}

fn query_jsonl(
    path: &Path,
    max_line_bytes: usize,
    filter: &EntryFilter,
    skips: &mut Skips,
) -> Result<Vec<ProtocolEntry>> {
    let mut seen = HashSet::new();
    let mut entries = Vec::new();
    // With a limit, only the best `limit` entries can make the result, so the
    // list is cut back whenever it grows well past that: memory stays bounded
    // by the limit rather than by the file.
    let compact_at = filter.limit.map(|limit| limit.saturating_mul(2).max(1024));
    scan_jsonl(path, max_line_bytes, skips, |_, entry| {
        if seen.insert(entry.entry_id.clone()) && filter.matches(&entry) {
            entries.push(entry);
            if compact_at.is_some_and(|at| entries.len() >= at) {
                filter.sort(&mut entries);
                entries.truncate(filter.limit.unwrap_or(usize::MAX));
            }
        }
    })?;
    filter.sort(&mut entries);
    entries.truncate(filter.limit.unwrap_or(usize::MAX));
    Ok(entries)
}

/// Reads a JSON Lines protocol from the start, handing every readable entry
/// to `visit` with its 1-based line number, in file order and without dedup
/// (callers that want each id once keep their own set). Unreadable lines go
/// to `skips`.
pub(crate) fn scan_jsonl(
    path: &Path,
    max_line_bytes: usize,
    skips: &mut Skips,
    mut visit: impl FnMut(u64, ProtocolEntry),
) -> Result<()> {
    let io_error = |source| ProtocolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(|source| ProtocolError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut line = Vec::new();
    let mut line_number = 0u64;
    let limit_reader = u64::try_from(max_line_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    loop {
        line.clear();
        // `take` caps what one line may allocate; bytes, not `String`, so
        // invalid UTF-8 is a skipped line rather than an aborted read.
        let read = (&mut reader)
            .take(limit_reader)
            .read_until(b'\n', &mut line)
            .map_err(io_error)?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let terminated = line.last() == Some(&b'\n');
        if !terminated && line.len() > max_line_bytes {
            skip_rest_of_line(&mut reader).map_err(io_error)?;
            skips.push(
                line_number,
                format!("line longer than {max_line_bytes} bytes"),
            );
            line = Vec::new();
            continue;
        }
        match decode_line(&line, line_number == 1) {
            Ok(None) => {}
            Ok(Some(entry)) => match too_new(&entry) {
                Some(reason) => skips.push(line_number, reason),
                None => visit(line_number, entry),
            },
            // Only the last line can lack its newline: a write cut short by a
            // crash, or one still in progress.
            Err(reason) if !terminated => {
                tracing::warn!(path = %path.display(), line = line_number, %reason,
                    "skipping a torn last line");
                skips.push(
                    line_number,
                    format!("torn last line (no trailing newline): {reason}"),
                );
            }
            Err(reason) => skips.push(line_number, reason),
        }
        // Do not keep a rare huge line's allocation for the rest of the file.
        if line.capacity() > 1 << 20 {
            line = Vec::new();
        }
    }
    if skips.total > 0 {
        tracing::warn!(path = %path.display(), skipped = skips.total,
            "skipped protocol lines that are not entries");
    }
    Ok(())
}

/// One line of a JSON Lines protocol as every reader takes it: without its
/// line ending (and, on the file's first line, a byte-order mark); `None`
/// for a blank line; the error says why it is not an entry.
pub(crate) fn decode_line(
    line: &[u8],
    first_in_file: bool,
) -> std::result::Result<Option<ProtocolEntry>, String> {
    let mut bytes = line;
    bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if first_in_file {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    parse_line(bytes).map(Some)
}

/// Why an entry cannot be read by this build, if it cannot: a newer schema
/// may have changed what its fields mean.
pub(crate) fn too_new(entry: &ProtocolEntry) -> Option<String> {
    (entry.schema > SCHEMA_VERSION).then(|| {
        format!(
            "entry has schema version {}; this build reads up to {SCHEMA_VERSION}",
            entry.schema
        )
    })
}

/// Parses one line; the error says why it is not an entry.
fn parse_line(bytes: &[u8]) -> std::result::Result<ProtocolEntry, String> {
    serde_json::from_slice(bytes).map_err(|e| match std::str::from_utf8(bytes) {
        Err(utf8) => format!("not valid UTF-8: {utf8}"),
        Ok(_) => format!("not a protocol entry: {e}"),
    })
}

/// Discards input up to and including the next newline (or to the end).
fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = buffer.len();
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::TimeZone;
    use serde_json::json;

    use super::*;
    use crate::entry::EntryStatus;
    use crate::storage::test_support::{at, bare_entry, full_entry};
    use crate::storage::{JsonlStorage, SqliteStorage, Storage};

    /// A varied data set: sessions, traces, types, agents, tools, models,
    /// errors, equal timestamps, and values that look like SQL.
    fn dataset() -> Vec<ProtocolEntry> {
        let mut entries = Vec::new();
        for n in 0..24u32 {
            let mut e = if n % 4 == 0 {
                bare_entry(n)
            } else {
                full_entry(n)
            };
            e.event_type = EventType::ALL[n as usize % EventType::ALL.len()];
            e.agent_name = Some(["planner", "booker", "critic"][n as usize % 3].into());
            e.tool_name = (n % 2 == 1).then(|| format!("tool-{}", n % 5));
            e.model = (n % 3 == 2).then(|| "gpt-4o".to_owned());
            e.status = match n % 5 {
                0 => EntryStatus::Error,
                1 | 2 => EntryStatus::Ok,
                _ => EntryStatus::Unset,
            };
            if n % 7 != 3 {
                e.error = None;
            }
            // Pairs share a timestamp: ties must break by entry_id.
            e.timestamp = at(i64::from(n / 2), 500);
            entries.push(e);
        }
        let mut sneaky = full_entry(100);
        sneaky.session_id = Some("'; DROP TABLE protocol_entries; --".into());
        sneaky.agent_name = Some("x' OR '1'='1".into());
        entries.push(sneaky);
        entries
    }

    fn sorted(mut entries: Vec<ProtocolEntry>, newest_first: bool) -> Vec<ProtocolEntry> {
        entries.sort_by(|a, b| (a.timestamp, &a.entry_id).cmp(&(b.timestamp, &b.entry_id)));
        if newest_first {
            entries.reverse();
        }
        entries
    }

    /// Writes the data set to both forms; returns the two reader paths.
    fn write_both(dir: &tempfile::TempDir, entries: &[ProtocolEntry]) -> [PathBuf; 2] {
        let db = dir.path().join("p.db");
        let jsonl = dir.path().join("p.jsonl");
        let mut sqlite = SqliteStorage::open(&db).unwrap();
        let mut lines = JsonlStorage::open(&jsonl).unwrap();
        // Two batches, so order on disk is not the query order.
        let (a, b) = entries.split_at(entries.len() / 2);
        for batch in [b, a] {
            sqlite.write_batch(batch).unwrap();
            lines.write_batch(batch).unwrap();
        }
        sqlite.close().unwrap();
        lines.close().unwrap();
        [db, jsonl]
    }

    /// Every filter, on both forms, against expectations written out by hand
    /// (not through `EntryFilter::matches`).
    #[test]
    fn every_filter_returns_the_expected_entries_from_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let paths = write_both(&dir, &data);
        let since = at(3, 500);
        let until = at(8, 500);
        type Pick = Box<dyn Fn(&ProtocolEntry) -> bool>;
        let cases: Vec<(EntryFilter, Pick)> = vec![
            (EntryFilter::default(), Box::new(|_| true)),
            (
                EntryFilter::default().with_session("conv-1"),
                Box::new(|e| e.session_id.as_deref() == Some("conv-1")),
            ),
            (
                EntryFilter::default().with_trace(data[1].trace_id.clone()),
                Box::new({
                    let t = data[1].trace_id.clone();
                    move |e| e.trace_id == t
                }),
            ),
            (
                EntryFilter::default().with_event_type(EventType::ToolEnd),
                Box::new(|e| e.event_type == EventType::ToolEnd),
            ),
            (
                EntryFilter::default()
                    .with_event_types([EventType::AgentStart, EventType::Handoff])
                    .with_event_type(EventType::LlmEnd),
                Box::new(|e| {
                    matches!(
                        e.event_type,
                        EventType::AgentStart | EventType::Handoff | EventType::LlmEnd
                    )
                }),
            ),
            (
                EntryFilter::default().with_agent("booker"),
                Box::new(|e| e.agent_name.as_deref() == Some("booker")),
            ),
            (
                EntryFilter::default().with_tool("tool-3"),
                Box::new(|e| e.tool_name.as_deref() == Some("tool-3")),
            ),
            (
                EntryFilter::default().with_model("gpt-4o"),
                Box::new(|e| e.model.as_deref() == Some("gpt-4o")),
            ),
            (
                EntryFilter::default().with_since(since),
                Box::new(move |e| e.timestamp >= since),
            ),
            (
                EntryFilter::default().with_until(until),
                Box::new(move |e| e.timestamp < until),
            ),
            (
                EntryFilter::default().with_since(since).with_until(until),
                Box::new(move |e| e.timestamp >= since && e.timestamp < until),
            ),
            (
                EntryFilter::default().errors_only(),
                Box::new(|e| e.status == EntryStatus::Error || e.error.is_some()),
            ),
            (
                EntryFilter::default()
                    .with_agent("planner")
                    .with_session("conv-1")
                    .errors_only(),
                Box::new(|e| {
                    e.agent_name.as_deref() == Some("planner")
                        && e.session_id.as_deref() == Some("conv-1")
                        && (e.status == EntryStatus::Error || e.error.is_some())
                }),
            ),
            // SQL in values is data: it matches exactly the entry holding it.
            (
                EntryFilter::default().with_session("'; DROP TABLE protocol_entries; --"),
                Box::new(|e| e.entry_id == full_entry(100).entry_id),
            ),
            (
                EntryFilter::default().with_agent("x' OR '1'='1"),
                Box::new(|e| e.entry_id == full_entry(100).entry_id),
            ),
            (
                EntryFilter::default().with_session("x' OR '1'='1"),
                Box::new(|_| false),
            ),
            (
                EntryFilter::default().with_tool("' OR 1=1 --"),
                Box::new(|_| false),
            ),
            (
                EntryFilter::default().with_trace("\") OR (\"1\"=\"1"),
                Box::new(|_| false),
            ),
        ];
        for path in &paths {
            let before = std::fs::read(path).unwrap();
            let reader = ProtocolReader::open(path).unwrap();
            for (filter, pick) in &cases {
                let expected = sorted(data.iter().filter(|e| pick(e)).cloned().collect(), false);
                assert_eq!(
                    reader.query(filter).unwrap(),
                    expected,
                    "{} {filter:?}",
                    path.display()
                );
                let newest = filter.clone().newest_first();
                assert_eq!(
                    reader.query(&newest).unwrap(),
                    sorted(expected.clone(), true),
                    "{} {newest:?}",
                    path.display()
                );
                let limited = filter.clone().with_limit(3);
                assert_eq!(
                    reader.query(&limited).unwrap(),
                    expected.iter().take(3).cloned().collect::<Vec<_>>(),
                    "{} {limited:?}",
                    path.display()
                );
                assert!(reader.skipped_lines().is_empty());
            }
            drop(reader);
            // Reading changed nothing: same bytes, table still there.
            assert_eq!(std::fs::read(path).unwrap(), before, "{}", path.display());
            let reader = ProtocolReader::open(path).unwrap();
            assert_eq!(
                reader.query(&EntryFilter::default()).unwrap().len(),
                data.len()
            );
        }
    }

    #[test]
    fn ties_break_by_entry_id_and_limit_takes_the_newest_when_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut data: Vec<_> = (0..6).map(full_entry).collect();
        for e in &mut data {
            e.timestamp = at(0, 1);
        }
        data[5].timestamp = at(9, 0);
        for path in write_both(&dir, &data) {
            let reader = ProtocolReader::open(&path).unwrap();
            let ids: Vec<_> = reader
                .query(&EntryFilter::default())
                .unwrap()
                .into_iter()
                .map(|e| e.entry_id)
                .collect();
            let mut expected: Vec<_> = data[..5].iter().map(|e| e.entry_id.clone()).collect();
            expected.sort();
            expected.push(data[5].entry_id.clone());
            assert_eq!(ids, expected);
            let newest = reader
                .query(&EntryFilter::default().newest_first().with_limit(1))
                .unwrap();
            assert_eq!(newest, vec![data[5].clone()]);
            assert!(reader
                .query(&EntryFilter::default().with_limit(0))
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn nanosecond_bounds_select_the_same_entries_from_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<_> = (0..4).map(full_entry).collect();
        // Entries at n seconds + 123 456 µs; bounds 1 ns past entry 1's time.
        let bound = data[1].timestamp + TimeDelta::nanoseconds(1);
        for path in write_both(&dir, &data) {
            let reader = ProtocolReader::open(&path).unwrap();
            let since = reader
                .query(&EntryFilter::default().with_since(bound))
                .unwrap();
            assert_eq!(since, data[2..].to_vec(), "{}", path.display());
            let until = reader
                .query(&EntryFilter::default().with_until(bound))
                .unwrap();
            assert_eq!(until, data[..2].to_vec(), "{}", path.display());
        }
    }

    #[test]
    fn sqlite_filters_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let [db, _] = write_both(&dir, &dataset());
        let conn = Connection::open(&db).unwrap();
        let plan = |filter: EntryFilter| -> String {
            let (sql, params) = filter.to_sql(&COLUMNS.join(", "));
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
        };
        let by_session = plan(EntryFilter::default().with_session("conv-1"));
        assert!(
            by_session.contains("protocol_entries_session"),
            "{by_session}"
        );
        let by_trace = plan(EntryFilter::default().with_trace("abc"));
        assert!(by_trace.contains("protocol_entries_trace"), "{by_trace}");
        let by_time = plan(EntryFilter::default().with_since(at(0, 0)));
        assert!(by_time.contains("protocol_entries_timestamp"), "{by_time}");
        let by_type = plan(EntryFilter::default().with_event_type(EventType::Handoff));
        assert!(by_type.contains("protocol_entries_event_type"), "{by_type}");
    }

    #[test]
    fn the_sql_carries_no_filter_values() {
        let filter = EntryFilter::default()
            .with_session("SESSION")
            .with_trace("TRACE")
            .with_agent("AGENT")
            .with_tool("TOOL")
            .with_model("MODEL")
            .with_event_type(EventType::Handoff)
            .with_since(at(0, 0))
            .with_until(at(1, 0))
            .errors_only()
            .with_limit(7);
        let (sql, params) = filter.to_sql(&COLUMNS.join(", "));
        for value in [
            "SESSION", "TRACE", "AGENT", "TOOL", "MODEL", "handoff", "2026", "7",
        ] {
            assert!(!sql.contains(value), "{value} in {sql}");
        }
        assert_eq!(params.len(), 10);
    }

    #[test]
    fn the_sqlite_reader_sees_committed_data_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();

        // Another writer holds an open write transaction with an uncommitted row.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        other
            .execute(
                "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, name, status) VALUES (1, 'u', '2026-01-01T00:00:00.000000Z',
                 'handoff', 't', 's', 'n', 'unset')",
                [],
            )
            .unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        other.execute_batch("ROLLBACK").unwrap();

        storage.write_batch(&[full_entry(2)]).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1), full_entry(2)]
        );
        // The reader cannot write, even by accident.
        let Backend::Sqlite(conn) = &reader.backend else {
            panic!("not a SQLite reader");
        };
        assert!(conn.execute("DELETE FROM protocol_entries", []).is_err());
    }

    #[test]
    fn a_missing_file_is_an_open_error_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["absent.db", "absent.jsonl"] {
            let path = dir.path().join(name);
            let err = ProtocolReader::open(&path).unwrap_err();
            assert!(matches!(err, ProtocolError::Open { .. }), "{err:?}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            assert!(!path.exists());
        }
        let err = ProtocolReader::open(dir.path().join("protocol.csv")).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnknownFormat { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_non_protocol_sqlite_file_is_corrupt_and_a_newer_one_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5Au8; 8192]).unwrap();
        let err = ProtocolReader::open(&garbage).unwrap_err();
        assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(&garbage.display().to_string()));

        let other_app = dir.path().join("other.sqlite");
        Connection::open(&other_app)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT)")
            .unwrap();
        let err = ProtocolReader::open(&other_app).unwrap_err();
        assert!(err.to_string().contains("protocol_entries"), "{err}");

        let newer = dir.path().join("newer.db");
        SqliteStorage::open(&newer).unwrap().close().unwrap();
        Connection::open(&newer)
            .unwrap()
            .execute(
                "UPDATE protocol_meta SET value = '3' WHERE key = 'schema_version'",
                [],
            )
            .unwrap();
        let err = ProtocolReader::open(&newer).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnsupportedSchema { found: 3, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn undecodable_sqlite_rows_are_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, name, status) VALUES (1, 'bad', '2026-01-01T00:00:00.000000Z',
                 'teleport', 't', 's', 'n', 'unset')",
                [],
            )
            .unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 2, "the rowid");
        assert!(skipped[0].reason.contains("event_type"), "{:?}", skipped[0]);
    }

    #[test]
    fn meta_reports_version_and_dropped_entries_for_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let [db, jsonl] = write_both(&dir, &[full_entry(1)]);
        for path in [&db, &jsonl] {
            let meta = ProtocolReader::open(path).unwrap().meta().unwrap();
            assert_eq!(
                meta,
                ProtocolMeta {
                    schema_version: SCHEMA_VERSION,
                    dropped_entries: 0
                }
            );
        }
        let mut storage = SqliteStorage::open(&db).unwrap();
        storage.record_dropped(12).unwrap();
        assert_eq!(
            ProtocolReader::open(&db)
                .unwrap()
                .meta()
                .unwrap()
                .dropped_entries,
            12
        );
    }

    #[test]
    fn over_long_lines_are_skipped_without_reading_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let mut content = full_entry(1).to_json_line().unwrap() + "\n";
        content.push_str(&format!("{{\"pad\":\"{}\"}}\n", "x".repeat(10_000)));
        content.push_str(&(bare_entry(2).to_json_line().unwrap() + "\n"));
        std::fs::write(&path, content).unwrap();
        let mut reader = ProtocolReader::open(&path).unwrap();
        reader.backend = Backend::Jsonl {
            max_line_bytes: 4096,
        };
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1), bare_entry(2)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 2);
        assert!(
            skipped[0].reason.contains("longer than 4096"),
            "{:?}",
            skipped[0]
        );
    }

    #[test]
    fn jsonl_entries_of_a_newer_schema_and_crlf_lines_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ndjson");
        let mut newer = serde_json::to_value(full_entry(2)).unwrap();
        newer["schema"] = json!(SCHEMA_VERSION + 1);
        let content = format!(
            "\u{FEFF}{}\r\n{}\n",
            full_entry(1).to_json_line().unwrap(),
            newer
        );
        std::fs::write(&path, content).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0].reason.contains("schema version 3"),
            "{:?}",
            skipped[0]
        );
    }

    #[test]
    fn format_is_told_from_the_extension() {
        for (name, format) in [
            ("a.db", Some(ProtocolFormat::Sqlite)),
            ("a.sqlite", Some(ProtocolFormat::Sqlite)),
            ("dir/a.SQLITE3", Some(ProtocolFormat::Sqlite)),
            ("a.jsonl", Some(ProtocolFormat::Jsonl)),
            ("a.NdJson", Some(ProtocolFormat::Jsonl)),
            ("a.json", None),
            ("a", None),
            ("db", None),
        ] {
            let result = ProtocolFormat::from_path(Path::new(name));
            match format {
                Some(f) => assert_eq!(result.unwrap(), f, "{name}"),
                None => assert!(
                    matches!(result, Err(ProtocolError::UnknownFormat { .. })),
                    "{name}"
                ),
            }
        }
    }

    #[test]
    fn open_as_reads_any_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        std::fs::write(&path, full_entry(1).to_json_line().unwrap() + "\n").unwrap();
        let reader = ProtocolReader::open_as(&path, ProtocolFormat::Jsonl).unwrap();
        assert_eq!(reader.format(), ProtocolFormat::Jsonl);
        assert_eq!(reader.path(), path);
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
    }

    #[test]
    fn query_file_works_on_a_current_thread_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let [db, jsonl] = write_both(&dir, &data);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // The runtime's only thread stays free while the query runs: a
            // concurrent task makes progress meanwhile.
            let ticker = tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                true
            });
            let filter = EntryFilter::default().with_session("conv-1");
            let (from_db, from_jsonl) =
                tokio::join!(query_file(&db, filter.clone()), query_file(&jsonl, filter));
            let expected = sorted(
                data.iter()
                    .filter(|e| e.session_id.as_deref() == Some("conv-1"))
                    .cloned()
                    .collect(),
                false,
            );
            assert!(!expected.is_empty());
            assert_eq!(from_db.unwrap(), expected);
            assert_eq!(from_jsonl.unwrap(), expected);
            assert!(ticker.await.unwrap());
            let missing = query_file(dir.path().join("missing.db"), EntryFilter::default()).await;
            assert!(matches!(missing, Err(ProtocolError::Open { .. })));
        });
    }

    #[test]
    fn a_utc_timestamp_round_trips_through_both_forms_at_microsecond_precision() {
        let dir = tempfile::tempdir().unwrap();
        let mut entry = full_entry(1);
        entry.timestamp = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap()
            + TimeDelta::microseconds(999_999);
        for path in write_both(&dir, std::slice::from_ref(&entry)) {
            let read = ProtocolReader::open(&path)
                .unwrap()
                .query(&EntryFilter::default())
                .unwrap();
            assert_eq!(read, vec![entry.clone()]);
        }
    }
}
