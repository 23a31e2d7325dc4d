//! Two processes write one SQLite file at the same time. Each reports what
//! it emitted and dropped; the file holds exactly the rest of each one's
//! entries: written + counted-dropped = emitted, for both.

use std::time::Duration;

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};

const SPANS: u64 = 5_000;

fn write_as(writer: &str) {
    let (provider, handle) = pipeline_at(&child::target_path(), |b| b.with_max_batch_entries(64));
    record_tool_spans(&provider, writer, 0, SPANS);
    // The two processes take turns at the file's write lock; on a loaded
    // machine writing everything can take longer than the SDK's default
    // 5 s shutdown bound, which would fail the child before it reports.
    // The claim tested is the accounting, so the bound is generous.
    provider
        .shutdown_with_timeout(Duration::from_secs(60))
        .expect("shutdown");
    child::report(&format!("dropped {}", handle.stats().dropped_queue_full));
}

#[test]
fn two_processes_lose_nothing_uncounted() {
    if let Some(role) = child::role() {
        return write_as(&role);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let test = test_path!(two_processes_lose_nothing_uncounted);
    // Both start before either has created the file: creation races too.
    let mut writers: Vec<_> = ["first", "second"]
        .into_iter()
        .map(|name| (name, child::spawn(&test, name, &path)))
        .collect();
    let mut dropped = Vec::new();
    for (name, process) in &mut writers {
        let count: u64 = process.expect("dropped").parse().unwrap();
        assert!(process.wait(Duration::from_secs(120)).success(), "{name}");
        dropped.push((*name, count));
    }
    let entries = read_all(&path);
    for (name, dropped) in dropped {
        let written = count_calls(&entries, &format!("{name}-")) as u64;
        assert_eq!(written + dropped, 2 * SPANS, "{name}");
    }
    assert_eq!(entries.len(), count_calls(&entries, ""));
}
