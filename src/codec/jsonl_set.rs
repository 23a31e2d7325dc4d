//! A JSON Lines protocol that rotates: the file writers append to
//! (`protocol.jsonl`) and the files rotated away from it beside it, each
//! named for the time of its last write, to the millisecond
//! (`protocol.2026-11-30T23-59-58.123Z.jsonl`). The names are unique and
//! increase with every rotation, so listing the folder by name lists the
//! set in the order it was written. Writers (`storage/jsonl.rs`) rotate and
//! remove; readers (`read/jsonl.rs`) read the set as one protocol, oldest
//! file first, the active file last.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

use crate::error::{ProtocolError, Result};

/// The time in a rotated file's name: UTC, to the millisecond, without
/// colons (which some file systems refuse); fixed width, so names sort as
/// times do.
const NAME_TIME: &str = "%Y-%m-%dT%H-%M-%S%.3fZ";

/// A rotated file's place in the set: the time in its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RotatedKey {
    /// When the file was last written to (made unique and increasing when
    /// rotations came within a millisecond, or the clock stepped back).
    pub(crate) closed: DateTime<Utc>,
}

/// A file rotated away from the active one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RotatedFile {
    pub(crate) path: PathBuf,
    pub(crate) key: RotatedKey,
}

/// The active file's name split around where a rotated name puts its time:
/// `protocol` and `.jsonl` (no extension: the whole name and nothing).
fn name_parts(active: &Path) -> Option<(String, String)> {
    let name = active.file_name()?.to_str()?;
    Some(match name.rsplit_once('.') {
        Some((stem, extension)) if !stem.is_empty() => (stem.to_owned(), format!(".{extension}")),
        _ => (name.to_owned(), String::new()),
    })
}

/// The path a file rotated at `key` takes, beside `active`.
pub(crate) fn rotated_path(active: &Path, key: RotatedKey) -> PathBuf {
    let (stem, extension) = name_parts(active).unwrap_or_else(|| ("protocol".into(), "".into()));
    let time = key.closed.format(NAME_TIME);
    active.with_file_name(format!("{stem}.{time}{extension}"))
}

/// The key in `name` when it names a file rotated from `active`.
fn parse_rotated(active_parts: &(String, String), name: &OsStr) -> Option<RotatedKey> {
    let (stem, extension) = active_parts;
    let time = name
        .to_str()?
        .strip_prefix(stem.as_str())?
        .strip_prefix('.')?
        .strip_suffix(extension.as_str())?;
    let closed = NaiveDateTime::parse_from_str(time, NAME_TIME)
        .ok()?
        .and_utc();
    // Only the writers' own form: exactly the fixed width, so a name that
    // merely parses (fewer digits) is not taken for a rotated file.
    (closed.format(NAME_TIME).to_string() == time).then_some(RotatedKey { closed })
}

/// The files rotated from `active`, oldest first. A folder that cannot be
/// listed is an error naming it; a file that vanishes meanwhile (removed by
/// retention) is simply not there.
pub(crate) fn rotated_files(active: &Path) -> Result<Vec<RotatedFile>> {
    let Some(parts) = name_parts(active) else {
        return Ok(Vec::new());
    };
    let folder = match active.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let listing = std::fs::read_dir(folder).map_err(|source| ProtocolError::Io {
        path: folder.to_path_buf(),
        source,
    })?;
    let mut files: Vec<RotatedFile> = listing
        .filter_map(|item| item.ok())
        .filter_map(|item| {
            let key = parse_rotated(&parts, &item.file_name())?;
            Some(RotatedFile {
                // Beside the file as it was named (no `./` for a bare name).
                path: active.with_file_name(item.file_name()),
                key,
            })
        })
        .collect();
    files.sort_by_key(|file| file.key);
    Ok(files)
}

/// The name for the file rotated now whose last write was at `closed`:
/// that time to the millisecond, moved on past the newest rotated file and
/// past any name taken, so names stay unique and in the order of rotation.
pub(crate) fn next_rotated_path(active: &Path, closed: DateTime<Utc>) -> Result<PathBuf> {
    let millis = TimeDelta::milliseconds(1);
    let mut closed = DateTime::from_timestamp_millis(closed.timestamp_millis()).unwrap_or(closed);
    if let Some(newest) = rotated_files(active)?.last() {
        closed = closed.max(newest.key.closed + millis);
    }
    loop {
        let path = rotated_path(active, RotatedKey { closed });
        if !path.exists() {
            return Ok(path);
        }
        closed += millis;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn rotated_names_carry_the_time_and_parse_back() {
        let active = Path::new("/logs/protocol.jsonl");
        let key = RotatedKey {
            closed: at("2026-11-30T23:59:58.123Z"),
        };
        let path = rotated_path(active, key);
        assert_eq!(
            path,
            Path::new("/logs/protocol.2026-11-30T23-59-58.123Z.jsonl")
        );
        let parts = name_parts(active).unwrap();
        assert_eq!(parse_rotated(&parts, path.file_name().unwrap()), Some(key));
        // Not rotated from this file: the file itself, its meta file,
        // another protocol, names that only look close.
        for other in [
            "protocol.jsonl",
            "protocol.jsonl.meta.json",
            "other.2026-11-30T23-59-58.123Z.jsonl",
            "protocol.2026-11-30.jsonl",
            "protocol.2026-11-30T23-59-58Z.jsonl",
            "protocol.2026-11-30T23-59-58.1Z.jsonl",
            "protocol.2026-11-30T23-59-58.123Z.ndjson",
        ] {
            assert_eq!(parse_rotated(&parts, OsStr::new(other)), None, "{other}");
        }
    }

    #[test]
    fn a_name_without_extension_rotates_too() {
        let active = Path::new("agents");
        let key = RotatedKey {
            closed: at("2026-01-02T03:04:05.006Z"),
        };
        let path = rotated_path(active, key);
        assert_eq!(path, Path::new("agents.2026-01-02T03-04-05.006Z"));
        let parts = name_parts(active).unwrap();
        assert_eq!(parse_rotated(&parts, path.as_os_str()), Some(key));
    }

    #[test]
    fn names_increase_with_every_rotation_and_sort_as_the_set_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("protocol.jsonl");
        std::fs::write(&active, b"").unwrap();
        let late = at("2026-11-30T10:00:00.500Z");
        let early = at("2026-11-29T10:00:00Z");
        // Two rotations within one millisecond, then one whose last write
        // the clock puts earlier: each name comes after the one before.
        let mut made = Vec::new();
        for closed in [late, late, early] {
            let path = next_rotated_path(&active, closed).unwrap();
            std::fs::write(&path, b"").unwrap();
            made.push(path);
        }
        std::fs::write(dir.path().join("unrelated.txt"), b"").unwrap();
        let listed: Vec<PathBuf> = rotated_files(&active)
            .unwrap()
            .into_iter()
            .map(|f| f.path)
            .collect();
        assert_eq!(listed, made);
        let mut by_name = made.clone();
        by_name.sort();
        assert_eq!(by_name, made, "the names sort as the set is read");
        assert!(made[1]
            .to_string_lossy()
            .ends_with("2026-11-30T10-00-00.501Z.jsonl"));
    }
}
