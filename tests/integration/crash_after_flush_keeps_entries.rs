//! A process that flushed and is then SIGKILLed — while it is still recording
//! and writing — keeps every flushed entry. The file opens cleanly afterwards,
//! for reading and for writing, on both forms.

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};
use reagentic_protocol::ProtocolReader;

const FLUSHED: u64 = 500;

/// The child: record, flush, report, then keep recording until killed, so the
/// kill lands while batches are being extracted and written.
fn record_flush_and_keep_going() {
    let (provider, handle) = pipeline_at(&child::target_path(), |b| b);
    record_tool_spans(&provider, "flushed", 0, FLUSHED);
    handle.force_flush().expect("flush");
    child::report("flushed");
    for round in 0.. {
        record_tool_spans(&provider, "unflushed", round * 100, 100);
    }
}

fn crash_and_check(file_name: &str, test_name: &str) {
    if child::role().is_some() {
        return record_flush_and_keep_going();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    let mut process = child::spawn(test_name, "crash", &path);
    process.expect("flushed");
    process.kill();

    let reader = ProtocolReader::open(&path).expect("the file opens after the crash");
    let entries = reader.query(&Default::default()).expect("query");
    assert_eq!(count_calls(&entries, "flushed-"), 2 * FLUSHED as usize);
    // A kill can tear at most the line being appended: the last one.
    let skipped = reader.skipped_lines();
    assert!(skipped.len() <= 1, "{skipped:?}");
    for line in &skipped {
        assert!(line.reason.contains("torn"), "{line:?}");
    }
    if file_name.ends_with(".db") {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }

    // A new run appends to the crashed file and loses none of it.
    let before = entries.len();
    let (provider, _handle) = pipeline_at(&path, |b| b);
    record_tool_spans(&provider, "next-run", 0, 10);
    provider.shutdown().expect("shutdown");
    let entries = read_all(&path);
    assert_eq!(count_calls(&entries, "flushed-"), 2 * FLUSHED as usize);
    assert_eq!(count_calls(&entries, "next-run-"), 20);
    assert_eq!(entries.len(), before + 20);
}

#[test]
fn sqlite_keeps_flushed_entries_after_sigkill() {
    crash_and_check(
        "protocol.db",
        &test_path!(sqlite_keeps_flushed_entries_after_sigkill),
    );
}

#[test]
fn jsonl_keeps_flushed_entries_after_sigkill() {
    crash_and_check(
        "protocol.jsonl",
        &test_path!(jsonl_keeps_flushed_entries_after_sigkill),
    );
}
