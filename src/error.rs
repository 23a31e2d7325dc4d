//! The crate's error type.

use std::path::PathBuf;
use std::sync::Arc;
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
        "cannot tell the protocol format of {path}: expected .db, .sqlite, .sqlite3, .jsonl, .ndjson or a postgres:// URL"
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
    /// PostgreSQL reported an error, or could not be reached.
    ///
    /// `target` names the database as `postgres://user@host:port/database`,
    /// never with its password; `message` is the client's error with its
    /// causes (the server's own message, the operating system's).
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    #[error("PostgreSQL error on {target}: {message}")]
    Postgres {
        /// The database, without its password.
        target: String,
        /// What went wrong, with its causes.
        message: String,
        /// The client's error (`as_db_error()` has the server's SQLSTATE).
        #[source]
        source: postgres::Error,
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
    /// entries and retries, so this clears once the fault does. `source` is
    /// the storage's own error (a [`Sqlite`](Self::Sqlite) error with
    /// SQLite's code, an [`Io`](Self::Io) error with the operating system's
    /// kind, …), shared by every flush that waited on the failed write.
    ///
    /// ```no_run
    /// use reagentic_protocol::ProtocolError;
    /// # fn flushed(result: Result<(), ProtocolError>) {
    /// if let Err(ProtocolError::Storage { source }) = &result {
    ///     if let ProtocolError::Io { source: io, .. } = &**source {
    ///         if io.kind() == std::io::ErrorKind::StorageFull {
    ///             eprintln!("the disk is full; entries are kept and retried");
    ///         }
    ///     }
    /// }
    /// # }
    /// ```
    #[error("protocol storage failed: {source}")]
    Storage {
        /// What the storage reported.
        #[source]
        source: Arc<ProtocolError>,
    },
    /// A storage's `write_batch`, `record_dropped` or `close` panicked. The
    /// writer thread survives: the entries are kept and retried as after any
    /// other storage failure.
    #[error("the protocol storage panicked: {message}")]
    StoragePanicked {
        /// The panic's message.
        message: String,
    },
    /// The storage was closed and takes no more writes.
    #[error("protocol storage {path} is closed; it accepts no more writes")]
    Closed {
        /// The storage's file (or description).
        path: PathBuf,
    },
    /// A flush, shutdown or enqueue did not finish within its bound.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The pipeline was already shut down.
    #[error("the protocol pipeline is already shut down")]
    AlreadyShutdown,
    /// [`ProtocolIngest::submit`](crate::pipeline::ProtocolIngest::submit)
    /// found the pipeline's queue full: nothing was taken; try again later.
    #[error("the protocol pipeline's queue is full; nothing was taken, try again later")]
    QueueFull,
    /// A builder was given settings that cannot work together.
    #[error("invalid protocol configuration: {0}")]
    InvalidConfig(String),
    /// A price file could not be read or has a price that cannot be used.
    #[error("price file {}: {}{reason}", path.display(), model.as_ref().map(|m| format!("model {m:?}: ")).unwrap_or_default())]
    Prices {
        /// The file (`built-in` for the crate's own table).
        path: PathBuf,
        /// The model whose entry is wrong, when one is.
        model: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// A pipeline or reader thread could not be started or is gone.
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

impl ProtocolError {
    /// The error at the bottom of a chain of [`Storage`](Self::Storage)
    /// wrappers: what the storage itself reported.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use reagentic_protocol::ProtocolError;
    /// let wrapped = ProtocolError::Storage { source: Arc::new(ProtocolError::AlreadyShutdown) };
    /// assert!(matches!(wrapped.root(), ProtocolError::AlreadyShutdown));
    /// ```
    pub fn root(&self) -> &ProtocolError {
        match self {
            ProtocolError::Storage { source } => source.root(),
            other => other,
        }
    }

    /// Whether the storage ran out of room: SQLite's "database or disk is
    /// full", or the operating system's "no space left on device" or "file
    /// too large" (a file size limit). The pipeline keeps the entries and
    /// writes them once room comes back.
    ///
    /// ```
    /// use reagentic_protocol::ProtocolError;
    /// let full = ProtocolError::Io {
    ///     path: "protocol.jsonl".into(),
    ///     source: std::io::Error::from(std::io::ErrorKind::StorageFull),
    /// };
    /// assert!(full.is_storage_full());
    /// ```
    pub fn is_storage_full(&self) -> bool {
        match self.root() {
            ProtocolError::Sqlite { source, .. } => {
                source.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull)
            }
            ProtocolError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::FileTooLarge
            ),
            // The server's "could not extend file": no space left.
            #[cfg(feature = "postgres")]
            ProtocolError::Postgres { source, .. } => {
                source.code() == Some(&postgres::error::SqlState::DISK_FULL)
            }
            _ => false,
        }
    }

    /// Whether another connection or process held the database's lock past
    /// the busy timeout (SQLite's "database is locked" or "busy"). The
    /// pipeline retries the write.
    ///
    /// ```
    /// let shut = reagentic_protocol::ProtocolError::AlreadyShutdown;
    /// assert!(!shut.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        match self.root() {
            ProtocolError::Sqlite { source, .. } => matches!(
                source.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            // lock_timeout passed while waiting for another session's lock.
            #[cfg(feature = "postgres")]
            ProtocolError::Postgres { source, .. } => {
                source.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE)
            }
            _ => false,
        }
    }
}

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
