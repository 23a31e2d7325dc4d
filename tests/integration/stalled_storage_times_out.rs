//! When the storage stalls (another connection holds the SQLite write lock
//! longer than any timeout), `force_flush` and `shutdown` return `Timeout`
//! within their bound, and producers never hang.

use std::time::{Duration, Instant};

use crate::support::dispatch_for;
use reagentic_protocol::pipeline::QueueFullPolicy;
use reagentic_protocol::{ProtocolError, ProtocolProcessor, SqliteStorage};

#[test]
fn flush_and_shutdown_are_bounded_by_their_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stalled.db");
    let storage = SqliteStorage::builder(&path)
        .with_busy_timeout(Duration::from_secs(30))
        .open()
        .unwrap();
    let processor = ProtocolProcessor::builder(storage)
        .with_queue_capacity(8)
        // Commit after every entry, so the writer is stuck on the lock from
        // the first span on and the queue must fill.
        .with_max_batch_entries(1)
        .with_queue_full_policy(QueueFullPolicy::Wait(Duration::from_millis(100)))
        .build()
        .unwrap();
    let handle = processor.handle();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    // Far more spans than the queue holds: the first full wait runs out after
    // 100 ms, then producers drop at once — the application keeps going.
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch_for(&provider), || {
        for _ in 0..200 {
            let s = tool_span!("stalled");
            let _g = s.enter();
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "producers took {:?}",
        started.elapsed()
    );
    let stats = handle.stats();
    assert!(stats.dropped_queue_full > 0, "{stats:?}");

    let bound = Duration::from_millis(300);
    let started = Instant::now();
    let flushed = handle.force_flush_with_timeout(bound);
    assert!(
        matches!(flushed, Err(ProtocolError::Timeout(_))),
        "{flushed:?}"
    );
    assert!(
        started.elapsed() < bound + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let shut = handle.shutdown_with_timeout(bound);
    assert!(matches!(shut, Err(ProtocolError::Timeout(_))), "{shut:?}");
    assert!(
        started.elapsed() < bound + Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    // Everything emitted is accounted for: queued (still waiting for the lock)
    // or counted as dropped.
    let stats = handle.stats();
    assert_eq!(stats.enqueued + stats.dropped_queue_full, 400, "{stats:?}");
    drop(blocker);
}
