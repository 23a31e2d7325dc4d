//! Where entries go: the [`Storage`] trait and its SQLite and JSON Lines forms.

mod checkpoint;
mod jsonl;
mod sqlite;

pub use jsonl::{JsonlStorage, JsonlStorageBuilder};
pub use sqlite::{SqliteStorage, SqliteStorageBuilder};

// The reader (`crate::query`) must agree with the writers on layout and
// validation, so it uses the same helpers rather than a copy of them.
pub(crate) use jsonl::{check_jsonl_header, read_jsonl_meta};
pub(crate) use sqlite::{
    read_meta_value, sqlite_error, sqlite_open_error, verify_protocol_schema, COLUMNS,
};

use std::path::{Path, PathBuf};

use crate::entry::ProtocolEntry;
use crate::error::{ProtocolError, Result};

/// How hard a commit works to survive a crash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Durability {
    /// A committed batch survives the process crashing (SQLite
    /// `synchronous=NORMAL` in WAL mode; JSONL written to the OS), but the last
    /// batches may be lost if the machine loses power.
    #[default]
    Normal,
    /// A committed batch survives power loss too (SQLite `synchronous=FULL`;
    /// JSONL `fsync` after every batch). Slower.
    Full,
}

/// A place the writer thread puts entries.
///
/// Implementations are driven from one thread (the pipeline's writer), so they
/// take `&mut self` and need only be `Send`.
pub trait Storage: Send + 'static {
    /// Writes a batch atomically: after `Ok`, every entry is committed and
    /// readable by another connection or process; after `Err`, none of the batch
    /// is visible, so the caller can retry it as a whole. Entries whose
    /// `entry_id` is already stored are stored once.
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()>;

    /// Records the total number of entries the pipeline has dropped so far
    /// (`protocol_meta` key `dropped_entries`).
    fn record_dropped(&mut self, total_dropped: u64) -> Result<()>;

    /// Flushes and releases the file. Further writes fail.
    fn close(&mut self) -> Result<()>;

    /// A short description for messages, usually the file path.
    fn describe(&self) -> String;
}

impl std::fmt::Debug for dyn Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("target", &self.describe())
            .finish()
    }
}

/// Creates missing parent folders of `path`, so `open("logs/protocol.db")` works.
fn ensure_parent_dir(path: &std::path::Path) -> Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() && !parent.exists() => {
            std::fs::create_dir_all(parent).map_err(|source| crate::ProtocolError::Open {
                path: path.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

/// Opens (creating if needed) a file readable and writable by its owner only.
/// An existing file keeps its content; its mode is tightened to owner-only.
fn open_owner_only(path: &std::path::Path, append: bool) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).create(true);
    if append {
        options.append(true);
    } else {
        options.write(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    restrict_to_owner(path)?;
    Ok(file)
}

/// Makes an existing file readable and writable by its owner only.
fn restrict_to_owner(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `path` with `suffix` appended to its file name (`a.db` + `-wal` → `a.db-wal`),
/// the naming SQLite uses for its side files and JSONL uses for its meta file.
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The error for a write to a storage that was already closed.
fn closed_error(path: &Path) -> ProtocolError {
    ProtocolError::Storage(format!(
        "protocol storage {} is closed; it accepts no more writes",
        path.display()
    ))
}

/// Entries shared by the storage and query tests.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::json;

    use crate::entry::{EntryError, EntryStatus, EventType, ProtocolEntry, SCHEMA_VERSION};

    /// Seconds after 2026-11-27T03:00:00Z, plus microseconds, as a timestamp.
    pub(crate) fn at(seconds: i64, micros: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_748_400 + seconds, micros * 1_000)
            .single()
            .expect("valid test timestamp")
    }

    /// A fully populated entry: every optional field set, JSON content,
    /// an error and attributes, so round trips exercise every column.
    pub(crate) fn full_entry(n: u32) -> ProtocolEntry {
        let trace_id = format!("{:032x}", 0x4bf9_2f35_u64 + u64::from(n % 3));
        let span_id = format!("{:016x}", 0x00f0_67aa_u64 + u64::from(n));
        ProtocolEntry {
            schema: SCHEMA_VERSION,
            entry_id: ProtocolEntry::make_id(&trace_id, &span_id, "end"),
            timestamp: at(i64::from(n), 123_456),
            event_type: EventType::ToolEnd,
            trace_id,
            span_id,
            parent_span_id: Some("53995c3f42cd8ad8".into()),
            session_id: Some(format!("conv-{}", n % 2)),
            service_name: Some("travel-agent".into()),
            agent_name: Some("planner".into()),
            name: "search_flights".into(),
            model: Some("gpt-4o".into()),
            provider: Some("openai".into()),
            tool_name: Some("search_flights".into()),
            tool_call_id: Some(format!("call_{n}")),
            input: Some(json!({"from": "BER", "n": n, "nested": [1, {"x": null}]})),
            output: Some(json!("3 flights \u{1F6EB} \"quoted\"")),
            input_tokens: Some(u64::from(n) * 10),
            output_tokens: Some(7),
            duration_ms: Some(182.4),
            status: EntryStatus::Error,
            error: Some(EntryError {
                error_type: Some("Timeout".into()),
                message: Some("took too long".into()),
                stacktrace: Some("at search_flights\nat main".into()),
            }),
            attributes: json!({"http.status": 504, "retry": true})
                .as_object()
                .cloned(),
            operation: Some("execute_tool".into()),
            cache_read_input_tokens: Some(3),
            cache_creation_input_tokens: Some(2),
            reasoning_tokens: Some(5),
            finish_reasons: Some(vec!["stop".into(), "tool_calls".into()]),
            cost_usd: Some(0.0125),
            time_to_first_chunk_ms: Some(41.5),
        }
    }

    /// A start entry with every optional field empty.
    pub(crate) fn bare_entry(n: u32) -> ProtocolEntry {
        let trace_id = format!("{:032x}", 0xaaaa_u64);
        let span_id = format!("{:016x}", 0xbbbb_u64 + u64::from(n));
        ProtocolEntry {
            schema: SCHEMA_VERSION,
            entry_id: ProtocolEntry::make_id(&trace_id, &span_id, "start"),
            timestamp: at(i64::from(n), 0),
            event_type: EventType::AgentStart,
            trace_id,
            span_id,
            parent_span_id: None,
            session_id: None,
            service_name: None,
            agent_name: None,
            name: "planner".into(),
            model: None,
            provider: None,
            tool_name: None,
            tool_call_id: None,
            input: None,
            output: None,
            input_tokens: None,
            output_tokens: None,
            duration_ms: None,
            status: EntryStatus::Unset,
            error: None,
            attributes: None,
            operation: None,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            reasoning_tokens: None,
            finish_reasons: None,
            cost_usd: None,
            time_to_first_chunk_ms: None,
        }
    }
}
