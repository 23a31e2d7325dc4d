//! A JSON Lines protocol that rotates: the file writers append to
//! (`protocol.jsonl`) and the files rotated away from it beside it, each
//! named for the time of its last write (`protocol.2026-11-30T23-59-58Z.jsonl`;
//! `.1`, `.2`, … before the extension when two rotations share a second).
//! Writers (`storage/jsonl.rs`) rotate and remove; readers (`read/jsonl.rs`)
//! read the set as one protocol, oldest file first, the active file last.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use crate::error::{ProtocolError, Result};

/// The time in a rotated file's name: UTC, to the second, without colons
/// (which some file systems refuse).
const NAME_TIME: &str = "%Y-%m-%dT%H-%M-%SZ";

/// A rotated file's place in the set: the time of its last write, then the
/// number that tells apart rotations within one second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct RotatedKey {
    /// When the file was last written to (its name's time).
    pub(crate) closed: DateTime<Utc>,
    /// 0 for the plain name, `n` for `.n`.
    pub(crate) sequence: u32,
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
    let name = match key.sequence {
        0 => format!("{stem}.{time}{extension}"),
        n => format!("{stem}.{time}.{n}{extension}"),
    };
    active.with_file_name(name)
}

/// The key in `name` when it names a file rotated from `active`.
fn parse_rotated(active_parts: &(String, String), name: &OsStr) -> Option<RotatedKey> {
    let (stem, extension) = active_parts;
    let middle = name
        .to_str()?
        .strip_prefix(stem.as_str())?
        .strip_prefix('.')?
        .strip_suffix(extension.as_str())?;
    let (time, sequence) = match middle.split_once('.') {
        Some((time, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (time, n.parse().ok()?)
        }
        Some(_) => return None,
        None => (middle, 0),
    };
    let closed = NaiveDateTime::parse_from_str(time, NAME_TIME)
        .ok()?
        .and_utc();
    Some(RotatedKey { closed, sequence })
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
                path: item.path(),
                key,
            })
        })
        .collect();
    files.sort_by_key(|file| file.key);
    Ok(files)
}

/// The first free name for a file rotated now whose last write was at
/// `closed` (rounded down to the second).
pub(crate) fn free_rotated_path(active: &Path, closed: DateTime<Utc>) -> Option<PathBuf> {
    let closed = DateTime::from_timestamp(closed.timestamp(), 0).unwrap_or(closed);
    (0..10_000)
        .map(|sequence| rotated_path(active, RotatedKey { closed, sequence }))
        .find(|path| !path.exists())
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
            closed: at("2026-11-30T23:59:58Z"),
            sequence: 0,
        };
        let path = rotated_path(active, key);
        assert_eq!(path, Path::new("/logs/protocol.2026-11-30T23-59-58Z.jsonl"));
        let parts = name_parts(active).unwrap();
        assert_eq!(parse_rotated(&parts, path.file_name().unwrap()), Some(key));
        let second = RotatedKey { sequence: 2, ..key };
        let path = rotated_path(active, second);
        assert_eq!(
            path,
            Path::new("/logs/protocol.2026-11-30T23-59-58Z.2.jsonl")
        );
        assert_eq!(
            parse_rotated(&parts, path.file_name().unwrap()),
            Some(second)
        );
        // Not rotated from this file: the file itself, its meta file,
        // another protocol, a name that only looks close.
        for other in [
            "protocol.jsonl",
            "protocol.jsonl.meta.json",
            "other.2026-11-30T23-59-58Z.jsonl",
            "protocol.2026-11-30.jsonl",
            "protocol.2026-11-30T23-59-58Z.x.jsonl",
            "protocol.2026-11-30T23-59-58Z.ndjson",
        ] {
            assert_eq!(parse_rotated(&parts, OsStr::new(other)), None, "{other}");
        }
    }

    #[test]
    fn a_name_without_extension_rotates_too() {
        let active = Path::new("agents");
        let key = RotatedKey {
            closed: at("2026-01-02T03:04:05Z"),
            sequence: 0,
        };
        let path = rotated_path(active, key);
        assert_eq!(path, Path::new("agents.2026-01-02T03-04-05Z"));
        let parts = name_parts(active).unwrap();
        assert_eq!(parse_rotated(&parts, path.as_os_str()), Some(key));
    }

    #[test]
    fn the_set_lists_oldest_first_and_free_names_count_up() {
        let dir = tempfile::tempdir().unwrap();
        let active = dir.path().join("protocol.jsonl");
        std::fs::write(&active, b"").unwrap();
        let late = at("2026-11-30T10:00:00Z");
        let early = at("2026-11-29T10:00:00Z");
        for closed in [late, late, early] {
            let path = free_rotated_path(&active, closed).unwrap();
            std::fs::write(&path, b"").unwrap();
        }
        std::fs::write(dir.path().join("unrelated.txt"), b"").unwrap();
        let keys: Vec<(DateTime<Utc>, u32)> = rotated_files(&active)
            .unwrap()
            .into_iter()
            .map(|f| (f.key.closed, f.key.sequence))
            .collect();
        assert_eq!(keys, vec![(early, 0), (late, 0), (late, 1)]);
    }
}
