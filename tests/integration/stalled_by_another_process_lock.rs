//! Another process holds the SQLite write lock. Producers behave as
//! configured — wait up to their bound then drop and count, or drop at once —
//! and never deadlock; `force_flush` returns `Timeout` within its bound; when
//! the other process goes away, everything queued is written, and
//! written + counted-dropped = emitted, exactly.

use std::time::{Duration, Instant};

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};
use reagentic_protocol::pipeline::QueueFullPolicy;
use reagentic_protocol::{ProtocolError, SqliteStorage};

const SPANS: u64 = 300;

/// The child: take the write lock and hold it until the parent lets go.
fn hold_the_write_lock() {
    let conn = rusqlite::Connection::open(child::target_path()).unwrap();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    child::report("locked");
    child::wait_for_parent();
}

fn check(policy: QueueFullPolicy, test_name: &str) {
    if child::role().is_some() {
        return hold_the_write_lock();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stalled.db");
    // Create the schema first, so the other process only has to lock.
    drop(SqliteStorage::open(&path).unwrap());
    let mut locker = child::spawn(test_name, "lock", &path);
    locker.expect("locked");

    let (provider, handle) = pipeline_at(&path, |b| {
        b.with_queue_capacity(16)
            .with_max_batch_entries(1)
            .with_queue_full_policy(policy)
    });
    let started = Instant::now();
    record_tool_spans(&provider, "stalled", 0, SPANS);
    let producing = started.elapsed();
    // Wait(100 ms): one wait runs out, later producers drop at once.
    assert!(
        producing < Duration::from_secs(5),
        "producers took {producing:?}"
    );
    assert!(
        handle.stats().dropped_queue_full > 0,
        "{:?}",
        handle.stats()
    );

    let bound = Duration::from_millis(300);
    let started = Instant::now();
    let flushed = handle.force_flush_with_timeout(bound);
    assert!(
        matches!(flushed, Err(ProtocolError::Timeout(_))),
        "{flushed:?}"
    );
    assert!(
        started.elapsed() < bound + Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // The other process exits; the OS releases its lock.
    drop(locker);
    handle
        .force_flush_with_timeout(Duration::from_secs(30))
        .expect("flush once the lock is gone");
    provider.shutdown().unwrap();

    let written = count_calls(&read_all(&path), "stalled-") as u64;
    let stats = handle.stats();
    assert_eq!(written, stats.entries_written, "{stats:?}");
    assert_eq!(written + stats.dropped_queue_full, 2 * SPANS, "{stats:?}");
    let meta = reagentic_protocol::ProtocolReader::open(&path)
        .unwrap()
        .meta()
        .unwrap();
    assert_eq!(meta.dropped_entries, stats.dropped_queue_full);
}

#[test]
fn waiting_producers_drop_after_their_bound() {
    check(
        QueueFullPolicy::Wait(Duration::from_millis(100)),
        &test_path!(waiting_producers_drop_after_their_bound),
    );
}

#[test]
fn dropping_producers_never_wait() {
    check(
        QueueFullPolicy::Drop,
        &test_path!(dropping_producers_never_wait),
    );
}
