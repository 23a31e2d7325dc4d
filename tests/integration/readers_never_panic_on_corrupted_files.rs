//! Property: the readers never panic on damaged protocol files, report what
//! they skipped, and still return every record the damage did not touch.

use std::collections::BTreeSet;

use crate::support::sample_entry;
use proptest::prelude::*;
use reagentic_protocol::{EntryFilter, ProtocolEntry, ProtocolReader, SqliteStorage, Storage};

const ENTRIES: u32 = 12;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A well-formed JSON Lines protocol's bytes, and where each line starts.
fn jsonl_bytes() -> (Vec<u8>, Vec<usize>) {
    let mut bytes = Vec::new();
    let mut starts = Vec::new();
    for n in 0..ENTRIES {
        starts.push(bytes.len());
        bytes.extend_from_slice(sample_entry(n).to_json_line().unwrap().as_bytes());
        bytes.push(b'\n');
    }
    (bytes, starts)
}

/// The 1-based line holding byte `at`.
fn line_of(starts: &[usize], at: usize) -> u64 {
    starts.iter().filter(|&&start| start <= at).count() as u64
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn jsonl_reader_skips_damaged_lines_and_keeps_the_rest(
        // Overwrites with any byte but a newline, so line numbers stay put.
        overwrites in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (mut bytes, starts) = jsonl_bytes();
        let mut damaged = BTreeSet::new();
        for (at, byte) in overwrites {
            let at = at.index(bytes.len());
            if byte != b'\n' && bytes[at] != b'\n' && bytes[at] != byte {
                bytes[at] = byte;
                damaged.insert(line_of(&starts, at));
            }
        }
        if let Some(cut) = cut {
            let cut = cut.index(bytes.len());
            bytes.truncate(cut);
            damaged.insert(line_of(&starts, cut.saturating_sub(1)));
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.jsonl");
        std::fs::write(&path, &bytes).unwrap();
        // Damage to the first line may make the whole file "not JSON Lines".
        let Ok(reader) = ProtocolReader::open(&path) else {
            prop_assert!(damaged.contains(&1));
            return Ok(());
        };
        let entries = reader.query(&EntryFilter::default()).unwrap();
        let skipped = reader.skipped_lines();
        for line in &skipped {
            prop_assert!(damaged.contains(&line.line_number), "{:?} {:?}", line, damaged);
            prop_assert!(!line.reason.is_empty());
        }
        let ids: BTreeSet<_> = entries.iter().map(|e| e.entry_id.clone()).collect();
        let whole_lines = starts.iter().filter(|&&s| s < bytes.len()).count() as u64;
        for n in 0..ENTRIES {
            let line = u64::from(n) + 1;
            if line <= whole_lines && !damaged.contains(&line) {
                prop_assert!(ids.contains(&sample_entry(n).entry_id), "line {} lost", line);
            }
        }
        prop_assert!(entries.len() + skipped.len() <= ENTRIES as usize);
        let _ = reader.meta();
    }

    #[test]
    fn sqlite_reader_skips_rows_with_hostile_values(
        edits in prop::collection::vec(
            (0..ENTRIES, any::<prop::sample::Index>(), 0usize..8),
            0..8,
        ),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&(0..ENTRIES).map(sample_entry).collect::<Vec<_>>()).unwrap();
        storage.close().unwrap();

        // What another tool, a bug or an attacker could leave in a column.
        const HOSTILE: [&str; 8] = [
            "X'FF00FE'", "'not json {'", "-1", "1e308", "CAST(X'FFFE' AS TEXT)",
            "'9999-99-99'", "''", "'[[[[[[[[[['",
        ];
        let conn = rusqlite::Connection::open(&path).unwrap();
        // Every column of the format, the newest ones included.
        let columns: Vec<&str> = ProtocolEntry::field_names().collect();
        let mut touched = BTreeSet::new();
        for (row, column, value) in edits {
            let sql = format!(
                "UPDATE protocol_entries SET {} = {} WHERE rowid = {}",
                columns[column.index(columns.len())], HOSTILE[value], row + 1
            );
            // An identity clash is refused: that row is untouched.
            if conn.execute(&sql, []).is_ok() {
                touched.insert(u64::from(row) + 1);
            }
        }
        drop(conn);

        let reader = ProtocolReader::open(&path).unwrap();
        let entries = reader.query(&EntryFilter::default()).unwrap();
        let skipped = reader.skipped_lines();
        prop_assert_eq!(entries.len() + skipped.len(), ENTRIES as usize);
        for line in &skipped {
            prop_assert!(touched.contains(&line.line_number), "{:?}", line);
        }
        let ids: BTreeSet<_> = entries.iter().map(|e| e.entry_id.clone()).collect();
        for n in 0..ENTRIES {
            if !touched.contains(&(u64::from(n) + 1)) {
                prop_assert!(ids.contains(&sample_entry(n).entry_id), "row {} lost", n + 1);
            }
        }
        // Every filter runs over the damaged rows without failing.
        for filter in [
            EntryFilter::default().with_session("conv-1").errors_only(),
            EntryFilter::default().with_tool("search_flights").newest_first().with_limit(3),
        ] {
            reader.query(&filter).unwrap();
        }
    }

    #[test]
    fn sqlite_reader_survives_flipped_bytes(
        flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..16),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flipped.db");
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&(0..ENTRIES).map(sample_entry).collect::<Vec<_>>()).unwrap();
        storage.close().unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        for (at, mask) in flips {
            let at = at.index(bytes.len());
            bytes[at] ^= mask;
        }
        std::fs::write(&path, &bytes).unwrap();
        // Errors are fine (a damaged page is SQLite's to report); panics are not.
        if let Ok(reader) = ProtocolReader::open(&path) {
            let _ = reader.query(&EntryFilter::default());
            let _ = reader.query(&EntryFilter::default().with_session("conv-2").newest_first());
            let _ = reader.meta();
            let _ = reader.skipped_lines();
        }
        // A writer that opens the damaged file must not panic either.
        let _ = SqliteStorage::open(&path).map(|mut s| s.close());
    }
}
