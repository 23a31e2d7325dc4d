//! Every text filter of the reader binds its value as a parameter: SQL
//! injection strings passed through each filter (alone and combined) find
//! exactly the entries that hold that literal text, never fail, and leave
//! the protocol file byte-for-byte unchanged.

use std::path::Path;

use crate::support::sample_entry;
use chrono::{TimeZone, Utc};
use reagentic_protocol::{
    EntryFilter, EventType, JsonlStorage, ProtocolEntry, ProtocolReader, SqliteStorage, Storage,
};

pub(crate) const INJECTIONS: &[&str] = &[
    "'; DROP TABLE protocol_entries; --",
    "' OR '1'='1",
    "\" OR \"\"=\"",
    "conv-1' --",
    "x'); DELETE FROM protocol_entries; --",
    "'; UPDATE protocol_meta SET value='999' WHERE key='schema_version'; --",
    "') UNION SELECT * FROM protocol_meta --",
    "'; ATTACH DATABASE '/tmp/pwned.db' AS p; --",
    "%",
    "_",
    "\\",
    "\0",
    "conv-1\0' OR 1=1",
];

/// The entries: ordinary ones, plus one per injection string holding it in
/// every text field a filter looks at.
pub(crate) fn entries() -> Vec<ProtocolEntry> {
    let mut entries: Vec<_> = (0..6).map(sample_entry).collect();
    for (i, text) in INJECTIONS.iter().enumerate() {
        let mut entry = sample_entry(100 + i as u32);
        entry.session_id = Some((*text).to_owned());
        entry.agent_name = Some((*text).to_owned());
        entry.tool_name = Some((*text).to_owned());
        entry.model = Some((*text).to_owned());
        entries.push(entry);
    }
    entries
}

/// Each text filter alone, and all of them with the typed ones at once.
pub(crate) fn filters(text: &str) -> Vec<EntryFilter> {
    vec![
        EntryFilter::default().with_session(text),
        EntryFilter::default().with_trace(text),
        EntryFilter::default().with_agent(text),
        EntryFilter::default().with_tool(text),
        EntryFilter::default().with_model(text),
        EntryFilter::default()
            .with_session(text)
            .with_agent(text)
            .with_tool(text)
            .with_model(text)
            .with_event_types([EventType::ToolEnd, EventType::LlmEnd])
            .with_since(Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).unwrap())
            .with_until(Utc.with_ymd_and_hms(2100, 1, 1, 0, 0, 0).unwrap())
            .errors_only()
            .newest_first()
            .with_limit(1_000),
    ]
}

/// Every file in the folder, its length and a hash of its bytes.
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut hasher);
            (path.display().to_string(), bytes.len(), hasher.finish())
        })
        .collect();
    files.sort();
    files
}

fn check(storage: impl Storage, path: &Path, dir: &Path) {
    let all = entries();
    let mut storage = storage;
    storage.write_batch(&all).unwrap();
    storage.close().unwrap();
    let before = snapshot(dir);

    let reader = ProtocolReader::open(path).unwrap();
    for text in INJECTIONS {
        for filter in filters(text) {
            let found = reader
                .query(&filter)
                .expect("an injection string is just text");
            let expected = all.iter().filter(|e| filter.matches(e)).count();
            assert_eq!(found.len(), expected, "{text:?} via {filter:?}");
            assert!(found.iter().all(|e| filter.matches(e)), "{text:?}");
        }
        // The literal text finds exactly its own entry, nothing more.
        let found = reader
            .query(&EntryFilter::default().with_session(*text))
            .unwrap();
        assert_eq!(found.len(), 1, "{text:?}");
    }
    let meta = reader.meta().unwrap();
    assert_eq!(meta.schema_version, reagentic_protocol::SCHEMA_VERSION);
    drop(reader);
    let after = snapshot(dir);
    let file = |files: &[(String, usize, u64)]| {
        files
            .iter()
            .find(|(name, ..)| Path::new(name) == path)
            .cloned()
    };
    assert_eq!(file(&after), file(&before), "the protocol file changed");
    // SQLite's read-only connection to a WAL database no writer has open may
    // leave an empty `-wal` and a `-shm` index behind: no entries, and
    // owner-only like the database.
    for (name, len, _) in after.iter().filter(|f| !before.contains(f)) {
        assert!(name.ends_with("-wal") || name.ends_with("-shm"), "{name}");
        assert!(!name.ends_with("-wal") || *len == 0, "{name} holds data");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(name).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
    }
    assert_eq!(crate::support::read_all(path).len(), all.len());
}

#[test]
fn sqlite_filters_bind_injection_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    check(SqliteStorage::open(&path).unwrap(), &path, dir.path());
}

#[test]
fn jsonl_filters_bind_injection_strings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    check(JsonlStorage::open(&path).unwrap(), &path, dir.path());
}
