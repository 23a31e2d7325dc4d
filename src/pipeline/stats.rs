//! Counters shared by the producers and the pipeline's threads.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Live counters. Producers and the writer only ever add to them.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enqueued: AtomicU64,
    pub(crate) dropped_queue_full: AtomicU64,
    pub(crate) dropped_after_shutdown: AtomicU64,
    pub(crate) entries_written: AtomicU64,
    pub(crate) batches_committed: AtomicU64,
    pub(crate) write_failures: AtomicU64,
    pub(crate) dropped_unwritable: AtomicU64,
    /// Nanoseconds; written by the extraction thread only (`cpu_time.rs`).
    pub(crate) extraction_cpu_ns: AtomicU64,
    /// Nanoseconds; written by the writer thread only.
    pub(crate) writer_cpu_ns: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ProtocolStats {
        ProtocolStats {
            enqueued: self.enqueued.load(Ordering::Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Ordering::Relaxed),
            dropped_after_shutdown: self.dropped_after_shutdown.load(Ordering::Relaxed),
            entries_written: self.entries_written.load(Ordering::Relaxed),
            batches_committed: self.batches_committed.load(Ordering::Relaxed),
            write_failures: self.write_failures.load(Ordering::Relaxed),
            dropped_unwritable: self.dropped_unwritable.load(Ordering::Relaxed),
            extraction_cpu: Duration::from_nanos(self.extraction_cpu_ns.load(Ordering::Relaxed)),
            writer_cpu: Duration::from_nanos(self.writer_cpu_ns.load(Ordering::Relaxed)),
        }
    }
}

/// A snapshot of what a pipeline has done so far.
///
/// Drop counters count entries: a span start or end that was dropped is
/// counted only if it would have produced an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolStats {
    /// Span starts, span ends and exported batches handed to the writer.
    pub enqueued: u64,
    /// Entries dropped because the queue stayed full past the wait bound (or at
    /// once, with [`QueueFullPolicy::Drop`](crate::pipeline::QueueFullPolicy::Drop)).
    /// The writer records this total in the protocol (`dropped_entries`).
    pub dropped_queue_full: u64,
    /// Entries that arrived after shutdown: counted, not written.
    pub dropped_after_shutdown: u64,
    /// Entries committed to storage (an entry already stored counts again).
    pub entries_written: u64,
    /// Storage transactions committed.
    pub batches_committed: u64,
    /// Batch writes that failed and were retried.
    pub write_failures: u64,
    /// Entries still unwritten when shutdown's bound ran out because the
    /// storage kept failing.
    pub dropped_unwritable: u64,
    /// CPU time the extraction thread (`reagentic-protocol-extract`) has
    /// used: classifying spans and shaping entries. Brought up to date each
    /// time it hands a batch to the writer, so after a flush it covers
    /// everything flushed. Zero where the platform does not report a
    /// thread's CPU time (only Linux is read).
    pub extraction_cpu: Duration,
    /// CPU time the writer thread (`reagentic-protocol-writer`) has used:
    /// encoding and committing batches, and the storage's upkeep. Brought up
    /// to date after each commit. SQLite's checkpoint thread is not counted.
    /// Zero where the platform does not say.
    pub writer_cpu: Duration,
}
