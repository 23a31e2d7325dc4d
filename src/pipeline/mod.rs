//! The pipeline: the span processor and exporter in front, a named extraction
//! thread behind a bounded queue, a named writer thread behind that, and the
//! handle that flushes and shuts it down.
//!
//! ```text
//!  application threads                    reagentic-protocol-extract          reagentic-protocol-writer
//!  ───────────────────                    ──────────────────────────          ─────────────────────────
//!  on_start / on_end ──Message──▶ [queue: 16 384, bounded] ──▶ Extraction::run ──Extracted──▶ [2 batches] ──▶ Writer::run ──▶ Storage
//!  (processor.rs,    Started, Ended,      doorbell.rs wakes it    spans → entries        Entries, Flush,      one transaction
//!   exporter.rs)     Finished, Flush,     for a burst (5 ms or    (extract/)             Shutdown             per batch; retries
//!                    Shutdown, …          a quarter-full queue)        ▲                                      after a failure
//!  force_flush ─ Flush(reply) ───────────── passes in order ──────────│────────── answered after the commit ──┘
//!                                                                     └──── [2 batches] ◀── written batches, freed where allocated
//!
//!  SQLite only: reagentic-protocol-checkpoint copies the WAL into the database (storage/checkpoint.rs).
//! ```
//!
//! `ProtocolIngest` (ingest.rs) feeds the same queue with finished spans from
//! elsewhere (`Ingest`), each answered like a flush once committed; it never
//! waits for room in the queue, and it assembles runs whose spans arrive in
//! separate submissions (`extract/assembly.rs`).
//!
//! A flush or shutdown request travels the same channels as the spans, so
//! it is answered only after everything sent before it is committed; the
//! answer is `Ok` or the storage's own error, shared by every waiter
//! (`Arc<ProtocolError>`). Every wait on the application's side is bounded
//! (`core.rs`), and every thread runs at background priority (`priority.rs`).

mod core;
pub(crate) mod cpu_time;
mod doorbell;
mod exporter;
mod extraction;
mod ingest;
mod options;
mod priority;
mod processor;
mod stats;
mod writer;

pub use self::core::ProtocolHandle;
pub use exporter::{ProtocolExporter, ProtocolExporterBuilder};
pub use ingest::{
    AssemblyLimits, Committed, IngestSpan, NotTaken, ProtocolIngest, ProtocolIngestBuilder,
};
pub use options::QueueFullPolicy;
pub use priority::ThreadPriority;
pub use processor::{ProtocolProcessor, ProtocolProcessorBuilder};
pub use stats::ProtocolStats;
