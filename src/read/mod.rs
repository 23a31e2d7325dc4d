//! Reading a protocol back, SQLite, JSON Lines or PostgreSQL, without
//! changing it.
//!
//! [`ProtocolReader`] opens either form. Every read it offers — [`query`],
//! [`sessions`], [`stats`], [`check`], [`read_from`] — is one scan of the
//! file through its form's source (`sqlite.rs`, `jsonl.rs`, `postgres.rs`), which applies
//! the same conditions (one time window, one test for "failed"), returns
//! each entry once and reports what it could not read; so both forms answer
//! alike. [`run_tree`] arranges a run's entries as a tree.
//!
//! [`query`]: ProtocolReader::query
//! [`sessions`]: ProtocolReader::sessions
//! [`stats`]: ProtocolReader::stats
//! [`check`]: ProtocolReader::check
//! [`read_from`]: ProtocolReader::read_from

mod check;
mod conditions;
mod filter;
mod follow;
mod jsonl;
#[cfg(feature = "postgres")]
mod postgres;
mod query;
mod reader;
mod run_tree;
mod scan;
mod sessions;
mod sqlite;
mod stats;

pub use check::{CheckReport, DuplicateId, UnfinishedStep, UnreadableRecord};
pub use filter::EntryFilter;
pub use follow::ReadPosition;
pub use query::query_file;
pub use reader::{ProtocolFormat, ProtocolMeta, ProtocolReader};
pub use run_tree::{run_tree, RunStep};
pub use scan::SkippedLine;
pub use sessions::{RunKind, SessionFilter, SessionSummary};
pub use stats::{CostExplanation, GroupStats, StatsBy, StatsFilter};
