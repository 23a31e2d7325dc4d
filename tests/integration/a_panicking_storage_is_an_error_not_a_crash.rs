//! A custom `Storage` that panics does not take the pipeline down with it: the
//! panic comes back from `force_flush` as a storage error, the entries are
//! kept and written once the storage works again, and entries a storage that
//! never recovers could not take are counted at shutdown.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::support::{provider_for, read_all, record_tool_spans};
use reagentic_protocol::{JsonlStorage, ProtocolEntry, ProtocolError, ProtocolProcessor, Storage};

/// A real JSONL storage whose writes panic while `panicking` is set.
struct PanickingStorage {
    inner: JsonlStorage,
    panicking: Arc<AtomicBool>,
}

impl Storage for PanickingStorage {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> reagentic_protocol::Result<()> {
        if self.panicking.load(Ordering::SeqCst) {
            panic!("a bug in a custom storage");
        }
        self.inner.write_batch(entries)
    }
    fn record_dropped(&mut self, total: u64) -> reagentic_protocol::Result<()> {
        self.inner.record_dropped(total)
    }
    fn close(&mut self) -> reagentic_protocol::Result<()> {
        self.inner.close()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn pipeline(
    path: &std::path::Path,
    panicking: &Arc<AtomicBool>,
) -> (
    opentelemetry_sdk::trace::SdkTracerProvider,
    reagentic_protocol::ProtocolHandle,
) {
    let storage = PanickingStorage {
        inner: JsonlStorage::open(path).unwrap(),
        panicking: Arc::clone(panicking),
    };
    provider_for(ProtocolProcessor::builder(storage).with_flush_timeout(Duration::from_secs(5)))
}

#[test]
fn a_storage_that_panics_for_a_while_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let panicking = Arc::new(AtomicBool::new(true));
    let (provider, handle) = pipeline(&path, &panicking);
    record_tool_spans(&provider, "first", 0, 50);
    match handle.force_flush() {
        Err(ProtocolError::Storage { source }) => match &*source {
            ProtocolError::StoragePanicked { message } => {
                assert!(message.contains("a bug in a custom storage"), "{message}")
            }
            other => panic!("expected the panic, got {other:?}"),
        },
        other => panic!("expected the storage error, got {other:?}"),
    }
    panicking.store(false, Ordering::SeqCst);
    record_tool_spans(&provider, "second", 0, 50);
    handle.force_flush().expect("the retry writes everything");
    assert_eq!(read_all(&path).len(), 200);
    let stats = handle.stats();
    assert!(stats.write_failures >= 1);
    assert_eq!(stats.dropped_unwritable + stats.dropped_after_shutdown, 0);
    handle.shutdown().expect("shutdown");
}

#[test]
fn a_storage_that_always_panics_is_counted_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let (provider, handle) = pipeline(&path, &Arc::new(AtomicBool::new(true)));
    record_tool_spans(&provider, "never", 0, 50);
    assert!(matches!(
        handle.force_flush(),
        Err(ProtocolError::Storage { source }) if matches!(*source, ProtocolError::StoragePanicked { .. })
    ));
    // The writer retries until the deadline, so its answer and the caller's
    // own bound arrive together: either error is right.
    let shutdown = handle.shutdown_with_timeout(Duration::from_secs(1));
    assert!(
        matches!(
            shutdown,
            Err(ProtocolError::Storage { .. } | ProtocolError::Timeout(_))
        ),
        "{shutdown:?}"
    );
    // The writer counts what it could not write as it gives up.
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.stats().dropped_unwritable < 100 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = handle.stats();
    assert_eq!(stats.entries_written, 0);
    assert_eq!(stats.dropped_unwritable, 100);
}
