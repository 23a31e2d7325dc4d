//! Validating a protocol file: what a reader would skip, what never ended,
//! what is stored twice.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conditions::Conditions;
use super::reader::ProtocolReader;
use super::scan::{Duplicates, Scan};
use crate::entry::{EventType, ProtocolEntry};
use crate::error::Result;

/// At most this many unfinished spans and duplicate ids are listed (all are
/// counted), so a check of a huge broken file stays readable and bounded.
const MAX_LISTED: usize = 1_000;

/// What [`ProtocolReader::check`] found.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CheckReport {
    /// The schema version the file records.
    pub schema_version: u32,
    /// Readable entries, each id counted once.
    pub entries: u64,
    /// Records that cannot be read: JSON Lines line numbers, SQLite rowids
    /// (the first 10 000).
    pub unreadable: Vec<UnreadableRecord>,
    /// How many records cannot be read.
    pub unreadable_total: u64,
    /// Start entries without their end: runs that crashed or are still going
    /// (the first 1 000, oldest first).
    pub unfinished: Vec<UnfinishedStep>,
    /// How many start entries have no end.
    pub unfinished_total: u64,
    /// Entry ids stored more than once (the first 1 000).
    pub duplicates: Vec<DuplicateId>,
    /// How many ids are stored more than once.
    pub duplicates_total: u64,
    /// Entries the writing pipelines dropped, as recorded in the file.
    pub dropped_entries: u64,
    /// SQLite's own integrity check, when it found problems.
    pub integrity_problems: Vec<String>,
}

/// A record that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct UnreadableRecord {
    /// JSON Lines: the 1-based line number (in [`file`](Self::file) when
    /// that is set). SQLite: the rowid.
    pub line: u64,
    /// Why it could not be read.
    pub reason: String,
    /// JSON Lines: the rotated file the line is in, when it is not the
    /// protocol file itself.
    pub file: Option<std::path::PathBuf>,
}

/// A step that began but has no end entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UnfinishedStep {
    /// The start entry's id.
    pub entry_id: String,
    /// `agent_start`, `tool_start`, …
    pub event_type: EventType,
    /// The step's name.
    pub name: String,
    /// Its session, if any.
    pub session_id: Option<String>,
    /// When it began.
    #[serde(serialize_with = "crate::entry::rfc3339_micros::serialize")]
    pub started: DateTime<Utc>,
}

/// An entry id found on more than one record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DuplicateId {
    /// The id.
    pub entry_id: String,
    /// Where it appears: line numbers (JSON Lines) or rowids (SQLite).
    pub lines: Vec<u64>,
}

impl CheckReport {
    /// Whether nothing is wrong: every record readable, every step ended,
    /// no id twice, nothing dropped, SQLite's integrity check passed.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let report = reagentic_protocol::ProtocolReader::open("protocol.db")?.check()?;
    /// std::process::exit(if report.is_clean() { 0 } else { 1 });
    /// # }
    /// ```
    pub fn is_clean(&self) -> bool {
        self.unreadable_total == 0
            && self.unfinished_total == 0
            && self.duplicates_total == 0
            && self.dropped_entries == 0
            && self.integrity_problems.is_empty()
    }
}

impl ProtocolReader {
    /// Reads the whole file and reports what is wrong with it.
    ///
    /// Unlike [`query`](Self::query), which reads each id once, this sees
    /// every record, so it finds JSON Lines ids written twice. SQLite files
    /// also get SQLite's `quick_check`.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let report = reagentic_protocol::ProtocolReader::open("protocol.jsonl")?.check()?;
    /// for bad in &report.unreadable {
    ///     eprintln!("line {}: {}", bad.line, bad.reason);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn check(&self) -> Result<CheckReport> {
        let meta = self.meta()?;
        let integrity_problems = self.source().integrity_problems()?;
        let mut walk = Walk::default();
        let everything = Conditions::default();
        let mut scan = Scan::new(&everything);
        scan.duplicates = Duplicates::Visit;
        let skips = self.scan(scan, |record| {
            walk.add(record.position, &record.entry);
            ControlFlow::Continue(())
        })?;
        self.report(skips.clone());
        let mut unfinished: Vec<UnfinishedStep> = walk.open.into_values().collect();
        unfinished.sort_by(|a, b| (a.started, &a.entry_id).cmp(&(b.started, &b.entry_id)));
        let unfinished_total = unfinished.len() as u64;
        unfinished.truncate(MAX_LISTED);
        let mut duplicates: Vec<DuplicateId> = walk
            .repeated
            .into_iter()
            .map(|(entry_id, lines)| DuplicateId { entry_id, lines })
            .collect();
        duplicates.sort_by(|a, b| a.lines.cmp(&b.lines));
        let duplicates_total = duplicates.len() as u64;
        duplicates.truncate(MAX_LISTED);
        Ok(CheckReport {
            schema_version: meta.schema_version,
            entries: walk.entries,
            unreadable: skips
                .listed
                .into_iter()
                .map(|s| UnreadableRecord {
                    line: s.line_number,
                    file: s.file,
                    reason: s.reason,
                })
                .collect(),
            unreadable_total: skips.total,
            unfinished,
            unfinished_total,
            duplicates,
            duplicates_total,
            dropped_entries: meta.dropped_entries,
            integrity_problems,
        })
    }
}

/// What a walk over every record has seen so far.
#[derive(Default)]
struct Walk {
    entries: u64,
    /// Where each id was first seen, and the fields its copies so far had.
    first_line: HashMap<String, (u64, u64)>,
    /// Every line of the ids seen more than once; kept apart from
    /// `first_line` so a clean file costs no list per entry.
    repeated: HashMap<String, Vec<u64>>,
    /// Started steps not (yet) ended, by `(trace, span)`.
    open: HashMap<(String, String), UnfinishedStep>,
    /// Ended steps, so a start read after its end (order on disk is write
    /// order, which for the exporter is end time) is not counted open.
    ended: HashSet<(String, String)>,
}

impl Walk {
    fn add(&mut self, line: u64, entry: &ProtocolEntry) {
        let fields = super::jsonl::field_mask(entry);
        if let Some((first, known)) = self.first_line.get_mut(&entry.entry_id) {
            // A later copy that fills fields the earlier ones left empty is
            // the fill rule at work (FORMAT.md), not a repeat.
            if fields & !*known == 0 {
                self.repeated
                    .entry(entry.entry_id.clone())
                    .or_insert_with(|| vec![*first])
                    .push(line);
            }
            *known |= fields;
            return;
        }
        self.first_line
            .insert(entry.entry_id.clone(), (line, fields));
        self.entries += 1;
        let span = (entry.trace_id.clone(), entry.span_id.clone());
        if entry.event_type.is_start() {
            if !self.ended.contains(&span) {
                self.open.insert(
                    span,
                    UnfinishedStep {
                        entry_id: entry.entry_id.clone(),
                        event_type: entry.event_type,
                        name: entry.name.clone(),
                        session_id: entry.session_id.clone(),
                        started: entry.timestamp,
                    },
                );
            }
        } else if entry.event_type.is_end() {
            self.open.remove(&span);
            self.ended.insert(span);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{SqliteStorage, Storage};
    use crate::test_entries::{bare_entry, full_entry};

    #[test]
    fn sqlite_rows_that_do_not_decode_unended_starts_and_drops_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        // full_entry is an end; bare_entry a start of another span.
        storage
            .write_batch(&[full_entry(1), bare_entry(2)])
            .unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        let report = reader.check().unwrap();
        assert_eq!(report.entries, 2);
        assert_eq!(report.unfinished_total, 1);
        assert_eq!(report.unfinished[0].entry_id, bare_entry(2).entry_id);
        assert!(!report.is_clean());

        let mut end = bare_entry(2);
        end.event_type = EventType::AgentEnd;
        end.entry_id = ProtocolEntry::make_id(&end.trace_id, &end.span_id, "end");
        storage.write_batch(&[end]).unwrap();
        assert!(reader.check().unwrap().is_clean());

        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, name, status) VALUES (1, 'bad', 'yesterday', 'agent_start', 't', 's',
                 'n', 'unset')",
                [],
            )
            .unwrap();
        storage.record_dropped(3).unwrap();
        let report = reader.check().unwrap();
        assert_eq!((report.unreadable_total, report.dropped_entries), (1, 3));
        assert_eq!(report.unreadable[0].line, 4, "the rowid");
        assert!(
            report.unreadable[0].reason.contains("timestamp"),
            "{:?}",
            report.unreadable
        );
        assert!(report.integrity_problems.is_empty());
        assert!(!report.is_clean());
    }
}
