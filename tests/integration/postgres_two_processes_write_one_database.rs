//! Two processes write one PostgreSQL database at the same time, starting
//! together on a database without the protocol's tables (so creating the
//! schema and the day partitions races too). Each reports what it emitted
//! and dropped; the database holds exactly the rest of each one's entries:
//! written + counted-dropped = emitted, for both, and nothing twice.

use std::path::Path;
use std::time::Duration;

use crate::support::postgres::{connect, database};
use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};

const SPANS: u64 = 5_000;

fn write_as(writer: &str) {
    let (provider, handle) = pipeline_at(&child::target_path(), |b| b.with_max_batch_entries(64));
    record_tool_spans(&provider, writer, 0, SPANS);
    provider.shutdown().expect("shutdown");
    child::report(&format!("dropped {}", handle.stats().dropped_queue_full));
}

#[test]
fn two_processes_lose_nothing_uncounted() {
    if let Some(role) = child::role() {
        return write_as(&role);
    }
    let url = database("two_processes");
    let test = test_path!(two_processes_lose_nothing_uncounted);
    let mut writers: Vec<_> = ["first", "second"]
        .into_iter()
        .map(|name| (name, child::spawn(&test, name, Path::new(&url))))
        .collect();
    let mut dropped = Vec::new();
    for (name, process) in &mut writers {
        let count: u64 = process.expect("dropped").parse().unwrap();
        assert!(process.wait(Duration::from_secs(120)).success(), "{name}");
        dropped.push((*name, count));
    }
    let entries = read_all(Path::new(&url));
    for (name, dropped) in dropped {
        let written = count_calls(&entries, &format!("{name}-")) as u64;
        assert_eq!(written + dropped, 2 * SPANS, "{name}");
    }
    assert_eq!(entries.len(), count_calls(&entries, ""));
    let distinct: i64 = connect(&url)
        .query_one("SELECT count(DISTINCT entry_id) FROM protocol_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(distinct as usize, entries.len(), "no entry twice");
}
