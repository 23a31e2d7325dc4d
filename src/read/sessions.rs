//! One summary per session: the first thing to look at in a protocol.
//!
//! A run is grouped by its `session_id`; entries without one are grouped by
//! their trace instead, so a run that never set a session still shows up.

use std::collections::{BTreeSet, HashMap};
use std::ops::ControlFlow;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::conditions::{Conditions, TimeWindow, Walked};
use super::reader::ProtocolReader;
use super::scan::{Order, Scan, Skips};
use crate::entry::{EventType, ProtocolEntry};
use crate::error::Result;
use crate::pricing::CostTotal;

/// Which sessions [`ProtocolReader::sessions`] returns.
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use reagentic_protocol::read::SessionFilter;
///
/// let last_hour = SessionFilter::default()
///     .with_since(Utc::now() - TimeDelta::hours(1))
///     .with_limit(20);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionFilter {
    window: TimeWindow,
    limit: Option<usize>,
}

impl SessionFilter {
    /// Keeps sessions active at or after `since` (with an entry that is not
    /// older); their summaries still cover all their entries.
    ///
    /// ```
    /// let filter = reagentic_protocol::read::SessionFilter::default().with_since(chrono::Utc::now());
    /// ```
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.window.set_since(since);
        self
    }

    /// Keeps sessions active before `until` (with an entry older than it);
    /// their summaries still cover all their entries.
    ///
    /// ```
    /// let filter = reagentic_protocol::read::SessionFilter::default().with_until(chrono::Utc::now());
    /// ```
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.window.set_until(until);
        self
    }

    /// Returns at most the `limit` most recently active sessions.
    ///
    /// ```
    /// let filter = reagentic_protocol::read::SessionFilter::default().with_limit(10);
    /// ```
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }
}

/// What a [`SessionSummary`] groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunKind {
    /// Entries sharing a `session_id`.
    Session,
    /// Entries of one trace that carry no `session_id`.
    Trace,
}

impl RunKind {
    /// `"session"` or `"trace"`, as in the JSON form.
    ///
    /// ```
    /// assert_eq!(reagentic_protocol::read::RunKind::Trace.as_str(), "trace");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Session => "session",
            RunKind::Trace => "trace",
        }
    }
}

/// One session (or one session-less trace) at a glance.
///
/// ```no_run
/// use reagentic_protocol::{read::SessionFilter, ProtocolReader};
/// # fn main() -> reagentic_protocol::Result<()> {
/// let reader = ProtocolReader::open("protocol.db")?;
/// for s in reader.sessions(&SessionFilter::default().with_limit(5))? {
///     println!("{} {} errors, {} ms", s.id, s.errors, s.wall_duration().num_milliseconds());
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SessionSummary {
    /// The session id, or the trace id when [`kind`](Self::kind) is `Trace`.
    pub id: String,
    /// Whether `id` is a session or a trace.
    pub kind: RunKind,
    /// The oldest entry's timestamp.
    #[serde(serialize_with = "crate::entry::rfc3339_micros::serialize")]
    pub first: DateTime<Utc>,
    /// The newest entry's timestamp.
    #[serde(serialize_with = "crate::entry::rfc3339_micros::serialize")]
    pub last: DateTime<Utc>,
    /// How many entries it has.
    pub entries: u64,
    /// The agents involved, sorted by name.
    pub agents: Vec<String>,
    /// Model calls started.
    pub model_calls: u64,
    /// Tool calls started.
    pub tool_calls: u64,
    /// Tokens read by its models (summed over model-call end entries).
    pub input_tokens: u64,
    /// Tokens written by its models.
    pub output_tokens: u64,
    /// Entries recording a failure.
    pub errors: u64,
    /// What its model calls (and steps with a cost of their own) cost, and
    /// what could not be priced: an agent's own total is never added on
    /// top of its calls'.
    pub cost: CostTotal,
}

impl SessionSummary {
    /// From the first entry to the last: how long the session ran (so far).
    ///
    /// ```no_run
    /// # fn show(s: &reagentic_protocol::read::SessionSummary) {
    /// println!("{:.1} s", s.wall_duration().as_seconds_f64());
    /// # }
    /// ```
    pub fn wall_duration(&self) -> TimeDelta {
        self.last - self.first
    }

    fn new(id: String, kind: RunKind, at: DateTime<Utc>) -> Self {
        SessionSummary {
            id,
            kind,
            first: at,
            last: at,
            entries: 0,
            agents: Vec::new(),
            model_calls: 0,
            tool_calls: 0,
            input_tokens: 0,
            output_tokens: 0,
            errors: 0,
            cost: CostTotal::default(),
        }
    }
}

impl ProtocolReader {
    /// One summary per session, most recently active first; entries without
    /// a session are summarised per trace.
    ///
    /// SQLite walks the time index back from the newest entry until it has
    /// `limit` sessions, then reads each one through the session (or trace)
    /// index, so the answer costs about as much as the sessions shown, not
    /// the whole file. JSON Lines is read once, start to end. Both sum the
    /// entries up the same way.
    ///
    /// ```no_run
    /// use reagentic_protocol::{read::SessionFilter, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let newest = ProtocolReader::open("protocol.jsonl")?
    ///     .sessions(&SessionFilter::default().with_limit(1))?;
    /// # Ok(()) }
    /// ```
    pub fn sessions(&self, filter: &SessionFilter) -> Result<Vec<SessionSummary>> {
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut skips = Skips::default();
        let mut list = Vec::new();
        if limit == 0 {
            self.report(skips);
            return Ok(list);
        }
        if self.source().reads_newest_first_cheaply() {
            // Walking back from the newest entry meets each session first at
            // its newest entry, so the order of first meeting is the order
            // wanted and the walk stops once `limit` sessions are found.
            // Every entry it passes belongs to one of them and is summed
            // up on the way; each run's look-up then reads only what the
            // walk did not reach (older entries, and those past the
            // window). Reading every run whole again after the walk
            // decoded each walked entry twice: `sessions` on 1 000 000
            // entries went 6.9–8.4 → 4.8 ms (`--scenario read_1m`;
            // callgrind on 200 000 entries: 650 → 458 M instructions).
            let in_window = Conditions {
                window: filter.window,
                ..Conditions::default()
            };
            let mut keys: Vec<(RunKind, String)> = Vec::new();
            let mut building: HashMap<(RunKind, String), Building> = HashMap::new();
            // The walk's last point, and the positions of the entries at it.
            // A look-up reads entries at or before that point (and past the
            // window), so of the walked ones it can only meet those at the
            // point itself: entries sharing a time and id (they differ in
            // type), which the walk may have left half-read. Remembering
            // every walked position instead cost memory in proportion to the
            // walk, all of a window when there is no limit.
            let mut last: Option<(DateTime<Utc>, String)> = None;
            let mut at_last: Vec<u64> = Vec::new();
            let walk = Scan::new(&in_window)
                .ordered(Order::Newest)
                .without_content();
            skips.merge(self.scan(walk, |record| {
                let entry = record.entry;
                let key = key_of(&entry);
                building
                    .entry(key.clone())
                    .or_insert_with(|| {
                        keys.push(key.clone());
                        Building::new(key.1.clone(), key.0, entry.timestamp)
                    })
                    .add(&entry, &filter.window);
                let point = (entry.timestamp, entry.entry_id);
                if last.as_ref() != Some(&point) {
                    at_last.clear();
                    last = Some(point);
                }
                at_last.push(record.position);
                if keys.len() >= limit {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?);
            let not_walked = last.map(|(timestamp, entry_id)| Walked {
                timestamp,
                entry_id,
                until: filter.window.until(),
            });
            for key in keys {
                let (kind, id) = &key;
                let of_run = match kind {
                    RunKind::Session => Conditions {
                        session: Some(id.clone()),
                        not_walked: not_walked.clone(),
                        ..Conditions::default()
                    },
                    RunKind::Trace => Conditions {
                        trace: Some(id.clone()),
                        without_session: true,
                        not_walked: not_walked.clone(),
                        ..Conditions::default()
                    },
                };
                let Some(mut summing) = building.remove(&key) else {
                    continue;
                };
                skips.merge(self.scan(Scan::new(&of_run).without_content(), |record| {
                    if !at_last.contains(&record.position) {
                        summing.add(&record.entry, &filter.window);
                    }
                    ControlFlow::Continue(())
                })?);
                list.push(summing.finish());
            }
        } else {
            let everything = Conditions::default();
            let mut runs: HashMap<(RunKind, String), Building> = HashMap::new();
            skips.merge(self.scan(Scan::new(&everything), |record| {
                let entry = &record.entry;
                let (kind, id) = key_of(entry);
                runs.entry((kind, id.clone()))
                    .or_insert_with(|| Building::new(id, kind, entry.timestamp))
                    .add(entry, &filter.window);
                ControlFlow::Continue(())
            })?);
            list = runs
                .into_values()
                .filter(|run| run.in_window)
                .map(Building::finish)
                .collect();
            list.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.id.cmp(&b.id)));
            list.truncate(limit);
        }
        self.report(skips);
        Ok(list)
    }
}

fn key_of(entry: &ProtocolEntry) -> (RunKind, String) {
    match &entry.session_id {
        Some(session) => (RunKind::Session, session.clone()),
        None => (RunKind::Trace, entry.trace_id.clone()),
    }
}

/// A summary being summed up from entries.
struct Building {
    summary: SessionSummary,
    agents: BTreeSet<String>,
    /// Whether any entry lies in the filter's window.
    in_window: bool,
}

impl Building {
    fn new(id: String, kind: RunKind, at: DateTime<Utc>) -> Self {
        Building {
            summary: SessionSummary::new(id, kind, at),
            agents: BTreeSet::new(),
            in_window: false,
        }
    }

    fn add(&mut self, entry: &ProtocolEntry, window: &TimeWindow) {
        self.in_window |= window.contains(entry.timestamp);
        let s = &mut self.summary;
        s.first = s.first.min(entry.timestamp);
        s.last = s.last.max(entry.timestamp);
        s.entries += 1;
        match entry.event_type {
            EventType::LlmStart => s.model_calls += 1,
            EventType::ToolStart => s.tool_calls += 1,
            // Tokens sit on the end entry; counting only model calls keeps an
            // agent span that re-reports its calls' usage from counting twice.
            EventType::LlmEnd => {
                s.input_tokens += entry.input_tokens.unwrap_or(0);
                s.output_tokens += entry.output_tokens.unwrap_or(0);
            }
            _ => {}
        }
        s.cost.add(entry);
        if entry.is_error() {
            s.errors += 1;
        }
        if let Some(agent) = &entry.agent_name {
            if !self.agents.contains(agent) {
                self.agents.insert(agent.clone());
            }
        }
    }

    fn finish(mut self) -> SessionSummary {
        self.summary.agents = self.agents.into_iter().collect();
        self.summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EntryStatus;
    use crate::storage::{JsonlStorage, SqliteStorage, Storage};
    use crate::test_entries::{at, bare_entry, full_entry};

    /// Three sessions and one session-less trace, interleaved in time.
    fn dataset() -> Vec<ProtocolEntry> {
        let mut entries = Vec::new();
        for n in 0..12u32 {
            let mut e = full_entry(n);
            e.entry_id = format!("id-{n}");
            e.session_id = Some(format!("s{}", n % 3));
            e.event_type =
                [EventType::LlmStart, EventType::LlmEnd, EventType::ToolStart][n as usize % 3];
            e.agent_name = Some(["b", "a"][n as usize % 2].into());
            e.status = if n == 4 {
                EntryStatus::Error
            } else {
                EntryStatus::Ok
            };
            e.error = None;
            entries.push(e);
        }
        let mut lone = bare_entry(20);
        lone.timestamp = at(5, 500);
        entries.push(lone);
        entries
    }

    fn both(dir: &tempfile::TempDir, entries: &[ProtocolEntry]) -> [ProtocolReader; 2] {
        let db = dir.path().join("s.db");
        let jsonl = dir.path().join("s.jsonl");
        let mut sqlite = SqliteStorage::open(&db).unwrap();
        let mut lines = JsonlStorage::open(&jsonl).unwrap();
        sqlite.write_batch(entries).unwrap();
        lines.write_batch(entries).unwrap();
        // A duplicate line is summed once, as the reader reads it once.
        lines.write_batch(&entries[..1]).unwrap();
        [
            ProtocolReader::open(&db).unwrap(),
            ProtocolReader::open(&jsonl).unwrap(),
        ]
    }

    #[test]
    fn both_forms_summarise_alike_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let [db, jsonl] = both(&dir, &data);
        let all = db.sessions(&SessionFilter::default()).unwrap();
        assert_eq!(all, jsonl.sessions(&SessionFilter::default()).unwrap());
        let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["s2", "s1", "s0", &data[12].trace_id]);
        assert_eq!(all[3].kind, RunKind::Trace);
        let s1 = &all[1];
        // s1 holds n = 1, 4, 7, 10: types LlmEnd, LlmEnd, LlmEnd, LlmEnd.
        assert_eq!((s1.entries, s1.model_calls, s1.tool_calls), (4, 0, 0));
        assert_eq!(s1.input_tokens, 10 + 40 + 70 + 100);
        assert_eq!(s1.output_tokens, 4 * 7);
        assert_eq!(s1.errors, 1);
        assert_eq!(s1.agents, ["a", "b"]);
        assert_eq!((s1.first, s1.last), (at(1, 123_456), at(10, 123_456)));
        let s0 = &all[2];
        assert_eq!((s0.model_calls, s0.tool_calls), (4, 0));
        let s2 = &all[0];
        assert_eq!((s2.model_calls, s2.tool_calls), (0, 4));

        for reader in [&db, &jsonl] {
            let newest = reader
                .sessions(&SessionFilter::default().with_limit(2))
                .unwrap();
            assert_eq!(newest, all[..2].to_vec());
            let recent = reader
                .sessions(&SessionFilter::default().with_since(at(10, 0)))
                .unwrap();
            assert_eq!(
                recent,
                all[..2].to_vec(),
                "full summaries of recent sessions"
            );
            assert!(reader
                .sessions(&SessionFilter::default().with_limit(0))
                .unwrap()
                .is_empty());
        }
    }

    /// The walk sums up the entries it passes and each run's look-up the
    /// rest: every summary must be the session's whole summary, whatever
    /// the window, the limit, ties in time at the walk's last entry, and
    /// runs spread over several batches.
    #[test]
    fn sqlite_summaries_are_whole_for_any_window_and_limit() {
        let mut entries = Vec::new();
        for n in 0..90u32 {
            let mut e = full_entry(n);
            e.entry_id = format!("id-{:03}", (n * 37) % 90);
            // Three entries a second: a walk often stops inside a tie.
            e.timestamp = at(i64::from(n / 3), 0);
            e.session_id = (n % 11 != 5).then(|| format!("s{}", (n * 5) % 7));
            e.trace_id = format!("t{}", n % 4);
            e.event_type =
                [EventType::LlmStart, EventType::LlmEnd, EventType::ToolStart][n as usize % 3];
            e.agent_name = Some(["a", "b", "c"][n as usize % 3].into());
            e.error = None;
            entries.push(e);
        }
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("w.db");
        let jsonl_path = dir.path().join("w.jsonl");
        let mut sqlite = SqliteStorage::open(&db_path).unwrap();
        let mut lines = JsonlStorage::open(&jsonl_path).unwrap();
        for batch in entries.chunks(31) {
            sqlite.write_batch(batch).unwrap();
            lines.write_batch(batch).unwrap();
        }
        sqlite.close().unwrap();
        lines.close().unwrap();
        let db = ProtocolReader::open(&db_path).unwrap();
        // Whole summaries, by key, from the form that reads everything.
        let whole: HashMap<String, SessionSummary> = ProtocolReader::open(&jsonl_path)
            .unwrap()
            .sessions(&SessionFilter::default())
            .unwrap()
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let windows = [
            SessionFilter::default(),
            SessionFilter::default().with_since(at(10, 0)),
            SessionFilter::default().with_until(at(20, 0)),
            SessionFilter::default()
                .with_since(at(5, 0))
                .with_until(at(25, 0)),
        ];
        for window in windows {
            // The keys a newest-first walk of the window meets, in order.
            let mut newest: Vec<&ProtocolEntry> = entries
                .iter()
                .filter(|e| window.window.contains(e.timestamp))
                .collect();
            newest.sort_by(|a, b| (b.timestamp, &b.entry_id).cmp(&(a.timestamp, &a.entry_id)));
            let mut met: Vec<String> = Vec::new();
            for e in newest {
                let key = key_of(e).1;
                if !met.contains(&key) {
                    met.push(key);
                }
            }
            for limit in [1, 2, 3, 4, 6, 100] {
                let filter = window.clone().with_limit(limit);
                let found = db.sessions(&filter).unwrap();
                let ids: Vec<&str> = found.iter().map(|s| s.id.as_str()).collect();
                let expected: Vec<&str> = met.iter().take(limit).map(String::as_str).collect();
                assert_eq!(ids, expected, "{filter:?}");
                for summary in &found {
                    assert_eq!(summary, &whole[&summary.id], "{filter:?}");
                }
            }
        }
    }

    /// Copies of one entry id and time that differ in type are stored side
    /// by side; a walk that stops between them, or just after both, must
    /// count each row once. Here the two copies belong to different
    /// sessions, so the walk often meets a new session at the second.
    #[test]
    fn a_walk_that_stops_inside_one_entry_id_counts_each_row_once() {
        let mut entries = Vec::new();
        for n in 0..24u32 {
            let id = n / 2;
            let mut e = full_entry(n);
            e.entry_id = format!("id-{id:02}");
            e.timestamp = at(i64::from(id), 0);
            (e.event_type, e.session_id) = if n % 2 == 0 {
                (EventType::LlmStart, Some(format!("s{}", id % 5)))
            } else {
                (EventType::ToolStart, Some(format!("t{}", id % 3)))
            };
            e.error = None;
            entries.push(e);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pairs.db");
        let mut sqlite = SqliteStorage::open(&path).unwrap();
        sqlite.write_batch(&entries).unwrap();
        sqlite.close().unwrap();
        let db = ProtocolReader::open(&path).unwrap();
        // (JSON Lines keeps one line per entry id, so it is no reference
        // here; no writer makes such copies, an import of two versions'
        // recognition could.) Session `sK` holds the model calls of the ids
        // equal to K modulo 5, `tK` the tool calls of those equal to K
        // modulo 3.
        let expected = |session: &str| {
            let (kind, k) = session.split_at(1);
            let k: u32 = k.parse().unwrap();
            let modulus = if kind == "s" { 5 } else { 3 };
            let ids = (0..12u32).filter(|id| id % modulus == k).count() as u64;
            if kind == "s" {
                (ids, ids, 0)
            } else {
                (ids, 0, ids)
            }
        };
        for limit in 1..=8 {
            let found = db
                .sessions(&SessionFilter::default().with_limit(limit))
                .unwrap();
            assert_eq!(found.len(), limit, "limit {limit}");
            for summary in &found {
                assert_eq!(
                    (summary.entries, summary.model_calls, summary.tool_calls),
                    expected(&summary.id),
                    "limit {limit}: {summary:?}"
                );
            }
        }
    }

    #[test]
    fn sqlite_sessions_walk_the_time_index_and_find_each_session_through_its_runs() {
        use crate::read::scan::{Order, Scan};
        use crate::read::sqlite::SqliteSource;
        let dir = tempfile::tempdir().unwrap();
        let [db, _] = both(&dir, &dataset());
        let source = SqliteSource::open(db.path()).unwrap();
        let plan = |scan: Scan<'_>| -> String {
            let (sql, params) = source.statement(&scan).unwrap();
            let mut stmt = source
                .connection()
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
        };
        let mut recent = Conditions::default();
        recent.window.set_since(at(3, 0));
        let walk = plan(Scan::new(&recent).ordered(Order::Newest).without_content());
        assert!(walk.contains("protocol_entries_identity"), "{walk}");
        assert!(!walk.contains("TEMP B-TREE"), "{walk}");
        let of_session = Conditions {
            session: Some("s1".into()),
            ..Conditions::default()
        };
        let one = plan(Scan::new(&of_session).without_content());
        assert!(
            one.contains("SEARCH t USING PRIMARY KEY (run=? AND key=?)"),
            "{one}"
        );
        assert!(!one.contains("SCAN protocol_entries"), "{one}");
    }
}
