//! [`ProtocolReader`]: opening a protocol for reading, in either form.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::jsonl::JsonlSource;
use super::scan::{Record, Scan, SkippedLine, Skips, Source};
use super::sqlite::SqliteSource;
use crate::entry::ProtocolEntry;
use crate::error::{ProtocolError, Result};
use crate::pricing::{Prices, Repricing};

/// The storage form of a protocol file.
///
/// ```
/// use std::path::Path;
/// use reagentic_protocol::read::ProtocolFormat;
///
/// assert_eq!(ProtocolFormat::from_path(Path::new("runs/protocol.db")).unwrap(), ProtocolFormat::Sqlite);
/// assert_eq!(ProtocolFormat::from_path(Path::new("protocol.NDJSON")).unwrap(), ProtocolFormat::Jsonl);
/// assert!(ProtocolFormat::from_path(Path::new("protocol.txt")).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolFormat {
    /// A SQLite database (`.db`, `.sqlite`, `.sqlite3`).
    Sqlite,
    /// A JSON Lines file (`.jsonl`, `.ndjson`).
    Jsonl,
    /// A PostgreSQL database, named by a `postgres://` or `postgresql://` URL.
    #[cfg(feature = "postgres")]
    #[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
    Postgres,
}

impl ProtocolFormat {
    /// Tells the format from the file extension, ignoring case, or from a
    /// `postgres://` (`postgresql://`) URL; anything else is
    /// [`ProtocolError::UnknownFormat`]. Without the feature `postgres`, a
    /// URL is [`ProtocolError::InvalidConfig`], saying so.
    ///
    /// ```
    /// use std::path::Path;
    /// use reagentic_protocol::read::ProtocolFormat;
    /// assert_eq!(ProtocolFormat::from_path(Path::new("a.SQLite3")).unwrap(), ProtocolFormat::Sqlite);
    /// ```
    pub fn from_path(path: &Path) -> Result<Self> {
        if let Some(text) = path.to_str() {
            let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                #[cfg(feature = "postgres")]
                return Ok(ProtocolFormat::Postgres);
                #[cfg(not(feature = "postgres"))]
                return Err(ProtocolError::InvalidConfig(format!(
                    "{} is a PostgreSQL database; this build leaves PostgreSQL out \
                     (enable the feature `postgres`)",
                    crate::storage::display_target(path).display()
                )));
            }
        }
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match extension.as_deref() {
            Some("db" | "sqlite" | "sqlite3") => Ok(ProtocolFormat::Sqlite),
            Some("jsonl" | "ndjson") => Ok(ProtocolFormat::Jsonl),
            _ => Err(ProtocolError::UnknownFormat {
                path: crate::storage::display_target(path),
            }),
        }
    }
}

/// A protocol file's meta data.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// let meta = reagentic_protocol::ProtocolReader::open("protocol.db")?.meta()?;
/// if meta.dropped_entries > 0 {
///     eprintln!("warning: {} entries were dropped", meta.dropped_entries);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtocolMeta {
    /// The entry format version of the file.
    pub schema_version: u32,
    /// How many entries the writing pipelines dropped in total (the queue
    /// stayed full past its bound), summed over every run that wrote the file.
    pub dropped_entries: u64,
}

/// Reads a protocol, SQLite, JSON Lines or PostgreSQL, without changing it.
///
/// SQLite is opened read-only (and, in WAL mode, can be read while another
/// process writes); JSON Lines is only read. Both forms answer every read
/// with the same results.
///
/// ```no_run
/// use reagentic_protocol::{EntryFilter, ProtocolReader};
///
/// # fn main() -> reagentic_protocol::Result<()> {
/// let reader = ProtocolReader::open("protocol.db")?;
/// for entry in reader.query(&EntryFilter::default().with_session("conv-42"))? {
///     println!("{} {} {}", entry.timestamp, entry.event_type, entry.name);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProtocolReader {
    path: PathBuf,
    source: Box<dyn Source>,
    /// What the last read skipped, for [`skipped_lines`](Self::skipped_lines);
    /// behind a lock because reads take `&self`.
    last_skips: Mutex<Vec<SkippedLine>>,
    /// Prices model calls as they are read (see [`Self::with_prices`]).
    prices: Prices,
    repricing: Repricing,
}

impl ProtocolReader {
    /// Opens the protocol at `path`, telling its format from the extension
    /// (see [`ProtocolFormat::from_path`]).
    ///
    /// Fails with [`ProtocolError::Open`] when the file does not exist or
    /// cannot be opened (it is never created), [`ProtocolError::Corrupt`] when
    /// it is not a protocol file, and [`ProtocolError::UnsupportedSchema`] when
    /// a newer build wrote it.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = reagentic_protocol::ProtocolReader::open("protocol.jsonl")?;
    /// # Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::open_as(path, ProtocolFormat::from_path(path)?)
    }

    /// Opens the protocol at `path` as the given format, whatever its
    /// extension.
    ///
    /// ```no_run
    /// use reagentic_protocol::{read::ProtocolFormat, ProtocolReader};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = ProtocolReader::open_as("agent.log", ProtocolFormat::Jsonl)?;
    /// # Ok(()) }
    /// ```
    pub fn open_as(path: impl AsRef<Path>, format: ProtocolFormat) -> Result<Self> {
        #[cfg(feature = "postgres")]
        if format == ProtocolFormat::Postgres {
            let url = path.as_ref().to_string_lossy();
            let source = super::postgres::PostgresSource::open(&url)?;
            return Ok(ProtocolReader {
                path: PathBuf::from(source.redacted()),
                source: Box::new(source),
                last_skips: Mutex::new(Vec::new()),
                prices: Prices::built_in(),
                repricing: Repricing::Missing,
            });
        }
        let path = path.as_ref().to_path_buf();
        let open_error = |source| ProtocolError::Open {
            path: path.clone(),
            source,
        };
        // Checked up front so a missing file is reported with the operating
        // system's words, and SQLite is never asked to open (or create) it.
        let metadata = std::fs::metadata(&path).map_err(open_error)?;
        if metadata.is_dir() {
            return Err(open_error(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory",
            )));
        }
        let source: Box<dyn Source> = match format {
            ProtocolFormat::Sqlite => Box::new(SqliteSource::open(&path)?),
            ProtocolFormat::Jsonl => Box::new(JsonlSource::open(&path)?),
            #[cfg(feature = "postgres")]
            ProtocolFormat::Postgres => Box::new(super::postgres::PostgresSource::open(
                &path.to_string_lossy(),
            )?),
        };
        Ok(ProtocolReader {
            path,
            source,
            last_skips: Mutex::new(Vec::new()),
            prices: Prices::built_in(),
            repricing: Repricing::Missing,
        })
    }

    /// Prices the model calls read with `prices` (a table with the user's
    /// files, see [`Prices::with_file`]), replacing the costs the recording
    /// computed; costs the source reported are kept.
    ///
    /// Without it, a reader prices with the built-in table only what the
    /// recording left without a cost (model calls of files written before
    /// costs were computed, or of models the recording had no price for),
    /// and keeps every recorded cost.
    ///
    /// ```no_run
    /// use reagentic_protocol::pricing::Prices;
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = reagentic_protocol::ProtocolReader::open("protocol.db")?
    ///     .with_prices(Prices::built_in().with_file("negotiated.json")?);
    /// # Ok(()) }
    /// ```
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.prices = prices;
        self.repricing = Repricing::All;
        self
    }

    /// The file being read; for PostgreSQL, the database as
    /// `postgres://user@host:port/database`, without its password.
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.db").unwrap();
    /// println!("reading {}", reader.path().display());
    /// ```
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files this protocol is read from, oldest first: for JSON Lines
    /// the files rotated from it (see [`Rotation`]) and then the file
    /// itself; for SQLite the file; for PostgreSQL none.
    ///
    /// [`Rotation`]: crate::storage::Rotation
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.jsonl").unwrap();
    /// for file in reader.files().unwrap() {
    ///     println!("{}", file.display());
    /// }
    /// ```
    pub fn files(&self) -> Result<Vec<PathBuf>> {
        self.source.files()
    }

    /// The file's format.
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.db").unwrap();
    /// assert_eq!(reader.format(), reagentic_protocol::read::ProtocolFormat::Sqlite);
    /// ```
    pub fn format(&self) -> ProtocolFormat {
        self.source.format()
    }

    /// The file's meta data. A JSON Lines file without a meta side file has
    /// the current schema version and no dropped entries.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let meta = reagentic_protocol::ProtocolReader::open("protocol.db")?.meta()?;
    /// println!("schema {}, {} dropped", meta.schema_version, meta.dropped_entries);
    /// # Ok(()) }
    /// ```
    pub fn meta(&self) -> Result<ProtocolMeta> {
        self.source.meta()
    }

    /// What the last read (`query`, `sessions`, `stats`, `check`,
    /// `read_from`) skipped as unreadable: at most the first 10 000 records.
    /// In JSON Lines, lines that are not entries (a torn last line from a
    /// crash, garbage, invalid UTF-8, lines over 64 MiB, entries of a newer
    /// schema); in SQLite, rows whose values do not decode.
    ///
    /// ```no_run
    /// # let reader = reagentic_protocol::ProtocolReader::open("protocol.jsonl").unwrap();
    /// # reader.query(&Default::default()).unwrap();
    /// let bad_lines = reader.skipped_lines().len();
    /// ```
    pub fn skipped_lines(&self) -> Vec<SkippedLine> {
        self.last_skips
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The storage form behind this reader.
    pub(crate) fn source(&self) -> &dyn Source {
        &*self.source
    }

    /// Runs one scan; returns what it skipped (see [`Self::report`]).
    pub(crate) fn scan(
        &self,
        scan: Scan<'_>,
        mut visit: impl FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Skips> {
        let (prices, repricing) = (&self.prices, self.repricing);
        let skips = self.source.scan(scan, &mut |mut record: Record| {
            prices.reprice(&mut record.entry, repricing);
            visit(record)
        })?;
        if skips.total > 0 {
            tracing::warn!(path = %self.path.display(), skipped = skips.total,
                "skipped protocol records that could not be read");
        }
        Ok(skips)
    }

    /// A reader of `source`, for tests that adjust a source's limits.
    #[cfg(test)]
    pub(crate) fn with_source(path: &Path, source: Box<dyn Source>) -> Self {
        ProtocolReader {
            path: path.to_path_buf(),
            source,
            last_skips: Mutex::new(Vec::new()),
            prices: Prices::built_in(),
            repricing: Repricing::Missing,
        }
    }

    /// Runs one scan as a whole read: its entries, in its order; what it
    /// skipped becomes what [`skipped_lines`](Self::skipped_lines) reports.
    pub(crate) fn collect(&self, scan: Scan<'_>) -> Result<Vec<ProtocolEntry>> {
        let mut entries = Vec::new();
        let skips = self.scan(scan, |record| {
            entries.push(record.entry);
            ControlFlow::Continue(())
        })?;
        self.report(skips);
        Ok(entries)
    }

    /// Keeps what a finished read skipped as what
    /// [`skipped_lines`](Self::skipped_lines) reports.
    pub(crate) fn report(&self, skips: Skips) {
        *self
            .last_skips
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = skips.listed;
    }
}
