//! Where entries go: the [`Storage`] trait and its SQLite, JSON Lines and
//! (with the feature `postgres`) PostgreSQL forms.

mod by_path;
mod checkpoint;
mod fill;
mod index_runs;
mod jsonl;
#[cfg(feature = "postgres")]
mod postgres;
mod retention;
mod rotation;
mod sqlite;

pub use by_path::{builder, open, StorageBuilder};
pub use jsonl::{JsonlStorage, JsonlStorageBuilder};
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub use postgres::{PostgresStorage, PostgresStorageBuilder};
pub use retention::{
    sqlite_storage_report, PruneReport, PruneRule, ReclaimReport, StorageReport, RECLAIM_STEP_PAGES,
};
pub use rotation::Rotation;
pub use sqlite::{SqliteStorage, SqliteStorageBuilder, RETENTION_UNDER_LOAD_AFTER_BATCHES};

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
    /// is visible, so the caller can retry it as a whole.
    ///
    /// An entry whose identity (`timestamp`, `entry_id`) is already stored
    /// is not stored again: it fills the stored entry's empty fields from
    /// its own and changes nothing else (the fill rule, `FORMAT.md`). SQLite
    /// updates the stored row; JSON Lines appends the copy, and its readers
    /// merge the copies of one id.
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()>;

    /// Records the total number of entries the pipeline has dropped so far
    /// (`protocol_meta` key `dropped_entries`).
    fn record_dropped(&mut self, total_dropped: u64) -> Result<()>;

    /// Does one bounded piece of upkeep (SQLite merges its index runs) and
    /// returns whether more remains. The writer calls it after each commit
    /// and, while it has nothing to write, until it returns `false`, so a
    /// step must take milliseconds, not seconds. An error is warned about and
    /// the upkeep tried again later; it never costs an entry. The default
    /// has nothing to do.
    fn maintain(&mut self) -> Result<bool> {
        Ok(false)
    }

    /// Flushes and releases the file. Further writes fail.
    fn close(&mut self) -> Result<()>;

    /// A short description for messages, usually the file path.
    fn describe(&self) -> String;
}

impl<S: Storage + ?Sized> Storage for Box<S> {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()> {
        (**self).write_batch(entries)
    }

    fn record_dropped(&mut self, total_dropped: u64) -> Result<()> {
        (**self).record_dropped(total_dropped)
    }

    fn maintain(&mut self) -> Result<bool> {
        (**self).maintain()
    }

    fn close(&mut self) -> Result<()> {
        (**self).close()
    }

    fn describe(&self) -> String {
        (**self).describe()
    }
}

/// How messages name the protocol at `path`: the path itself, or for a
/// database URL, the URL without its password.
pub(crate) fn display_target(path: &Path) -> PathBuf {
    match path.to_str() {
        Some(text) if text.contains("://") => PathBuf::from(redact_url(text)),
        _ => path.to_path_buf(),
    }
}

/// `scheme://user:password@rest` → `scheme://user@rest`; a URL the
/// PostgreSQL client reads is described as it resolves it (`PG*` variables
/// included).
pub(crate) fn redact_url(url: &str) -> String {
    #[cfg(feature = "postgres")]
    if crate::codec::postgres::is_url(url) {
        if let Ok(target) = crate::codec::postgres::Target::parse(url) {
            return target.redacted().to_owned();
        }
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or("");
            format!("{user}@{host}")
        }
        None => authority.to_owned(),
    };
    // A password may also come as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let kept: Vec<&str> = query
                .split('&')
                .filter(|pair| !pair.to_ascii_lowercase().starts_with("password="))
                .collect();
            if kept.is_empty() {
                path.to_owned()
            } else {
                format!("{path}?{}", kept.join("&"))
            }
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
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
pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// The error for a write to a storage that was already closed.
fn closed_error(path: &Path) -> ProtocolError {
    ProtocolError::Closed {
        path: path.to_path_buf(),
    }
}
