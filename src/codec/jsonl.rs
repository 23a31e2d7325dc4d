//! The JSON Lines layout, shared by the writer (`storage::jsonl`) and the
//! reader (`read::jsonl`): one entry per line, UTF-8, `\n`-terminated, as
//! serde writes [`ProtocolEntry`]; the `<file>.meta.json` side file; and
//! the check that a file is JSON Lines at all.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Appends `entry` as one line, newline included.
pub(crate) fn encode(entry: &ProtocolEntry, out: &mut Vec<u8>) -> serde_json::Result<()> {
    serde_json::to_writer(&mut *out, entry)?;
    out.push(b'\n');
    Ok(())
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
    use crate::test_entries::{bare_entry, full_entry};

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
