//! Reading a protocol in the order it was written, in batches, from any
//! point: for following a file that is being written, and for copying one.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use rusqlite::Connection;

use crate::entry::ProtocolEntry;
use crate::error::{ProtocolError, Result};
use crate::query::{decode_line, decode_row, too_new, Backend, ProtocolReader, Skips};
use crate::storage::sqlite_error;

/// Where [`ProtocolReader::read_from`] goes on: a SQLite rowid or a JSON
/// Lines byte offset (always at the start of a line), plus, for JSON Lines,
/// the ids already returned so an entry written twice is returned once.
///
/// ```no_run
/// use reagentic_protocol::{ProtocolReader, ReadPosition};
/// # fn main() -> reagentic_protocol::Result<()> {
/// let reader = ProtocolReader::open("protocol.jsonl")?;
/// let mut position = ReadPosition::start();
/// loop {
///     let batch = reader.read_from(&mut position, 10_000)?;
///     if batch.is_empty() {
///         break;
///     }
///     // … each entry once, in the order written …
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct ReadPosition {
    offset: u64,
    line: u64,
    seen: HashSet<String>,
}

impl std::fmt::Debug for ReadPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPosition")
            .field("offset", &self.offset)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl ReadPosition {
    /// The beginning of the file.
    ///
    /// ```
    /// assert_eq!(reagentic_protocol::ReadPosition::start().offset(), 0);
    /// ```
    pub fn start() -> Self {
        Self::default()
    }

    /// How far reading has come: the last rowid read (SQLite) or the bytes
    /// read (JSON Lines). Compare with [`ProtocolReader::end_position`] for
    /// progress.
    ///
    /// ```
    /// let position = reagentic_protocol::ReadPosition::start();
    /// assert_eq!(position.offset(), 0);
    /// ```
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl ProtocolReader {
    /// The position after the last entry written so far: reading from it
    /// returns only entries written later. A JSON Lines line still being
    /// written is after this position. (JSON Lines ids are remembered from
    /// where reading starts, so from here a later copy of an entry written
    /// before this position is returned once more; from
    /// [`ReadPosition::start`] every id is returned once.)
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = reagentic_protocol::ProtocolReader::open("protocol.db")?;
    /// let mut position = reader.end_position()?;
    /// let new_entries = reader.read_from(&mut position, 100)?; // written since
    /// # Ok(()) }
    /// ```
    pub fn end_position(&self) -> Result<ReadPosition> {
        match self.backend() {
            Backend::Sqlite(conn) => Ok(ReadPosition {
                offset: max_rowid(conn, self.path())?,
                ..ReadPosition::default()
            }),
            Backend::Jsonl { .. } => jsonl_end(self.path()),
        }
    }

    /// Up to `max_entries` entries after `position`, in the order they were
    /// written, moving `position` past them. Empty when there is nothing new.
    /// Unreadable records are skipped and reported by
    /// [`skipped_lines`](Self::skipped_lines); a JSON Lines line without its
    /// newline yet is left for a later call, as its writer may still be at it.
    ///
    /// ```no_run
    /// use reagentic_protocol::{ProtocolReader, ReadPosition};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open("protocol.db")?;
    /// let mut position = ReadPosition::start();
    /// let first_thousand = reader.read_from(&mut position, 1_000)?;
    /// # Ok(()) }
    /// ```
    pub fn read_from(
        &self,
        position: &mut ReadPosition,
        max_entries: usize,
    ) -> Result<Vec<ProtocolEntry>> {
        self.recording_skips(|skips| match self.backend() {
            Backend::Sqlite(conn) => {
                let columns = self.entry_columns(conn)?;
                sqlite_batch(conn, self.path(), &columns, position, max_entries, skips)
            }
            Backend::Jsonl { max_line_bytes } => {
                jsonl_batch(self.path(), *max_line_bytes, position, max_entries, skips)
            }
        })
    }
}

fn max_rowid(conn: &Connection, path: &Path) -> Result<u64> {
    let max: Option<i64> = conn
        .query_row("SELECT max(rowid) FROM protocol_entries", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, e))?;
    Ok(max.and_then(|m| u64::try_from(m).ok()).unwrap_or(0))
}

fn sqlite_batch(
    conn: &Connection,
    path: &Path,
    columns: &str,
    position: &mut ReadPosition,
    max_entries: usize,
    skips: &mut Skips,
) -> Result<Vec<ProtocolEntry>> {
    let on = |e| sqlite_error(path, e);
    let sql = format!(
        "SELECT rowid, {columns} FROM protocol_entries WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(on)?;
    let after = i64::try_from(position.offset).unwrap_or(i64::MAX);
    let limit = i64::try_from(max_entries).unwrap_or(i64::MAX);
    let mut rows = stmt.query([after, limit]).map_err(on)?;
    let mut entries = Vec::new();
    while let Some(row) = rows.next().map_err(on)? {
        let rowid = u64::try_from(row.get::<_, i64>(0).map_err(on)?).unwrap_or(0);
        match decode_row(row) {
            Ok(entry) => entries.push(entry),
            Err(reason) => skips.push(rowid, reason),
        }
        position.offset = rowid;
    }
    Ok(entries)
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ProtocolError + '_ {
    move |source| ProtocolError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The offset after the last newline, and the number of lines before it.
fn jsonl_end(path: &Path) -> Result<ReadPosition> {
    let file = File::open(path).map_err(io_error(path))?;
    let mut reader = BufReader::with_capacity(256 * 1024, file);
    let (mut offset, mut line, mut read) = (0u64, 0u64, 0u64);
    loop {
        let buffer = reader.fill_buf().map_err(io_error(path))?;
        if buffer.is_empty() {
            break;
        }
        for (i, byte) in buffer.iter().enumerate() {
            if *byte == b'\n' {
                line += 1;
                offset = read + i as u64 + 1;
            }
        }
        let len = buffer.len();
        read += len as u64;
        reader.consume(len);
    }
    Ok(ReadPosition {
        offset,
        line,
        seen: HashSet::new(),
    })
}

fn jsonl_batch(
    path: &Path,
    max_line_bytes: usize,
    position: &mut ReadPosition,
    max_entries: usize,
    skips: &mut Skips,
) -> Result<Vec<ProtocolEntry>> {
    let mut file = File::open(path).map_err(|source| ProtocolError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let len = file.metadata().map_err(io_error(path))?.len();
    if len < position.offset {
        // Shorter than what was read: the file was replaced or truncated.
        *position = ReadPosition::start();
    }
    file.seek(SeekFrom::Start(position.offset))
        .map_err(io_error(path))?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let mut entries = Vec::new();
    let mut line = Vec::new();
    let cap = u64::try_from(max_line_bytes)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    while entries.len() < max_entries {
        line.clear();
        let read = (&mut reader)
            .take(cap)
            .read_until(b'\n', &mut line)
            .map_err(io_error(path))?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            if line.len() <= max_line_bytes {
                // The last line, still being written (or torn): not yet.
                break;
            }
            let Some(rest) = skip_line(&mut reader).map_err(io_error(path))? else {
                break;
            };
            position.offset += read as u64 + rest;
            position.line += 1;
            skips.push(
                position.line,
                format!("line longer than {max_line_bytes} bytes"),
            );
            line = Vec::new();
            continue;
        }
        let first_line = position.offset == 0;
        position.offset += read as u64;
        position.line += 1;
        match decode_line(&line, first_line) {
            Ok(None) => {}
            Ok(Some(entry)) => match too_new(&entry) {
                Some(reason) => skips.push(position.line, reason),
                None => {
                    if position.seen.insert(entry.entry_id.clone()) {
                        entries.push(entry);
                    }
                }
            },
            Err(reason) => skips.push(position.line, reason),
        }
    }
    Ok(entries)
}

/// Consumes up to and including the next newline; the bytes consumed, or
/// `None` when the file ends first (the line is not complete yet).
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<Option<u64>> {
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
mod tests {
    use std::io::Write;

    use super::*;
    use crate::storage::test_support::{bare_entry, full_entry};
    use crate::storage::{JsonlStorage, SqliteStorage, Storage};

    #[test]
    fn sqlite_reads_continue_after_the_last_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage
            .write_batch(&[full_entry(1), full_entry(2)])
            .unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        let mut end = reader.end_position().unwrap();
        assert!(reader.read_from(&mut end, 10).unwrap().is_empty());
        storage.write_batch(&[full_entry(3)]).unwrap();
        assert_eq!(reader.read_from(&mut end, 10).unwrap(), vec![full_entry(3)]);
        let mut start = ReadPosition::start();
        assert_eq!(
            reader.read_from(&mut start, 2).unwrap(),
            vec![full_entry(1), full_entry(2)]
        );
        assert_eq!(
            reader.read_from(&mut start, 2).unwrap(),
            vec![full_entry(3)]
        );
    }

    #[test]
    fn a_jsonl_line_being_written_is_read_once_it_is_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.jsonl");
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        let mut position = reader.end_position().unwrap();
        let line = bare_entry(2).to_json_line().unwrap();
        let (head, tail) = line.split_at(20);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(head.as_bytes()).unwrap();
        assert!(reader.read_from(&mut position, 10).unwrap().is_empty());
        assert_eq!(reader.end_position().unwrap().offset(), position.offset());
        writeln!(file, "{tail}").unwrap();
        writeln!(file, "garbage").unwrap();
        writeln!(file, "{line}").unwrap();
        assert_eq!(
            reader.read_from(&mut position, 10).unwrap(),
            vec![bare_entry(2)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 3, "{skipped:?}");
        // A file cut shorter than what was read is read again from the start.
        std::fs::write(&path, full_entry(5).to_json_line().unwrap() + "\n").unwrap();
        assert_eq!(
            reader.read_from(&mut position, 10).unwrap(),
            vec![full_entry(5)]
        );
    }
}
