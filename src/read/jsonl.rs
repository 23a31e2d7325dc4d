//! Reading a JSON Lines protocol: every scan reads the file from its start
//! (or from where a follower left off), line by line, each entry id once.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::follow::ReadPosition;
use super::reader::{ProtocolFormat, ProtocolMeta};
use super::scan::{Duplicates, Order, Record, Scan, Skips, Source};
use crate::codec::columns::{Cell, COLUMNS};
use crate::codec::jsonl;
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Lines longer than this are skipped as too long instead of being read into
/// memory: a protocol line is at most a few MiB even at `DetailLevel::Full`.
const MAX_LINE_BYTES: usize = 64 << 20;

/// A JSON Lines protocol. Nothing is kept open between scans, so every scan
/// sees the lines written since the last.
#[derive(Debug)]
pub(crate) struct JsonlSource {
    path: PathBuf,
    max_line_bytes: usize,
}

impl JsonlSource {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| ProtocolError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        jsonl::check_header(&file, path)?;
        jsonl::check_meta_version(path)?;
        Ok(JsonlSource {
            path: path.to_path_buf(),
            max_line_bytes: MAX_LINE_BYTES,
        })
    }

    fn io_error(&self, source: std::io::Error) -> ProtocolError {
        ProtocolError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// Reads lines from `position` on, handing each entry to `visit` in file
    /// order, until the end, an unfinished last line (when `following`: it is
    /// still being written), or `visit` breaks.
    fn read_lines(
        &self,
        position: &mut ReadPosition,
        following: bool,
        skips: &mut Skips,
        mut visit: impl FnMut(u64, ProtocolEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut file = File::open(&self.path).map_err(|source| ProtocolError::Open {
            path: self.path.clone(),
            source,
        })?;
        let len = file.metadata().map_err(|e| self.io_error(e))?.len();
        if len < position.offset() {
            // Shorter than what was read: the file was replaced or truncated.
            *position = ReadPosition::start();
        }
        file.seek(SeekFrom::Start(position.offset()))
            .map_err(|e| self.io_error(e))?;
        let mut reader = BufReader::with_capacity(64 * 1024, file);
        let mut line = Vec::new();
        let cap = u64::try_from(self.max_line_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        loop {
            line.clear();
            // `take` caps what one line may allocate; bytes, not `String`, so
            // invalid UTF-8 is a skipped line rather than an aborted read.
            let read = (&mut reader)
                .take(cap)
                .read_until(b'\n', &mut line)
                .map_err(|e| self.io_error(e))?;
            if read == 0 {
                return Ok(());
            }
            let terminated = line.last() == Some(&b'\n');
            if !terminated && line.len() > self.max_line_bytes {
                let Some(rest) = skip_rest_of_line(&mut reader).map_err(|e| self.io_error(e))?
                else {
                    // Not finished yet: a follower comes back for it.
                    if following {
                        return Ok(());
                    }
                    position.advance_line(read as u64);
                    skips.push(
                        position.line(),
                        format!("line longer than {} bytes", self.max_line_bytes),
                    );
                    return Ok(());
                };
                position.advance_line(read as u64 + rest);
                skips.push(
                    position.line(),
                    format!("line longer than {} bytes", self.max_line_bytes),
                );
                line = Vec::new();
                continue;
            }
            if !terminated && following {
                // The last line, still being written (or torn): not yet.
                return Ok(());
            }
            let first_in_file = position.offset() == 0;
            position.advance_line(read as u64);
            let number = position.line();
            match jsonl::decode(&line, first_in_file) {
                Ok(None) => {}
                Ok(Some(entry)) => {
                    if visit(number, entry).is_break() {
                        return Ok(());
                    }
                }
                // Only the last line can lack its newline: a write cut short
                // by a crash.
                Err(reason) if !terminated => {
                    tracing::warn!(path = %self.path.display(), line = number, %reason,
                        "skipping a torn last line");
                    skips.push(
                        number,
                        format!("torn last line (no trailing newline): {reason}"),
                    );
                }
                Err(reason) => skips.push(number, reason),
            }
            // Do not keep a rare huge line's allocation for the rest of the file.
            if line.capacity() > 1 << 20 {
                line = Vec::new();
            }
        }
    }
}

impl Source for JsonlSource {
    fn format(&self) -> ProtocolFormat {
        ProtocolFormat::Jsonl
    }

    fn scan(
        &self,
        mut scan: Scan<'_>,
        visit: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Skips> {
        let mut skips = Skips::default();
        let mut fresh = ReadPosition::start();
        let resume = scan.resume.take();
        let following = resume.is_some();
        let position = resume.unwrap_or(&mut fresh);
        let limit = scan.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            return Ok(skips);
        }
        let dedup = scan.duplicates == Duplicates::Skip;
        // Copies of one id merge (the fill rule, FORMAT.md): a whole read
        // looks ahead for the copies that fill an earlier one and returns
        // the merged entry in its place; a following read returns a filling
        // copy again when it comes, so a consumer with the same rule (the
        // storage it converts into, a follower) converges.
        let mut merged = if dedup && !following {
            self.merged_copies()?
        } else {
            HashMap::new()
        };
        let mut seen = std::mem::take(position.seen_mut());
        // The entry to visit for a record read, once per id (and again for a
        // filling copy when following); `None` to skip it.
        let mut first_copy = |entry: ProtocolEntry| -> Option<ProtocolEntry> {
            if !dedup {
                return Some(entry);
            }
            let mask = field_mask(&entry);
            match seen.get_mut(&entry.entry_id) {
                Some(known) => {
                    let fills = mask & !*known != 0;
                    *known |= mask;
                    (fills && following).then_some(entry)
                }
                None => {
                    let merged = merged.remove(&entry.entry_id);
                    seen.insert(entry.entry_id.clone(), mask);
                    Some(merged.unwrap_or(entry))
                }
            }
        };
        if scan.order == Order::Written {
            let mut visited = 0;
            self.read_lines(position, following, &mut skips, |number, entry| {
                let Some(entry) = first_copy(entry) else {
                    return ControlFlow::Continue(());
                };
                if !scan.conditions.matches(&entry) {
                    return ControlFlow::Continue(());
                }
                visited += 1;
                visit(Record {
                    position: number,
                    entry,
                })?;
                if visited >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            *position.seen_mut() = seen;
            return Ok(skips);
        }
        // Time order: collect, then sort. With a limit only the best `limit`
        // entries can make the result, so the list is cut back whenever it
        // grows well past that: memory stays bounded by the limit rather than
        // by the file.
        let compact_at = scan.limit.map(|limit| limit.saturating_mul(2).max(1024));
        let mut found: Vec<(u64, ProtocolEntry)> = Vec::new();
        self.read_lines(position, following, &mut skips, |number, entry| {
            if let Some(entry) = first_copy(entry) {
                if scan.conditions.matches(&entry) {
                    found.push((number, entry));
                    if compact_at.is_some_and(|at| found.len() >= at) {
                        sort_records(&scan, &mut found);
                        found.truncate(limit);
                    }
                }
            }
            ControlFlow::Continue(())
        })?;
        *position.seen_mut() = seen;
        sort_records(&scan, &mut found);
        found.truncate(limit);
        for (number, entry) in found {
            if visit(Record {
                position: number,
                entry,
            })
            .is_break()
            {
                break;
            }
        }
        Ok(skips)
    }

    fn meta(&self) -> Result<ProtocolMeta> {
        Ok(jsonl::read_meta(&self.path)?.map_or(
            ProtocolMeta {
                schema_version: SCHEMA_VERSION,
                dropped_entries: 0,
            },
            |meta| ProtocolMeta {
                schema_version: meta.schema_version,
                dropped_entries: meta.dropped_entries,
            },
        ))
    }

    fn end_position(&self) -> Result<ReadPosition> {
        let file = File::open(&self.path).map_err(|e| self.io_error(e))?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut end = ReadPosition::start();
        let mut read = 0u64;
        loop {
            let buffer = reader.fill_buf().map_err(|e| self.io_error(e))?;
            if buffer.is_empty() {
                return Ok(end);
            }
            // Past the last complete line: an unfinished one is still to come.
            for (i, byte) in buffer.iter().enumerate() {
                if *byte == b'\n' {
                    let next = read + i as u64 + 1;
                    end.advance_line(next - end.offset());
                }
            }
            let len = buffer.len();
            read += len as u64;
            reader.consume(len);
        }
    }

    fn reads_newest_first_cheaply(&self) -> bool {
        false
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
}

/// Sorts `(line, entry)` pairs into the scan's order.
fn sort_records(scan: &Scan<'_>, records: &mut [(u64, ProtocolEntry)]) {
    // The order is total (ids are unique after de-duplication), so an
    // unstable sort is exact.
    records.sort_unstable_by(|a, b| scan.compare(&a.1, &b.1));
}

/// Which fields an entry has, one bit per column of the format: what the
/// fill rule compares to tell a copy that fills an earlier one.
pub(crate) fn field_mask(entry: &ProtocolEntry) -> u64 {
    COLUMNS
        .iter()
        .enumerate()
        .filter(|(_, column)| !matches!((column.get)(entry), Cell::Null))
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// `first` with the fields it left empty filled from `later` (the fill
/// rule); `None` when `later` fills nothing.
pub(crate) fn merge_copy(first: &ProtocolEntry, later: &ProtocolEntry) -> Option<ProtocolEntry> {
    if field_mask(later) & !field_mask(first) == 0 {
        return None;
    }
    let (Ok(serde_json::Value::Object(mut merged)), Ok(serde_json::Value::Object(more))) =
        (serde_json::to_value(first), serde_json::to_value(later))
    else {
        return None;
    };
    for (key, value) in more {
        if value.is_null() {
            continue;
        }
        match merged.get_mut(&key) {
            Some(present) if !present.is_null() => {}
            Some(empty) => *empty = value,
            None => {
                merged.insert(key, value);
            }
        }
    }
    serde_json::from_value(serde_json::Value::Object(merged)).ok()
}

/// Just the id of a line, read without building the rest.
#[derive(serde::Deserialize)]
struct LineId<'a> {
    #[serde(borrow)]
    entry_id: Cow<'a, str>,
}

impl JsonlSource {
    /// Reads the file once for the ids written more than once, and returns,
    /// for each whose later copies fill fields the first left empty, the
    /// merged entry. Only the ids are parsed for most lines; the copies of a
    /// repeated id are decoded whole (the first re-read by its offset).
    fn merged_copies(&self) -> Result<HashMap<String, ProtocolEntry>> {
        let open = || {
            File::open(&self.path).map_err(|source| ProtocolError::Open {
                path: self.path.clone(),
                source,
            })
        };
        let mut reader = BufReader::with_capacity(64 * 1024, open()?);
        let mut first_file = open()?;
        let cap = u64::try_from(self.max_line_bytes)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let mut first_at: HashMap<String, (u64, usize)> = HashMap::new();
        let mut merged: HashMap<String, ProtocolEntry> = HashMap::new();
        let mut line = Vec::new();
        let mut offset = 0u64;
        loop {
            line.clear();
            let read = (&mut reader)
                .take(cap)
                .read_until(b'\n', &mut line)
                .map_err(|e| self.io_error(e))?;
            if read == 0 {
                return Ok(merged);
            }
            let at = offset;
            offset += read as u64;
            if line.last() != Some(&b'\n') && line.len() > self.max_line_bytes {
                match skip_rest_of_line(&mut reader).map_err(|e| self.io_error(e))? {
                    Some(rest) => offset += rest,
                    None => return Ok(merged),
                }
                continue;
            }
            let body = trim_line(&line, at == 0);
            let Ok(LineId { entry_id }) = serde_json::from_slice::<LineId<'_>>(body) else {
                continue;
            };
            let Some(&(first_offset, first_len)) = first_at.get(entry_id.as_ref()) else {
                first_at.insert(entry_id.into_owned(), (at, read));
                continue;
            };
            let id = entry_id.into_owned();
            let Ok(Some(later)) = jsonl::decode(&line, at == 0) else {
                continue;
            };
            let (base, merged_before) = match merged.remove(&id) {
                Some(base) => (base, true),
                None => {
                    let mut first = vec![0; first_len];
                    first_file
                        .seek(SeekFrom::Start(first_offset))
                        .and_then(|_| first_file.read_exact(&mut first))
                        .map_err(|e| self.io_error(e))?;
                    match jsonl::decode(&first, first_offset == 0) {
                        Ok(Some(first)) => (first, false),
                        _ => continue,
                    }
                }
            };
            // Only ids whose copies fill something are kept: a plain repeat
            // (a retried batch) costs nothing.
            match merge_copy(&base, &later) {
                Some(fuller) => {
                    merged.insert(id, fuller);
                }
                None if merged_before => {
                    merged.insert(id, base);
                }
                None => {}
            }
        }
    }
}

/// A line without its ending (and, first in the file, a byte-order mark).
fn trim_line(line: &[u8], first_in_file: bool) -> &[u8] {
    let mut bytes = line;
    bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    if first_in_file {
        bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    }
    bytes
}

/// Discards input up to and including the next newline; returns how many
/// bytes that was, or `None` when the file ended first.
fn skip_rest_of_line(reader: &mut impl BufRead) -> std::io::Result<Option<u64>> {
    let mut consumed = 0u64;
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(None);
        }
        match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(Some(consumed + end as u64 + 1));
            }
            None => {
                let len = buffer.len();
                consumed += len as u64;
                reader.consume(len);
            }
        }
    }
}

#[cfg(test)]
impl JsonlSource {
    /// Lowers the line-length limit, to test it without 64 MiB lines.
    pub(crate) fn with_max_line_bytes(mut self, max: usize) -> Self {
        self.max_line_bytes = max;
        self
    }
}
