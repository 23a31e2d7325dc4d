//! Pruning a SQLite protocol of many sessions across dates: each rule takes
//! whole runs (a session still going on is kept whole, however old its
//! start), the remaining runs read back complete through a second
//! connection, no index range is left naming a deleted row, a dry
//! run changes nothing, and the file is smaller once the space is reclaimed.
//! A prune also works while another process is writing the file.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reagentic_protocol::entry::Content;
use reagentic_protocol::read::SessionFilter;
use reagentic_protocol::storage::{sqlite_storage_report, PruneRule};
use reagentic_protocol::{
    EntryFilter, EntryStatus, EventType, ProtocolEntry, ProtocolReader, SqliteStorage, Storage,
};
use rusqlite::Connection;

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};

/// Entries per run: an agent and four model calls, start and end each.
const PER_RUN: usize = 10;

/// A run `id` (a session, or with `session: false` a trace without one) of
/// [`PER_RUN`] entries, one a minute from `first`, each with 2 KB of content.
fn run(id: &str, session: bool, first: DateTime<Utc>, trace_n: u64) -> Vec<ProtocolEntry> {
    let trace = format!("{trace_n:032x}");
    let content = Content::text(&"x".repeat(2_000));
    (0..PER_RUN as u64 / 2)
        .flat_map(|step| {
            let span = format!("{:016x}", trace_n * 100 + step + 1);
            let at = first + TimeDelta::minutes(2 * step as i64);
            let (start_type, end_type) = if step == 0 {
                (EventType::AgentStart, EventType::AgentEnd)
            } else {
                (EventType::LlmStart, EventType::LlmEnd)
            };
            let mut start = ProtocolEntry::new(start_type, &trace, &span, "planner", at);
            start.session_id = session.then(|| id.to_owned());
            start.input = Some(content.clone());
            let mut end = start.clone();
            end.event_type = end_type;
            end.entry_id = ProtocolEntry::make_id(&trace, &span, "end");
            end.timestamp = at + TimeDelta::minutes(1);
            end.status = EntryStatus::Ok;
            [start, end]
        })
        .collect()
}

/// 40 sessions, one a day going back from today, plus 10 session-less
/// traces a day apart from 35 days ago, plus `long-running`: begun 50 days
/// ago, with its last entry today.
fn dataset(now: DateTime<Utc>) -> Vec<ProtocolEntry> {
    let mut entries = Vec::new();
    for day in 0..40 {
        let first = now - TimeDelta::days(day) - TimeDelta::hours(1);
        entries.extend(run(
            &format!("day-{day:02}"),
            true,
            first,
            1_000 + day as u64,
        ));
    }
    for n in 0..10 {
        let first = now - TimeDelta::days(35 + n) - TimeDelta::hours(1);
        entries.extend(run("", false, first, 2_000 + n as u64));
    }
    let mut long = run("long-running", true, now - TimeDelta::days(50), 3_000);
    let last = long.len() - 1;
    long[last].timestamp = now - TimeDelta::minutes(5);
    entries.extend(long);
    entries
}

fn write(path: &Path, entries: &[ProtocolEntry]) {
    let mut storage = SqliteStorage::open(path).unwrap();
    for batch in entries.chunks(64) {
        storage.write_batch(batch).unwrap();
    }
    storage.close().unwrap();
}

/// Entries per session (or trace, for session-less entries), through a
/// second connection.
fn runs(path: &Path) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    for e in read_all(path) {
        let key = e.session_id.clone().unwrap_or(e.trace_id.clone());
        *runs.entry(key).or_default() += 1;
    }
    runs
}

/// Rowids in index ranges whose entry is gone.
fn dangling_pairs(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row(
            "WITH RECURSIVE rowids (id, last) AS (
                 SELECT entry, entry + count - 1 FROM protocol_index_runs
                 UNION ALL
                 SELECT id + 1, last FROM rowids WHERE id < last)
             SELECT count(*) FROM rowids WHERE id NOT IN (SELECT rowid FROM protocol_entries)",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

fn prune(path: &Path, rule: &PruneRule, dry_run: bool) -> reagentic_protocol::storage::PruneReport {
    let mut storage = SqliteStorage::open(path).unwrap();
    let report = storage.prune(rule, dry_run).unwrap();
    storage.close().unwrap();
    report
}

#[test]
fn older_than_takes_whole_old_runs_and_keeps_a_long_running_one_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let now = Utc::now();
    write(&path, &dataset(now));
    let before = runs(&path);
    assert_eq!(before.len(), 51);
    let size_before = std::fs::metadata(&path).unwrap().len();

    let rule = PruneRule::older_than(Duration::from_secs(30 * 86_400));
    // Sessions day-30 … day-39 (their last entry is 30 days and 1 hour ago
    // plus 10 minutes at most) and all ten traces.
    let dry = prune(&path, &rule, true);
    assert_eq!((dry.runs, dry.entries), (20, 20 * PER_RUN as u64));
    assert!(dry.bytes >= 20 * PER_RUN as u64 * 2_000, "{dry:?}");
    assert_eq!(runs(&path), before, "a dry run changes nothing");

    let done = prune(&path, &rule, false);
    assert_eq!(
        (done.runs, done.entries, done.bytes, done.dry_run),
        (dry.runs, dry.entries, dry.bytes, false)
    );
    let after = runs(&path);
    let expected: BTreeMap<String, usize> = before
        .iter()
        .filter(|(key, _)| {
            key.starts_with("day-") && key[4..].parse::<u32>().unwrap() < 30
                || *key == "long-running"
        })
        .map(|(k, v)| (k.clone(), *v))
        .collect();
    assert_eq!(after, expected, "whole runs gone, the rest complete");
    assert_eq!(
        after["long-running"], PER_RUN,
        "begun 50 days ago, active today"
    );
    assert_eq!(dangling_pairs(&path), 0);

    // Every remaining session is still found through its index runs.
    let reader = ProtocolReader::open(&path).unwrap();
    for (session, count) in &after {
        let found = reader
            .query(&EntryFilter::default().with_session(session))
            .unwrap();
        assert_eq!(found.len(), *count, "{session}");
    }
    assert!(reader
        .query(&EntryFilter::default().with_session("day-35"))
        .unwrap()
        .is_empty());
    drop(reader);

    // The space comes back.
    let mut storage = SqliteStorage::open(&path).unwrap();
    let reclaimed = storage.reclaim().unwrap();
    storage.close().unwrap();
    assert!(reclaimed.incremental, "new files give space back");
    assert!(
        reclaimed.pages > 0 && reclaimed.free_pages_left == 0,
        "{reclaimed:?}"
    );
    let size_after = std::fs::metadata(&path).unwrap().len();
    assert!(
        size_after + reclaimed.bytes / 2 < size_before,
        "{size_before} → {size_after} bytes"
    );
    let report = sqlite_storage_report(&path).unwrap();
    assert_eq!(report.entries, after.values().sum::<usize>() as u64);
    assert_eq!(
        (report.free_pages, report.auto_vacuum.as_str()),
        (0, "incremental")
    );
}

#[test]
fn keep_last_session_and_before_each_take_their_runs() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let fresh = |name: &str| {
        let path = dir.path().join(name);
        write(&path, &dataset(now));
        path
    };

    // The five most recently active: long-running (5 minutes ago), then
    // day-00 … day-03.
    let path = fresh("keep.db");
    let report = prune(&path, &PruneRule::KeepLast(5), false);
    assert_eq!(report.runs, 46);
    let kept: Vec<String> = runs(&path).into_keys().collect();
    assert_eq!(
        kept,
        ["day-00", "day-01", "day-02", "day-03", "long-running"]
    );
    assert_eq!(dangling_pairs(&path), 0);

    // One session by id, and one trace without a session by its id.
    let path = fresh("one.db");
    assert_eq!(
        prune(&path, &PruneRule::Session("day-07".into()), false).entries,
        PER_RUN as u64
    );
    let trace = format!("{:032x}", 2_003);
    assert_eq!(
        prune(&path, &PruneRule::Session(trace.clone()), false).runs,
        1
    );
    let left = runs(&path);
    assert_eq!(left.len(), 49);
    assert!(!left.contains_key("day-07") && !left.contains_key(&trace));
    assert_eq!(
        prune(&path, &PruneRule::Session("no-such-run".into()), false).runs,
        0
    );

    // Before a date: what ended before it.
    let path = fresh("before.db");
    let report = prune(&path, &PruneRule::Before(now - TimeDelta::days(10)), false);
    // day-10 … day-39, and the ten traces.
    assert_eq!(report.runs, 40);
    assert_eq!(runs(&path).len(), 11);

    // The sessions list agrees, and new entries go on being indexed right
    // (rowids freed by the prune may be handed out again).
    let mut storage = SqliteStorage::open(&path).unwrap();
    storage
        .write_batch(&run("after-prune", true, now, 4_000))
        .unwrap();
    storage.close().unwrap();
    let reader = ProtocolReader::open(&path).unwrap();
    assert_eq!(
        reader.sessions(&SessionFilter::default()).unwrap().len(),
        12
    );
    let found = reader
        .query(&EntryFilter::default().with_session("after-prune"))
        .unwrap();
    assert_eq!(found.len(), PER_RUN);
    assert_eq!(dangling_pairs(&path), 0);
}

#[test]
fn a_file_created_before_incremental_auto_vacuum_is_told_and_converted_by_vacuum() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    // An older build's file: no auto-vacuum.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "PRAGMA auto_vacuum = NONE; CREATE TABLE placeholder (x); DROP TABLE placeholder;",
        )
        .unwrap();
    write(&path, &dataset(Utc::now()));
    prune(&path, &PruneRule::KeepLast(1), false);
    let report = sqlite_storage_report(&path).unwrap();
    assert_eq!(report.auto_vacuum, "none");
    assert!(
        report.free_pages > 0 && report.reclaimable_bytes > 0,
        "{report:?}"
    );

    let mut storage = SqliteStorage::open(&path).unwrap();
    let reclaimed = storage.reclaim().unwrap();
    assert!(
        !reclaimed.incremental && reclaimed.pages == 0,
        "{reclaimed:?}"
    );
    storage.vacuum().unwrap();
    storage.close().unwrap();
    let after = sqlite_storage_report(&path).unwrap();
    assert_eq!(
        (after.auto_vacuum.as_str(), after.free_pages),
        ("incremental", 0)
    );
    assert!(after.file_bytes < report.file_bytes);
    assert_eq!(runs(&path).len(), 1);
}

#[test]
fn pruning_while_another_process_writes_loses_nothing_it_keeps() {
    const SPANS: u64 = 3_000;
    if child::role().is_some() {
        let (provider, handle) =
            pipeline_at(&child::target_path(), |b| b.with_max_batch_entries(64));
        child::report("writing");
        record_tool_spans(&provider, "live", 0, SPANS);
        provider.shutdown().expect("shutdown");
        child::report(&format!("dropped {}", handle.stats().dropped_queue_full));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let now = Utc::now();
    write(&path, &dataset(now));
    let mut writer = child::spawn(
        &test_path!(pruning_while_another_process_writes_loses_nothing_it_keeps),
        "writer",
        &path,
    );
    writer.expect("writing");
    // Several prunes while the child writes: the old runs go, every span the
    // child writes (all recent) stays.
    let mut storage = SqliteStorage::builder(&path)
        .with_busy_timeout(Duration::from_secs(30))
        .open()
        .unwrap();
    let first = storage
        .prune(
            &PruneRule::older_than(Duration::from_secs(20 * 86_400)),
            false,
        )
        .unwrap();
    assert_eq!(first.runs, 30, "day-20 … day-39 and the ten traces");
    storage.reclaim().unwrap();
    let second = storage
        .prune(&PruneRule::Session("day-05".into()), false)
        .unwrap();
    assert_eq!(second.entries, PER_RUN as u64);
    storage.reclaim().unwrap();
    storage.close().unwrap();
    let dropped: u64 = writer.expect("dropped").parse().unwrap();
    assert!(writer.wait(Duration::from_secs(120)).success());

    let entries = read_all(&path);
    assert_eq!(
        count_calls(&entries, "live-") as u64 + dropped,
        2 * SPANS,
        "nothing the child wrote is lost"
    );
    let left = runs(&path);
    assert!(left.contains_key("day-19") && !left.contains_key("day-20"));
    assert!(!left.contains_key("day-05"));
    assert_eq!(dangling_pairs(&path), 0);
}

#[test]
fn a_prune_killed_midway_leaves_every_run_whole() {
    const SESSIONS: u64 = 400;
    if child::role().is_some() {
        let mut storage = SqliteStorage::open(child::target_path()).unwrap();
        child::report("pruning");
        storage.prune(&PruneRule::KeepLast(1), false).unwrap();
        storage.reclaim().unwrap();
        child::report("pruned");
        child::wait_for_parent();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let now = Utc::now();
    let entries: Vec<ProtocolEntry> = (0..SESSIONS)
        .flat_map(|n| {
            let first = now - TimeDelta::hours(n as i64 + 1);
            run(&format!("s-{n:03}"), true, first, 10_000 + n)
        })
        .collect();
    write(&path, &entries);
    let mut pruner = child::spawn(
        &test_path!(a_prune_killed_midway_leaves_every_run_whole),
        "pruner",
        &path,
    );
    pruner.expect("pruning");
    // Somewhere in the prune (or before it, or after: each must leave
    // whole runs).
    std::thread::sleep(Duration::from_millis(30));
    pruner.kill();

    let left = runs(&path);
    assert!(left.values().all(|n| *n == PER_RUN), "half a run: {left:?}");
    assert!(left.contains_key("s-000"), "the newest run is never pruned");
    assert!(
        left.len() == 1 || left.len() == SESSIONS as usize,
        "one transaction: all or nothing, {} runs",
        left.len()
    );
    assert_eq!(dangling_pairs(&path), 0);
    let check: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    // The next prune finishes the job.
    prune(&path, &PruneRule::KeepLast(1), false);
    assert_eq!(runs(&path).len(), 1);
}

/// The writer prunes as it goes: old runs go whole, while a steady producer
/// writes through the same pipeline, idle or not.
#[test]
fn retention_in_the_writer_under_a_steady_producer_keeps_what_should_stay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let storage = SqliteStorage::builder(&path)
        .with_retention(Duration::from_secs(7 * 86_400))
        .open()
        .unwrap();
    retention_under_a_steady_producer(Box::new(storage), &path);
    assert_eq!(dangling_pairs(&path), 0);
}

/// Writes [`dataset`] through `storage` (opened with a 7-day retention),
/// then has a steady producer write through a pipeline over it, and checks,
/// reading `target`, that the old runs went whole and nothing else did.
pub(crate) fn retention_under_a_steady_producer(
    mut storage: Box<dyn reagentic_protocol::Storage>,
    target: &Path,
) {
    const SPANS: u64 = 4_000;
    // 40 sessions a day apart (day-00 … day-39), ten old traces,
    // long-running (begun 50 days ago, last entry 5 minutes ago).
    for batch in dataset(Utc::now()).chunks(64) {
        storage.write_batch(batch).unwrap();
    }
    let (provider, handle) = crate::support::provider_for(
        reagentic_protocol::ProtocolProcessor::builder(storage).with_max_batch_entries(32),
    );
    // A steady producer: small batches back to back, more than
    // RETENTION_UNDER_LOAD_AFTER_BATCHES of them.
    for chunk in 0..SPANS / 100 {
        record_tool_spans(&provider, "steady", chunk * 100, 100);
        std::thread::sleep(Duration::from_millis(2));
    }
    provider.force_flush().unwrap();
    // And idle time: the writer finishes the job between writes, oldest
    // runs first, so the newest of the old ones (day-07) goes last.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while runs(target).contains_key("day-07") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    provider.shutdown().unwrap();
    let dropped = handle.stats().dropped_queue_full;

    let entries = read_all(target);
    assert_eq!(
        count_calls(&entries, "steady-") as u64 + dropped,
        2 * SPANS,
        "every span written or counted as dropped"
    );
    let left = runs(target);
    for day in 0..40 {
        let key = format!("day-{day:02}");
        // day-06 ended 6 days and ~50 minutes ago: kept; day-07 is past.
        assert_eq!(
            left.get(&key).copied(),
            (day < 7).then_some(PER_RUN),
            "{key}"
        );
    }
    assert_eq!(
        left.get("long-running"),
        Some(&PER_RUN),
        "still going on: whole"
    );
    for n in 0..10 {
        assert!(
            !left.contains_key(&format!("{:032x}", 2_000 + n)),
            "old trace {n}"
        );
    }
}

#[test]
fn a_trace_half_in_an_old_session_keeps_its_other_half_findable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    let now = Utc::now();
    // One trace, written side by side (one index range): two entries of an
    // old session, then two without one, from today.
    let trace = format!("{:032x}", 77);
    let entries: Vec<ProtocolEntry> = (0..4)
        .map(|n| {
            let span = format!("{:016x}", n + 1);
            let old = n < 2;
            let at = if old {
                now - TimeDelta::days(40) + TimeDelta::minutes(n)
            } else {
                now - TimeDelta::minutes(10 - n)
            };
            let mut e = ProtocolEntry::new(EventType::ToolEnd, &trace, &span, "search", at);
            e.session_id = old.then(|| "old-session".to_owned());
            e
        })
        .collect();
    write(&path, &entries);
    let ranges = |path: &Path| -> Vec<(i64, i64)> {
        Connection::open(path)
            .unwrap()
            .prepare(
                "SELECT t.entry, t.count FROM protocol_index_runs AS t
                 JOIN protocol_index_run_list AS l ON l.run = t.run
                 WHERE l.field = 'trace_id' ORDER BY t.entry",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    assert_eq!(ranges(&path), [(1, 4)]);

    let done = prune(
        &path,
        &PruneRule::older_than(Duration::from_secs(30 * 86_400)),
        false,
    );
    assert_eq!((done.runs, done.entries), (1, 2), "the old session only");
    assert_eq!(ranges(&path), [(3, 2)], "the range holds what is left");
    assert_eq!(dangling_pairs(&path), 0);
    let found = ProtocolReader::open(&path)
        .unwrap()
        .query(&EntryFilter::default().with_trace(&trace))
        .unwrap();
    let ids = |entries: &[ProtocolEntry]| -> Vec<String> {
        entries.iter().map(|e| e.entry_id.clone()).collect()
    };
    assert_eq!(ids(&found), ids(&entries[2..]));
}
