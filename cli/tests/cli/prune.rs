//! `prune`, `vacuum` and `stats --storage` on real SQLite files: whole
//! sessions go, the file shrinks, a dry run changes nothing, an older file
//! is told how to convert, and JSON Lines is refused by name.

use std::path::Path;

use chrono::{TimeDelta, Utc};
use reagentic_protocol::{EntryStatus, EventType, ProtocolEntry, SqliteStorage, Storage};
use rusqlite::Connection;

use crate::support::{json, ok, read_all, run_on, stderr};

/// `sessions` sessions of 20 entries with 1 KB of content each, session
/// `s-NN` ending NN days ago.
fn write(path: &Path, sessions: i64) {
    let now = Utc::now();
    let mut storage = SqliteStorage::open(path).unwrap();
    for day in 0..sessions {
        let trace = format!("{:032x}", day + 1);
        let entries: Vec<ProtocolEntry> = (0..10)
            .flat_map(|n| {
                let span = format!("{:016x}", n + 1);
                let at = now - TimeDelta::days(day) - TimeDelta::minutes(30 - n);
                let mut start =
                    ProtocolEntry::new(EventType::ToolStart, &trace, &span, "fetch", at);
                start.session_id = Some(format!("s-{day:02}"));
                start.input = Some(reagentic_protocol::Content::text(&"y".repeat(1_000)));
                let mut end = start.clone();
                end.event_type = EventType::ToolEnd;
                end.entry_id = ProtocolEntry::make_id(&trace, &span, "end");
                end.status = EntryStatus::Ok;
                [start, end]
            })
            .collect();
        storage.write_batch(&entries).unwrap();
    }
    storage.close().unwrap();
}

fn sessions(path: &Path) -> Vec<String> {
    let mut ids: Vec<String> = read_all(path)
        .into_iter()
        .filter_map(|e| e.session_id)
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

#[test]
fn prune_takes_whole_old_sessions_and_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    write(&path, 60);

    let dry = json(&run_on(
        "prune",
        &path,
        &["--older-than", "30d", "--dry-run", "--json"],
    ));
    // s-30 … s-59: their last entry is 30 days and 21 minutes ago, or older.
    assert_eq!(
        (dry["runs"].as_u64(), dry["entries"].as_u64()),
        (Some(30), Some(600))
    );
    assert_eq!(dry["dry_run"], true);
    assert_eq!(sessions(&path).len(), 60, "a dry run deletes nothing");

    let storage = json(&run_on("stats", &path, &["--storage", "--json"]));
    assert_eq!(storage["entries"], 1_200);
    assert_eq!(storage["auto_vacuum"], "incremental");

    let done = json(&run_on("prune", &path, &["--older-than", "30d", "--json"]));
    assert_eq!(
        (done["runs"].as_u64(), done["entries"].as_u64()),
        (Some(30), Some(600))
    );
    assert!(
        done["reclaimed_bytes"].as_u64().unwrap() > 600_000,
        "{done}"
    );
    assert!(
        done["file_bytes_after"].as_u64().unwrap() < done["file_bytes_before"].as_u64().unwrap(),
        "{done}"
    );
    let left = sessions(&path);
    assert_eq!(left.first().map(String::as_str), Some("s-00"));
    assert_eq!(left.last().map(String::as_str), Some("s-29"));

    let text = ok(&run_on("prune", &path, &["--keep-last", "10"]));
    assert!(
        text.starts_with("pruned 20 session(s) or trace(s), 400 entries"),
        "{text}"
    );
    ok(&run_on("prune", &path, &["--session", "s-03"]));
    assert_eq!(sessions(&path).len(), 9);
    let report = ok(&run_on("stats", &path, &["--storage"]));
    assert!(report.contains("entries       180"), "{report}");
}

#[test]
fn an_older_file_is_told_how_to_convert_and_vacuum_converts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "PRAGMA auto_vacuum = NONE; CREATE TABLE placeholder (x); DROP TABLE placeholder;",
        )
        .unwrap();
    write(&path, 20);
    let text = ok(&run_on("prune", &path, &["--before", "5d"]));
    assert!(text.contains("reagentic-protocol vacuum"), "{text}");
    let storage = ok(&run_on("stats", &path, &["--storage"]));
    assert!(storage.contains("auto-vacuum   none"), "{storage}");

    let vacuumed = json(&run_on("vacuum", &path, &["--json"]));
    assert!(
        vacuumed["file_bytes_after"].as_u64().unwrap()
            < vacuumed["file_bytes_before"].as_u64().unwrap(),
        "{vacuumed}"
    );
    let after = json(&run_on("stats", &path, &["--storage", "--json"]));
    assert_eq!(
        (after["auto_vacuum"].as_str(), after["free_pages"].as_u64()),
        (Some("incremental"), Some(0))
    );
    assert_eq!(sessions(&path).len(), 5);
}

#[test]
fn prune_needs_one_rule_and_a_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.db");
    write(&path, 2);
    let none = run_on("prune", &path, &[]);
    assert_eq!(none.status.code(), Some(2));
    let two = run_on("prune", &path, &["--keep-last", "1", "--session", "s-00"]);
    assert_eq!(two.status.code(), Some(2));
    let bad_age = run_on("prune", &path, &["--older-than", "2026-11-01"]);
    assert!(
        stderr(&bad_age).contains("invalid age"),
        "{}",
        stderr(&bad_age)
    );

    let jsonl = dir.path().join("p.jsonl");
    std::fs::write(&jsonl, "").unwrap();
    let refused = run_on("prune", &jsonl, &["--keep-last", "1"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("JSON Lines"),
        "{}",
        stderr(&refused)
    );
    let missing = run_on(
        "prune",
        &dir.path().join("nowhere.db"),
        &["--keep-last", "1"],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(!dir.path().join("nowhere.db").exists(), "never created");
    assert_eq!(sessions(&path).len(), 2);
}
