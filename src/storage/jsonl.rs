//! JSON Lines storage: one entry per line.

use std::path::{Path, PathBuf};

use super::{Durability, Storage};
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// Protocol entries in a JSON Lines file.
#[derive(Debug)]
pub struct JsonlStorage {
    path: PathBuf,
}

/// Options for opening a [`JsonlStorage`].
#[derive(Debug)]
pub struct JsonlStorageBuilder {
    path: PathBuf,
    durability: Durability,
}

impl JsonlStorage {
    /// Opens or creates the protocol database at `path` with default settings.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// Starts configuring a database at `path`.
    pub fn builder(path: impl AsRef<Path>) -> JsonlStorageBuilder {
        JsonlStorageBuilder {
            path: path.as_ref().to_path_buf(),
            durability: Durability::Normal,
        }
    }
}

impl JsonlStorageBuilder {
    /// Sets the durability (default [`Durability::Normal`]).
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Opens the database, creating and migrating it as needed.
    pub fn open(self) -> Result<JsonlStorage> {
        let _ = self.durability;
        Ok(JsonlStorage { path: self.path })
    }
}

impl Storage for JsonlStorage {
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
