//! With the opt-in lossy policy, what is dropped is counted exactly, warned
//! about, and recorded in the protocol: written + dropped = emitted.

use crate::support::{read_all, Format, Harness};
use reagentic_protocol::pipeline::QueueFullPolicy;
use reagentic_protocol::{Durability, ProtocolReader, SqliteStorage};

#[test]
fn written_plus_dropped_equals_emitted() {
    let harness = Harness::new(Format::Sqlite, |b| {
        b.with_queue_capacity(4)
            .with_queue_full_policy(QueueFullPolicy::Drop)
    });
    const SPANS: usize = 20_000;
    harness.in_scope(|| {
        for _ in 0..SPANS {
            let s = tool_span!("burst");
            let _g = s.enter();
        }
        // A span the protocol leaves out is never counted as a drop.
        for _ in 0..1_000 {
            let s = tracing::info_span!("unclassified");
            let _g = s.enter();
        }
    });
    harness.flush();
    let stats = harness.handle.stats();
    let written = read_all(&harness.path).len() as u64;
    assert!(
        stats.dropped_queue_full > 0,
        "a 4-slot queue must overflow: {stats:?}"
    );
    assert_eq!(
        written + stats.dropped_queue_full,
        (SPANS * 2) as u64,
        "{stats:?}"
    );

    let meta = ProtocolReader::open(&harness.path).unwrap().meta().unwrap();
    assert_eq!(meta.dropped_entries, stats.dropped_queue_full);
}

#[test]
fn default_policy_waits_instead_of_dropping() {
    // Full durability makes every commit slow; producers must wait, not drop.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slow.db");
    let storage = SqliteStorage::builder(&path)
        .with_durability(Durability::Full)
        .open()
        .unwrap();
    let processor = reagentic_protocol::ProtocolProcessor::builder(storage)
        .with_queue_capacity(2)
        .with_max_batch_entries(1)
        .build()
        .unwrap();
    let handle = processor.handle();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    tracing::dispatcher::with_default(&crate::support::dispatch_for(&provider), || {
        for _ in 0..300 {
            let s = tool_span!("slow");
            let _g = s.enter();
        }
    });
    provider.force_flush().unwrap();
    assert_eq!(handle.stats().dropped_queue_full, 0);
    assert_eq!(read_all(&path).len(), 600);
}
