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
#![cfg_attr(docsrs, feature(doc_cfg))]
//!
//! The API is grouped by role: [`entry`] (the data model), [`config`] (what
//! is recorded), [`pipeline`] (the span processor and exporter), [`storage`]
//! (SQLite and JSON Lines), [`read`] (reading a protocol back), [`install`]
//! (one-call setup) and [`instrument`] (GenAI span helpers). The types most
//! programs need are also here at the top.

mod codec;
pub mod config;
pub mod entry;
mod error;
mod extract;
pub mod install;
pub mod instrument;
pub mod pipeline;
pub mod pricing;
pub mod read;
pub mod storage;
#[cfg(test)]
mod test_entries;
#[cfg(test)]
mod test_logs;
#[cfg(feature = "unstable")]
#[cfg_attr(docsrs, doc(cfg(feature = "unstable")))]
pub mod unstable;

pub use config::{DetailLevel, Field, ProtocolConfig, SpanMatch, StepKind};
pub use entry::{Content, EntryError, EntryStatus, EventType, ProtocolEntry, SCHEMA_VERSION};
pub use error::{ProtocolError, Result};
pub use pipeline::{ProtocolExporter, ProtocolHandle, ProtocolProcessor};
pub use read::{query_file, EntryFilter, ProtocolReader};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use storage::PostgresStorage;
pub use storage::{Durability, JsonlStorage, SqliteStorage, Storage};

/// The README's Rust blocks, compiled (and run unless `no_run`) as doc tests.
/// They use every feature, so they are checked with `--all-features`.
#[cfg(all(doctest, feature = "otlp", feature = "postgres"))]
#[doc = include_str!("../README.md")]
mod readme {}
