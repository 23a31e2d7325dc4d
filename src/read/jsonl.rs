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
use crate::codec::jsonl_set::{rotated_files, RotatedFile, RotatedKey};
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Lines longer than this are skipped as too long instead of being read into
/// memory: a protocol line is at most a few MiB even at `DetailLevel::Full`.
const MAX_LINE_BYTES: usize = 64 << 20;

/// A JSON Lines protocol: the file, and the files rotated from it
/// (`codec/jsonl_set.rs`), read as one, oldest first. Nothing is kept open
/// between scans, so every scan sees the lines (and files) written since the
/// last.
#[derive(Debug)]
pub(crate) struct JsonlSource {
    path: PathBuf,
    max_line_bytes: usize,
}

/// One file of the set, open for one scan. An open file stays readable
/// when a writer renames it (rotation) or a retention removes it.
struct SetFile {
    /// `None` for the protocol file itself, the one writers append to.
    key: Option<RotatedKey>,
    path: PathBuf,
    file: File,
}

/// Where in a rotated set a [`ReadPosition`] is: which file, how to know
/// it again once a rotation renamed it, and how many bytes the files
/// before it hold (for [`ReadPosition::offset`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FileMark {
    /// The rotated file's key; `None` for the protocol file itself.
    rotated: Option<RotatedKey>,
    /// The file's first bytes when it was read (fewer while it was short):
    /// files only grow, so this names the file after a rename too.
    head: Vec<u8>,
    /// The newest rotated file there was then: any newer one was rotated
    /// since.
    newest_rotated: Option<RotatedKey>,
    pub(crate) bytes_before: u64,
}

/// This many leading bytes tell files apart (each begins with an entry,
/// and entry ids are unique).
const HEAD_BYTES: usize = 256;

/// Reading a set is retried this often when a rotation moves the files
/// while they are being opened.
const OPEN_SET_ATTEMPTS: usize = 4;

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

    fn io_error(&self, path: &Path, source: std::io::Error) -> ProtocolError {
        ProtocolError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Opens the rotated files and the protocol file, oldest first. A
    /// rotation between listing the files and opening the protocol file
    /// would leave out the file it renamed, so the listing is checked again
    /// afterwards and the whole retried when it changed.
    fn open_set(&self) -> Result<Vec<SetFile>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let listed = rotated_files(&self.path)?;
            let mut files = Vec::with_capacity(listed.len() + 1);
            for rotated in &listed {
                match File::open(&rotated.path) {
                    Ok(file) => files.push(SetFile {
                        key: Some(rotated.key),
                        path: rotated.path.clone(),
                        file,
                    }),
                    // Removed by retention since the listing.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(source) => {
                        return Err(ProtocolError::Open {
                            path: rotated.path.clone(),
                            source,
                        })
                    }
                }
            }
            let active = File::open(&self.path);
            let newest = |files: &[RotatedFile]| files.last().map(|f| f.key);
            let moved = newest(&rotated_files(&self.path)?) != newest(&listed);
            match active {
                Ok(file) if !moved || attempt >= OPEN_SET_ATTEMPTS => {
                    files.push(SetFile {
                        key: None,
                        path: self.path.clone(),
                        file,
                    });
                    return Ok(files);
                }
                // Renamed and not yet started again: a writer is rotating.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound && attempt < OPEN_SET_ATTEMPTS =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(source) => {
                    return Err(ProtocolError::Open {
                        path: self.path.clone(),
                        source,
                    })
                }
                Ok(_) => {}
            }
        }
    }

    /// The first bytes of `file`, up to [`HEAD_BYTES`].
    fn head(&self, set_file: &SetFile) -> Result<Vec<u8>> {
        let mut head = Vec::with_capacity(HEAD_BYTES);
        let mut file = &set_file.file;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.take(HEAD_BYTES as u64).read_to_end(&mut head))
            .map_err(|e| self.io_error(&set_file.path, e))?;
        Ok(head)
    }

    /// Which file of `files` `position` is in, and where in it: the file
    /// it names, or, when a rotation renamed the protocol file since, the
    /// rotated file that begins as it did; when retention removed it, the
    /// start of the next.
    fn locate(&self, position: &ReadPosition, files: &[SetFile]) -> Result<(usize, u64)> {
        let Some(mark) = position.file() else {
            return Ok((0, 0));
        };
        let offset = position.file_offset();
        let next_after = |key: RotatedKey| {
            files
                .iter()
                .position(|f| f.key.is_none_or(|k| k > key))
                .unwrap_or(files.len() - 1)
        };
        if let Some(key) = mark.rotated {
            return Ok(match files.iter().position(|f| f.key == Some(key)) {
                Some(index) => (index, offset),
                None => (next_after(key), 0),
            });
        }
        let rotated_since: Vec<usize> = files
            .iter()
            .enumerate()
            .filter(|(_, f)| {
                f.key
                    .is_some_and(|k| mark.newest_rotated.is_none_or(|n| k > n))
            })
            .map(|(index, _)| index)
            .collect();
        let Some(&first_new) = rotated_since.first() else {
            return Ok((files.len() - 1, offset));
        };
        if !mark.head.is_empty() {
            for &index in &rotated_since {
                if self.head(&files[index])?.starts_with(&mark.head) {
                    return Ok((index, offset));
                }
            }
        }
        Ok((first_new, 0))
    }

    /// Reads lines from `position` on, through the rest of the set,
    /// handing each entry to `visit` in the order written, until the end,
    /// an unfinished last line of the protocol file (when `following`: it
    /// is still being written), or `visit` breaks.
    fn read_lines(
        &self,
        position: &mut ReadPosition,
        following: bool,
        skips: &mut Skips,
        mut visit: impl FnMut(u64, ProtocolEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        let files = self.open_set()?;
        let newest_rotated = files.iter().rev().find_map(|f| f.key);
        let (first, mut offset) = self.locate(position, &files)?;
        let mut bytes_before = 0u64;
        for (index, set_file) in files.iter().enumerate() {
            let len = set_file
                .file
                .metadata()
                .map_err(|e| self.io_error(&set_file.path, e))?
                .len();
            if index < first {
                bytes_before = bytes_before.saturating_add(len);
                continue;
            }
            if len < offset {
                // Shorter than what was read: the file was replaced or
                // truncated.
                offset = 0;
            }
            let mark = FileMark {
                rotated: set_file.key,
                head: self.head(set_file)?,
                newest_rotated,
                bytes_before,
            };
            position.enter_file(mark, offset);
            let last = index + 1 == files.len();
            let flow =
                self.read_file_lines(set_file, position, following && last, skips, &mut visit)?;
            if flow.is_break() {
                return Ok(());
            }
            bytes_before = bytes_before.saturating_add(len);
            offset = 0;
        }
        Ok(())
    }

    /// Reads the lines of one file of the set from `position` on; breaks
    /// when `visit` does.
    fn read_file_lines(
        &self,
        set_file: &SetFile,
        position: &mut ReadPosition,
        following: bool,
        skips: &mut Skips,
        visit: &mut impl FnMut(u64, ProtocolEntry) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>> {
        let path = &set_file.path;
        let io_error = |e| self.io_error(path, e);
        // Lines of a rotated file are reported with its name.
        let skipped_in = set_file.key.map(|_| path.as_path());
        let mut lines = Lines::new(&set_file.file, position.file_offset(), self.max_line_bytes)
            .map_err(io_error)?;
        let mut line = Vec::new();
        loop {
            let read = lines.next(&mut line).map_err(io_error)?;
            if read == 0 {
                return Ok(ControlFlow::Continue(()));
            }
            let terminated = line.last() == Some(&b'\n');
            if !terminated && line.len() > self.max_line_bytes {
                let too_long = format!("line longer than {} bytes", self.max_line_bytes);
                let Some(rest) = lines.skip_rest().map_err(io_error)? else {
                    // Not finished yet: a follower comes back for it.
                    if following {
                        return Ok(ControlFlow::Continue(()));
                    }
                    position.advance_line(read as u64);
                    skips.push_in(skipped_in, position.line(), too_long);
                    return Ok(ControlFlow::Continue(()));
                };
                position.advance_line(read as u64 + rest);
                skips.push_in(skipped_in, position.line(), too_long);
                line = Vec::new();
                continue;
            }
            if !terminated && following {
                // The last line, still being written (or torn): not yet.
                return Ok(ControlFlow::Continue(()));
            }
            let first_in_file = position.file_offset() == 0;
            position.advance_line(read as u64);
            let number = position.line();
            match jsonl::decode(&line, first_in_file) {
                Ok(None) => {}
                Ok(Some(entry)) => {
                    if visit(number, entry).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                // Only the last line can lack its newline: a write cut short
                // by a crash.
                Err(reason) if !terminated => {
                    tracing::warn!(path = %path.display(), line = number, %reason,
                        "skipping a torn last line");
                    skips.push_in(
                        skipped_in,
                        number,
                        format!("torn last line (no trailing newline): {reason}"),
                    );
                }
                Err(reason) => skips.push_in(skipped_in, number, reason),
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
        if matches!(scan.order, Order::Written | Order::Any) {
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
        let files = self.open_set()?;
        let Some((active, rotated)) = files.split_last() else {
            return Ok(ReadPosition::start());
        };
        let mut bytes_before = 0u64;
        for set_file in rotated {
            let len = set_file
                .file
                .metadata()
                .map_err(|e| self.io_error(&set_file.path, e))?
                .len();
            bytes_before = bytes_before.saturating_add(len);
        }
        let mut end = ReadPosition::start();
        end.enter_file(
            FileMark {
                rotated: None,
                head: self.head(active)?,
                newest_rotated: rotated.last().and_then(|f| f.key),
                bytes_before,
            },
            0,
        );
        let io_error = |e| self.io_error(&active.path, e);
        let mut file = &active.file;
        file.seek(SeekFrom::Start(0)).map_err(io_error)?;
        let mut reader = BufReader::with_capacity(256 * 1024, file);
        let mut read = 0u64;
        loop {
            let buffer = reader.fill_buf().map_err(io_error)?;
            if buffer.is_empty() {
                return Ok(end);
            }
            // Past the last complete line: an unfinished one is still to come.
            for (i, byte) in buffer.iter().enumerate() {
                if *byte == b'\n' {
                    let next = read + i as u64 + 1;
                    end.advance_line(next - end.file_offset());
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

    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut files: Vec<PathBuf> = rotated_files(&self.path)?
            .into_iter()
            .map(|f| f.path)
            .collect();
        files.push(self.path.clone());
        Ok(files)
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
    /// Reads the set once for the ids written more than once, and returns,
    /// for each whose later copies fill fields the first left empty, the
    /// merged entry. Only the ids are parsed for most lines; the copies of a
    /// repeated id are decoded whole (the first re-read by its offset).
    fn merged_copies(&self) -> Result<HashMap<String, ProtocolEntry>> {
        let files = self.open_set()?;
        // Where each id was first seen: its file, offset and length.
        let mut first_at: HashMap<String, (usize, u64, usize)> = HashMap::new();
        let mut merged: HashMap<String, ProtocolEntry> = HashMap::new();
        let mut line = Vec::new();
        for (index, set_file) in files.iter().enumerate() {
            let io_error = |e| self.io_error(&set_file.path, e);
            let mut lines = Lines::new(&set_file.file, 0, self.max_line_bytes).map_err(io_error)?;
            let mut offset = 0u64;
            loop {
                let read = lines.next(&mut line).map_err(io_error)?;
                if read == 0 {
                    break;
                }
                let at = offset;
                offset += read as u64;
                if line.last() != Some(&b'\n') && line.len() > self.max_line_bytes {
                    match lines.skip_rest().map_err(io_error)? {
                        Some(rest) => offset += rest,
                        None => break,
                    }
                    continue;
                }
                let body = trim_line(&line, at == 0);
                let Ok(LineId { entry_id }) = serde_json::from_slice::<LineId<'_>>(body) else {
                    continue;
                };
                let Some(&(first_file, first_offset, first_len)) = first_at.get(entry_id.as_ref())
                else {
                    first_at.insert(entry_id.into_owned(), (index, at, read));
                    continue;
                };
                let id = entry_id.into_owned();
                let Ok(Some(later)) = jsonl::decode(&line, at == 0) else {
                    continue;
                };
                let (base, merged_before) = match merged.remove(&id) {
                    Some(base) => (base, true),
                    None => {
                        let first_in = &files[first_file];
                        let mut first = vec![0; first_len];
                        if let Err(e) = read_exact_at(first_in, first_offset, &mut first) {
                            // Removed by retention meanwhile: nothing to merge into.
                            tracing::debug!(path = %first_in.path.display(), error = %e,
                                "cannot re-read an entry's first copy");
                            continue;
                        }
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
        Ok(merged)
    }
}

/// Reads `buffer.len()` bytes of a set file at `offset` without moving the
/// reader that is going through it: by position where the system offers
/// that, elsewhere through a second handle.
fn read_exact_at(set_file: &SetFile, offset: u64, buffer: &mut [u8]) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        set_file.file.read_exact_at(buffer, offset)
    }
    #[cfg(not(unix))]
    {
        let mut file = File::open(&set_file.path)?;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buffer)
    }
}

/// The lines of one file of a set, from an offset on, each read into
/// memory only up to the line-length limit.
struct Lines<'f> {
    reader: BufReader<&'f File>,
    /// One byte past the limit: a line that long is too long.
    cap: u64,
}

impl<'f> Lines<'f> {
    fn new(file: &'f File, offset: u64, max_line_bytes: usize) -> std::io::Result<Self> {
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        Ok(Lines {
            reader: BufReader::with_capacity(64 * 1024, file),
            cap: u64::try_from(max_line_bytes)
                .unwrap_or(u64::MAX)
                .saturating_add(1),
        })
    }

    /// Reads the next line, ending included, into `line` (cleared first);
    /// the bytes read, 0 at the end. `take` caps what one line may
    /// allocate; bytes, not `String`, so invalid UTF-8 is a skipped line
    /// rather than an aborted read.
    fn next(&mut self, line: &mut Vec<u8>) -> std::io::Result<usize> {
        line.clear();
        (&mut self.reader).take(self.cap).read_until(b'\n', line)
    }

    /// Discards the rest of a line too long to read; see
    /// [`skip_rest_of_line`].
    fn skip_rest(&mut self) -> std::io::Result<Option<u64>> {
        skip_rest_of_line(&mut self.reader)
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
