//! The JSON Lines layout, shared by the writer (`storage::jsonl`) and the
//! reader (`read::jsonl`): one entry per line, UTF-8, `\n`-terminated, as
//! serde writes [`ProtocolEntry`]; the `<file>.meta.json` side file; and
//! the check that a file is JSON Lines at all.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::entry::{Content, CostSource, ProtocolEntry, TimestampText, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Appends `entry` as one line, newline included: byte for byte what
/// `serde_json` writes for [`ProtocolEntry`] (`tests::
/// lines_are_what_serde_writes` holds it to that), field by field.
///
/// Written out because serde's derived form spent two thirds of the JSON Lines
/// writer's time: it escapes every field name and value a byte at a time,
/// about 160 instructions a string, 4 500 an entry (callgrind of the bench's
/// `jsonl_storage_limit` scenario). Here names are constants and a value
/// that needs no escaping — nearly all of them — is copied whole; the rest,
/// numbers and nested JSON go through `serde_json` as before. The writer went
/// from 6 850 to 3 170 instructions an entry, and the JSON Lines storage
/// alone from 1.58 to 2.49 million entries/s (medians of three interleaved
/// runs of that scenario, 200 000 spans).
pub(crate) fn encode(entry: &ProtocolEntry, out: &mut Vec<u8>) -> serde_json::Result<()> {
    let mut line = Line { out };
    line.out.extend_from_slice(b"{\"schema\":");
    line.json(&entry.schema)?;
    line.string(",\"entry_id\":", &entry.entry_id)?;
    line.string(
        ",\"timestamp\":",
        TimestampText::of(&entry.timestamp).as_str(),
    )?;
    line.string(",\"event_type\":", entry.event_type.as_str())?;
    line.string(",\"trace_id\":", &entry.trace_id)?;
    line.string(",\"span_id\":", &entry.span_id)?;
    line.optional_string(",\"parent_span_id\":", entry.parent_span_id.as_deref())?;
    line.optional_string(",\"session_id\":", entry.session_id.as_deref())?;
    line.optional_string(",\"service_name\":", entry.service_name.as_deref())?;
    line.optional_string(",\"agent_name\":", entry.agent_name.as_deref())?;
    line.string(",\"name\":", &entry.name)?;
    line.optional_string(",\"model\":", entry.model.as_deref())?;
    line.optional_string(",\"provider\":", entry.provider.as_deref())?;
    line.optional_string(",\"tool_name\":", entry.tool_name.as_deref())?;
    line.optional_string(",\"tool_call_id\":", entry.tool_call_id.as_deref())?;
    line.content(",\"input\":", entry.input.as_ref());
    line.content(",\"output\":", entry.output.as_ref());
    line.optional(",\"input_tokens\":", entry.input_tokens.as_ref())?;
    line.optional(",\"output_tokens\":", entry.output_tokens.as_ref())?;
    line.optional(",\"duration_ms\":", entry.duration_ms.as_ref())?;
    line.string(",\"status\":", entry.status.as_str())?;
    line.optional(",\"error\":", entry.error.as_ref())?;
    line.optional(",\"attributes\":", entry.attributes.as_ref())?;
    line.optional_string(",\"operation\":", entry.operation.as_deref())?;
    line.optional(
        ",\"cache_read_input_tokens\":",
        entry.cache_read_input_tokens.as_ref(),
    )?;
    line.optional(
        ",\"cache_creation_input_tokens\":",
        entry.cache_creation_input_tokens.as_ref(),
    )?;
    line.optional(",\"reasoning_tokens\":", entry.reasoning_tokens.as_ref())?;
    line.optional(",\"finish_reasons\":", entry.finish_reasons.as_ref())?;
    line.optional(",\"cost_usd\":", entry.cost_usd.as_ref())?;
    line.optional(
        ",\"time_to_first_chunk_ms\":",
        entry.time_to_first_chunk_ms.as_ref(),
    )?;
    line.optional_string(
        ",\"cost_source\":",
        entry.cost_source.map(CostSource::as_str),
    )?;
    line.optional_string(",\"price_model\":", entry.price_model.as_deref())?;
    line.optional_string(",\"price_rule\":", entry.price_rule.as_deref())?;
    line.optional(",\"unpriced_tokens\":", entry.unpriced_tokens.as_ref())?;
    line.out.extend_from_slice(b"}\n");
    Ok(())
}

/// Whether `serde_json` would escape any of `text`: a control character, a
/// quote or a backslash. Folded without stopping early so the compiler can
/// test many bytes at once: writing a string went from 226 to 173
/// instructions a call against a loop that stopped at the first (callgrind).
fn needs_escaping(text: &str) -> bool {
    text.bytes().fold(false, |found, b| {
        found | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// A line being written by [`encode`].
struct Line<'a> {
    out: &'a mut Vec<u8>,
}

impl Line<'_> {
    /// A value as `serde_json` writes it.
    fn json(&mut self, value: &(impl Serialize + ?Sized)) -> serde_json::Result<()> {
        serde_json::to_writer(&mut *self.out, value)
    }

    /// `name` (with its separator and colon), then the string `value`.
    fn string(&mut self, name: &str, value: &str) -> serde_json::Result<()> {
        self.out.extend_from_slice(name.as_bytes());
        if !needs_escaping(value) {
            self.out.reserve(value.len() + 2);
            self.out.push(b'"');
            self.out.extend_from_slice(value.as_bytes());
            self.out.push(b'"');
            Ok(())
        } else {
            self.json(value)
        }
    }

    fn optional_string(&mut self, name: &str, value: Option<&str>) -> serde_json::Result<()> {
        value.map_or(Ok(()), |value| self.string(name, value))
    }

    fn optional(
        &mut self,
        name: &str,
        value: Option<&(impl Serialize + ?Sized)>,
    ) -> serde_json::Result<()> {
        let Some(value) = value else { return Ok(()) };
        self.out.extend_from_slice(name.as_bytes());
        self.json(value)
    }

    /// Content is JSON text already, written as it is.
    fn content(&mut self, name: &str, value: Option<&Content>) {
        if let Some(content) = value {
            self.out.extend_from_slice(name.as_bytes());
            self.out.extend_from_slice(content.json().as_bytes());
        }
    }
}

/// One line as every reader takes it: without its line ending (and, on the
/// file's first line, a byte-order mark); `None` for a blank line; the error
/// says why it is not an entry this build can read.
pub(crate) fn decode(
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
    let entry: ProtocolEntry =
        serde_json::from_slice(bytes).map_err(|e| match std::str::from_utf8(bytes) {
            Err(utf8) => format!("not valid UTF-8: {utf8}"),
            Ok(_) => format!("not a protocol entry: {e}"),
        })?;
    // A newer schema may have changed what its fields mean.
    if entry.schema > SCHEMA_VERSION {
        return Err(format!(
            "entry has schema version {}; this build reads up to {SCHEMA_VERSION}",
            entry.schema
        ));
    }
    Ok(Some(entry))
}

/// How much of the file's start [`check_header`] looks at.
const HEADER_PROBE_BYTES: u64 = 4096;

/// Fails with [`ProtocolError::Corrupt`] when the file clearly is not JSON
/// Lines: its first non-blank byte (after an optional UTF-8 byte-order mark)
/// is not `{`. An empty or blank file passes. Used by the writer and the
/// reader alike, so neither appends to nor parses, say, a SQLite file.
pub(crate) fn check_header(mut file: &File, path: &Path) -> Result<()> {
    let io_error = |source| ProtocolError::Io {
        path: path.to_path_buf(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io_error)?;
    let mut head = Vec::new();
    file.take(HEADER_PROBE_BYTES)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    let body = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head);
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None | Some(b'{') => Ok(()),
        Some(_) => Err(ProtocolError::Corrupt {
            path: path.to_path_buf(),
            reason: "not JSON Lines: the first line does not start with '{'".into(),
        }),
    }
}

/// The content of the `<path>.meta.json` side file: what a JSON Lines file
/// has no place for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    /// The newest schema any writer of the file used.
    pub(crate) schema_version: u32,
    /// How many entries the writing pipelines dropped, summed over every run.
    #[serde(default)]
    pub(crate) dropped_entries: u64,
}

/// The side file holding a JSON Lines protocol's meta data.
pub(crate) fn meta_path(path: &Path) -> PathBuf {
    crate::storage::with_suffix(path, ".meta.json")
}

/// Reads `<path>.meta.json`; `None` when there is none.
pub(crate) fn read_meta(path: &Path) -> Result<Option<Meta>> {
    let meta_path = meta_path(path);
    match std::fs::read(&meta_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ProtocolError::Corrupt {
                path: meta_path,
                reason: format!("invalid protocol meta file: {e}"),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ProtocolError::Io {
            path: meta_path,
            source,
        }),
    }
}

/// Fails when the meta file says a newer build wrote this protocol.
pub(crate) fn check_meta_version(path: &Path) -> Result<()> {
    match read_meta(path)? {
        Some(meta) if meta.schema_version > SCHEMA_VERSION => {
            Err(ProtocolError::UnsupportedSchema {
                path: path.to_path_buf(),
                found: i64::from(meta.schema_version),
                supported: i64::from(SCHEMA_VERSION),
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryError, EntryStatus, EventType};
    use crate::test_entries::{at, bare_entry, full_entry};

    fn serde_line(entry: &ProtocolEntry) -> String {
        let mut line = serde_json::to_string(entry).unwrap();
        line.push('\n');
        line
    }

    fn encoded(entry: &ProtocolEntry) -> String {
        let mut out = Vec::new();
        encode(entry, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn lines_are_what_serde_writes() {
        // `full_entry` sets every field: one the encoder left out shows here.
        for entry in [full_entry(1), bare_entry(2)] {
            assert_eq!(encoded(&entry), serde_line(&entry));
        }
    }

    #[test]
    fn every_event_type_status_and_cost_source_is_written_as_serde_names_it() {
        let statuses = [EntryStatus::Unset, EntryStatus::Ok, EntryStatus::Error];
        let sources = [
            CostSource::Reported,
            CostSource::Priced,
            CostSource::Unpriced,
        ];
        for (i, event_type) in EventType::ALL.into_iter().enumerate() {
            let mut entry = full_entry(5);
            entry.event_type = event_type;
            entry.status = statuses[i % statuses.len()];
            entry.cost_source = Some(sources[i % sources.len()]);
            assert_eq!(encoded(&entry), serde_line(&entry));
        }
    }

    proptest::proptest! {
        #[test]
        fn lines_with_any_text_and_numbers_are_what_serde_writes(
            text in "\\PC*|[\\x00-\\x7f]{0,40}",
            other in proptest::option::of("[\"\\\\a-z\\x00-\\x1f\\x7f\u{80}-\u{10ffff}]{0,12}"),
            count in proptest::option::of(proptest::num::u64::ANY),
            amount in proptest::option::of(proptest::num::f64::ANY),
        ) {
            let mut entry = full_entry(3);
            entry.entry_id.clone_from(&text);
            entry.name.clone_from(&text);
            entry.session_id.clone_from(&other);
            entry.model.clone_from(&other);
            entry.price_rule.clone_from(&other);
            entry.output_tokens = count;
            entry.duration_ms = amount;
            entry.cost_usd = amount;
            entry.finish_reasons = other.clone().map(|o| vec![o, text.clone()]);
            entry.error = Some(EntryError::new(other.clone(), Some(text.clone())));
            proptest::prop_assert_eq!(encoded(&entry), serde_line(&entry));
            let mut bare = ProtocolEntry::new(EventType::LlmEnd, text.clone(), "s", "n", at(0, 1));
            bare.status = EntryStatus::Ok;
            bare.agent_name.clone_from(&other);
            proptest::prop_assert_eq!(encoded(&bare), serde_line(&bare));
        }
    }

    #[test]
    fn lines_round_trip_and_blank_bom_and_crlf_lines_are_handled() {
        let mut out = Vec::new();
        encode(&full_entry(1), &mut out).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(decode(&out, false).unwrap(), Some(full_entry(1)));
        let mut crlf = out[..out.len() - 1].to_vec();
        crlf.extend_from_slice(b"\r\n");
        assert_eq!(decode(&crlf, false).unwrap(), Some(full_entry(1)));
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        encode(&bare_entry(2), &mut bom).unwrap();
        assert_eq!(decode(&bom, true).unwrap(), Some(bare_entry(2)));
        assert!(decode(&bom, false).is_err(), "a BOM only starts a file");
        assert_eq!(decode(b"  \r\n", false).unwrap(), None);
        assert!(decode(b"{\"schema\":", false)
            .unwrap_err()
            .starts_with("not a protocol entry"));
        assert!(decode(b"\xff{}", false)
            .unwrap_err()
            .starts_with("not valid UTF-8"));
    }

    #[test]
    fn entries_of_a_newer_schema_are_refused_with_the_reason() {
        let mut newer = full_entry(1);
        newer.schema = SCHEMA_VERSION + 1;
        let mut out = Vec::new();
        encode(&newer, &mut out).unwrap();
        let reason = decode(&out, false).unwrap_err();
        assert!(reason.contains("schema version"), "{reason}");
    }
}
