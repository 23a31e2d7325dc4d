//! An unwritable path or a corrupt file is a clear error from `open` that
//! names the path — never a panic, never a silently replaced file.

use reagentic_protocol::{JsonlStorage, ProtocolError, ProtocolReader, SqliteStorage};

#[test]
fn unwritable_paths_fail_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let db = blocker.join("protocol.db");
    let err = SqliteStorage::open(&db).unwrap_err();
    assert!(err.to_string().contains(&*db.to_string_lossy()), "{err}");
    let jsonl = blocker.join("protocol.jsonl");
    let err = JsonlStorage::open(&jsonl).unwrap_err();
    assert!(err.to_string().contains(&*jsonl.to_string_lossy()), "{err}");
}

#[test]
fn corrupt_files_fail_at_open_and_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let garbage: Vec<u8> = (0..8192_u32).map(|i| (i * 7919 % 251) as u8).collect();
    for name in ["corrupt.db", "corrupt.jsonl"] {
        let path = dir.path().join(name);
        std::fs::write(&path, &garbage).unwrap();
        let err = if name.ends_with(".db") {
            SqliteStorage::open(&path).unwrap_err()
        } else {
            JsonlStorage::open(&path).unwrap_err()
        };
        assert!(
            matches!(err, ProtocolError::Corrupt { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), garbage, "{name} untouched");
        assert!(ProtocolReader::open(&path)
            .and_then(|r| r.query(&Default::default()))
            .is_err());
    }
}

#[test]
fn reader_reports_missing_files_and_unknown_formats() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    let err = ProtocolReader::open(&missing).unwrap_err();
    assert!(err.to_string().contains("missing.db"), "{err}");
    assert!(!missing.exists(), "reading never creates a file");
    let err = ProtocolReader::open(dir.path().join("notes.txt")).unwrap_err();
    assert!(
        matches!(err, ProtocolError::UnknownFormat { .. }),
        "{err:?}"
    );
}
