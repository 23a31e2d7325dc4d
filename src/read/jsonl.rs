//! Reading a JSON Lines protocol: every scan reads the file from its start
//! (or from where a follower left off), line by line, each entry id once.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::follow::ReadPosition;
use super::reader::{ProtocolFormat, ProtocolMeta};
use super::scan::{Duplicates, Order, Record, Scan, Skips, Source};
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
        if scan.order == Order::Written {
            let mut visited = 0;
            let mut seen = std::mem::take(position.seen_mut());
            self.read_lines(position, following, &mut skips, |number, entry| {
                if dedup && !seen.insert(entry.entry_id.clone()) {
                    return ControlFlow::Continue(());
                }
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
        let mut seen = std::mem::take(position.seen_mut());
        self.read_lines(position, following, &mut skips, |number, entry| {
            if (!dedup || seen.insert(entry.entry_id.clone())) && scan.conditions.matches(&entry) {
                found.push((number, entry));
                if compact_at.is_some_and(|at| found.len() >= at) {
                    sort_records(&scan, &mut found);
                    found.truncate(limit);
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
