//! A storage fault while running (here: another process-style connection
//! holding the write lock) comes back from `force_flush` as an error; the
//! writer keeps the entries, and once the fault clears they are all written.

use std::time::Duration;

use crate::support::{dispatch_for, read_all};
use reagentic_protocol::{ProtocolError, ProtocolProcessor, SqliteStorage};

#[test]
fn locked_database_errors_then_recovers_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.db");
    let storage = SqliteStorage::builder(&path)
        .with_busy_timeout(Duration::from_millis(50))
        .open()
        .unwrap();
    let processor = ProtocolProcessor::builder(storage)
        .with_flush_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let handle = processor.handle();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let dispatch = dispatch_for(&provider);

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();

    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..50 {
            let s = tool_span!("while_locked");
            let _g = s.enter();
        }
    });
    match handle.force_flush() {
        Err(error @ ProtocolError::Storage { .. }) => assert!(error.is_locked(), "{error:?}"),
        other => panic!("expected the storage error, got {other:?}"),
    }
    assert!(handle.stats().write_failures >= 1);

    blocker.execute_batch("COMMIT").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let s = tool_span!("after_unlock");
        let _g = s.enter();
    });
    handle.force_flush().expect("recovered");
    let entries = read_all(&path);
    assert_eq!(
        entries.iter().filter(|e| e.name == "while_locked").count(),
        100
    );
    assert_eq!(
        entries.iter().filter(|e| e.name == "after_unlock").count(),
        2
    );
    assert_eq!(handle.stats().dropped_queue_full, 0);
}
