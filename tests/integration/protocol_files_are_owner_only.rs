//! Every file the protocol creates — the database and its `-wal`/`-shm`
//! side files, the JSON Lines file and its meta file — is readable by its
//! owner only, even under a permissive umask, and files found with wider
//! permissions are tightened when opened.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::{child, pipeline_at, read_all, record_tool_spans};
use reagentic_protocol::{JsonlStorage, SqliteStorage, Storage};

/// Every file in `dir`, with its permission bits.
fn modes(dir: &Path) -> Vec<(String, u32)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let mode = e.metadata().unwrap().permissions().mode() & 0o777;
            (e.file_name().to_string_lossy().into_owned(), mode)
        })
        .collect();
    found.sort();
    found
}

fn assert_owner_only(dir: &Path, expected_files: &[&str]) {
    let found = modes(dir);
    for name in expected_files {
        assert!(
            found.iter().any(|(n, _)| n == name),
            "{name} missing: {found:?}"
        );
    }
    for (name, mode) in &found {
        assert_eq!(*mode, 0o600, "{name} is {mode:o}: {found:?}");
    }
}

/// A umask that would leave new files world-readable and -writable, so only
/// the crate's own mode choices make them private. The umask belongs to the
/// whole process: each test here runs in a process of its own.
fn permissive_umask() {
    // SAFETY: umask only swaps the process's file-creation mask.
    unsafe {
        libc::umask(0);
    }
}

#[test]
fn sqlite_database_and_side_files_are_owner_only_while_writing() {
    // Sets the process's umask.
    if child::ran_in_own_process(&test_path!(
        sqlite_database_and_side_files_are_owner_only_while_writing
    )) {
        return;
    }
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    let (provider, handle) = pipeline_at(&path, |b| b);
    record_tool_spans(&provider, "private", 0, 50);
    handle.force_flush().unwrap();
    // While the pipeline runs, the WAL holds the recent entries.
    assert_owner_only(
        dir.path(),
        &["protocol.db", "protocol.db-wal", "protocol.db-shm"],
    );
    provider.shutdown().unwrap();
    assert_owner_only(dir.path(), &["protocol.db"]);
    assert_eq!(read_all(&path).len(), 100);
}

#[test]
fn jsonl_file_and_meta_file_are_owner_only() {
    // Sets the process's umask.
    if child::ran_in_own_process(&test_path!(jsonl_file_and_meta_file_are_owner_only)) {
        return;
    }
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    let mut storage = JsonlStorage::open(&path).unwrap();
    storage
        .write_batch(&[crate::support::sample_entry(1)])
        .unwrap();
    storage.record_dropped(3).unwrap();
    storage.close().unwrap();
    assert_owner_only(dir.path(), &["protocol.jsonl", "protocol.jsonl.meta.json"]);
}

#[test]
fn wider_existing_files_are_tightened_on_open() {
    // Sets the process's umask.
    if child::ran_in_own_process(&test_path!(wider_existing_files_are_tightened_on_open)) {
        return;
    }
    permissive_umask();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("protocol.db");
    let jsonl = dir.path().join("protocol.jsonl");
    SqliteStorage::open(&db).unwrap().close().unwrap();
    JsonlStorage::open(&jsonl).unwrap().close().unwrap();
    // As a copy, an archive extraction or a careless chmod would leave them,
    // with an empty leftover WAL beside the database.
    std::fs::write(dir.path().join("protocol.db-wal"), b"").unwrap();
    for name in ["protocol.db", "protocol.db-wal", "protocol.jsonl"] {
        std::fs::set_permissions(
            dir.path().join(name),
            std::fs::Permissions::from_mode(0o666),
        )
        .unwrap();
    }
    let mut sqlite = SqliteStorage::open(&db).unwrap();
    let mut jsonl_storage = JsonlStorage::open(&jsonl).unwrap();
    assert_owner_only(
        dir.path(),
        &["protocol.db", "protocol.db-wal", "protocol.jsonl"],
    );
    sqlite.close().unwrap();
    jsonl_storage.close().unwrap();
}
