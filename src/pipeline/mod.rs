//! The pipeline: the span processor and exporter in front, a named extraction
//! thread behind a bounded queue, a named writer thread behind that, and the
//! handle that flushes and shuts it down.

mod core;
mod doorbell;
mod exporter;
mod extraction;
mod options;
mod priority;
mod processor;
mod stats;
mod writer;

pub use self::core::ProtocolHandle;
pub use exporter::{ProtocolExporter, ProtocolExporterBuilder};
pub use options::QueueFullPolicy;
pub use priority::ThreadPriority;
pub use processor::{ProtocolProcessor, ProtocolProcessorBuilder};
pub use stats::ProtocolStats;
