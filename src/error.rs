//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while opening, writing or reading a protocol.
///
/// Build-time problems (an unwritable path, a corrupt file, an invalid
/// configuration) come back from `open`/`build`; run-time problems (a storage
/// failure, a timeout) come back from `force_flush`, `shutdown` and the query API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The protocol file or one of its side files could not be created or opened.
    #[error("cannot open protocol file {path}: {source}")]
    Open {
        /// The file that could not be opened.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file exists but is not a protocol file this crate can use.
    #[error("{path} is not a usable protocol file: {reason}")]
    Corrupt {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The file was written by a newer version of this crate.
    #[error("{path} has protocol schema version {found}; this build supports up to {supported}")]
    UnsupportedSchema {
        /// The offending file.
        path: PathBuf,
        /// The version recorded in the file.
        found: i64,
        /// The newest version this build understands.
        supported: i64,
    },
    /// The file's extension names neither SQLite nor JSON Lines.
    #[error(
        "cannot tell the protocol format of {path}: expected .db, .sqlite, .sqlite3, .jsonl or .ndjson"
    )]
    UnknownFormat {
        /// The file whose extension was not recognised.
        path: PathBuf,
    },
    /// SQLite reported an error.
    #[error("SQLite error on {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// The error from SQLite.
        #[source]
        source: rusqlite::Error,
    },
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file being read or written.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// An entry could not be serialized or deserialized.
    #[error("invalid protocol entry: {0}")]
    Json(#[from] serde_json::Error),
    /// The storage failed while the pipeline was running; the writer keeps the
    /// entries and retries, so this clears once the fault does.
    #[error("protocol storage failed: {0}")]
    Storage(String),
    /// A flush, shutdown or enqueue did not finish within its bound.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The pipeline was already shut down.
    #[error("the protocol pipeline is already shut down")]
    AlreadyShutdown,
    /// A builder was given settings that cannot work together.
    #[error("invalid protocol configuration: {0}")]
    InvalidConfig(String),
    /// The writer thread could not be started or is gone.
    #[error("protocol writer thread: {0}")]
    Worker(String),
    /// The one-call installer could not set the global `tracing` subscriber
    /// because one is already set (by an earlier install or by other code).
    #[error(
        "a global tracing subscriber is already set: install the protocol once per process, \
         or use `install::builder(..).build()` and add its layer to your own subscriber"
    )]
    AlreadyInstalled,
    /// The OTLP exporter could not be configured; the message names the
    /// setting or environment variable at fault.
    #[error("invalid OTLP exporter configuration: {0}")]
    Otlp(String),
}

/// Shorthand for results whose error is [`ProtocolError`].
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

impl From<ProtocolError> for opentelemetry_sdk::error::OTelSdkError {
    fn from(err: ProtocolError) -> Self {
        use opentelemetry_sdk::error::OTelSdkError;
        match err {
            ProtocolError::Timeout(after) => OTelSdkError::Timeout(after),
            ProtocolError::AlreadyShutdown => OTelSdkError::AlreadyShutdown,
            other => OTelSdkError::InternalFailure(other.to_string()),
        }
    }
}
