//! The PostgreSQL layout, shared by the writer (`storage::postgres`) and the
//! reader (`read::postgres`): the tables, partitions and indexes, the binary
//! `COPY` encoding of an entry and the decoding of a row — all derived from
//! [`COLUMNS`] — plus connecting (the URL and the `PG*` variables, TLS, the
//! session's time bounds) and the description of a database without its
//! password.
//!
//! Table `protocol_entries` has one column per field with PostgreSQL's own
//! types (`timestamptz`, `jsonb`, `bigint`, `double precision`, `text`),
//! partitioned by day on `timestamp`, plus two columns that record the order
//! of writing (`written_xact`, `written_seq`); table `protocol_meta(key,
//! value)` holds `schema_version` and `dropped_entries`, as in SQLite.

use std::collections::BTreeSet;
use std::error::Error as _;
use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use postgres::types::{FromSql, Type};
use postgres::{Client, Row};

use super::columns::{self, columns_of_schema, Cell, Kind, Raw, COLUMNS};
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// The entries table (partitioned).
pub(crate) const ENTRIES: &str = "protocol_entries";
/// The partition for days that get no partition of their own.
pub(crate) const DEFAULT_PARTITION: &str = "protocol_entries_default";
/// The session-local table each batch is copied into before it is inserted.
const BATCH_TABLE: &str = "protocol_batch";
/// Numbers entries in the order they were written, within a transaction.
const WRITTEN_SEQ: &str = "protocol_entries_written_seq";

/// Advisory lock keys (per database): creating or migrating the schema, and
/// creating partitions. Held for one transaction.
pub(crate) const SCHEMA_LOCK: i64 = 0x7265_6167_656e_0001;
pub(crate) const PARTITION_LOCK: i64 = 0x7265_6167_656e_0002;

/// How many days back and ahead of today a day gets a partition of its own;
/// entries further out go to [`DEFAULT_PARTITION`].
pub(crate) const PARTITION_DAYS_BACK: i64 = 3_660;
pub(crate) const PARTITION_DAYS_AHEAD: i64 = 7;

/// The column type of a field in PostgreSQL.
pub(crate) fn column_type(kind: Kind) -> &'static str {
    match kind {
        Kind::Text => "text",
        Kind::Integer => "bigint",
        Kind::Real => "double precision",
        Kind::Json => "jsonb",
        Kind::Timestamp => "timestamptz",
    }
}

/// Text columns compare and sort by bytes (`COLLATE "C"`), as SQLite and
/// JSON Lines do: ties in time order break by `entry_id` alike in every
/// form, and the indexes compare faster than under a language's rules.
fn column_definition(name: &str, kind: Kind, required: bool) -> String {
    let collate = if kind == Kind::Text {
        " COLLATE \"C\""
    } else {
        ""
    };
    let not_null = if required { " NOT NULL" } else { "" };
    format!("{name} {}{collate}{not_null}", column_type(kind))
}

/// The layout's columns that are not fields: the transaction that wrote the
/// row (its 64-bit id) and its number in the order of writing. Readers
/// following the table read in this order (see `read::postgres`).
const WRITTEN_COLUMNS: &str = "
    written_xact bigint NOT NULL DEFAULT (pg_current_xact_id()::text)::bigint,
    written_seq bigint NOT NULL DEFAULT nextval('protocol_entries_written_seq')";

/// The schema of this build, created in one transaction (see
/// `storage::postgres`): meta table, sequence, partitioned table, default
/// partition, indexes.
pub(crate) static CREATE_SCHEMA: LazyLock<String> = LazyLock::new(|| {
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS protocol_meta (key text COLLATE \"C\" PRIMARY KEY, value text);\n",
    );
    let _ = writeln!(
        sql,
        "CREATE SEQUENCE IF NOT EXISTS {WRITTEN_SEQ} AS bigint CACHE 1000;"
    );
    let _ = write!(sql, "CREATE TABLE IF NOT EXISTS {ENTRIES} (");
    for column in &COLUMNS {
        let _ = write!(
            sql,
            "\n    {},",
            column_definition(column.name, column.kind, column.required)
        );
    }
    let _ = write!(
        sql,
        "{WRITTEN_COLUMNS},\n    PRIMARY KEY (timestamp, entry_id)\n) PARTITION BY RANGE (timestamp);\n"
    );
    sql.push_str(&CREATE_DEFAULT_AND_INDEXES);
    sql
});

/// The default partition and the indexes (also what a migration from an
/// older layout without them adds).
static CREATE_DEFAULT_AND_INDEXES: LazyLock<String> = LazyLock::new(|| {
    let mut sql =
        format!("CREATE TABLE IF NOT EXISTS {DEFAULT_PARTITION} PARTITION OF {ENTRIES} DEFAULT;\n");
    for (name, columns) in INDEXES {
        let _ = writeln!(
            sql,
            "CREATE INDEX IF NOT EXISTS {name} ON {ENTRIES} ({columns});"
        );
    }
    sql
});

/// The look-up indexes beside the primary key `(timestamp, entry_id)`, which
/// serves time-window reads: by session, trace and event type, each ordered
/// by time, and the order of writing, for following.
pub(crate) const INDEXES: [(&str, &str); 4] = [
    ("protocol_entries_session", "session_id, timestamp"),
    ("protocol_entries_trace", "trace_id, timestamp"),
    ("protocol_entries_event_type", "event_type, timestamp"),
    ("protocol_entries_written", "written_xact, written_seq"),
];

/// The columns a database written at `schema` lacks, as `ADD COLUMN` clauses.
pub(crate) fn columns_added_after(schema: u32) -> Vec<String> {
    COLUMNS
        .iter()
        .filter(|c| c.since_schema > schema)
        .map(|c| {
            format!(
                "ADD COLUMN IF NOT EXISTS {}",
                column_definition(c.name, c.kind, c.required)
            )
        })
        .collect()
}

/// The session-local batch table: the fields only (the written order comes
/// from the defaults when rows move into [`ENTRIES`]), emptied at commit.
pub(crate) static CREATE_BATCH_TABLE: LazyLock<String> = LazyLock::new(|| {
    let columns: Vec<String> = COLUMNS
        .iter()
        .map(|c| column_definition(c.name, c.kind, false))
        .collect();
    format!(
        "CREATE TEMPORARY TABLE IF NOT EXISTS {BATCH_TABLE} ({}) ON COMMIT DELETE ROWS",
        columns.join(", ")
    )
});

fn column_names() -> String {
    COLUMNS
        .iter()
        .map(|c| c.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies a batch, binary, straight into the protocol: the fast way, taken
/// first. An entry already stored makes it fail as a whole (the primary
/// key), and the batch goes the idempotent way instead ([`COPY_BATCH`],
/// [`INSERT_BATCH`]).
pub(crate) static COPY_DIRECT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY {ENTRIES} ({}) FROM STDIN (FORMAT binary)",
        column_names()
    )
});

/// Copies a batch, binary, into the batch table.
pub(crate) static COPY_BATCH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "COPY {BATCH_TABLE} ({}) FROM STDIN (FORMAT binary)",
        column_names()
    )
});

/// Moves the batch into the protocol by the fill rule (`FORMAT.md`): an
/// entry already stored (the same `timestamp` and `entry_id`) keeps every
/// value it has and only gets the empty fields the new copy has, so writing
/// a batch again — a retry, a second `convert`, another process — stores
/// each entry once, and a receiver's later, sparse copy of an entry (its
/// agent and session, known only once the agent span arrived) completes it.
/// Of two copies in one batch the fuller one is taken (an upsert may touch a
/// row once per statement). Each returned row says whether it was inserted
/// rather than filled: a filled row keeps the `written_xact` of the
/// transaction that first wrote it (`xmax = 0`, the usual test, is not
/// available on a partitioned table).
///
/// The writing transaction's id is looked up once per statement (not once
/// per row, as the column's default would); a filled row keeps its own.
pub(crate) static INSERT_BATCH: LazyLock<String> = LazyLock::new(|| {
    let names = column_names();
    let optional: Vec<&str> = COLUMNS
        .iter()
        .filter(|c| !c.required)
        .map(|c| c.name)
        .collect();
    let fill = optional
        .iter()
        .map(|name| format!("{name} = coalesce({ENTRIES}.{name}, EXCLUDED.{name})"))
        .collect::<Vec<_>>()
        .join(", ");
    let fills_any = optional
        .iter()
        .map(|name| format!("({ENTRIES}.{name} IS NULL AND EXCLUDED.{name} IS NOT NULL)"))
        .collect::<Vec<_>>()
        .join(" OR ");
    format!(
        "INSERT INTO {ENTRIES} ({names}, written_xact) \
         SELECT DISTINCT ON (timestamp, entry_id) {names}, \
                (SELECT (pg_current_xact_id()::text)::bigint) FROM {BATCH_TABLE} \
         ORDER BY timestamp, entry_id, num_nonnulls({}) DESC \
         ON CONFLICT (timestamp, entry_id) DO UPDATE SET {fill} WHERE {fills_any} \
         RETURNING written_xact = (pg_current_xact_id()::text)::bigint",
        optional.join(", ")
    )
});

/// The name of the partition holding the UTC day `day`.
pub(crate) fn partition_name(day: NaiveDate) -> String {
    format!("{ENTRIES}_p{}", day.format("%Y%m%d"))
}

/// `CREATE TABLE` of the partition of `day` (its bounds are fixed SQL text
/// made from a date, not user input).
pub(crate) fn create_partition(day: NaiveDate) -> String {
    let next = day.succ_opt().unwrap_or(day);
    format!(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF {ENTRIES} FOR VALUES FROM ('{} 00:00:00+00') TO ('{} 00:00:00+00')",
        partition_name(day),
        day.format("%Y-%m-%d"),
        next.format("%Y-%m-%d")
    )
}

/// The UTC days of a batch's entries.
pub(crate) fn days_of(entries: &[ProtocolEntry]) -> BTreeSet<NaiveDate> {
    entries.iter().map(|e| e.timestamp.date_naive()).collect()
}

/// Whether `day` gets a partition of its own, seen from `today`.
pub(crate) fn has_own_partition(day: NaiveDate, today: NaiveDate) -> bool {
    let offset = day.signed_duration_since(today).num_days();
    (-PARTITION_DAYS_BACK..=PARTITION_DAYS_AHEAD).contains(&offset)
}

// ------------------------------------------------------------ binary COPY

/// PostgreSQL's epoch for `timestamptz`: 2000-01-01T00:00:00Z.
const PG_EPOCH_UNIX_SECONDS: i64 = 946_684_800;
/// The range of `timestamptz`, in microseconds from its epoch: 4714-11-24 BC
/// to 294277-01-01 (exclusive).
const PG_MIN_MICROS: i64 = -211_813_488_000_000_000;
const PG_END_MICROS: i64 = 9_223_371_331_200_000_000;

/// Encodes batches in `COPY … (FORMAT binary)`, keeping its buffer.
#[derive(Debug, Default)]
pub(crate) struct CopyEncoder {
    buffer: Vec<u8>,
    json: Vec<u8>,
}

impl CopyEncoder {
    /// Above this, the buffer is released after the batch.
    const KEEP_CAPACITY: usize = 8 << 20;

    /// The whole `COPY` payload of `entries`: header, one tuple each, trailer.
    pub(crate) fn encode(&mut self, entries: &[ProtocolEntry]) -> Result<&[u8]> {
        self.buffer.clear();
        self.buffer.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        self.buffer.extend_from_slice(&0i32.to_be_bytes()); // flags
        self.buffer.extend_from_slice(&0i32.to_be_bytes()); // header extension
        let fields = i16::try_from(COLUMNS.len()).unwrap_or(i16::MAX);
        for entry in entries {
            self.buffer.extend_from_slice(&fields.to_be_bytes());
            for column in &COLUMNS {
                match (column.get)(entry) {
                    Cell::Null => self.buffer.extend_from_slice(&(-1i32).to_be_bytes()),
                    // Content is JSON text already (`Kind::Json`): it goes
                    // into its jsonb column as it was captured, made fit for
                    // jsonb, never parsed into a tree first.
                    Cell::Text(text) if column.kind == Kind::Json => {
                        let start = self.begin_field();
                        self.buffer.push(1); // jsonb's binary format version
                        push_json(&mut self.buffer, text.as_bytes());
                        self.end_field(start)?;
                    }
                    Cell::Text(text) => {
                        let start = self.begin_field();
                        push_text(&mut self.buffer, text);
                        self.end_field(start)?;
                    }
                    Cell::Integer(n) => {
                        self.buffer.extend_from_slice(&8i32.to_be_bytes());
                        self.buffer.extend_from_slice(&n.to_be_bytes());
                    }
                    Cell::Real(f) => {
                        self.buffer.extend_from_slice(&8i32.to_be_bytes());
                        self.buffer.extend_from_slice(&f.to_bits().to_be_bytes());
                    }
                    Cell::Timestamp(at) => {
                        let micros = pg_micros(at).ok_or_else(|| {
                            ProtocolError::InvalidConfig(format!(
                                "entry {} has timestamp {at}, outside what PostgreSQL stores \
                                 (4713 BC to 294276 AD)",
                                entry.entry_id
                            ))
                        })?;
                        self.buffer.extend_from_slice(&8i32.to_be_bytes());
                        self.buffer.extend_from_slice(&micros.to_be_bytes());
                    }
                    Cell::Json(value) => {
                        self.json.clear();
                        value.write_json(&mut self.json)?;
                        let start = self.begin_field();
                        self.buffer.push(1); // jsonb's binary format version
                        push_json(&mut self.buffer, &self.json);
                        self.end_field(start)?;
                    }
                }
            }
        }
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        Ok(&self.buffer)
    }

    /// Releases buffers that one huge batch grew.
    pub(crate) fn shrink(&mut self) {
        if self.buffer.capacity() > Self::KEEP_CAPACITY {
            self.buffer = Vec::new();
        }
        if self.json.capacity() > Self::KEEP_CAPACITY {
            self.json = Vec::new();
        }
    }

    /// Reserves a field's length word; returns where its data starts.
    fn begin_field(&mut self) -> usize {
        self.buffer.extend_from_slice(&0i32.to_be_bytes());
        self.buffer.len()
    }

    /// Writes the length of the field whose data started at `start`.
    fn end_field(&mut self, start: usize) -> Result<()> {
        let len = i32::try_from(self.buffer.len() - start).map_err(|_| {
            ProtocolError::InvalidConfig("a value longer than PostgreSQL's 1 GiB limit".into())
        })?;
        self.buffer[start - 4..start].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }
}

/// Microseconds from PostgreSQL's epoch, when within `timestamptz`'s range.
fn pg_micros(at: &DateTime<Utc>) -> Option<i64> {
    let epoch = DateTime::<Utc>::from_timestamp(PG_EPOCH_UNIX_SECONDS, 0)?;
    let micros = at.signed_duration_since(epoch).num_microseconds()?;
    (PG_MIN_MICROS..PG_END_MICROS)
        .contains(&micros)
        .then_some(micros)
}

/// The time `micros` after PostgreSQL's epoch.
fn from_pg_micros(micros: i64) -> Option<DateTime<Utc>> {
    let epoch = DateTime::<Utc>::from_timestamp(PG_EPOCH_UNIX_SECONDS, 0)?;
    epoch.checked_add_signed(TimeDelta::microseconds(micros))
}

/// PostgreSQL stores no U+0000 in `text` or `jsonb`: it becomes U+FFFD.
const NUL_REPLACEMENT: &str = "\u{FFFD}";

/// Appends `text`, U+0000 replaced (see `FORMAT.md`).
fn push_text(out: &mut Vec<u8>, text: &str) {
    if !text.contains('\0') {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    out.extend_from_slice(text.replace('\0', NUL_REPLACEMENT).as_bytes());
}

/// The longest number, in digits, and the largest exponent that
/// [`push_json`] hands to jsonb as a number. PostgreSQL's `numeric` holds up
/// to 131 072 digits before the point and 16 383 after it; within these two
/// bounds every number fits, and one that does not would make the server
/// refuse the whole batch.
const MAX_NUMBER_DIGITS: usize = 5_000;
const MAX_NUMBER_EXPONENT: u32 = 5_000;

/// Appends valid JSON text made fit for `jsonb`, which refuses three things
/// that JSON (and a captured content's text) may hold: the escape `\u0000`
/// and an unpaired surrogate escape (`\ud800` alone) become `\ufffd`, the
/// replacement character; a number beyond `numeric`'s range (see
/// [`MAX_NUMBER_DIGITS`]) becomes a string of its text. Everything else is
/// copied as it is, in runs. `json` is valid JSON (checked when the value
/// was made), so a backslash only ever starts an escape inside a string and
/// a digit or `-` outside one starts a number.
fn push_json(out: &mut Vec<u8>, json: &[u8]) {
    let mut copied = 0;
    let mut i = 0;
    while i < json.len() {
        match json[i] {
            b'"' => {
                i += 1;
                while i < json.len() && json[i] != b'"' {
                    if json[i] != b'\\' {
                        i += 1;
                        continue;
                    }
                    if json.get(i + 1) != Some(&b'u') {
                        i += 2;
                        continue;
                    }
                    let unit = hex_unit(json, i + 2);
                    let keep = match unit {
                        Some(0) | None => 0,
                        Some(0xD800..=0xDBFF) => {
                            // A high surrogate is kept only with the low one
                            // that must follow it, as a pair.
                            let low = json.get(i + 6..i + 8) == Some(b"\\u")
                                && matches!(hex_unit(json, i + 8), Some(0xDC00..=0xDFFF));
                            if low {
                                12
                            } else {
                                0
                            }
                        }
                        Some(0xDC00..=0xDFFF) => 0,
                        Some(_) => 6,
                    };
                    if keep > 0 {
                        i += keep;
                    } else {
                        out.extend_from_slice(&json[copied..i]);
                        out.extend_from_slice(b"\\ufffd");
                        i += 6;
                        copied = i;
                    }
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < json.len()
                    && matches!(json[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let number = &json[start..i];
                if !fits_numeric(number) {
                    out.extend_from_slice(&json[copied..start]);
                    out.push(b'"');
                    out.extend_from_slice(number);
                    out.push(b'"');
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    out.extend_from_slice(&json[copied.min(json.len())..]);
}

/// The UTF-16 unit of the four hex digits at `at`, when they are there.
fn hex_unit(json: &[u8], at: usize) -> Option<u32> {
    let digits = std::str::from_utf8(json.get(at..at + 4)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

/// Whether a JSON number's text is within what [`push_json`] hands to jsonb
/// as a number.
fn fits_numeric(number: &[u8]) -> bool {
    let (mantissa, exponent) = match number.iter().position(|&b| b == b'e' || b == b'E') {
        Some(at) => (&number[..at], &number[at + 1..]),
        None => (number, &b""[..]),
    };
    let digits = mantissa.iter().filter(|b| b.is_ascii_digit()).count();
    let exponent = exponent
        .iter()
        .skip_while(|&&b| b == b'+' || b == b'-')
        .skip_while(|&&b| b == b'0')
        .try_fold(0u32, |n, &b| {
            n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
        });
    digits <= MAX_NUMBER_DIGITS && exponent.is_some_and(|e| e <= MAX_NUMBER_EXPONENT)
}

// ---------------------------------------------------------------- reading

/// A column's value as the server sent it (binary), with its type.
struct Received<'r> {
    ty: Type,
    bytes: &'r [u8],
}

impl<'r> FromSql<'r> for Received<'r> {
    fn from_sql(
        ty: &Type,
        raw: &'r [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Received {
            ty: ty.clone(),
            bytes: raw,
        })
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A received value as the column table takes it; the error names the type
/// it cannot take.
fn raw<'r>(value: Option<Received<'r>>) -> std::result::Result<Raw<'r>, String> {
    let Some(Received { ty, bytes }) = value else {
        return Ok(Raw::Null);
    };
    let fixed = |n: usize| -> std::result::Result<[u8; 8], String> {
        let mut out = [0u8; 8];
        if bytes.len() != n {
            return Err(format!("has a malformed {ty} value"));
        }
        out[8 - n..].copy_from_slice(bytes);
        Ok(out)
    };
    Ok(match ty {
        Type::INT8 => Raw::Integer(i64::from_be_bytes(fixed(8)?)),
        Type::INT4 => Raw::Integer(i64::from(i32::from_be_bytes(
            bytes
                .try_into()
                .map_err(|_| format!("has a malformed {ty} value"))?,
        ))),
        Type::INT2 => Raw::Integer(i64::from(i16::from_be_bytes(
            bytes
                .try_into()
                .map_err(|_| format!("has a malformed {ty} value"))?,
        ))),
        Type::FLOAT8 => Raw::Real(f64::from_bits(u64::from_be_bytes(fixed(8)?))),
        Type::FLOAT4 => Raw::Real(f64::from(f32::from_bits(u32::from_be_bytes(
            bytes
                .try_into()
                .map_err(|_| format!("has a malformed {ty} value"))?,
        )))),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON => Raw::Text(bytes),
        Type::JSONB => match bytes.split_first() {
            Some((1, json)) => Raw::Text(json),
            _ => return Err("has a jsonb value of an unknown binary version".into()),
        },
        Type::TIMESTAMPTZ | Type::TIMESTAMP => {
            let micros = i64::from_be_bytes(fixed(8)?);
            match from_pg_micros(micros) {
                Some(at) => Raw::Timestamp(at),
                None => return Err("has a timestamp outside what this build reads".into()),
            }
        }
        other => return Err(format!("has the unexpected type {other}")),
    })
}

/// Builds an entry from a row whose columns, from `first` on, are the
/// [`COLUMNS`] (a select list from [`select_list`]); the error names the
/// column that did not decode.
pub(crate) fn decode_row(row: &Row, first: usize) -> std::result::Result<ProtocolEntry, String> {
    let mut failed = None;
    let values = (0..COLUMNS.len()).map_while(|i| {
        match row
            .try_get::<_, Option<Received<'_>>>(first + i)
            .map_err(|e| e.to_string())
            .and_then(raw)
        {
            Ok(value) => Some(value),
            Err(reason) => {
                failed = Some(format!("column {} {reason}", COLUMNS[i].name));
                None
            }
        }
    });
    let decoded = columns::decode(values);
    match failed {
        Some(reason) => Err(reason),
        None => decoded,
    }
}

/// The SELECT list of [`COLUMNS`] for a table that has the columns
/// `present`: a column it lacks (a schema-1 database no writer has migrated
/// yet) or that `selection` leaves out reads as NULL.
pub(crate) fn select_list(present: &[String], selection: super::sqlite::Selection) -> String {
    COLUMNS
        .iter()
        .map(|column| {
            if selection.leaves_out(column) || !present.iter().any(|p| p == column.name) {
                format!("NULL::{} AS {}", column_type(column.kind), column.name)
            } else {
                column.name.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The column names of `table` in the current schema search path (empty
/// when there is no such table).
pub(crate) fn table_columns(
    client: &mut Client,
    target: &Target,
    table: &str,
) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT attname::text FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped \
             ORDER BY attnum",
            &[&table],
        )
        .map_err(|e| target.error(e))?;
    Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
}

/// Reads one `protocol_meta` value; `None` when the key or the table is absent.
pub(crate) fn read_meta_value(
    client: &mut Client,
    target: &Target,
    key: &str,
) -> Result<Option<String>> {
    let row = client
        .query_one("SELECT to_regclass('protocol_meta') IS NOT NULL", &[])
        .map_err(|e| target.error(e))?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client
        .query_opt("SELECT value FROM protocol_meta WHERE key = $1", &[&key])
        .map_err(|e| target.error(e))?;
    Ok(row.and_then(|row| row.get::<_, Option<String>>(0)))
}

/// Reads a numeric `protocol_meta` value.
pub(crate) fn read_meta_number<T: std::str::FromStr>(
    client: &mut Client,
    target: &Target,
    key: &str,
) -> Result<Option<T>> {
    let Some(text) = read_meta_value(client, target, key)? else {
        return Ok(None);
    };
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| target.corrupt(format!("protocol_meta {key} is not a number: {text:?}")))
}

/// The schema version the database records (`None` for a database without
/// the protocol's tables); a version this build does not know is an error.
pub(crate) fn schema_version(client: &mut Client, target: &Target) -> Result<Option<u32>> {
    let Some(found) = read_meta_value(client, target, "schema_version")? else {
        return Ok(None);
    };
    match found.trim().parse::<i64>() {
        Ok(version) if version > i64::from(SCHEMA_VERSION) => {
            Err(ProtocolError::UnsupportedSchema {
                path: target.redacted().into(),
                found: version,
                supported: i64::from(SCHEMA_VERSION),
            })
        }
        Ok(version) if version >= 1 => Ok(u32::try_from(version).ok()),
        _ => Err(target.corrupt(format!(
            "protocol_meta has an invalid schema_version {found:?}"
        ))),
    }
}

/// Checks that the database holds a protocol this build can read and returns
/// the entry columns it has. Reads only.
pub(crate) fn verify_protocol_schema(client: &mut Client, target: &Target) -> Result<Vec<String>> {
    schema_version(client, target)?;
    let present = table_columns(client, target, ENTRIES)?;
    if present.is_empty() {
        return Err(target.corrupt(format!(
            "it has no {ENTRIES} table (no protocol has been written to it yet)"
        )));
    }
    let missing: Vec<&str> = columns_of_schema(1)
        .map(|c| c.name)
        .chain(["written_xact", "written_seq"])
        .filter(|name| !present.iter().any(|p| p == name))
        .collect();
    if missing.is_empty() {
        Ok(present)
    } else {
        Err(target.corrupt(format!(
            "table {ENTRIES} lacks column(s) {}",
            missing.join(", ")
        )))
    }
}

// ------------------------------------------------------------- connecting

/// The default bound on establishing a connection.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The default bound on one statement (and on waiting for a lock).
pub(crate) const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `text` is a PostgreSQL connection URL.
pub(crate) fn is_url(text: &str) -> bool {
    let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// How TLS is asked for (`sslmode`, as libpq reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A database to connect to: the client's configuration, the TLS settings,
/// and the description of it that messages use — never the password.
#[derive(Clone)]
pub(crate) struct Target {
    config: postgres::Config,
    tls: TlsMode,
    #[cfg_attr(not(feature = "postgres-tls"), allow(dead_code))]
    root_cert: Option<std::path::PathBuf>,
    redacted: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl Target {
    /// Reads a `postgres://` URL, filling in what it leaves out from the
    /// standard `PG*` variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
    /// `PGDATABASE`, `PGAPPNAME`, `PGCONNECT_TIMEOUT`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`), then libpq's defaults. The error never quotes the
    /// URL, which may hold a password.
    pub(crate) fn parse(url: &str) -> Result<Self> {
        Self::parse_with(url, &|name| std::env::var(name).ok())
    }

    pub(crate) fn parse_with(url: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Self> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        // libpq's TLS settings are taken out here: the client parses only
        // `disable`, `prefer` and `require`, and no `sslrootcert`.
        let (url_rest, mut tls, mut root_cert) = take_tls_params(url)?;
        let mut config: postgres::Config = url_rest.parse().map_err(|e: postgres::Error| {
            let reason = e
                .source()
                .map_or_else(|| e.to_string(), |cause| format!("{e}: {cause}"));
            ProtocolError::InvalidConfig(format!(
                "invalid PostgreSQL URL ({reason}); expected postgres://user@host:port/database"
            ))
        })?;
        if config.get_hosts().is_empty() {
            match env("PGHOST") {
                Some(hosts) => {
                    for host in hosts.split(',') {
                        config.host(host);
                    }
                }
                None if std::path::Path::new("/var/run/postgresql").is_dir() => {
                    config.host("/var/run/postgresql");
                }
                None => {
                    config.host("localhost");
                }
            }
        }
        if config.get_ports().is_empty() {
            if let Some(port) = env("PGPORT") {
                let port = port.parse::<u16>().map_err(|_| {
                    ProtocolError::InvalidConfig(format!("PGPORT is not a port number: {port:?}"))
                })?;
                config.port(port);
            }
        }
        if config.get_user().is_none() {
            let user = env("PGUSER")
                .or_else(|| env("USER"))
                .or_else(|| env("LOGNAME"))
                .ok_or_else(|| {
                    ProtocolError::InvalidConfig(
                        "no PostgreSQL user: give one in the URL (postgres://user@host/db) or in PGUSER"
                            .into(),
                    )
                })?;
            config.user(&user);
        }
        if config.get_password().is_none() {
            if let Some(password) = env("PGPASSWORD") {
                config.password(password);
            }
        }
        if config.get_dbname().is_none() {
            if let Some(dbname) = env("PGDATABASE") {
                config.dbname(&dbname);
            }
        }
        if config.get_application_name().is_none() {
            let name = env("PGAPPNAME").unwrap_or_else(|| "reagentic-protocol".into());
            config.application_name(&name);
        }
        if config.get_connect_timeout().is_none() {
            let from_env = env("PGCONNECT_TIMEOUT")
                .and_then(|s| s.parse::<u64>().ok())
                .filter(|&s| s > 0)
                .map(Duration::from_secs);
            config.connect_timeout(from_env.unwrap_or(DEFAULT_CONNECT_TIMEOUT));
        }
        if tls.is_none() {
            tls = env("PGSSLMODE")
                .map(|mode| parse_tls_mode(&mode))
                .transpose()?;
        }
        if root_cert.is_none() {
            root_cert = env("PGSSLROOTCERT").map(std::path::PathBuf::from);
        }
        // Dead connections are noticed within about a minute even when no
        // statement is running; unanswered sends fail after the same time.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(60));
        config.notice_callback(|notice| {
            tracing::debug!(
                severity = notice.severity(),
                message = notice.message(),
                "PostgreSQL notice"
            );
        });
        let redacted = redact(&config);
        Ok(Target {
            config,
            tls: tls.unwrap_or(TlsMode::Prefer),
            root_cert,
            redacted,
        })
    }

    /// `postgres://user@host:port/database`: for every message.
    pub(crate) fn redacted(&self) -> &str {
        &self.redacted
    }

    /// Replaces the bound on connecting.
    pub(crate) fn set_connect_timeout(&mut self, timeout: Duration) {
        self.config.connect_timeout(timeout);
    }

    /// The error of a client call on this database.
    pub(crate) fn error(&self, source: postgres::Error) -> ProtocolError {
        let mut message = source.to_string();
        let mut cause = source.source();
        while let Some(inner) = cause {
            message.push_str(": ");
            message.push_str(&inner.to_string());
            cause = inner.source();
        }
        ProtocolError::Postgres {
            target: self.redacted.clone(),
            message,
            source,
        }
    }

    /// "Not a protocol this build can use", naming the database.
    pub(crate) fn corrupt(&self, reason: String) -> ProtocolError {
        ProtocolError::Corrupt {
            path: self.redacted.clone().into(),
            reason,
        }
    }

    /// Connects, bounded by the connect timeout, and bounds every statement
    /// of the session by `statement_timeout` (lock waits included), and a
    /// transaction left idle by a writer that vanished by twice that.
    pub(crate) fn connect(&self, statement_timeout: Duration, read_only: bool) -> Result<Client> {
        let mut client = self.connect_client()?;
        let millis = statement_timeout.as_millis().clamp(1, i32::MAX as u128);
        let mut setup = format!(
            "SET statement_timeout = {millis}; SET lock_timeout = {millis}; \
             SET idle_in_transaction_session_timeout = {}; SET TIME ZONE 'UTC';",
            (millis * 2).min(i32::MAX as u128)
        );
        if read_only {
            setup.push_str(" SET default_transaction_read_only = on;");
        }
        client.batch_execute(&setup).map_err(|e| self.error(e))?;
        let encoding: String = client
            .query_one("SHOW server_encoding", &[])
            .map_err(|e| self.error(e))?
            .get(0);
        if !encoding.eq_ignore_ascii_case("UTF8") {
            return Err(self.corrupt(format!(
                "the database's encoding is {encoding}; the protocol needs UTF8"
            )));
        }
        Ok(client)
    }

    #[cfg(not(feature = "postgres-tls"))]
    fn connect_client(&self) -> Result<Client> {
        let mut config = self.config.clone();
        match self.tls {
            // `prefer` without TLS compiled in: a plain connection, as libpq
            // built without TLS makes.
            TlsMode::Disable | TlsMode::Prefer => {
                config.ssl_mode(postgres::config::SslMode::Disable);
            }
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => {
                return Err(ProtocolError::InvalidConfig(format!(
                    "{}: sslmode asks for TLS, which this build leaves out \
                     (enable the feature `postgres-tls`)",
                    self.redacted
                )));
            }
        }
        config.connect(postgres::NoTls).map_err(|e| self.error(e))
    }

    /// Connects with TLS as libpq's `sslmode` says: `prefer` and `require`
    /// encrypt without checking the certificate (unless `sslrootcert` is
    /// given to `require`), `verify-ca` checks it against `sslrootcert` (or
    /// the system's roots), `verify-full` also checks the host name.
    #[cfg(feature = "postgres-tls")]
    fn connect_client(&self) -> Result<Client> {
        let mut config = self.config.clone();
        let mut builder = native_tls::TlsConnector::builder();
        let (mode, check_chain, check_host) = match self.tls {
            TlsMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                return config.connect(postgres::NoTls).map_err(|e| self.error(e));
            }
            TlsMode::Prefer => (postgres::config::SslMode::Prefer, false, false),
            TlsMode::Require => (
                postgres::config::SslMode::Require,
                self.root_cert.is_some(),
                false,
            ),
            TlsMode::VerifyCa => (postgres::config::SslMode::Require, true, false),
            TlsMode::VerifyFull => (postgres::config::SslMode::Require, true, true),
        };
        config.ssl_mode(mode);
        builder
            .danger_accept_invalid_certs(!check_chain)
            .danger_accept_invalid_hostnames(!check_host);
        if let (true, Some(path)) = (check_chain, &self.root_cert) {
            let pem = std::fs::read(path).map_err(|source| ProtocolError::Open {
                path: path.clone(),
                source,
            })?;
            let certificate = native_tls::Certificate::from_pem(&pem).map_err(|e| {
                ProtocolError::InvalidConfig(format!(
                    "sslrootcert {} is not a PEM certificate: {e}",
                    path.display()
                ))
            })?;
            builder.add_root_certificate(certificate);
        }
        let connector = builder.build().map_err(|e| {
            ProtocolError::InvalidConfig(format!("cannot set up TLS for {}: {e}", self.redacted))
        })?;
        config
            .connect(postgres_native_tls::MakeTlsConnector::new(connector))
            .map_err(|e| self.error(e))
    }
}

/// Takes `sslmode` and `sslrootcert` out of a URL's query.
fn take_tls_params(url: &str) -> Result<(String, Option<TlsMode>, Option<std::path::PathBuf>)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, None));
    };
    let (mut tls, mut root_cert) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => tls = Some(parse_tls_mode(&percent_decode(value))?),
            "sslrootcert" => root_cert = Some(std::path::PathBuf::from(percent_decode(value))),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, tls, root_cert))
}

fn parse_tls_mode(mode: &str) -> Result<TlsMode> {
    Ok(match mode {
        "disable" | "allow" => TlsMode::Disable,
        "prefer" => TlsMode::Prefer,
        "require" => TlsMode::Require,
        "verify-ca" => TlsMode::VerifyCa,
        "verify-full" => TlsMode::VerifyFull,
        other => {
            return Err(ProtocolError::InvalidConfig(format!(
                "unknown sslmode {other:?}: expected disable, prefer, require, verify-ca or verify-full"
            )))
        }
    })
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(n) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(n);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `postgres://user@host:port/database`, with every host and port, and
/// never the password.
fn redact(config: &postgres::Config) -> String {
    use postgres::config::Host;
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports
                .get(i)
                .or_else(|| (ports.len() == 1).then(|| &ports[0]))
                .copied()
                .unwrap_or(5432);
            match host {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{port}"),
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    let user = config.get_user().unwrap_or("");
    let database = config.get_dbname().unwrap_or(user);
    format!("postgres://{user}@{}/{database}", hosts.join(","))
}
