//! JSON Lines storage: one entry per line.
//!
//! Each batch is appended with one `write_all` under an advisory lock and is
//! truncated away again if the write fails, so a failed batch leaves no torn
//! half-line and its retry appends cleanly. Entries appended twice (a batch
//! retried after an error that struck after the data reached the file) are
//! stored twice; readers dedupe by `entry_id`, the first occurrence winning.
//! The dropped-entries count lives in a side file `<path>.meta.json`, since a
//! JSONL file has no place for it.
//!
//! With a [`Rotation`], a batch that is due goes into a new file after the
//! old one is renamed to its dated name (`rotation.rs`); with retention,
//! rotated files past their age are removed whole.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Utc;

use super::rotation::{self, Rotation};
use super::{
    closed_error, ensure_parent_dir, open_owner_only, with_suffix, Durability, PruneReport,
    PruneRule, Storage,
};
use crate::codec::jsonl;
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Protocol entries in a JSON Lines file.
///
/// ```
/// use reagentic_protocol::{JsonlStorage, Storage};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let mut storage = JsonlStorage::open(dir.path().join("logs/protocol.jsonl"))?;
/// storage.write_batch(&[])?;
/// storage.close()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct JsonlStorage {
    path: PathBuf,
    /// `None` once closed.
    file: Option<File>,
    durability: Durability,
    /// The serialized batch, reused so a batch costs no allocation in the
    /// steady state.
    buffer: Vec<u8>,
    /// The dropped total this storage has already added to the meta file.
    recorded_dropped: u64,
    /// Whether the "cannot lock" warning was already logged.
    lock_warned: bool,
    rotation: Option<Rotation>,
    retention: Option<Duration>,
    /// Whether the "cannot rotate" warning was already logged.
    pub(super) rotate_warned: bool,
    /// Makes the next appends write only this many bytes and then fail as a
    /// full disk would, to test the truncate-on-failure path on a real file.
    #[cfg(test)]
    fail_after: Option<usize>,
    /// Makes rotations fail as a refused rename would.
    #[cfg(test)]
    pub(super) fail_rotation: bool,
}

/// Options for opening a [`JsonlStorage`].
///
/// ```
/// use reagentic_protocol::{Durability, JsonlStorage};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let storage = JsonlStorage::builder(dir.path().join("protocol.jsonl"))
///     .with_durability(Durability::Full)
///     .open()?;
/// # drop(storage); Ok(()) }
/// ```
#[derive(Debug)]
pub struct JsonlStorageBuilder {
    path: PathBuf,
    durability: Durability,
    rotation: Option<Rotation>,
    retention: Option<Duration>,
}

impl JsonlStorage {
    /// Opens or creates the protocol file at `path` with default settings
    /// ([`Durability::Normal`]). Missing parent folders are created; a new file
    /// is readable by its owner only.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::JsonlStorage::open(dir.path().join("protocol.jsonl"))?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::builder(path).open()
    }

    /// Starts configuring a protocol file at `path`.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::JsonlStorage::builder(dir.path().join("p.jsonl")).open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn builder(path: impl AsRef<Path>) -> JsonlStorageBuilder {
        JsonlStorageBuilder {
            path: path.as_ref().to_path_buf(),
            durability: Durability::Normal,
            rotation: None,
            retention: None,
        }
    }

    /// Removes the rotated files of the protocol at `path` (see
    /// [`JsonlStorageBuilder::with_rotation`]) whose last write is before
    /// [`PruneRule::Before`]'s time (or [`PruneRule::older_than`]'s) —
    /// whole files, the protocol file itself never — or, with `dry_run`,
    /// only says what would go. The report counts the files, their entries
    /// and bytes, and the runs with entries in them; to count an entry once
    /// when a later copy of it sits in the next file, it holds the id of
    /// every entry it removes (about 100 bytes each), as a read of a JSON
    /// Lines protocol holds where each id was first seen. Safe while writers
    /// append: they only ever write to the protocol file. The other rules
    /// need a database: [`ProtocolError::InvalidConfig`].
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// use std::time::Duration;
    /// use reagentic_protocol::{storage::PruneRule, JsonlStorage};
    /// let path = dir.path().join("protocol.jsonl");
    /// # JsonlStorage::open(&path)?;
    /// let rule = PruneRule::older_than(Duration::from_secs(30 * 24 * 3600));
    /// let gone = JsonlStorage::prune(&path, &rule, false)?;
    /// println!("{} files, {} entries", gone.files, gone.entries);
    /// # Ok(()) }
    /// ```
    pub fn prune(path: impl AsRef<Path>, rule: &PruneRule, dry_run: bool) -> Result<PruneReport> {
        rotation::prune_rotated(path.as_ref(), rule, dry_run)
    }

    /// Appends `payload` (whole lines) at the end of the file.
    ///
    /// Under the append lock it first ends a torn line left by a writer that
    /// crashed mid-batch (so our first line does not glue onto the fragment),
    /// then writes, then syncs for [`Durability::Full`]. On any failure it
    /// truncates the file back to its length before the call, so nothing of
    /// the batch stays visible and a retry starts on a clean line.
    fn append(&mut self, payload: &[u8]) -> Result<()> {
        if !payload.is_empty() {
            self.rotate_if_due(payload.len());
        }
        let file = self.file.as_ref().ok_or_else(|| closed_error(&self.path))?;
        let _lock = AppendLock::acquire(file, &self.path, &mut self.lock_warned);
        let io_error = |source| ProtocolError::Io {
            path: self.path.clone(),
            source,
        };
        let len_before = file.metadata().map_err(io_error)?.len();
        let torn = len_before > 0 && last_byte(file, len_before).map_err(io_error)? != b'\n';
        if !torn && payload.is_empty() {
            return Ok(());
        }
        let written = (|| -> io::Result<()> {
            let mut out = file;
            if torn {
                out.write_all(b"\n")?;
            }
            self.write_payload(out, payload)?;
            if self.durability == Durability::Full {
                // A failed fsync leaves the data's fate unknown: treat it as a
                // failed batch, so the retry writes it again.
                file.sync_data()?;
            }
            Ok(())
        })();
        let Err(source) = written else {
            return Ok(());
        };
        if let Err(truncate) = file.set_len(len_before) {
            // The write's own error is what the caller needs (its kind says
            // "disk full" or "file too large"); the failed clean-up is only
            // worth a warning, as it leaves nothing a reader cannot handle.
            tracing::warn!(path = %self.path.display(), error = %truncate,
                "cannot cut a failed batch off the protocol file; readers skip the torn line \
                 and the retry starts on a new line");
        }
        Err(io_error(source))
    }

    /// Before `incoming` bytes are appended: moves to the file another
    /// writer rotated to, or rotates the file when it is due, then removes
    /// what retention lets go. Never fails the batch: a file that cannot be
    /// rotated takes the batch as it is, with one warning, so nothing is
    /// lost over a rename.
    fn rotate_if_due(&mut self, incoming: usize) {
        let Some(rotation) = self.rotation else {
            return;
        };
        let Some(file) = self.file.as_ref() else {
            return;
        };
        let now = Utc::now();
        #[cfg(test)]
        let injected_failure = self.fail_rotation;
        #[cfg(not(test))]
        let injected_failure = false;
        let rotated = {
            let _lock = AppendLock::acquire(file, &self.path, &mut self.lock_warned);
            // Checked under the lock: a writer that rotates holds it too.
            if rotation::still_at_path(file, &self.path) {
                match file.metadata() {
                    Ok(metadata) if rotation.is_due(&metadata, incoming, now) => {
                        if injected_failure {
                            Err(ProtocolError::Io {
                                path: self.path.clone(),
                                source: io::Error::new(
                                    io::ErrorKind::PermissionDenied,
                                    "injected: cannot rename",
                                ),
                            })
                        } else {
                            rotation::rotate(&self.path, file, now).map(|()| true)
                        }
                    }
                    Ok(_) => Ok(false),
                    Err(source) => Err(ProtocolError::Io {
                        path: self.path.clone(),
                        source,
                    }),
                }
            } else {
                // Rotated by another writer: follow it to the new file.
                Ok(true)
            }
        };
        let reopened = rotated.and_then(|rotated| {
            if !rotated {
                return Ok(false);
            }
            let file = open_owner_only(&self.path, true).map_err(|source| ProtocolError::Open {
                path: self.path.clone(),
                source,
            })?;
            self.file = Some(file);
            if self.durability == Durability::Full {
                sync_parent_dir(&self.path)?;
            }
            Ok(true)
        });
        match reopened {
            Ok(true) => self.remove_expired(),
            Ok(false) => {}
            Err(e) => self.warn_rotation_failed(&e),
        }
    }

    /// Warns, once, that the file could not be rotated: the batch goes into
    /// it as it is.
    fn warn_rotation_failed(&mut self, error: &ProtocolError) {
        if !self.rotate_warned {
            self.rotate_warned = true;
            tracing::warn!(path = %self.path.display(), %error,
                "cannot rotate the protocol file; appending to it as it is");
        }
    }

    /// Removes the rotated files retention lets go; a failure is a warning,
    /// tried again at the next rotation.
    fn remove_expired(&mut self) {
        let Some(age) = self.retention else {
            return;
        };
        if let Err(e) = rotation::remove_expired(&self.path, age, Utc::now()) {
            tracing::warn!(path = %self.path.display(), error = %e,
                "cannot remove old rotated protocol files");
        }
    }

    /// Writes the payload; in tests, can instead write a prefix and fail.
    fn write_payload(&self, mut out: &File, payload: &[u8]) -> io::Result<()> {
        #[cfg(test)]
        if let Some(limit) = self.fail_after {
            out.write_all(payload.get(..limit).unwrap_or(payload))?;
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left on device",
            ));
        }
        out.write_all(payload)
    }
}

impl JsonlStorageBuilder {
    /// Sets the durability (default [`Durability::Normal`]): `Full` syncs the
    /// file to disk after every batch.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use reagentic_protocol::{Durability, JsonlStorage};
    /// let builder = JsonlStorage::builder(dir.path().join("p.jsonl")).with_durability(Durability::Full);
    /// ```
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Starts a new file when `rotation` says (default: never). The old file
    /// keeps its entries under a dated name beside the new one, and readers
    /// of this path read them all, oldest first.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use reagentic_protocol::{storage::Rotation, JsonlStorage};
    /// let builder = JsonlStorage::builder(dir.path().join("p.jsonl"))
    ///     .with_rotation(Rotation::daily().with_max_bytes(1 << 30));
    /// ```
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Removes rotated files whose last write is older than `age`, whole,
    /// at open and after each rotation. Retention works on rotated files, so
    /// without [`with_rotation`](Self::with_rotation) it rotates daily. A
    /// run that spans two files keeps its newer part until that file is old
    /// too.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// use std::time::Duration;
    /// let builder = reagentic_protocol::JsonlStorage::builder(dir.path().join("p.jsonl"))
    ///     .with_retention(Duration::from_secs(30 * 24 * 3600));
    /// ```
    pub fn with_retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// Opens the file for appending, creating it as needed.
    ///
    /// Fails with [`ProtocolError::Open`] when the file cannot be created or
    /// opened, [`ProtocolError::Corrupt`] when its first line is clearly not
    /// JSON Lines, and [`ProtocolError::UnsupportedSchema`] when its meta file
    /// was written by a newer build. A torn last line (a crash mid-write) is
    /// ended with a newline so new entries start on a line of their own.
    ///
    /// ```
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let dir = tempfile::tempdir()?;
    /// let storage = reagentic_protocol::JsonlStorage::builder(dir.path().join("p.jsonl")).open()?;
    /// # drop(storage); Ok(()) }
    /// ```
    pub fn open(self) -> Result<JsonlStorage> {
        let path = self.path;
        ensure_parent_dir(&path)?;
        let file = open_owner_only(&path, true).map_err(|source| ProtocolError::Open {
            path: path.clone(),
            source,
        })?;
        jsonl::check_meta_version(&path)?;
        jsonl::check_header(&file, &path)?;
        if self.durability == Durability::Full {
            // The file may be new: its directory entry must survive power
            // loss too, or every batch synced into it could vanish with it.
            sync_parent_dir(&path)?;
        }
        let mut storage = JsonlStorage {
            path,
            file: Some(file),
            durability: self.durability,
            buffer: Vec::new(),
            recorded_dropped: 0,
            lock_warned: false,
            rotation: match (self.rotation, self.retention) {
                (None, Some(_)) => Some(Rotation::daily()),
                (rotation, _) => rotation,
            },
            retention: self.retention,
            rotate_warned: false,
            #[cfg(test)]
            fail_after: None,
            #[cfg(test)]
            fail_rotation: false,
        };
        // An empty append only repairs a torn tail, if there is one.
        storage.append(&[])?;
        storage.remove_expired();
        Ok(storage)
    }
}

impl Storage for JsonlStorage {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()> {
        if self.file.is_none() {
            return Err(closed_error(&self.path));
        }
        if entries.is_empty() {
            return Ok(());
        }
        // One buffer, one write: a reader never sees part of a batch it could
        // mistake for a finished one, and a failure is undone by one truncate.
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        for entry in entries {
            if let Err(e) = jsonl::encode(entry, &mut buffer) {
                self.buffer = buffer;
                return Err(e.into());
            }
        }
        let result = self.append(&buffer);
        // Keep the allocation for the next batch unless one huge batch grew
        // it far past normal.
        if buffer.capacity() <= KEEP_BUFFER_CAPACITY {
            self.buffer = buffer;
        }
        result
    }

    fn record_dropped(&mut self, total_dropped: u64) -> Result<()> {
        let file = self.file.as_ref().ok_or_else(|| closed_error(&self.path))?;
        let delta = total_dropped.saturating_sub(self.recorded_dropped);
        if delta == 0 {
            return Ok(());
        }
        // The data file's lock also guards the meta file's read-modify-write
        // against other processes appending to the same protocol.
        let _lock = AppendLock::acquire(file, &self.path, &mut self.lock_warned);
        let previous = jsonl::read_meta(&self.path)?.map_or(0, |m| m.dropped_entries);
        let meta = jsonl::Meta {
            schema_version: SCHEMA_VERSION,
            dropped_entries: previous.saturating_add(delta),
        };
        write_meta(&self.path, &meta, self.durability)?;
        self.recorded_dropped = total_dropped;
        Ok(())
    }

    fn close(&mut self) -> Result<()> {
        // Every batch was written (and, for Full, synced) when it returned, so
        // there is nothing to flush: releasing the file is all that is left.
        self.file = None;
        Ok(())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Above this, the batch buffer is released after use rather than kept.
const KEEP_BUFFER_CAPACITY: usize = 4 << 20;

/// An exclusive advisory lock on the data file for one append, so cooperating
/// writers in other processes never interleave with our write or our
/// truncate-on-failure (which would otherwise cut off their lines).
struct AppendLock<'f>(Option<&'f File>);

impl<'f> AppendLock<'f> {
    fn acquire(file: &'f File, path: &Path, warned: &mut bool) -> Self {
        match file.lock() {
            Ok(()) => AppendLock(Some(file)),
            Err(e) => {
                // Some file systems (network, FUSE) have no locks. Appends are
                // still whole writes; only concurrent writers lose protection,
                // which is not worth failing every batch over.
                if !*warned {
                    *warned = true;
                    tracing::warn!(path = %path.display(), error = %e,
                        "cannot lock the protocol file; concurrent writers are not coordinated");
                }
                AppendLock(None)
            }
        }
    }
}

impl Drop for AppendLock<'_> {
    fn drop(&mut self) {
        if let Some(file) = self.0 {
            // On failure the lock is released when the file is closed; there
            // is nothing better to do from a destructor.
            let _ = file.unlock();
        }
    }
}

/// Reads the byte at `len - 1`, the last one of a file `len` bytes long.
fn last_byte(mut file: &File, len: u64) -> io::Result<u8> {
    file.seek(SeekFrom::Start(len.saturating_sub(1)))?;
    let mut byte = [0u8; 1];
    file.read_exact(&mut byte)?;
    Ok(byte[0])
}

/// Replaces the meta file atomically: a reader sees the old or the new
/// content, never a half-written file. The temporary name carries the process
/// id so two processes updating at once do not write into each other's file.
fn write_meta(path: &Path, meta: &jsonl::Meta, durability: Durability) -> Result<()> {
    let target = jsonl::meta_path(path);
    let tmp = with_suffix(&target, &format!(".{}.tmp", std::process::id()));
    let bytes = serde_json::to_vec(meta)?;
    let written = (|| -> io::Result<()> {
        let mut file = open_owner_only(&tmp, false)?;
        // A temporary file left by a crash may be longer than the new content.
        file.set_len(0)?;
        file.write_all(&bytes)?;
        if durability == Durability::Full {
            file.sync_data()?;
        }
        Ok(())
    })();
    if let Err(source) = written {
        // Best effort: a leftover temporary file is harmless and reused.
        let _ = std::fs::remove_file(&tmp);
        return Err(ProtocolError::Io { path: tmp, source });
    }
    std::fs::rename(&tmp, &target).map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        ProtocolError::Io {
            path: target.clone(),
            source,
        }
    })?;
    if durability == Durability::Full {
        sync_parent_dir(&target)?;
    }
    Ok(())
}

/// Syncs the folder holding `path`, making a created or renamed directory
/// entry durable. Only Unix can open a folder to sync it; elsewhere the file
/// system's own guarantees apply.
fn sync_parent_dir(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| ProtocolError::Io {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::jsonl::meta_path;
    use crate::read::{EntryFilter, ProtocolReader};
    use crate::test_entries::{bare_entry, full_entry};

    fn jsonl_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("protocol.jsonl")
    }

    fn lines_of(entries: &[ProtocolEntry]) -> String {
        entries
            .iter()
            .map(|e| e.to_json_line().unwrap() + "\n")
            .collect()
    }

    fn read_all(path: &Path) -> (Vec<ProtocolEntry>, Vec<u64>) {
        let reader = ProtocolReader::open(path).unwrap();
        let entries = reader.query(&EntryFilter::default()).unwrap();
        let skipped = reader
            .skipped_lines()
            .into_iter()
            .map(|s| s.line_number)
            .collect();
        (entries, skipped)
    }

    #[test]
    fn lines_are_exactly_to_json_line_plus_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        let first = vec![full_entry(1), bare_entry(2)];
        let second = vec![full_entry(3)];
        storage.write_batch(&first).unwrap();
        storage.write_batch(&[]).unwrap();
        storage.write_batch(&second).unwrap();
        // Readable by another reader before close: the data is in the OS.
        let expected = [first, second].concat();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lines_of(&expected));
        assert_eq!(read_all(&path), (expected, vec![]));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_and_its_meta_file_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/dir/protocol.jsonl");
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.record_dropped(1).unwrap();
        for file in [path.clone(), meta_path(&path)] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn a_torn_last_line_is_ended_on_open_and_skipped_by_readers() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let before = full_entry(1);
        let torn = "{\"schema\":1,\"entry_id\":\"abc";
        std::fs::write(
            &path,
            format!("{}{torn}", lines_of(std::slice::from_ref(&before))),
        )
        .unwrap();

        // A reader of the crashed file skips the torn line, with its number.
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![before.clone()]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].line_number, 2);
        assert!(skipped[0].reason.contains("torn"), "{:?}", skipped[0]);

        let mut storage = JsonlStorage::open(&path).unwrap();
        let content = std::fs::read_to_string(&path).unwrap();
        assert!(content.ends_with(&format!("{torn}\n")), "{content:?}");
        let after = vec![full_entry(2), bare_entry(3)];
        storage.write_batch(&after).unwrap();
        let (entries, skipped) = read_all(&path);
        assert_eq!(entries, [vec![before], after].concat());
        assert_eq!(skipped, vec![2]);
    }

    #[test]
    fn a_tail_torn_by_another_writer_is_ended_before_the_next_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        // Another process crashes half-way through its line.
        let mut other = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        other.write_all(b"{\"schema\":1,\"ent").unwrap();
        storage.write_batch(&[full_entry(2)]).unwrap();
        let (entries, skipped) = read_all(&path);
        assert_eq!(entries, vec![full_entry(1), full_entry(2)]);
        assert_eq!(skipped, vec![2]);
    }

    #[test]
    fn garbage_and_invalid_utf8_lines_are_skipped_with_their_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut content = lines_of(&[full_entry(1)]).into_bytes();
        content.extend_from_slice(b"not json at all\n");
        content.extend_from_slice(b"{\"schema\":1,\"name\":\"\xFF\xFE\"}\n");
        content.extend_from_slice(b"\n");
        content.extend_from_slice(b"{\"valid_json\":\"but not an entry\"}\n");
        content.extend_from_slice(lines_of(&[bare_entry(2)]).as_bytes());
        std::fs::write(&path, &content).unwrap();

        let reader = ProtocolReader::open(&path).unwrap();
        let entries = reader.query(&EntryFilter::default()).unwrap();
        assert_eq!(entries, vec![full_entry(1), bare_entry(2)]);
        let skipped = reader.skipped_lines();
        let numbers: Vec<u64> = skipped.iter().map(|s| s.line_number).collect();
        // Line 4 is blank: ignored, not reported.
        assert_eq!(numbers, vec![2, 3, 5]);
        assert!(skipped[1].reason.contains("UTF-8"), "{:?}", skipped[1]);
    }

    #[test]
    fn duplicates_are_stored_twice_and_read_once_first_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        let batch = vec![full_entry(1), full_entry(2)];
        storage.write_batch(&batch).unwrap();
        storage.write_batch(&batch).unwrap();
        let mut changed = full_entry(1);
        changed.name = "a later rewrite".into();
        storage.write_batch(&[changed]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 5);
        assert_eq!(read_all(&path), (batch, vec![]));
    }

    #[test]
    fn a_failed_append_is_cut_off_and_the_retry_appends_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        let len = std::fs::metadata(&path).unwrap().len();

        let batch = vec![full_entry(2), full_entry(3)];
        // The disk fills after one and a half lines.
        let cut = lines_of(&batch[..1]).len() + 40;
        storage.fail_after = Some(cut);
        let err = storage.write_batch(&batch).unwrap_err();
        assert!(matches!(err, ProtocolError::Io { .. }), "{err:?}");
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);

        storage.fail_after = None;
        storage.write_batch(&batch).unwrap();
        let expected = [vec![full_entry(1)], batch].concat();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), lines_of(&expected));
        assert_eq!(read_all(&path), (expected, vec![]));
    }

    #[test]
    fn full_durability_writes_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::builder(&path)
            .with_durability(Durability::Full)
            .open()
            .unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        storage.record_dropped(2).unwrap();
        assert_eq!(read_all(&path), (vec![full_entry(1)], vec![]));
    }

    #[test]
    fn close_is_idempotent_and_later_writes_fail_without_touching_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        storage.close().unwrap();
        storage.close().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        let err = storage.write_batch(&[full_entry(2)]).unwrap_err();
        assert!(
            matches!(&err, ProtocolError::Closed { path: p } if *p == path),
            "{err:?}"
        );
        assert!(storage.record_dropped(1).is_err());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), len);
        assert_eq!(storage.describe(), path.display().to_string());
    }

    #[test]
    fn dropped_counts_go_to_the_meta_side_file_and_accumulate() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let mut storage = JsonlStorage::open(&path).unwrap();
        assert_eq!(
            ProtocolReader::open(&path)
                .unwrap()
                .meta()
                .unwrap()
                .dropped_entries,
            0
        );
        storage.record_dropped(3).unwrap();
        storage.record_dropped(4).unwrap();
        assert_eq!(
            std::fs::read_to_string(meta_path(&path)).unwrap(),
            format!(r#"{{"schema_version":{SCHEMA_VERSION},"dropped_entries":4}}"#)
        );
        storage.close().unwrap();
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.record_dropped(1).unwrap();
        let meta = ProtocolReader::open(&path).unwrap().meta().unwrap();
        assert_eq!(
            (meta.schema_version, meta.dropped_entries),
            (SCHEMA_VERSION, 5)
        );
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_file_that_is_not_json_lines_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        let garbage = b"SQLite format 3\0\x10\x00\x01\x01garbage".to_vec();
        std::fs::write(&path, &garbage).unwrap();
        let err = JsonlStorage::open(&path).unwrap_err();
        assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), garbage);
        assert!(matches!(
            ProtocolReader::open(&path).unwrap_err(),
            ProtocolError::Corrupt { .. }
        ));
    }

    #[test]
    fn an_unwritable_path_is_an_open_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let path = blocker.join("protocol.jsonl");
        let err = JsonlStorage::open(&path).unwrap_err();
        assert!(matches!(err, ProtocolError::Open { .. }), "{err:?}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn a_newer_meta_schema_is_unsupported() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        std::fs::write(
            meta_path(&path),
            format!(
                r#"{{"schema_version":{},"dropped_entries":0}}"#,
                SCHEMA_VERSION + 1
            ),
        )
        .unwrap();
        let err = JsonlStorage::open(&path).unwrap_err();
        assert!(
            matches!(err, ProtocolError::UnsupportedSchema { found, .. } if found == i64::from(SCHEMA_VERSION) + 1),
            "{err:?}"
        );
    }

    #[test]
    fn two_writers_on_one_file_keep_every_line_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = jsonl_path(&dir);
        // Two storages, as two processes would have, appending concurrently.
        let threads: Vec<_> = [0u32, 1000]
            .into_iter()
            .map(|base| {
                let mut storage = JsonlStorage::open(&path).unwrap();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let batch = [full_entry(base + 2 * i), full_entry(base + 2 * i + 1)];
                        storage.write_batch(&batch).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let (entries, skipped) = read_all(&path);
        assert_eq!(entries.len(), 200);
        assert!(skipped.is_empty());
    }
}
