//! Rotating a JSON Lines protocol: when the file grows past a size or a new
//! day begins, it is renamed to a dated name beside it and a new file is
//! started; retention then removes whole rotated files once they are old.
//! The names and the set are `codec/jsonl_set.rs`; readers read the set as
//! one protocol.

use std::fs::{File, Metadata};
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};

use std::collections::{HashMap, HashSet};

use super::{PruneReport, PruneRule};
use crate::codec::jsonl_set::{next_rotated_path, rotated_files};
use crate::error::{ProtocolError, Result};
use crate::read::{ProtocolFormat, ProtocolReader, ReadPosition};

/// When a JSON Lines protocol starts a new file.
///
/// The file is renamed for the time of its last write
/// (`protocol.jsonl` → `protocol.2026-11-30T23-59-58.123Z.jsonl`) and a new
/// `protocol.jsonl` begins; a reader opening `protocol.jsonl` reads the
/// rotated files with it, oldest first, as one protocol.
///
/// ```
/// use reagentic_protocol::storage::Rotation;
/// let daily = Rotation::daily();
/// let by_size = Rotation::max_bytes(256 << 20);
/// let both = Rotation::daily().with_max_bytes(1 << 30);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotation {
    /// Rotate before a batch would take the file past this many bytes (a
    /// single batch larger than this still goes whole into one file).
    pub max_bytes: Option<u64>,
    /// Rotate at the first write of a new day (UTC).
    pub daily: bool,
}

impl Rotation {
    /// A new file every day (UTC), at the day's first write.
    ///
    /// ```
    /// assert!(reagentic_protocol::storage::Rotation::daily().daily);
    /// ```
    pub fn daily() -> Self {
        Rotation {
            max_bytes: None,
            daily: true,
        }
    }

    /// A new file before a batch would take the file past `bytes`.
    ///
    /// ```
    /// let rotation = reagentic_protocol::storage::Rotation::max_bytes(64 << 20);
    /// assert_eq!(rotation.max_bytes, Some(64 << 20));
    /// ```
    pub fn max_bytes(bytes: u64) -> Self {
        Rotation {
            max_bytes: Some(bytes),
            daily: false,
        }
    }

    /// Also rotates before the file passes `bytes`.
    ///
    /// ```
    /// let rotation = reagentic_protocol::storage::Rotation::daily().with_max_bytes(1 << 30);
    /// assert!(rotation.daily && rotation.max_bytes == Some(1 << 30));
    /// ```
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes);
        self
    }

    /// Whether a file described by `metadata` is due for rotation before
    /// `incoming` more bytes are appended to it at `now`. An empty file
    /// never is: rotating it would only make an empty dated file.
    pub(crate) fn is_due(&self, metadata: &Metadata, incoming: usize, now: DateTime<Utc>) -> bool {
        let len = metadata.len();
        if len == 0 {
            return false;
        }
        let too_big = self
            .max_bytes
            .is_some_and(|max| len.saturating_add(incoming as u64) > max);
        let new_day = self.daily
            && last_write(metadata).is_some_and(|last| last.date_naive() < now.date_naive());
        too_big || new_day
    }
}

/// When the file was last written to, by its modification time.
fn last_write(metadata: &Metadata) -> Option<DateTime<Utc>> {
    metadata.modified().ok().map(DateTime::<Utc>::from)
}

/// Renames the active file at `path` (open as `file`, whose append lock the
/// caller holds) to its dated name. The caller then opens a new active file.
pub(crate) fn rotate(path: &Path, file: &File, now: DateTime<Utc>) -> Result<()> {
    let io_error = |source| ProtocolError::Io {
        path: path.to_path_buf(),
        source,
    };
    let closed = last_write(&file.metadata().map_err(io_error)?).unwrap_or(now);
    let target = next_rotated_path(path, closed)?;
    std::fs::rename(path, &target).map_err(|source| ProtocolError::Io {
        path: target,
        source,
    })
}

/// Removes the rotated files of `path` whose last write is older than
/// `age`: whole files, so a run that began in one continues, with its newer
/// entries, in the next. Returns how many went; a file that cannot be
/// removed is warned about and tried again at the next rotation.
pub(crate) fn remove_expired(path: &Path, age: Duration, now: DateTime<Utc>) -> Result<u64> {
    let age = chrono::TimeDelta::from_std(age).unwrap_or(chrono::TimeDelta::MAX);
    let Some(cutoff) = now.checked_sub_signed(age) else {
        return Ok(0);
    };
    let mut removed = 0;
    for file in rotated_files(path)? {
        if file.key.closed >= cutoff {
            // Oldest first: every later file is newer still.
            break;
        }
        match std::fs::remove_file(&file.path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %file.path.display(), error = %e,
                "cannot remove a rotated protocol file past its retention"),
        }
    }
    Ok(removed)
}

/// Removes (or, with `dry_run`, only counts) the rotated files of the JSON
/// Lines protocol at `path` whose last write is before `rule`'s time:
/// [`JsonlStorage::prune`](super::JsonlStorage::prune).
pub(crate) fn prune_rotated(path: &Path, rule: &PruneRule, dry_run: bool) -> Result<PruneReport> {
    let PruneRule::Before(cutoff) = rule else {
        return Err(ProtocolError::InvalidConfig(format!(
            "{} is a JSON Lines protocol: it is pruned by whole rotated files, by their age              (older than, before); keeping the last N runs or removing one session needs              SQLite or PostgreSQL",
            path.display()
        )));
    };
    let mut report = PruneReport {
        dry_run,
        ..PruneReport::default()
    };
    // Entry id → its run (session, else trace).
    let mut runs: HashMap<String, String> = HashMap::new();
    for file in rotated_files(path)? {
        if file.key.closed >= *cutoff {
            break;
        }
        // Each entry once, with the session any of its copies names (a
        // later copy may fill it in, in this file or another going too).
        let reader = ProtocolReader::open_as(&file.path, ProtocolFormat::Jsonl)?;
        let mut position = ReadPosition::start();
        loop {
            let batch = reader.read_from(&mut position, 10_000)?;
            if batch.is_empty() {
                break;
            }
            for entry in batch {
                let run = runs.entry(entry.entry_id).or_insert(entry.trace_id);
                if let Some(session) = entry.session_id {
                    *run = session;
                }
            }
        }
        let bytes = std::fs::metadata(&file.path).map_or(0, |m| m.len());
        if !dry_run {
            match std::fs::remove_file(&file.path) {
                Ok(()) => {}
                // Gone meanwhile (another prune, a writer's retention).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(ProtocolError::Io {
                        path: file.path,
                        source,
                    })
                }
            }
        }
        report.files += 1;
        report.bytes += bytes;
    }
    report.entries = runs.len() as u64;
    report.runs = runs.into_values().collect::<HashSet<_>>().len() as u64;
    Ok(report)
}

/// Whether `file` is still the file at `path`: another writer may have
/// rotated it away, and appending to the renamed file would put entries
/// where retention removes them early. Only Unix can tell (by device and
/// inode); elsewhere the file is assumed to be in place.
pub(crate) fn still_at_path(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), std::fs::metadata(path)) {
            (Ok(open), Ok(named)) => open.dev() == named.dev() && open.ino() == named.ino(),
            // The path is gone (rotated, nothing new yet): follow it.
            (Ok(_), Err(_)) => false,
            // Cannot tell: keep the file we have.
            (Err(_), _) => true,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::SystemTime;

    use super::*;
    use crate::codec::jsonl_set::{rotated_path, RotatedKey};
    use crate::entry::ProtocolEntry;
    use crate::read::{EntryFilter, ProtocolReader, ReadPosition};
    use crate::storage::{JsonlStorage, Storage};
    use crate::test_entries::full_entry;

    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn protocol(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("protocol.jsonl")
    }

    fn everything(path: &Path) -> Vec<ProtocolEntry> {
        ProtocolReader::open(path)
            .unwrap()
            .query(&EntryFilter::default())
            .unwrap()
    }

    fn rotated_names(path: &Path) -> Vec<String> {
        rotated_files(path)
            .unwrap()
            .into_iter()
            .map(|f| f.path.file_name().unwrap().to_string_lossy().into_owned())
            .collect()
    }

    /// Makes the file look last written `age` ago.
    fn age_file(path: &Path, age: Duration) {
        let file = File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    }

    fn line_bytes(n: u32) -> u64 {
        full_entry(n).to_json_line().unwrap().len() as u64 + 1
    }

    #[test]
    fn a_file_past_its_size_rotates_and_the_set_reads_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        // Room for two entries a file.
        let max = line_bytes(10) * 2 + 10;
        let mut storage = JsonlStorage::builder(&path)
            .with_rotation(Rotation::max_bytes(max))
            .open()
            .unwrap();
        let written: Vec<ProtocolEntry> = (10..20).map(full_entry).collect();
        for entry in &written {
            storage.write_batch(std::slice::from_ref(entry)).unwrap();
        }
        // 10 entries, 2 a file: 4 rotated files and the protocol file.
        assert_eq!(rotated_names(&path).len(), 4, "{:?}", rotated_names(&path));
        for file in rotated_files(&path).unwrap() {
            assert!(std::fs::metadata(&file.path).unwrap().len() <= max);
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= max);
        // Written order runs across the files, oldest first.
        let reader = ProtocolReader::open(&path).unwrap();
        let mut position = ReadPosition::start();
        assert_eq!(reader.read_from(&mut position, 100).unwrap(), written);
        assert_eq!(everything(&path), written);
        let end = reader.end_position().unwrap();
        let total: u64 = (10..20).map(line_bytes).sum();
        assert_eq!((end.offset(), position.offset()), (total, total));
        // A batch bigger than the limit still goes whole into one file.
        let big: Vec<ProtocolEntry> = (20..25).map(full_entry).collect();
        storage.write_batch(&big).unwrap();
        let content = std::fs::read_to_string(&path).unwrap();
        assert_eq!(content.lines().count(), 5, "the big batch alone");
        assert_eq!(everything(&path).len(), 15);
    }

    #[test]
    fn the_first_write_of_a_new_day_rotates_and_names_the_old_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let mut storage = JsonlStorage::builder(&path)
            .with_rotation(Rotation::daily())
            .open()
            .unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        storage.write_batch(&[full_entry(2)]).unwrap();
        assert!(rotated_names(&path).is_empty(), "same day: no rotation");
        age_file(&path, DAY);
        let yesterday = (Utc::now() - DAY).date_naive().to_string();
        storage.write_batch(&[full_entry(3)]).unwrap();
        let names = rotated_names(&path);
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(
            names[0].starts_with(&format!("protocol.{yesterday}T")),
            "{names:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap().lines().count(),
            1,
            "the new day's file holds the new entry"
        );
        assert_eq!(
            everything(&path),
            vec![full_entry(1), full_entry(2), full_entry(3)]
        );
    }

    #[test]
    fn retention_removes_whole_old_files_at_open_and_after_rotating() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let now = Utc::now();
        let old = rotated_path(
            &path,
            RotatedKey {
                closed: now - chrono::TimeDelta::days(40),
            },
        );
        let recent = rotated_path(
            &path,
            RotatedKey {
                closed: now - chrono::TimeDelta::days(2),
            },
        );
        std::fs::write(&old, full_entry(1).to_json_line().unwrap() + "\n").unwrap();
        std::fs::write(&recent, full_entry(2).to_json_line().unwrap() + "\n").unwrap();
        let mut storage = JsonlStorage::builder(&path)
            .with_retention(30 * DAY)
            .open()
            .unwrap();
        assert!(!old.exists(), "past its retention at open");
        assert!(recent.exists());
        storage.write_batch(&[full_entry(3)]).unwrap();
        assert_eq!(everything(&path), vec![full_entry(2), full_entry(3)]);

        // Retention without a rotation rotates daily; a file rotated today
        // is kept, the recent one goes once it is past a shorter retention.
        let mut storage = JsonlStorage::builder(&path)
            .with_retention(DAY)
            .open()
            .unwrap();
        assert!(!recent.exists(), "two days old against one day");
        age_file(&path, DAY);
        storage.write_batch(&[full_entry(4)]).unwrap();
        assert_eq!(
            rotated_names(&path).len(),
            0,
            "rotated a day ago, then removed"
        );
        assert_eq!(everything(&path), vec![full_entry(4)]);
    }

    #[test]
    fn a_follower_reads_across_a_rotation_each_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let max = line_bytes(1) * 3 + 10;
        let mut storage = JsonlStorage::builder(&path)
            .with_rotation(Rotation::max_bytes(max))
            .open()
            .unwrap();
        storage.write_batch(&[full_entry(1)]).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        let mut position = reader.end_position().unwrap();
        let mut expected = Vec::new();
        let mut read = Vec::new();
        for n in 2..40 {
            storage.write_batch(&[full_entry(n)]).unwrap();
            expected.push(full_entry(n));
            // Read now and then: sometimes several rotations happened since.
            if n % 7 == 0 {
                read.extend(reader.read_from(&mut position, 1_000).unwrap());
            }
        }
        read.extend(reader.read_from(&mut position, 1_000).unwrap());
        assert_eq!(read, expected);
        assert!(reader.read_from(&mut position, 1_000).unwrap().is_empty());
        // Small steps from the start: each file's end is crossed mid-batch.
        let mut position = ReadPosition::start();
        let mut stepped = Vec::new();
        loop {
            let batch = reader.read_from(&mut position, 2).unwrap();
            if batch.is_empty() {
                break;
            }
            stepped.extend(batch);
        }
        assert_eq!(stepped, [vec![full_entry(1)], expected].concat());
    }

    #[test]
    fn a_follower_whose_file_was_removed_goes_on_with_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let max = line_bytes(1) * 2 + 10;
        let mut storage = JsonlStorage::builder(&path)
            .with_rotation(Rotation::max_bytes(max))
            .open()
            .unwrap();
        for n in 1..=6 {
            storage.write_batch(&[full_entry(n)]).unwrap();
        }
        let reader = ProtocolReader::open(&path).unwrap();
        let mut position = ReadPosition::start();
        assert_eq!(
            reader.read_from(&mut position, 1).unwrap(),
            vec![full_entry(1)]
        );
        // Retention takes the file the follower is in.
        let oldest = rotated_files(&path).unwrap().remove(0);
        std::fs::remove_file(oldest.path).unwrap();
        assert_eq!(
            reader.read_from(&mut position, 100).unwrap(),
            (3..=6).map(full_entry).collect::<Vec<_>>()
        );
    }

    #[test]
    fn an_unreadable_line_in_a_rotated_file_is_reported_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let rotated = rotated_path(&path, RotatedKey { closed: Utc::now() });
        std::fs::write(
            &rotated,
            format!("{}\nnot json\n", full_entry(1).to_json_line().unwrap()),
        )
        .unwrap();
        let mut storage = JsonlStorage::open(&path).unwrap();
        storage.write_batch(&[full_entry(2)]).unwrap();
        let reader = ProtocolReader::open(&path).unwrap();
        assert_eq!(
            reader.query(&EntryFilter::default()).unwrap(),
            vec![full_entry(1), full_entry(2)]
        );
        let skipped = reader.skipped_lines();
        assert_eq!(skipped.len(), 1);
        assert_eq!(
            (skipped[0].line_number, skipped[0].file.as_deref()),
            (2, Some(rotated.as_path()))
        );
        let report = reader.check().unwrap();
        assert_eq!(
            report.unreadable[0].file.as_deref(),
            Some(rotated.as_path())
        );
    }

    #[test]
    fn a_rotation_that_fails_leaves_the_batch_in_the_file_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let mut storage = JsonlStorage::builder(&path)
            .with_rotation(Rotation::max_bytes(1))
            .open()
            .unwrap();
        storage.fail_rotation = true;
        for n in 0..3 {
            storage.write_batch(&[full_entry(n)]).unwrap();
        }
        assert!(rotated_names(&path).is_empty());
        assert_eq!(
            everything(&path),
            (0..3).map(full_entry).collect::<Vec<_>>()
        );
        assert!(storage.rotate_warned, "warned");
        // Once the rename works again, rotation resumes.
        storage.fail_rotation = false;
        storage.write_batch(&[full_entry(3)]).unwrap();
        assert_eq!(rotated_names(&path).len(), 1);
        assert_eq!(everything(&path).len(), 4);
    }

    #[test]
    fn prune_counts_each_entry_once_with_the_session_a_later_copy_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let old = |days: i64| {
            rotated_path(
                &path,
                RotatedKey {
                    closed: Utc::now() - chrono::TimeDelta::days(days),
                },
            )
        };
        let mut first = full_entry(1);
        first.session_id = None;
        let filled = full_entry(1);
        let other = full_entry(3);
        assert_eq!(filled.session_id, other.session_id);
        let lines = |entries: &[&ProtocolEntry]| -> String {
            entries
                .iter()
                .map(|e| e.to_json_line().unwrap() + "\n")
                .collect()
        };
        std::fs::write(old(40), lines(&[&first])).unwrap();
        std::fs::write(old(39), lines(&[&filled, &other])).unwrap();
        let kept = old(1);
        std::fs::write(&kept, lines(&[&full_entry(2)])).unwrap();
        std::fs::write(&path, "").unwrap();
        let rule = PruneRule::older_than(30 * DAY);
        let dry = prune_rotated(&path, &rule, true).unwrap();
        assert_eq!(
            (dry.files, dry.entries, dry.runs, dry.dry_run),
            (2, 2, 1, true)
        );
        assert_eq!(rotated_names(&path).len(), 3, "a dry run removes nothing");
        let done = prune_rotated(&path, &rule, false).unwrap();
        assert_eq!((done.files, done.entries, done.runs), (2, 2, 1));
        assert_eq!(rotated_files(&path).unwrap()[0].path, kept);
        assert_eq!(everything(&path), vec![full_entry(2)]);
        let err = prune_rotated(&path, &PruneRule::KeepLast(1), false).unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidConfig(_)), "{err:?}");
    }

    #[test]
    fn two_writers_rotating_one_protocol_keep_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = protocol(&dir);
        let max = line_bytes(1) * 5;
        let threads: Vec<_> = [0u32, 1000]
            .into_iter()
            .map(|base| {
                let mut storage = JsonlStorage::builder(&path)
                    .with_rotation(Rotation::max_bytes(max))
                    .open()
                    .unwrap();
                std::thread::spawn(move || {
                    for i in 0..60 {
                        storage.write_batch(&[full_entry(base + i)]).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let reader = ProtocolReader::open(&path).unwrap();
        let entries = reader.query(&EntryFilter::default()).unwrap();
        assert_eq!(entries.len(), 120);
        assert!(reader.skipped_lines().is_empty());
        assert!(
            rotated_names(&path).len() >= 20,
            "{:?}",
            rotated_names(&path)
        );
    }
}
