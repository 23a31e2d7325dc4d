//! `prune` on PostgreSQL against a real server takes exactly what it takes
//! on SQLite: the same entries written to both, each rule applied to both,
//! the same report and the same entries left — whole sessions and
//! session-less traces judged by their last entry, a long session kept
//! whole, a dry run changing nothing, and the password never in an error;
//! and retention in the writer, under a steady producer, as on SQLite.

use chrono::{TimeDelta, TimeZone, Utc};
use reagentic_protocol::storage::{PruneReport, PruneRule, RETENTION_UNDER_LOAD_AFTER_BATCHES};
use reagentic_protocol::{
    EntryFilter, EventType, PostgresStorage, ProtocolEntry, ProtocolReader, SqliteStorage, Storage,
};

use crate::support::logs_of;
use crate::support::postgres::{connect, database};

/// Six sessions over six days, a session that began on the first day and
/// is still going on the last, and session-less traces in between.
fn dataset() -> Vec<ProtocolEntry> {
    let start = Utc.with_ymd_and_hms(2026, 11, 20, 9, 0, 0).unwrap();
    let mut entries = Vec::new();
    let mut add = |n: u32, day: i64, trace: String, session: Option<String>| {
        let mut entry = ProtocolEntry::new(
            EventType::ToolEnd,
            trace,
            format!("{n:016x}"),
            "search_flights",
            start + TimeDelta::days(day) + TimeDelta::minutes(i64::from(n)),
        );
        entry.session_id = session;
        entries.push(entry);
    };
    for day in 0..6u32 {
        for step in 0..4 {
            let n = day * 10 + step;
            add(
                n,
                i64::from(day),
                format!("{:032x}", 100 + day),
                Some(format!("conv-{day}")),
            );
        }
        // A trace without a session the same day.
        add(
            day * 10 + 5,
            i64::from(day),
            format!("{:032x}", 200 + day),
            None,
        );
    }
    // The long session: first and last day.
    add(90, 0, format!("{:032x}", 300), Some("long".into()));
    add(91, 5, format!("{:032x}", 301), Some("long".into()));
    entries
}

fn ids(entries: Vec<ProtocolEntry>) -> Vec<String> {
    let mut ids: Vec<String> = entries.into_iter().map(|e| e.entry_id).collect();
    ids.sort();
    ids
}

fn remaining(path: &str) -> Vec<String> {
    ids(ProtocolReader::open(path)
        .unwrap()
        .query(&EntryFilter::default())
        .unwrap())
}

#[test]
fn every_rule_takes_on_postgresql_what_it_takes_on_sqlite() {
    let cutoff = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let rules = [
        PruneRule::Before(cutoff),
        PruneRule::KeepLast(3),
        PruneRule::Session("conv-4".into()),
        PruneRule::Session(format!("{:032x}", 202)),
        PruneRule::Session("no-such-session".into()),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, rule) in rules.iter().enumerate() {
        let url = database(&format!("prune_rule_{i}"));
        let file = dir.path().join(format!("rule-{i}.db"));
        let file = file.to_str().unwrap();
        let mut postgres = PostgresStorage::connect(&url).unwrap();
        let mut sqlite = SqliteStorage::open(file).unwrap();
        postgres.write_batch(&dataset()).unwrap();
        sqlite.write_batch(&dataset()).unwrap();
        let all = remaining(&url);
        assert_eq!(all, remaining(file));

        // A dry run says what would go and changes nothing.
        let would = postgres.prune(rule, true).unwrap();
        assert!(would.dry_run);
        assert_eq!(remaining(&url), all, "{rule:?}: a dry run deleted");

        let pg = postgres.prune(rule, false).unwrap();
        let lite = sqlite.prune(rule, false).unwrap();
        let counts = |r: PruneReport| (r.runs, r.entries);
        assert_eq!(counts(pg), counts(lite), "{rule:?}");
        assert_eq!(counts(would), counts(pg), "{rule:?}: the dry run's plan");
        assert_eq!(remaining(&url), remaining(file), "{rule:?}");
        postgres.close().unwrap();
        sqlite.close().unwrap();
    }
}

#[test]
fn a_session_still_going_on_is_kept_whole_and_runs_go_whole() {
    let url = database("prune_whole_runs");
    let mut storage = PostgresStorage::connect(&url).unwrap();
    storage.write_batch(&dataset()).unwrap();
    let cutoff = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
    let report = storage.prune(&PruneRule::Before(cutoff), false).unwrap();
    // conv-0..2 (4 entries each) and three session-less traces.
    assert_eq!((report.runs, report.entries), (6, 15));
    assert!(report.bytes > 0);
    let left = ProtocolReader::open(&url)
        .unwrap()
        .query(&EntryFilter::default())
        .unwrap();
    // The long session began on the first day and is whole.
    let long: Vec<_> = left
        .iter()
        .filter(|e| e.session_id.as_deref() == Some("long"))
        .collect();
    assert_eq!(long.len(), 2);
    for entry in &left {
        if let Some(session) = &entry.session_id {
            assert!(!["conv-0", "conv-1", "conv-2"].contains(&session.as_str()));
        } else {
            assert!(entry.timestamp >= cutoff, "{entry:?}");
        }
    }
    // Pruning again finds nothing more.
    let again = storage.prune(&PruneRule::Before(cutoff), false).unwrap();
    assert_eq!((again.runs, again.entries), (0, 0));
    storage.close().unwrap();
}

/// The writer prunes as it goes, on PostgreSQL as on SQLite: the same
/// dataset, the same steady producer, the same runs left.
#[test]
fn retention_in_the_writer_under_a_steady_producer_keeps_what_should_stay() {
    let url = database("writer_retention");
    let storage = PostgresStorage::builder(&url)
        .with_retention(std::time::Duration::from_secs(7 * 86_400))
        .connect()
        .unwrap();
    crate::prune_deletes_whole_runs::retention_under_a_steady_producer(
        Box::new(storage),
        std::path::Path::new(&url),
    );
}

/// A retention step that fails under a steady producer fails no batch, is
/// warned about once for the spell of failures, and is tried again: once
/// it can, it deletes what is past the age.
#[test]
fn failing_retention_under_load_fails_no_batch_and_warns_once() {
    let url = database("failing_retention");
    let mut storage = PostgresStorage::builder(&url)
        .with_retention(std::time::Duration::from_secs(7 * 86_400))
        .connect()
        .unwrap();
    // A run long past the age, for every step to try to delete.
    let old = Utc::now() - TimeDelta::days(30);
    let mut gone = ProtocolEntry::new(EventType::ToolEnd, format!("{:032x}", 1), "1", "t", old);
    gone.session_id = Some("old".into());
    storage.write_batch(&[gone]).unwrap();
    // Every delete fails, as a broken table or a locked-down role would.
    let mut admin = connect(&url);
    admin
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'injected retention failure'; END $$;
             CREATE TRIGGER refuse_deletes BEFORE DELETE ON protocol_entries
                 FOR EACH STATEMENT EXECUTE FUNCTION refuse();",
        )
        .unwrap();
    let recent = |n: u32| {
        let mut entry = ProtocolEntry::new(
            EventType::ToolEnd,
            format!("{:032x}", 1000 + n),
            format!("{n:016x}"),
            "t",
            Utc::now(),
        );
        entry.session_id = Some("now".into());
        entry
    };
    // Three steps' worth of batches: three failures.
    let batches = 3 * RETENTION_UNDER_LOAD_AFTER_BATCHES;
    let logs = logs_of(|| {
        for n in 0..batches {
            storage.write_batch(&[recent(n)]).unwrap();
        }
    });
    assert_eq!(
        logs.matches("a retention step failed").count(),
        1,
        "one warning for the spell: {logs}"
    );
    assert!(logs.contains("injected retention failure"), "{logs}");
    let reader = ProtocolReader::open(&url).unwrap();
    let stored = reader.query(&EntryFilter::default()).unwrap().len();
    assert_eq!(
        stored,
        1 + batches as usize,
        "every batch stored, nothing deleted"
    );

    admin
        .batch_execute("DROP TRIGGER refuse_deletes ON protocol_entries")
        .unwrap();
    for n in batches..batches + RETENTION_UNDER_LOAD_AFTER_BATCHES {
        storage.write_batch(&[recent(n)]).unwrap();
    }
    let left = reader.query(&EntryFilter::default()).unwrap();
    assert_eq!(
        left.len(),
        (batches + RETENTION_UNDER_LOAD_AFTER_BATCHES) as usize
    );
    assert!(left.iter().all(|e| e.session_id.as_deref() == Some("now")));
    storage.close().unwrap();
}
