//! Querying entries: [`ProtocolReader::query`] and its async form,
//! [`query_file`].

use std::ops::ControlFlow;
use std::path::Path;

use super::filter::EntryFilter;
use super::reader::ProtocolReader;
use super::scan::{Order, Scan};
use crate::entry::ProtocolEntry;
use crate::error::{ProtocolError, Result};

impl ProtocolReader {
    /// The entries that pass `filter`, in its order, up to its limit.
    ///
    /// Unreadable records are skipped, not fatal (see
    /// [`skipped_lines`](Self::skipped_lines)). JSON Lines entries stored
    /// twice are returned once, the first occurrence winning, as SQLite
    /// stores them.
    ///
    /// SQLite answers from its indexes. JSON Lines is read from the start on
    /// every query, holding the matching entries (at most about twice the
    /// limit, when one is set) and the set of entry ids seen.
    ///
    /// ```no_run
    /// use reagentic_protocol::{EntryFilter, EventType, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open("protocol.db")?;
    /// let failed_tools = reader.query(
    ///     &EntryFilter::default().with_event_type(EventType::ToolEnd).errors_only(),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn query(&self, filter: &EntryFilter) -> Result<Vec<ProtocolEntry>> {
        let order = if filter.newest_first {
            Order::Newest
        } else {
            Order::Oldest
        };
        if filter.min_cost_usd.is_none() {
            let scan = Scan::new(&filter.conditions)
                .ordered(order)
                .limited(filter.limit);
            return self.collect(scan);
        }
        // The cost is known only once an entry is read and priced, so the
        // limit is applied here, after the cost test, not by the storage.
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut entries = Vec::new();
        let skips = self.scan(Scan::new(&filter.conditions).ordered(order), |record| {
            if entries.len() >= limit {
                return ControlFlow::Break(());
            }
            if filter.costs_enough(&record.entry) {
                entries.push(record.entry);
            }
            ControlFlow::Continue(())
        })?;
        self.report(skips);
        Ok(entries)
    }

    /// Hands each entry that passes `filter` to `visit`, in the order the
    /// entries were written, without holding them: for reading a protocol
    /// of any size through in bounded memory (a query holds its result). A
    /// JSON Lines entry stored in several copies comes once, merged, as a
    /// query returns it. `visit` stops the read by returning
    /// [`ControlFlow::Break`]. The filter's order, limit and minimum cost
    /// apply as in [`query`](Self::query), except that the order is always
    /// the order written.
    ///
    /// A SQLite or PostgreSQL read holds its snapshot until it ends: a long
    /// `visit` keeps SQLite's write-ahead log from starting over meanwhile.
    ///
    /// ```no_run
    /// use std::ops::ControlFlow;
    /// use reagentic_protocol::{EntryFilter, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open("protocol.jsonl")?;
    /// let mut tokens = 0;
    /// reader.for_each(&EntryFilter::default(), |entry| {
    ///     tokens += entry.input_tokens.unwrap_or(0);
    ///     ControlFlow::Continue(())
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn for_each(
        &self,
        filter: &EntryFilter,
        mut visit: impl FnMut(ProtocolEntry) -> ControlFlow<()>,
    ) -> Result<()> {
        let mut left = filter.limit.unwrap_or(usize::MAX);
        if left == 0 {
            return Ok(());
        }
        let skips = self.scan(Scan::new(&filter.conditions), |record| {
            if !filter.costs_enough(&record.entry) {
                return ControlFlow::Continue(());
            }
            left -= 1;
            visit(record.entry)?;
            if left == 0 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        self.report(skips);
        Ok(())
    }
}

/// Queries the protocol at `path` without blocking the async runtime: the
/// file is opened and read on a dedicated OS thread, and the result awaited.
/// Works on any runtime, `current_thread` included.
///
/// ```no_run
/// use reagentic_protocol::{query_file, EntryFilter};
///
/// # async fn run() -> reagentic_protocol::Result<()> {
/// let recent = query_file("protocol.db", EntryFilter::default().newest_first().with_limit(50)).await?;
/// # Ok(()) }
/// ```
pub async fn query_file(path: impl AsRef<Path>, filter: EntryFilter) -> Result<Vec<ProtocolEntry>> {
    let path = path.as_ref().to_path_buf();
    let (send, receive) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("reagentic-protocol-query".into())
        .spawn(move || {
            let result = ProtocolReader::open(&path).and_then(|reader| reader.query(&filter));
            // A dropped receiver means the caller stopped waiting; the result
            // has nowhere to go.
            let _ = send.send(result);
        })
        .map_err(|e| ProtocolError::Worker(format!("cannot start the query thread: {e}")))?;
    receive
        .await
        .map_err(|_| ProtocolError::Worker("the query thread ended without a result".into()))?
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use chrono::{TimeDelta, TimeZone, Utc};
    use serde_json::json;

    use std::path::PathBuf;

    use rusqlite::Connection;

    use super::*;
    use crate::entry::{EntryStatus, EventType, SCHEMA_VERSION};
    use crate::read::jsonl::JsonlSource;
    use crate::read::reader::{ProtocolFormat, ProtocolMeta};
    use crate::read::scan::{Order, Scan};
    use crate::read::sqlite::SqliteSource;
    use crate::storage::{JsonlStorage, SqliteStorage, Storage};
    use crate::test_entries::{at, bare_entry, full_entry};

    /// A varied data set: sessions, traces, types, agents, tools, models,
    /// errors, equal timestamps, and values that look like SQL.
    fn dataset() -> Vec<ProtocolEntry> {
        let mut entries = Vec::new();
        for n in 0..24u32 {
            let mut e = if n % 4 == 0 {
                bare_entry(n)
            } else {
                full_entry(n)
            };
            e.event_type = EventType::ALL[n as usize % EventType::ALL.len()];
            e.agent_name = Some(["planner", "booker", "critic"][n as usize % 3].into());
            e.tool_name = (n % 2 == 1).then(|| format!("tool-{}", n % 5));
            e.model = (n % 3 == 2).then(|| "gpt-4o".to_owned());
            e.status = match n % 5 {
                0 => EntryStatus::Error,
                1 | 2 => EntryStatus::Ok,
                _ => EntryStatus::Unset,
            };
            if n % 7 != 3 {
                e.error = None;
            }
            // Pairs share a timestamp: ties must break by entry_id.
            e.timestamp = at(i64::from(n / 2), 500);
            entries.push(e);
        }
        let mut sneaky = full_entry(100);
        sneaky.session_id = Some("'; DROP TABLE protocol_entries; --".into());
        sneaky.agent_name = Some("x' OR '1'='1".into());
        entries.push(sneaky);
        entries
    }

    fn sorted(mut entries: Vec<ProtocolEntry>, newest_first: bool) -> Vec<ProtocolEntry> {
        entries.sort_by(|a, b| (a.timestamp, &a.entry_id).cmp(&(b.timestamp, &b.entry_id)));
        if newest_first {
            entries.reverse();
        }
        entries
    }

    /// Writes the data set to both forms; returns the two reader paths.
    fn write_both(dir: &tempfile::TempDir, entries: &[ProtocolEntry]) -> [PathBuf; 2] {
        let db = dir.path().join("p.db");
        let jsonl = dir.path().join("p.jsonl");
        let mut sqlite = SqliteStorage::open(&db).unwrap();
        let mut lines = JsonlStorage::open(&jsonl).unwrap();
        // Two batches, so order on disk is not the query order.
        let (a, b) = entries.split_at(entries.len() / 2);
        for batch in [b, a] {
            sqlite.write_batch(batch).unwrap();
            lines.write_batch(batch).unwrap();
        }
        sqlite.close().unwrap();
        lines.close().unwrap();
        [db, jsonl]
    }

    /// `for_each` gives what `query` gives, in the order written (and a
    /// JSON Lines entry's copies merged), and stops when told.
    #[test]
    fn for_each_visits_the_filtered_entries_in_written_order_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let entries = dataset();
        let (a, b) = entries.split_at(entries.len() / 2);
        let written = [b, a].concat();
        let filters = [
            EntryFilter::default(),
            EntryFilter::default().with_agent("planner"),
            EntryFilter::default().errors_only().with_limit(3),
            EntryFilter::default().with_min_cost(0.0),
            // Windows: SQLite finds their rowids through the identity index
            // and must still hand the rows over in the order written.
            EntryFilter::default().with_since(at(3, 0)),
            EntryFilter::default()
                .with_since(at(2, 0))
                .with_until(at(9, 0))
                .with_agent("planner")
                .with_limit(4),
            EntryFilter::default().with_until(at(5, 0)),
        ];
        for path in write_both(&dir, &entries) {
            let reader = ProtocolReader::open(&path).unwrap();
            for filter in &filters {
                let mut seen = Vec::new();
                reader
                    .for_each(filter, |entry| {
                        seen.push(entry);
                        ControlFlow::Continue(())
                    })
                    .unwrap();
                let mut expected: Vec<ProtocolEntry> = written
                    .iter()
                    .filter(|e| filter.matches(e) && filter.costs_enough(e))
                    .cloned()
                    .collect();
                expected.truncate(filter.limit.unwrap_or(usize::MAX));
                assert_eq!(seen, expected, "{} {filter:?}", path.display());
            }
            let mut two = 0;
            reader
                .for_each(&EntryFilter::default(), |_| {
                    two += 1;
                    if two == 2 {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            assert_eq!(two, 2);
        }
        // A JSON Lines entry written first without its session, then filled
        // in by a later copy, comes once, merged, where it was first written.
        let path = dir.path().join("copies.jsonl");
        let mut storage = JsonlStorage::open(&path).unwrap();
        let mut sparse = full_entry(1);
        sparse.session_id = None;
        storage
            .write_batch(&[sparse, full_entry(2), full_entry(1)])
            .unwrap();
        let mut seen = Vec::new();
        ProtocolReader::open(&path)
            .unwrap()
            .for_each(&EntryFilter::default(), |entry| {
                seen.push(entry);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, vec![full_entry(1), full_entry(2)]);
    }

    /// Every filter, on both forms, against expectations written out by hand
    /// (not through `EntryFilter::matches`).
    #[test]
    fn every_filter_returns_the_expected_entries_from_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let paths = write_both(&dir, &data);
        let since = at(3, 500);
        let until = at(8, 500);
        type Pick = Box<dyn Fn(&ProtocolEntry) -> bool>;
        let cases: Vec<(EntryFilter, Pick)> = vec![
            (EntryFilter::default(), Box::new(|_| true)),
            (
                EntryFilter::default().with_session("conv-1"),
                Box::new(|e| e.session_id.as_deref() == Some("conv-1")),
            ),
            (
                EntryFilter::default().with_trace(data[1].trace_id.clone()),
                Box::new({
                    let t = data[1].trace_id.clone();
                    move |e| e.trace_id == t
                }),
            ),
            (
                EntryFilter::default().with_event_type(EventType::ToolEnd),
                Box::new(|e| e.event_type == EventType::ToolEnd),
            ),
            (
                EntryFilter::default()
                    .with_event_types([EventType::AgentStart, EventType::Handoff])
                    .with_event_type(EventType::LlmEnd),
                Box::new(|e| {
                    matches!(
                        e.event_type,
                        EventType::AgentStart | EventType::Handoff | EventType::LlmEnd
                    )
                }),
            ),
            (
                EntryFilter::default().with_agent("booker"),
                Box::new(|e| e.agent_name.as_deref() == Some("booker")),
            ),
            (
                EntryFilter::default().with_tool("tool-3"),
                Box::new(|e| e.tool_name.as_deref() == Some("tool-3")),
            ),
            (
                EntryFilter::default().with_model("gpt-4o"),
                Box::new(|e| e.model.as_deref() == Some("gpt-4o")),
            ),
            (
                EntryFilter::default().with_since(since),
                Box::new(move |e| e.timestamp >= since),
            ),
            (
                EntryFilter::default().with_until(until),
                Box::new(move |e| e.timestamp < until),
            ),
            (
                EntryFilter::default().with_since(since).with_until(until),
                Box::new(move |e| e.timestamp >= since && e.timestamp < until),
            ),
            (
                EntryFilter::default().errors_only(),
                Box::new(|e| e.status == EntryStatus::Error || e.error.is_some()),
            ),
            (
                EntryFilter::default()
                    .with_agent("planner")
                    .with_session("conv-1")
                    .errors_only(),
                Box::new(|e| {
                    e.agent_name.as_deref() == Some("planner")
                        && e.session_id.as_deref() == Some("conv-1")
                        && (e.status == EntryStatus::Error || e.error.is_some())
                }),
            ),
            // SQL in values is data: it matches exactly the entry holding it.
            (
                EntryFilter::default().with_session("'; DROP TABLE protocol_entries; --"),
                Box::new(|e| e.entry_id == full_entry(100).entry_id),
            ),
            (
                EntryFilter::default().with_agent("x' OR '1'='1"),
                Box::new(|e| e.entry_id == full_entry(100).entry_id),
            ),
            (
                EntryFilter::default().with_session("x' OR '1'='1"),
                Box::new(|_| false),
            ),
            (
                EntryFilter::default().with_tool("' OR 1=1 --"),
                Box::new(|_| false),
            ),
            (
                EntryFilter::default().with_trace("\") OR (\"1\"=\"1"),
                Box::new(|_| false),
            ),
        ];
        for path in &paths {
            let before = std::fs::read(path).unwrap();
            let reader = ProtocolReader::open(path).unwrap();
            for (filter, pick) in &cases {
                let expected = sorted(data.iter().filter(|e| pick(e)).cloned().collect(), false);
                assert_eq!(
                    reader.query(filter).unwrap(),
                    expected,
                    "{} {filter:?}",
                    path.display()
                );
                let newest = filter.clone().newest_first();
                assert_eq!(
                    reader.query(&newest).unwrap(),
                    sorted(expected.clone(), true),
                    "{} {newest:?}",
                    path.display()
                );
                let limited = filter.clone().with_limit(3);
                assert_eq!(
                    reader.query(&limited).unwrap(),
                    expected.iter().take(3).cloned().collect::<Vec<_>>(),
                    "{} {limited:?}",
                    path.display()
                );
                assert!(reader.skipped_lines().is_empty());
            }
            drop(reader);
            // Reading changed nothing: same bytes, table still there.
            assert_eq!(std::fs::read(path).unwrap(), before, "{}", path.display());
            let reader = ProtocolReader::open(path).unwrap();
            assert_eq!(
                reader.query(&EntryFilter::default()).unwrap().len(),
                data.len()
            );
        }
    }

    #[test]
    fn ties_break_by_entry_id_and_limit_takes_the_newest_when_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut data: Vec<_> = (0..6).map(full_entry).collect();
        for e in &mut data {
            e.timestamp = at(0, 1);
        }
        data[5].timestamp = at(9, 0);
        for path in write_both(&dir, &data) {
            let reader = ProtocolReader::open(&path).unwrap();
            let ids: Vec<_> = reader
                .query(&EntryFilter::default())
                .unwrap()
                .into_iter()
                .map(|e| e.entry_id)
                .collect();
            let mut expected: Vec<_> = data[..5].iter().map(|e| e.entry_id.clone()).collect();
            expected.sort();
            expected.push(data[5].entry_id.clone());
            assert_eq!(ids, expected);
            let newest = reader
                .query(&EntryFilter::default().newest_first().with_limit(1))
                .unwrap();
            assert_eq!(newest, vec![data[5].clone()]);
            assert!(reader
                .query(&EntryFilter::default().with_limit(0))
                .unwrap()
                .is_empty());
        }
    }

    #[test]
    fn nanosecond_bounds_select_the_same_entries_from_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<_> = (0..4).map(full_entry).collect();
        // Entries at n seconds + 123 456 µs; bounds 1 ns past entry 1's time.
        let bound = data[1].timestamp + TimeDelta::nanoseconds(1);
        for path in write_both(&dir, &data) {
            let reader = ProtocolReader::open(&path).unwrap();
            let since = reader
                .query(&EntryFilter::default().with_since(bound))
                .unwrap();
            assert_eq!(since, data[2..].to_vec(), "{}", path.display());
            let until = reader
                .query(&EntryFilter::default().with_until(bound))
                .unwrap();
            assert_eq!(until, data[..2].to_vec(), "{}", path.display());
        }
    }

    #[test]
    fn sqlite_filters_use_the_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let [db, _] = write_both(&dir, &dataset());
        let source = SqliteSource::open(&db).unwrap();
        let conn = source.connection();
        let plan_in = |filter: EntryFilter, order: Order| -> String {
            let scan = Scan::new(&filter.conditions).ordered(order);
            let (sql, params) = source.statement(&scan).unwrap();
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            stmt.query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .unwrap()
            .collect::<rusqlite::Result<Vec<_>>>()
            .unwrap()
            .join("; ")
        };
        let plan = |filter: EntryFilter| plan_in(filter, Order::Oldest);
        // A session or a trace: a seek into each of its field's runs, then
        // the rows by rowid; never a scan of the pairs or the entries.
        for keyed in [
            EntryFilter::default().with_session("conv-1"),
            EntryFilter::default().with_trace("abc"),
        ] {
            let plan = plan(keyed);
            assert!(
                plan.contains("SEARCH t USING PRIMARY KEY (run=? AND key=?)"),
                "{plan}"
            );
            assert!(plan.contains("INTEGER PRIMARY KEY (rowid=?)"), "{plan}");
            assert!(!plan.contains("SCAN t"), "{plan}");
            assert!(!plan.contains("SCAN protocol_entries"), "{plan}");
        }
        let by_time = plan(EntryFilter::default().with_since(at(0, 0)));
        assert!(by_time.contains("protocol_entries_identity"), "{by_time}");
        // In time order, a type is decided walking the identity index,
        // which ends with it; a window narrows the walk to the window.
        let by_type = plan(EntryFilter::default().with_event_type(EventType::Handoff));
        assert!(by_type.contains("protocol_entries_identity"), "{by_type}");
        // A window is walked through the index, in every order: by time
        // (`query`), as written (`for_each`: the window's rowids are found
        // through the index and only they are sorted) and any (`stats`).
        for order in [Order::Oldest, Order::Written, Order::Any] {
            let in_window = plan_in(
                EntryFilter::default()
                    .with_event_type(EventType::ToolEnd)
                    .with_since(at(0, 0)),
                order,
            );
            assert!(
                in_window.contains("INDEX protocol_entries_identity (timestamp>?)"),
                "{order:?}: {in_window}"
            );
            assert!(
                !in_window.contains("SCAN protocol_entries"),
                "{order:?}: {in_window}"
            );
        }
    }

    #[test]
    fn the_sql_carries_no_filter_values() {
        let filter = EntryFilter::default()
            .with_session("SESSION")
            .with_trace("TRACE")
            .with_agent("AGENT")
            .with_tool("TOOL")
            .with_model("MODEL")
            .with_event_type(EventType::Handoff)
            .with_since(at(0, 0))
            .with_until(at(1, 0))
            .errors_only()
            .with_limit(7);
        let dir = tempfile::tempdir().unwrap();
        let [db, _] = write_both(&dir, &dataset());
        let source = SqliteSource::open(&db).unwrap();
        let scan = Scan::new(&filter.conditions).limited(filter.limit);
        let (sql, params) = source.statement(&scan).unwrap();
        for value in [
            "SESSION", "TRACE", "AGENT", "TOOL", "MODEL", "handoff", "2026", "7",
        ] {
            assert!(!sql.contains(value), "{value} in {sql}");
        }
        // Thirteen values (the session and the trace with their runs' field
        // again: their own conditions and their runs); `errors_only` adds
        // fixed SQL text, not a value.
        assert_eq!(params.len(), 13);
    }

    #[test]
    fn the_sqlite_reader_sees_committed_data_while_another_connection_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("live.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();

        // Another writer holds an open write transaction with an uncommitted row.
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        other
            .execute(
                "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, name, status) VALUES (1, 'u', '2026-01-01T00:00:00.000000Z',
                 'handoff', 't', 's', 'n', 'unset')",
                [],
            )
            .unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        other.execute_batch("ROLLBACK").unwrap();

        storage.write_batch(&[full_entry(2)]).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1), full_entry(2)]
        );
        // The reader cannot write, even by accident.
        let source = SqliteSource::open(&path).unwrap();
        assert!(source
            .connection()
            .execute("DELETE FROM protocol_entries", [])
            .is_err());
    }

    #[test]
    fn a_missing_file_is_an_open_error_and_is_not_created() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["absent.db", "absent.jsonl"] {
            let path = dir.path().join(name);
            let err = ProtocolReader::open(&path).unwrap_err();
            assert!(matches!(err, ProtocolError::Open { .. }), "{err:?}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            assert!(!path.exists());
        }
        let err = ProtocolReader::open(dir.path().join("protocol.csv")).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnknownFormat { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_non_protocol_sqlite_file_is_corrupt_and_a_newer_one_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.db");
        std::fs::write(&garbage, vec![0x5Au8; 8192]).unwrap();
        let err = ProtocolReader::open(&garbage).unwrap_err();
        assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains(&garbage.display().to_string()));

        let other_app = dir.path().join("other.sqlite");
        Connection::open(&other_app)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT)")
            .unwrap();
        let err = ProtocolReader::open(&other_app).unwrap_err();
        assert!(err.to_string().contains("protocol_entries"), "{err}");

        let newer = dir.path().join("newer.db");
        SqliteStorage::open(&newer).unwrap().close().unwrap();
        Connection::open(&newer)
            .unwrap()
            .execute(
                "UPDATE protocol_meta SET value = ?1 WHERE key = 'schema_version'",
                [(SCHEMA_VERSION + 1).to_string()],
            )
            .unwrap();
        let err = ProtocolReader::open(&newer).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnsupportedSchema { found, .. } if found == i64::from(SCHEMA_VERSION) + 1),
            "{err:?}"
        );
    }

    #[test]
    fn undecodable_sqlite_rows_are_skipped_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        Connection::open(&path)
            .unwrap()
            .execute(
                "INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id,
                 span_id, name, status) VALUES (1, 'bad', '2026-01-01T00:00:00.000000Z',
                 'teleport', 't', 's', 'n', 'unset')",
                [],
            )
            .unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 2, "the rowid");
        assert!(skipped[0].reason.contains("event_type"), "{:?}", skipped[0]);
    }

    #[test]
    fn meta_reports_version_and_dropped_entries_for_both_forms() {
        let dir = tempfile::tempdir().unwrap();
        let [db, jsonl] = write_both(&dir, &[full_entry(1)]);
        for path in [&db, &jsonl] {
            let meta = ProtocolReader::open(path).unwrap().meta().unwrap();
            assert_eq!(
                meta,
                ProtocolMeta {
                    schema_version: SCHEMA_VERSION,
                    dropped_entries: 0
                }
            );
        }
        let mut storage = SqliteStorage::open(&db).unwrap();
        storage.record_dropped(12).unwrap();
        assert_eq!(
            ProtocolReader::open(&db)
                .unwrap()
                .meta()
                .unwrap()
                .dropped_entries,
            12
        );
    }

    #[test]
    fn over_long_lines_are_skipped_without_reading_them_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl");
        let mut content = full_entry(1).to_json_line().unwrap() + "\n";
        content.push_str(&format!("{{\"pad\":\"{}\"}}\n", "x".repeat(10_000)));
        content.push_str(&(bare_entry(2).to_json_line().unwrap() + "\n"));
        std::fs::write(&path, content).unwrap();
        let source = JsonlSource::open(&path).unwrap().with_max_line_bytes(4096);
        let reader = ProtocolReader::with_source(&path, Box::new(source));
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1), bare_entry(2)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 2);
        assert!(
            skipped[0].reason.contains("longer than 4096"),
            "{:?}",
            skipped[0]
        );
    }

    #[test]
    fn jsonl_entries_of_a_newer_schema_and_crlf_lines_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.ndjson");
        let mut newer = serde_json::to_value(full_entry(2)).unwrap();
        newer["schema"] = json!(SCHEMA_VERSION + 1);
        let content = format!(
            "\u{FEFF}{}\r\n{}\n",
            full_entry(1).to_json_line().unwrap(),
            newer
        );
        std::fs::write(&path, content).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert!(
            skipped[0]
                .reason
                .contains(&format!("schema version {}", SCHEMA_VERSION + 1)),
            "{:?}",
            skipped[0]
        );
    }

    #[test]
    fn format_is_told_from_the_extension() {
        for (name, format) in [
            ("a.db", Some(ProtocolFormat::Sqlite)),
            ("a.sqlite", Some(ProtocolFormat::Sqlite)),
            ("dir/a.SQLITE3", Some(ProtocolFormat::Sqlite)),
            ("a.jsonl", Some(ProtocolFormat::Jsonl)),
            ("a.NdJson", Some(ProtocolFormat::Jsonl)),
            ("a.json", None),
            ("a", None),
            ("db", None),
        ] {
            let result = ProtocolFormat::from_path(Path::new(name));
            match format {
                Some(f) => assert_eq!(result.unwrap(), f, "{name}"),
                None => assert!(
                    matches!(result, Err(ProtocolError::UnknownFormat { .. })),
                    "{name}"
                ),
            }
        }
    }

    #[test]
    fn open_as_reads_any_extension() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.log");
        std::fs::write(&path, full_entry(1).to_json_line().unwrap() + "\n").unwrap();
        let reader = ProtocolReader::open_as(&path, ProtocolFormat::Jsonl).unwrap();
        assert_eq!(reader.format(), ProtocolFormat::Jsonl);
        assert_eq!(reader.path(), path);
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1)]
        );
    }

    #[test]
    fn query_file_works_on_a_current_thread_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let data = dataset();
        let [db, jsonl] = write_both(&dir, &data);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            // The runtime's only thread stays free while the query runs: a
            // concurrent task makes progress meanwhile.
            let ticker = tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
                true
            });
            let filter = EntryFilter::default().with_session("conv-1");
            let (from_db, from_jsonl) =
                tokio::join!(query_file(&db, filter.clone()), query_file(&jsonl, filter));
            let expected = sorted(
                data.iter()
                    .filter(|e| e.session_id.as_deref() == Some("conv-1"))
                    .cloned()
                    .collect(),
                false,
            );
            assert!(!expected.is_empty());
            assert_eq!(from_db.unwrap(), expected);
            assert_eq!(from_jsonl.unwrap(), expected);
            assert!(ticker.await.unwrap());
            let missing = query_file(dir.path().join("missing.db"), EntryFilter::default()).await;
            assert!(matches!(missing, Err(ProtocolError::Open { .. })));
        });
    }

    #[test]
    fn a_utc_timestamp_round_trips_through_both_forms_at_microsecond_precision() {
        let dir = tempfile::tempdir().unwrap();
        let mut entry = full_entry(1);
        entry.timestamp = Utc.with_ymd_and_hms(1999, 12, 31, 23, 59, 59).unwrap()
            + TimeDelta::microseconds(999_999);
        for path in write_both(&dir, std::slice::from_ref(&entry)) {
            let read = ProtocolReader::open(&path)
                .unwrap()
                .query(&EntryFilter::default())
                .unwrap();
            assert_eq!(read, vec![entry.clone()]);
        }
    }
}
