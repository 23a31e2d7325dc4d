//! # reagentic-protocol
//!
//! A durable, queryable protocol of what AI agents do — every agent run, model
//! call, tool call, handoff and error, with timings, tokens, content and
//! session — built from OpenTelemetry spans and written to SQLite (the
//! default) or JSON Lines, next to whatever else the application exports.
//!
//! ```no_run
//! use opentelemetry_sdk::trace::SdkTracerProvider;
//! use reagentic_protocol::{DetailLevel, ProtocolConfig, ProtocolProcessor, SqliteStorage};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let storage = SqliteStorage::open("protocol.db")?;
//! let processor = ProtocolProcessor::builder(storage)
//!     .with_config(ProtocolConfig::default().with_detail(DetailLevel::Standard))
//!     .build()?;
//! let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
//! // … install `tracing_opentelemetry::layer().with_tracer(provider.tracer("app"))` …
//! provider.force_flush()?; // every entry so far is committed and readable
//! provider.shutdown()?;
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

mod check;
mod config;
mod entry;
mod error;
mod extract;
mod follow;
pub mod install;
pub mod instrument;
mod pipeline;
mod query;
mod run_tree;
mod sessions;
mod stats;
mod storage;

pub use check::{CheckReport, DuplicateId, UnfinishedStep, UnreadableRecord};
pub use config::{DetailLevel, Field, ProtocolConfig, SpanMatch, StepKind};
pub use entry::{
    format_timestamp, EntryError, EntryStatus, EventType, ProtocolEntry, UnknownEventType,
    SCHEMA_VERSION,
};
pub use error::{ProtocolError, Result};
pub use extract::Extractor;
pub use follow::ReadPosition;
pub use install::{ProtocolGuard, ProtocolInstallBuilder};
pub use pipeline::{
    ProtocolExporter, ProtocolExporterBuilder, ProtocolHandle, ProtocolProcessor,
    ProtocolProcessorBuilder, ProtocolStats, QueueFullPolicy, ThreadPriority,
};
pub use query::{
    query_file, EntryFilter, ProtocolFormat, ProtocolMeta, ProtocolReader, SkippedLine,
};
pub use run_tree::{run_tree, RunStep};
pub use sessions::{RunKind, SessionFilter, SessionSummary};
pub use stats::{GroupStats, StatsBy, StatsFilter};
pub use storage::{
    Durability, JsonlStorage, JsonlStorageBuilder, SqliteStorage, SqliteStorageBuilder, Storage,
};

/// The README's Rust blocks, compiled (and run unless `no_run`) as doc tests.
/// They use every feature, so they are checked with `--all-features`.
#[cfg(all(doctest, feature = "otlp"))]
#[doc = include_str!("../README.md")]
mod readme {}
