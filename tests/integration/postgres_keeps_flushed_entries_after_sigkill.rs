//! A process that flushed to PostgreSQL and is then SIGKILLed — while it is
//! still recording and writing — keeps every flushed entry; the server ends
//! its half-done transaction, and a new run writes on.

use std::path::Path;

use crate::support::postgres::{connect, database};
use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};

const FLUSHED: u64 = 500;

fn record_flush_and_keep_going() {
    let (provider, handle) = pipeline_at(&child::target_path(), |b| b);
    record_tool_spans(&provider, "flushed", 0, FLUSHED);
    handle.force_flush().expect("flush");
    child::report("flushed");
    for round in 0.. {
        record_tool_spans(&provider, "unflushed", round * 100, 100);
    }
}

#[test]
fn postgres_keeps_flushed_entries_after_sigkill() {
    if child::role().is_some() {
        return record_flush_and_keep_going();
    }
    let url = database("sigkill");
    let test = test_path!(postgres_keeps_flushed_entries_after_sigkill);
    let mut process = child::spawn(&test, "crash", Path::new(&url));
    process.expect("flushed");
    // Let it get into the middle of writing more.
    std::thread::sleep(std::time::Duration::from_millis(300));
    process.kill();
    // The server ends the killed writer's session (and rolls back what it
    // had not committed) once it sees the connection close.
    let mut client = connect(&url);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let others: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        if others == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed session lingers"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let entries = read_all(Path::new(&url));
    assert_eq!(count_calls(&entries, "flushed-"), 2 * FLUSHED as usize);
    // What was written later came in whole transactions: both halves of a
    // span, or neither, unless the batch boundary fell between them.
    let before = entries.len();
    let (provider, _handle) = pipeline_at(Path::new(&url), |b| b);
    record_tool_spans(&provider, "next-run", 0, 10);
    provider.shutdown().expect("shutdown");
    let entries = read_all(Path::new(&url));
    assert_eq!(count_calls(&entries, "flushed-"), 2 * FLUSHED as usize);
    assert_eq!(count_calls(&entries, "next-run-"), 20);
    assert_eq!(entries.len(), before + 20);
}
