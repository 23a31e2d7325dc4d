//! Opening a protocol by its path, in the form the path names, with the
//! settings every form shares: what the installer and `serve` use.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{JsonlStorage, Rotation, SqliteStorage, Storage};
use crate::error::{ProtocolError, Result};
use crate::read::ProtocolFormat;

/// Opens (creating if needed) the protocol at `path` for writing, in the
/// form its extension names (see [`ProtocolFormat::from_path`]), with
/// default settings. With the feature `postgres`, `path` may also be a
/// `postgres://` URL (see [`PostgresStorage::connect`]).
///
/// [`PostgresStorage::connect`]: crate::storage::PostgresStorage::connect
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let mut storage = reagentic_protocol::storage::open(dir.path().join("protocol.jsonl"))?;
/// storage.write_batch(&[])?;
/// storage.close()?;
/// # Ok(()) }
/// ```
///
/// [`ProtocolFormat::from_path`]: crate::read::ProtocolFormat::from_path
pub fn open(path: impl AsRef<Path>) -> Result<Box<dyn Storage>> {
    builder(path).open()
}

/// Starts configuring the protocol at `path`, in whichever form its
/// extension names, with the settings every form shares.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use std::time::Duration;
/// let storage = reagentic_protocol::storage::builder(dir.path().join("protocol.db"))
///     .with_retention(Duration::from_secs(30 * 24 * 3600))
///     .open()?;
/// # drop(storage); Ok(()) }
/// ```
pub fn builder(path: impl AsRef<Path>) -> StorageBuilder {
    StorageBuilder {
        path: path.as_ref().to_path_buf(),
        retention: None,
        rotation: None,
    }
}

/// Settings for opening a protocol of any form by its path; see
/// [`builder`].
#[derive(Debug)]
#[must_use = "nothing is opened until `open()` is called"]
pub struct StorageBuilder {
    path: PathBuf,
    retention: Option<Duration>,
    rotation: Option<Rotation>,
}

impl StorageBuilder {
    /// Prunes, while writing, the runs whose last entry is older than
    /// `age`: SQLite and PostgreSQL delete whole sessions and session-less
    /// traces ([`SqliteStorageBuilder::with_retention`]); JSON Lines
    /// removes whole rotated files ([`JsonlStorageBuilder::with_retention`],
    /// rotating daily unless [`with_rotation`](Self::with_rotation) says
    /// otherwise).
    ///
    /// [`SqliteStorageBuilder::with_retention`]: crate::storage::SqliteStorageBuilder::with_retention
    /// [`JsonlStorageBuilder::with_retention`]: crate::storage::JsonlStorageBuilder::with_retention
    ///
    /// ```
    /// let builder = reagentic_protocol::storage::builder("protocol.jsonl")
    ///     .with_retention(std::time::Duration::from_secs(7 * 24 * 3600));
    /// ```
    pub fn with_retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// Rotates a JSON Lines protocol ([`JsonlStorageBuilder::with_rotation`]).
    /// Other forms have no files to rotate: opening one with a rotation is
    /// [`ProtocolError::InvalidConfig`].
    ///
    /// [`JsonlStorageBuilder::with_rotation`]: crate::storage::JsonlStorageBuilder::with_rotation
    ///
    /// ```
    /// use reagentic_protocol::storage::Rotation;
    /// let builder = reagentic_protocol::storage::builder("protocol.jsonl")
    ///     .with_rotation(Rotation::daily());
    /// ```
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Opens (creating if needed) the protocol. Errors: those of the form's
    /// own `open` (or `connect`), [`ProtocolError::UnknownFormat`] for a path
    /// that names no form, [`ProtocolError::InvalidConfig`] for a rotation on
    /// a form without files to rotate.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::storage::builder(dir.path().join("p.jsonl")).open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn open(self) -> Result<Box<dyn Storage>> {
        let path = self.path.as_path();
        let format = ProtocolFormat::from_path(path)?;
        if self.rotation.is_some() && format != ProtocolFormat::Jsonl {
            return Err(ProtocolError::InvalidConfig(format!(
                "rotation applies to JSON Lines protocols (.jsonl), not to {}",
                super::display_target(path).display()
            )));
        }
        Ok(match format {
            ProtocolFormat::Sqlite => {
                let mut builder = SqliteStorage::builder(path);
                if let Some(age) = self.retention {
                    builder = builder.with_retention(age);
                }
                Box::new(builder.open()?)
            }
            ProtocolFormat::Jsonl => {
                let mut builder = JsonlStorage::builder(path);
                if let Some(age) = self.retention {
                    builder = builder.with_retention(age);
                }
                if let Some(rotation) = self.rotation {
                    builder = builder.with_rotation(rotation);
                }
                Box::new(builder.open()?)
            }
            #[cfg(feature = "postgres")]
            ProtocolFormat::Postgres => {
                let mut builder = super::PostgresStorage::builder(&path.to_string_lossy());
                if let Some(age) = self.retention {
                    builder = builder.with_retention(age);
                }
                Box::new(builder.connect()?)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_on_a_form_without_files_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protocol.db");
        let err = builder(&path)
            .with_rotation(Rotation::daily())
            .open()
            .unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidConfig(_)), "{err:?}");
        assert!(err.to_string().contains("protocol.db"), "{err}");
        assert!(!path.exists(), "nothing created");
    }

    #[test]
    fn retention_and_rotation_reach_the_json_lines_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("protocol.jsonl");
        let mut storage = builder(&path)
            .with_rotation(Rotation::max_bytes(1))
            .with_retention(Duration::from_secs(3600))
            .open()
            .unwrap();
        for n in 0..3 {
            storage
                .write_batch(&[crate::test_entries::full_entry(n)])
                .unwrap();
        }
        let rotated = crate::codec::jsonl_set::rotated_files(&path).unwrap();
        assert_eq!(rotated.len(), 2, "{rotated:?}");
    }
}
