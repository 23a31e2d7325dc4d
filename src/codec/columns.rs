//! The protocol's fields as one table.
//!
//! Each row of [`COLUMNS`] is one field of [`ProtocolEntry`]: its name (the
//! JSON key and the SQLite column), its type, whether it may be empty, the
//! schema version that added it, and how to read it from and write it into
//! an entry. The SQLite table, its migration, the INSERT, the binding of an
//! entry and the decoding of a row are all derived from this table; the JSON
//! form comes from serde, and tests keep the two — and `FORMAT.md` — in step
//! with it, so a field added to the entry without a row here fails the build's
//! tests.

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::entry::{Content, CostSource, EntryStatus, EventType, ProtocolEntry};

/// What a field holds, which decides how each storage form stores it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// UTF-8 text.
    Text,
    /// A whole number (token counts, the schema version).
    Integer,
    /// A floating-point number (milliseconds, US dollars).
    Real,
    /// A JSON value, stored as JSON text in SQLite.
    Json,
    /// A point in time: RFC 3339, UTC, microseconds (text that sorts
    /// chronologically) in SQLite and JSON Lines.
    Timestamp,
}

impl Kind {
    /// The column type in SQLite.
    pub(crate) fn sqlite_type(self) -> &'static str {
        match self {
            Kind::Text | Kind::Json | Kind::Timestamp => "TEXT",
            Kind::Integer => "INTEGER",
            Kind::Real => "REAL",
        }
    }
}

/// One field of the protocol format.
pub(crate) struct Column {
    /// The JSON key and SQLite column name.
    pub(crate) name: &'static str,
    /// What it holds.
    pub(crate) kind: Kind,
    /// Whether every entry has it (`NOT NULL`).
    pub(crate) required: bool,
    /// The schema version that added it.
    pub(crate) since_schema: u32,
    /// Whether it holds content (prompts, answers, arguments, attributes):
    /// readers that only count and time steps leave it out.
    pub(crate) content: bool,
    /// The entry's value of this field.
    pub(crate) get: for<'e> fn(&'e ProtocolEntry) -> Cell<'e>,
    /// Stores a stored value into the entry; the error says why it does not
    /// fit (the caller names the column).
    pub(crate) set: fn(&mut ProtocolEntry, Raw<'_>) -> Result<(), String>,
}

/// A field's value on its way out of an entry, borrowed from it.
pub(crate) enum Cell<'e> {
    /// No value.
    Null,
    /// Text.
    Text(&'e str),
    /// A whole number.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// A timestamp, to be written in the protocol's text form.
    Timestamp(&'e DateTime<Utc>),
    /// A value to be written as JSON text.
    Json(&'e dyn JsonValue),
}

/// A field value that serializes to JSON (entries hold several types).
pub(crate) trait JsonValue {
    /// Appends the value's JSON text to `out`.
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()>;
}

impl<T: Serialize> JsonValue for T {
    fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        serde_json::to_writer(out, self)
    }
}

/// A stored value on its way into an entry, as a storage form hands it over.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Raw<'r> {
    /// No value (SQL `NULL`).
    Null,
    /// A whole number.
    Integer(i64),
    /// A floating-point number.
    Real(f64),
    /// Text, not yet checked to be UTF-8.
    Text(&'r [u8]),
    /// Bytes: never written by this crate, so always a mismatch.
    Blob,
    /// A point in time, as a storage with a time type hands it over
    /// (PostgreSQL's `timestamptz`).
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Timestamp(DateTime<Utc>),
}

impl<'r> Raw<'r> {
    fn type_name(self) -> &'static str {
        match self {
            Raw::Null => "null",
            Raw::Integer(_) => "integer",
            Raw::Real(_) => "real",
            Raw::Text(_) => "text",
            Raw::Blob => "blob",
            Raw::Timestamp(_) => "timestamp",
        }
    }

    fn mismatch(self) -> String {
        format!("has an unexpected {} value", self.type_name())
    }

    fn str(self) -> Result<Option<&'r str>, String> {
        match self {
            Raw::Null => Ok(None),
            Raw::Text(bytes) => std::str::from_utf8(bytes)
                .map(Some)
                .map_err(|e| format!("is not UTF-8: {e}")),
            other => Err(other.mismatch()),
        }
    }

    fn optional_text(self) -> Result<Option<String>, String> {
        self.str().map(|s| s.map(str::to_owned))
    }

    fn text(self) -> Result<String, String> {
        self.optional_text()?.ok_or_else(|| "is NULL".to_owned())
    }

    fn parsed<T, E: std::fmt::Display>(
        self,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Result<T, String> {
        let text = self.str()?.ok_or_else(|| "is NULL".to_owned())?;
        parse(text).map_err(|e| e.to_string())
    }

    /// A required time: a time type's value, or the protocol's text form.
    fn timestamp(self) -> Result<DateTime<Utc>, String> {
        match self {
            Raw::Timestamp(at) => Ok(at),
            other => other.parsed(parse_timestamp),
        }
    }

    fn count(self) -> Result<Option<u64>, String> {
        match self {
            Raw::Null => Ok(None),
            Raw::Integer(n) => u64::try_from(n).map(Some).map_err(|_| self.mismatch()),
            other => Err(other.mismatch()),
        }
    }

    fn real(self) -> Result<Option<f64>, String> {
        match self {
            Raw::Null => Ok(None),
            Raw::Real(f) => Ok(Some(f)),
            // A whole number written by another tool.
            Raw::Integer(n) => Ok(Some(n as f64)),
            other => Err(other.mismatch()),
        }
    }

    fn content(self) -> Result<Option<Content>, String> {
        match self.str()? {
            None => Ok(None),
            Some(text) => Content::from_json(text)
                .map(Some)
                .map_err(|e| format!("invalid JSON: {e}")),
        }
    }

    fn json<T: DeserializeOwned>(self) -> Result<Option<T>, String> {
        match self {
            Raw::Null => Ok(None),
            Raw::Text(bytes) => serde_json::from_slice(bytes)
                .map(Some)
                .map_err(|e| format!("invalid JSON: {e}")),
            other => Err(other.mismatch()),
        }
    }
}

/// Parses the protocol's timestamp text (any RFC 3339 time, as UTC).
pub(crate) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc))
}

fn text(value: &Option<String>) -> Cell<'_> {
    value.as_deref().map_or(Cell::Null, Cell::Text)
}

/// Token counts are `u64`, SQLite integers `i64`. No real count comes near
/// `i64::MAX`; a larger value (a corrupt attribute) is stored as `i64::MAX`
/// rather than failing the batch, which would block the pipeline forever.
fn count(value: Option<u64>) -> Cell<'static> {
    value.map_or(Cell::Null, |n| {
        Cell::Integer(i64::try_from(n).unwrap_or(i64::MAX))
    })
}

/// Content is JSON text already: stored as it is, never re-serialized.
fn content_text(value: &Option<Content>) -> Cell<'_> {
    value.as_ref().map_or(Cell::Null, |c| Cell::Text(c.json()))
}

fn real(value: Option<f64>) -> Cell<'static> {
    value.map_or(Cell::Null, Cell::Real)
}

fn json<T: Serialize>(value: &Option<T>) -> Cell<'_> {
    value.as_ref().map_or(Cell::Null, |v| Cell::Json(v))
}

/// Shorthand for the table's rows.
const fn column(
    name: &'static str,
    kind: Kind,
    required: bool,
    since_schema: u32,
    get: for<'e> fn(&'e ProtocolEntry) -> Cell<'e>,
    set: fn(&mut ProtocolEntry, Raw<'_>) -> Result<(), String>,
) -> Column {
    Column {
        name,
        kind,
        required,
        since_schema,
        content: false,
        get,
        set,
    }
}

/// [`column`] for a field that holds content.
const fn content(
    name: &'static str,
    get: for<'e> fn(&'e ProtocolEntry) -> Cell<'e>,
    set: fn(&mut ProtocolEntry, Raw<'_>) -> Result<(), String>,
) -> Column {
    Column {
        content: true,
        ..column(name, Kind::Json, false, 1, get, set)
    }
}

/// Every field of the protocol format, in the order of the JSON form. Only
/// ever appended to: a new field gets the next schema version.
#[rustfmt::skip]
pub(crate) const COLUMNS: [Column; 34] = {
    use Kind::{Integer, Json, Real, Text, Timestamp};
    [
        column("schema", Integer, true, 1,
            |e| Cell::Integer(i64::from(e.schema)),
            |e, v| {
                let n = v.count()?.ok_or("is NULL")?;
                e.schema = u32::try_from(n).map_err(|_| v.mismatch())?;
                Ok(())
            }),
        column("entry_id", Text, true, 1,
            |e| Cell::Text(&e.entry_id),
            |e, v| v.text().map(|x| e.entry_id = x)),
        column("timestamp", Timestamp, true, 1,
            |e| Cell::Timestamp(&e.timestamp),
            |e, v| v.timestamp().map(|x| e.timestamp = x)),
        column("event_type", Text, true, 1,
            |e| Cell::Text(e.event_type.as_str()),
            |e, v| v.parsed(str::parse::<EventType>).map(|x| e.event_type = x)),
        column("trace_id", Text, true, 1,
            |e| Cell::Text(&e.trace_id),
            |e, v| v.text().map(|x| e.trace_id = x)),
        column("span_id", Text, true, 1,
            |e| Cell::Text(&e.span_id),
            |e, v| v.text().map(|x| e.span_id = x)),
        column("parent_span_id", Text, false, 1,
            |e| text(&e.parent_span_id),
            |e, v| v.optional_text().map(|x| e.parent_span_id = x)),
        column("session_id", Text, false, 1,
            |e| text(&e.session_id),
            |e, v| v.optional_text().map(|x| e.session_id = x)),
        column("service_name", Text, false, 1,
            |e| text(&e.service_name),
            |e, v| v.optional_text().map(|x| e.service_name = x)),
        column("agent_name", Text, false, 1,
            |e| text(&e.agent_name),
            |e, v| v.optional_text().map(|x| e.agent_name = x)),
        column("name", Text, true, 1,
            |e| Cell::Text(&e.name),
            |e, v| v.text().map(|x| e.name = x)),
        column("model", Text, false, 1,
            |e| text(&e.model),
            |e, v| v.optional_text().map(|x| e.model = x)),
        column("provider", Text, false, 1,
            |e| text(&e.provider),
            |e, v| v.optional_text().map(|x| e.provider = x)),
        column("tool_name", Text, false, 1,
            |e| text(&e.tool_name),
            |e, v| v.optional_text().map(|x| e.tool_name = x)),
        column("tool_call_id", Text, false, 1,
            |e| text(&e.tool_call_id),
            |e, v| v.optional_text().map(|x| e.tool_call_id = x)),
        content("input",
            |e| content_text(&e.input),
            |e, v| v.content().map(|x| e.input = x)),
        content("output",
            |e| content_text(&e.output),
            |e, v| v.content().map(|x| e.output = x)),
        column("input_tokens", Integer, false, 1,
            |e| count(e.input_tokens),
            |e, v| v.count().map(|x| e.input_tokens = x)),
        column("output_tokens", Integer, false, 1,
            |e| count(e.output_tokens),
            |e, v| v.count().map(|x| e.output_tokens = x)),
        column("duration_ms", Real, false, 1,
            |e| real(e.duration_ms),
            |e, v| v.real().map(|x| e.duration_ms = x)),
        column("status", Text, true, 1,
            |e| Cell::Text(e.status.as_str()),
            |e, v| v.parsed(str::parse::<EntryStatus>).map(|x| e.status = x)),
        column("error", Json, false, 1,
            |e| json(&e.error),
            |e, v| v.json().map(|x| e.error = x)),
        content("attributes",
            |e| json(&e.attributes),
            |e, v| v.json().map(|x| e.attributes = x)),
        column("operation", Text, false, 2,
            |e| text(&e.operation),
            |e, v| v.optional_text().map(|x| e.operation = x)),
        column("cache_read_input_tokens", Integer, false, 2,
            |e| count(e.cache_read_input_tokens),
            |e, v| v.count().map(|x| e.cache_read_input_tokens = x)),
        column("cache_creation_input_tokens", Integer, false, 2,
            |e| count(e.cache_creation_input_tokens),
            |e, v| v.count().map(|x| e.cache_creation_input_tokens = x)),
        column("reasoning_tokens", Integer, false, 2,
            |e| count(e.reasoning_tokens),
            |e, v| v.count().map(|x| e.reasoning_tokens = x)),
        column("finish_reasons", Json, false, 2,
            |e| json(&e.finish_reasons),
            |e, v| v.json().map(|x| e.finish_reasons = x)),
        column("cost_usd", Real, false, 2,
            |e| real(e.cost_usd),
            |e, v| v.real().map(|x| e.cost_usd = x)),
        column("time_to_first_chunk_ms", Real, false, 2,
            |e| real(e.time_to_first_chunk_ms),
            |e, v| v.real().map(|x| e.time_to_first_chunk_ms = x)),
        column("cost_source", Text, false, 4,
            |e| e.cost_source.map_or(Cell::Null, |s| Cell::Text(s.as_str())),
            |e, v| match v {
                Raw::Null => { e.cost_source = None; Ok(()) }
                v => v.parsed(str::parse::<CostSource>).map(|x| e.cost_source = Some(x)),
            }),
        column("price_model", Text, false, 4,
            |e| text(&e.price_model),
            |e, v| v.optional_text().map(|x| e.price_model = x)),
        column("price_rule", Text, false, 4,
            |e| text(&e.price_rule),
            |e, v| v.optional_text().map(|x| e.price_rule = x)),
        column("unpriced_tokens", Integer, false, 4,
            |e| count(e.unpriced_tokens),
            |e, v| v.count().map(|x| e.unpriced_tokens = x)),
    ]
};

/// The columns a file of `schema` has.
pub(crate) fn columns_of_schema(schema: u32) -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(move |c| c.since_schema <= schema)
}

/// Builds an entry from one stored value per column, in [`COLUMNS`] order;
/// the error names the column that did not decode.
pub(crate) fn decode<'r>(
    values: impl IntoIterator<Item = Raw<'r>>,
) -> Result<ProtocolEntry, String> {
    let mut entry = ProtocolEntry::placeholder();
    let mut seen = 0;
    for (column, value) in COLUMNS.iter().zip(values) {
        (column.set)(&mut entry, value)
            .map_err(|reason| format!("column {} {reason}", column.name))?;
        seen += 1;
    }
    debug_assert_eq!(seen, COLUMNS.len(), "a value for every column");
    Ok(entry)
}

/// Fails to compile when [`ProtocolEntry`] gains a field, pointing here: the
/// new field needs a row in [`COLUMNS`] (and a line in `FORMAT.md`).
#[allow(dead_code)]
fn every_field_has_a_column(entry: ProtocolEntry) {
    let ProtocolEntry {
        schema: _,
        entry_id: _,
        timestamp: _,
        event_type: _,
        trace_id: _,
        span_id: _,
        parent_span_id: _,
        session_id: _,
        service_name: _,
        agent_name: _,
        name: _,
        model: _,
        provider: _,
        tool_name: _,
        tool_call_id: _,
        input: _,
        output: _,
        input_tokens: _,
        output_tokens: _,
        duration_ms: _,
        status: _,
        error: _,
        attributes: _,
        operation: _,
        cache_read_input_tokens: _,
        cache_creation_input_tokens: _,
        reasoning_tokens: _,
        finish_reasons: _,
        cost_usd: _,
        time_to_first_chunk_ms: _,
        cost_source: _,
        price_model: _,
        price_rule: _,
        unpriced_tokens: _,
    } = entry;
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_entries::{bare_entry, full_entry};

    #[test]
    fn the_table_names_every_json_field_in_order() {
        for entry in [full_entry(1), bare_entry(2)] {
            let Value::Object(map) = serde_json::to_value(&entry).unwrap() else {
                panic!("an entry serializes as an object");
            };
            let names: Vec<&str> = COLUMNS.iter().map(|c| c.name).collect();
            // With serde_json's preserve_order the keys come in field order.
            let keys: Vec<&str> = map.keys().map(String::as_str).collect();
            let expected: Vec<&str> = names.iter().copied().filter(|n| keys.contains(n)).collect();
            assert_eq!(keys, expected, "JSON keys in table order");
            if entry == full_entry(1) {
                assert_eq!(keys, names, "a full entry has every field");
            }
        }
    }

    #[test]
    fn every_column_round_trips_through_get_and_set() {
        for original in [full_entry(3), bare_entry(4)] {
            let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); COLUMNS.len()];
            let raws: Vec<Raw<'_>> = {
                for (column, buffer) in COLUMNS.iter().zip(&mut buffers) {
                    match (column.get)(&original) {
                        Cell::Json(v) => v.write_json(buffer).unwrap(),
                        Cell::Timestamp(t) => buffer.extend_from_slice(
                            crate::entry::TimestampText::of(t).as_str().as_bytes(),
                        ),
                        _ => {}
                    }
                }
                COLUMNS
                    .iter()
                    .zip(&buffers)
                    .map(|(column, buffer)| match (column.get)(&original) {
                        Cell::Null => Raw::Null,
                        Cell::Text(s) => Raw::Text(s.as_bytes()),
                        Cell::Integer(n) => Raw::Integer(n),
                        Cell::Real(f) => Raw::Real(f),
                        Cell::Json(_) | Cell::Timestamp(_) => Raw::Text(buffer),
                    })
                    .collect()
            };
            assert_eq!(decode(raws).unwrap(), original);
        }
    }

    #[test]
    fn decoding_names_the_column_that_does_not_fit() {
        let mut raws = vec![Raw::Null; COLUMNS.len()];
        raws[0] = Raw::Integer(2);
        let err = decode(raws.clone()).unwrap_err();
        assert_eq!(err, "column entry_id is NULL");
        for (i, column) in COLUMNS.iter().enumerate() {
            if column.kind == Kind::Text && column.required {
                raws[i] = Raw::Text(b"x");
            }
        }
        raws[2] = Raw::Text(b"yesterday");
        assert!(decode(raws.clone())
            .unwrap_err()
            .starts_with("column timestamp "));
        raws[2] = Raw::Text(b"2026-11-27T03:00:00Z");
        raws[3] = Raw::Text(b"agent_start");
        raws[20] = Raw::Text(b"ok");
        raws[17] = Raw::Blob;
        assert_eq!(
            decode(raws.clone()).unwrap_err(),
            "column input_tokens has an unexpected blob value"
        );
        raws[17] = Raw::Integer(-1);
        assert!(decode(raws.clone()).is_err(), "negative counts do not fit");
        raws[17] = Raw::Null;
        raws[9] = Raw::Text(b"\xff");
        assert!(decode(raws.clone())
            .unwrap_err()
            .starts_with("column agent_name is not UTF-8"));
        raws[9] = Raw::Null;
        raws[19] = Raw::Integer(12);
        assert_eq!(decode(raws).unwrap().duration_ms, Some(12.0));
    }

    #[test]
    fn schema_versions_only_grow_along_the_table() {
        let versions: Vec<u32> = COLUMNS.iter().map(|c| c.since_schema).collect();
        assert!(versions.windows(2).all(|w| w[0] <= w[1]), "{versions:?}");
        assert_eq!(columns_of_schema(1).count(), 23);
        assert_eq!(
            columns_of_schema(crate::entry::SCHEMA_VERSION).count(),
            COLUMNS.len()
        );
    }
}
