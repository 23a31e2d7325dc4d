//! The one way entries are read: a [`Scan`] of a [`Source`], one per storage
//! form. Every reading feature (query, sessions, stats, check, follow) is a
//! scan with other settings, so the forms cannot drift apart: one set of
//! conditions, one time window, one de-duplication, one record of what could
//! not be read.

use std::ops::ControlFlow;

use super::conditions::Conditions;
use super::follow::ReadPosition;
use super::reader::{ProtocolFormat, ProtocolMeta};
use crate::codec::sqlite::Selection;
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// At most this many skipped records are listed per read, so a file of
/// garbage cannot grow the report without bound (all are counted).
const MAX_REPORTED_SKIPS: usize = 10_000;

/// The order a scan visits entries in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// As written: SQLite's rowid, the JSON Lines file's line order.
    Written,
    /// By timestamp, oldest first, ties broken by `entry_id`.
    Oldest,
    /// By timestamp, newest first, ties broken by `entry_id` (descending).
    Newest,
    /// Any order, for a scan that only adds its entries up: SQLite is free
    /// to walk the identity index for a time window and the table for the
    /// rest. Asked for the order written, it scans the whole table even for
    /// an hour of a month (sorting the hour's rows by rowid, it estimates,
    /// would cost more): `stats --since 1h` on 1 000 000 entries took
    /// 205 ms that way, and 2 this way. JSON Lines reads in the order
    /// written.
    Any,
}

/// What a scan does with an entry whose id it has already visited (JSON
/// Lines may hold one twice; SQLite stores each once).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// Visit the first, skip the rest: what every reader returns.
    Skip,
    /// Visit them all: for `check`, which reports them.
    Visit,
}

/// One pass over a protocol.
#[derive(Debug)]
pub(crate) struct Scan<'a> {
    /// Which entries.
    pub(crate) conditions: &'a Conditions,
    /// In what order.
    pub(crate) order: Order,
    /// At most this many: the first ones in `order`.
    pub(crate) limit: Option<usize>,
    /// Which columns (content can be left out).
    pub(crate) selection: Selection,
    /// Whether repeated ids are visited.
    pub(crate) duplicates: Duplicates,
    /// Where to start, and where the scan ended (with [`Order::Written`]
    /// only): following a file across reads. Without it, a scan starts at the
    /// beginning and reports an unfinished last JSON Lines line as torn.
    pub(crate) resume: Option<&'a mut ReadPosition>,
}

impl<'a> Scan<'a> {
    /// Every entry meeting `conditions`, once each, in write order, with content.
    pub(crate) fn new(conditions: &'a Conditions) -> Self {
        Scan {
            conditions,
            order: Order::Written,
            limit: None,
            selection: Selection::All,
            duplicates: Duplicates::Skip,
            resume: None,
        }
    }

    /// Visits in `order`.
    pub(crate) fn ordered(mut self, order: Order) -> Self {
        self.order = order;
        self
    }

    /// Visits at most `limit` entries.
    pub(crate) fn limited(mut self, limit: Option<usize>) -> Self {
        self.limit = limit;
        self
    }

    /// Leaves content out.
    pub(crate) fn without_content(mut self) -> Self {
        self.selection = Selection::WithoutContent;
        self
    }

    /// How two entries compare in this scan's order: by timestamp, ties
    /// broken by `entry_id` (write order, and any order, compare equal).
    pub(crate) fn compare(&self, a: &ProtocolEntry, b: &ProtocolEntry) -> std::cmp::Ordering {
        let by_time = || {
            a.timestamp
                .cmp(&b.timestamp)
                .then_with(|| a.entry_id.cmp(&b.entry_id))
        };
        match self.order {
            Order::Written | Order::Any => std::cmp::Ordering::Equal,
            Order::Oldest => by_time(),
            Order::Newest => by_time().reverse(),
        }
    }
}

/// An entry a scan visits, and where it is stored.
#[derive(Debug)]
pub(crate) struct Record {
    /// JSON Lines: the 1-based line number. SQLite: the row's `rowid`.
    pub(crate) position: u64,
    /// The entry.
    pub(crate) entry: ProtocolEntry,
}

/// A record a read could not decode and skipped.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// use reagentic_protocol::{EntryFilter, ProtocolReader};
/// let reader = ProtocolReader::open("protocol.jsonl")?;
/// let entries = reader.query(&EntryFilter::default())?;
/// for skipped in reader.skipped_lines() {
///     eprintln!("line {}: {}", skipped.line_number, skipped.reason);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SkippedLine {
    /// JSON Lines: the 1-based line number (in [`file`](Self::file) when
    /// that is set). SQLite: the row's `rowid`.
    pub line_number: u64,
    /// Why it was skipped.
    pub reason: String,
    /// JSON Lines: the rotated file the line is in, when it is not the
    /// protocol file itself.
    pub file: Option<std::path::PathBuf>,
}

/// What a scan skipped: the first [`MAX_REPORTED_SKIPS`] listed, all counted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Skips {
    pub(crate) listed: Vec<SkippedLine>,
    pub(crate) total: u64,
}

impl Skips {
    /// Adds what another scan of the same read skipped.
    pub(crate) fn merge(&mut self, other: Skips) {
        self.total += other.total;
        let room = MAX_REPORTED_SKIPS.saturating_sub(self.listed.len());
        self.listed.extend(other.listed.into_iter().take(room));
    }

    pub(crate) fn push(&mut self, line_number: u64, reason: String) {
        self.push_in(None, line_number, reason);
    }

    /// Adds a skipped line of the rotated JSON Lines file `file`.
    pub(crate) fn push_in(
        &mut self,
        file: Option<&std::path::Path>,
        line_number: u64,
        reason: String,
    ) {
        self.total += 1;
        if self.listed.len() < MAX_REPORTED_SKIPS {
            self.listed.push(SkippedLine {
                line_number,
                reason,
                file: file.map(std::path::Path::to_path_buf),
            });
        }
    }
}

/// A storage form, as the reader sees it.
pub(crate) trait Source: std::fmt::Debug + Send {
    /// Which form this is.
    fn format(&self) -> ProtocolFormat;

    /// Visits the entries `scan` asks for until `visit` breaks; returns what
    /// could not be read.
    fn scan(
        &self,
        scan: Scan<'_>,
        visit: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Skips>;

    /// The file's meta data.
    fn meta(&self) -> Result<ProtocolMeta>;

    /// The position just past the last entry written so far.
    fn end_position(&self) -> Result<ReadPosition>;

    /// Whether the newest entries can be read first without reading the rest
    /// (a time index): `sessions` then walks back from the newest instead of
    /// reading everything.
    fn reads_newest_first_cheaply(&self) -> bool;

    /// Damage the storage engine itself finds in the file (none for forms
    /// without such a check).
    fn integrity_problems(&self) -> Result<Vec<String>>;

    /// The files read, oldest first (none for a database server).
    fn files(&self) -> Result<Vec<std::path::PathBuf>>;
}
