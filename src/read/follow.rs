//! Reading a protocol in the order it was written, in batches, from any
//! point: for following a file that is being written, and for copying one.

use std::collections::HashMap;

use super::conditions::Conditions;
use super::jsonl::FileMark;
use super::reader::ProtocolReader;
use super::scan::Scan;
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// Where [`ProtocolReader::read_from`] goes on: a SQLite rowid, a JSON
/// Lines byte offset (always at the start of a line), or PostgreSQL's last
/// writing transaction and row number read; plus, for JSON Lines, the ids
/// already returned so an entry written twice is returned once.
///
/// ```no_run
/// use reagentic_protocol::{read::ReadPosition, ProtocolReader};
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
    /// The JSON Lines entry ids returned so far, each with the fields it
    /// had (`read::jsonl::field_mask`), so a later copy that fills one is
    /// returned again.
    seen: HashMap<String, u64>,
    /// Which file of a rotated JSON Lines set `offset` is in (`None`:
    /// nothing read yet).
    file: Option<FileMark>,
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
    /// assert_eq!(reagentic_protocol::read::ReadPosition::start().offset(), 0);
    /// ```
    pub fn start() -> Self {
        Self::default()
    }

    /// How far reading has come: the last rowid read (SQLite), the bytes
    /// read (JSON Lines; over a rotated set, counting the files before this
    /// one) or the id of the last writing transaction read (PostgreSQL).
    /// Compare with [`ProtocolReader::end_position`] for progress.
    ///
    /// ```
    /// let position = reagentic_protocol::read::ReadPosition::start();
    /// assert_eq!(position.offset(), 0);
    /// ```
    pub fn offset(&self) -> u64 {
        let before = self.file.as_ref().map_or(0, |file| file.bytes_before);
        self.offset.saturating_add(before)
    }

    /// The JSON Lines byte offset within the file [`Self::file`] names.
    pub(crate) fn file_offset(&self) -> u64 {
        self.offset
    }

    /// Which file of a JSON Lines set the position is in.
    pub(crate) fn file(&self) -> Option<&FileMark> {
        self.file.as_ref()
    }

    /// Moves to `offset` in the JSON Lines file `file`; at its start, line
    /// numbers begin again.
    pub(crate) fn enter_file(&mut self, file: FileMark, offset: u64) {
        if offset == 0 {
            self.line = 0;
        }
        self.file = Some(file);
        self.offset = offset;
    }

    /// Just after SQLite row `rowid`.
    pub(crate) fn after_row(rowid: u64) -> Self {
        ReadPosition {
            offset: rowid,
            ..Self::default()
        }
    }

    /// Moves past SQLite row `rowid`.
    pub(crate) fn advance_to_row(&mut self, rowid: u64) {
        self.offset = rowid;
    }

    /// Just after the PostgreSQL row numbered `seq` by transaction `xact`.
    #[cfg(feature = "postgres")]
    pub(crate) fn after_written(xact: u64, seq: u64) -> Self {
        ReadPosition {
            offset: xact,
            line: seq,
            ..Self::default()
        }
    }

    /// Moves past the PostgreSQL row numbered `seq` by transaction `xact`.
    #[cfg(feature = "postgres")]
    pub(crate) fn advance_to_written(&mut self, xact: u64, seq: u64) {
        self.offset = xact;
        self.line = seq;
    }

    /// The PostgreSQL transaction and row number last moved past.
    #[cfg(feature = "postgres")]
    pub(crate) fn written(&self) -> (u64, u64) {
        (self.offset, self.line)
    }

    /// Moves past one JSON Lines line of `bytes` bytes.
    pub(crate) fn advance_line(&mut self, bytes: u64) {
        self.offset += bytes;
        self.line += 1;
    }

    /// The number of the last JSON Lines line moved past (1-based).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The JSON Lines entry ids returned so far, with the fields they had.
    pub(crate) fn seen_mut(&mut self) -> &mut HashMap<String, u64> {
        &mut self.seen
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
        self.source().end_position()
    }

    /// Up to `max_entries` entries after `position`, in the order they were
    /// written, moving `position` past them. Empty when there is nothing new.
    /// Unreadable records are skipped and reported by
    /// [`skipped_lines`](Self::skipped_lines); a JSON Lines line without its
    /// newline yet is left for a later call, as its writer may still be at it.
    ///
    /// ```no_run
    /// use reagentic_protocol::{read::ReadPosition, ProtocolReader};
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
        let everything = Conditions::default();
        let mut scan = Scan::new(&everything).limited(Some(max_entries));
        scan.resume = Some(position);
        self.collect(scan)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::storage::{JsonlStorage, SqliteStorage, Storage};
    use crate::test_entries::{bare_entry, full_entry};

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
