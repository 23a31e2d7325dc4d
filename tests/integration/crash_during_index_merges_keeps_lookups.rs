//! A SQLite protocol finds its entries by trace and by session through
//! index runs that the writer merges while idle (`storage/index_runs.rs`). A
//! process killed in the middle of those merges, again and again, must leave
//! every committed entry findable by both — no pair lost, none doubled — and
//! the next writer must finish the merging where the killed one left off.

use crate::support::child;
use chrono::{TimeDelta, TimeZone, Utc};
use reagentic_protocol::{
    EntryFilter, EventType, ProtocolEntry, ProtocolReader, SqliteStorage, Storage,
};
use std::collections::BTreeMap;
use std::time::Duration;

/// Entries per batch: 1 024 batches make the first merge too big for one
/// step (32 runs of 1 024 pairs against a step of 16 384), so a child killed
/// while it runs leaves a merge half done.
const BATCH: u32 = 32;
/// Batches a child writes at most while waiting for such a merge.
const MAX_BATCHES: u32 = 4_000;
/// Children killed one after the other on the same file.
const KILLS: u64 = 3;

/// Entry `n`: its own trace (random-looking, as a receiver sees them) and one
/// of 40 sessions, so both index runs hold many keys.
fn entry(n: u32) -> ProtocolEntry {
    let trace = format!(
        "{:032x}",
        u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    );
    let start = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
    let mut entry = ProtocolEntry::new(
        EventType::ToolEnd,
        trace,
        format!("{n:016x}"),
        "search_flights",
        start + TimeDelta::milliseconds(i64::from(n)),
    );
    entry.session_id = Some(format!("conv-{}", n % 40));
    entry.tool_name = Some("search_flights".into());
    entry
}

/// The child: append batches after those already in the file, merging
/// after each as the writer does while idle, and report the first time a
/// merge is left half done between two steps — then go on writing and
/// merging until killed, so the kill lands inside that merge or the next.
fn write_and_merge() {
    let path = child::target_path();
    let mut next: u32 = ProtocolReader::open(&path)
        .ok()
        .and_then(|reader| reader.query(&EntryFilter::default()).ok())
        .map_or(0, |entries| entries.len() as u32);
    let mut storage = SqliteStorage::open(&path).expect("open");
    let watch = rusqlite::Connection::open(&path).expect("second connection");
    let mut announced = false;
    for _ in 0..MAX_BATCHES {
        let batch: Vec<_> = (next..next + BATCH).map(entry).collect();
        storage.write_batch(&batch).expect("write");
        next += BATCH;
        while storage.maintain().expect("merge step") {
            if !announced && merge_in_progress(&watch) {
                child::report(&format!("merge in progress after {next}"));
                announced = true;
            }
        }
    }
    child::report("no merge took more than one step");
}

/// Whether a merge has moved some of its pairs and not yet all.
fn merge_in_progress(conn: &rusqlite::Connection) -> bool {
    conn.query_row(
        "SELECT count(merging_into) FROM protocol_index_run_list",
        [],
        |row| row.get::<_, i64>(0),
    )
    .expect("run list")
        > 0
}

#[test]
fn entries_stay_findable_by_trace_and_session_across_kills_mid_merge() {
    if child::role().is_some() {
        return write_and_merge();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    for kill in 0..KILLS {
        let mut process = child::spawn(
            &test_path!(entries_stay_findable_by_trace_and_session_across_kills_mid_merge),
            "writer",
            &path,
        );
        let committed: u32 = process
            .expect("merge in progress after ")
            .parse()
            .expect("a count");
        // A different moment of the merging each time: at once, a little in,
        // further in.
        std::thread::sleep(Duration::from_millis(kill * 3));
        process.kill();
        assert_lookups_agree(&path, committed);
    }

    // The next writer finishes every merge left behind, and lookups still agree.
    let mut storage = SqliteStorage::open(&path).expect("open");
    let mut steps = 0;
    while storage.maintain().expect("merge step") {
        steps += 1;
        assert!(steps < 10_000, "merging never ends");
    }
    storage.close().expect("close");
    assert_lookups_agree(&path, 0);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// Every entry in the file (at least `committed` of them) is found by its
/// trace and by its session, exactly once each, read through a new reader.
fn assert_lookups_agree(path: &std::path::Path, committed: u32) {
    let reader = ProtocolReader::open(path).expect("opens after the kill");
    let all = reader.query(&EntryFilter::default()).expect("query");
    assert!(
        all.len() >= committed as usize,
        "{} entries, {committed} committed",
        all.len()
    );
    let mut by_session: BTreeMap<String, usize> = BTreeMap::new();
    for entry in &all {
        *by_session
            .entry(entry.session_id.clone().expect("session"))
            .or_default() += 1;
    }
    for (session, expected) in &by_session {
        let found = reader
            .query(&EntryFilter::default().with_session(session.as_str()))
            .expect("session query");
        assert_eq!(found.len(), *expected, "session {session}");
    }
    // Every trace would be 10 000+ queries; every 97th entry covers every
    // batch and every run.
    for entry in all.iter().step_by(97) {
        let found = reader
            .query(&EntryFilter::default().with_trace(entry.trace_id.as_str()))
            .expect("trace query");
        assert_eq!(found.len(), 1, "trace {}", entry.trace_id);
        assert_eq!(found[0].entry_id, entry.entry_id);
    }
}
