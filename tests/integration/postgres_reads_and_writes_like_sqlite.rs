//! PostgreSQL against a real server: a run recorded through the pipeline
//! reads back whole; the same entries written to SQLite and to PostgreSQL
//! answer every read alike (queries with every filter, sessions, stats,
//! check, following in write order); the table's column types are the ones
//! `FORMAT.md` documents; writing again stores nothing twice; entries land
//! in day partitions, far-out ones in the default partition; U+0000 is
//! stored as U+FFFD.

use std::path::Path;

use chrono::{SubsecRound, TimeDelta, TimeZone, Utc};
use reagentic_protocol::read::{ReadPosition, SessionFilter, StatsBy, StatsFilter};
use reagentic_protocol::{
    Content, EntryFilter, EventType, PostgresStorage, ProtocolEntry, ProtocolReader, SqliteStorage,
    Storage,
};

use crate::support::postgres::{connect, database};
use crate::support::{dispatch_for, instrumented_run, pipeline_at, read_all, sample_entry};

/// A varied set: sessions, traces, event types, errors, equal timestamps.
fn dataset() -> Vec<ProtocolEntry> {
    let base = Utc::now() - TimeDelta::days(2);
    (0..60u32)
        .map(|n| {
            let mut e = sample_entry(n);
            e.event_type = EventType::ALL[n as usize % EventType::ALL.len()];
            e.trace_id = format!("{:032x}", n % 4);
            e.entry_id = ProtocolEntry::make_id(&e.trace_id, &e.span_id, "end");
            e.session_id = (n % 5 != 0).then(|| format!("conv-{}", n % 3));
            e.agent_name = Some(["planner", "booker"][n as usize % 2].into());
            e.tool_name = (n % 2 == 1).then(|| format!("tool-{}", n % 3));
            e.model = (n % 3 == 0).then(|| "gpt-4o".into());
            if n % 4 != 0 {
                e.error = None;
                e.status = reagentic_protocol::EntryStatus::Ok;
            }
            // Pairs share a timestamp (ties break by entry_id), over three days.
            e.timestamp = base + TimeDelta::minutes(i64::from(n / 2) * 97);
            e
        })
        .collect()
}

fn filters(data: &[ProtocolEntry]) -> Vec<EntryFilter> {
    let since = data[10].timestamp;
    let until = data[40].timestamp;
    vec![
        EntryFilter::default(),
        EntryFilter::default().newest_first().with_limit(7),
        EntryFilter::default().with_session("conv-1"),
        EntryFilter::default().with_trace(data[3].trace_id.clone()),
        EntryFilter::default().with_event_types([EventType::ToolEnd, EventType::AgentStart]),
        EntryFilter::default().with_agent("booker"),
        EntryFilter::default().with_tool("tool-2"),
        EntryFilter::default().with_model("gpt-4o"),
        EntryFilter::default().with_since(since),
        EntryFilter::default().with_until(until),
        EntryFilter::default()
            .with_since(since + TimeDelta::nanoseconds(1))
            .with_until(until),
        EntryFilter::default().errors_only(),
        EntryFilter::default()
            .with_session("conv-2")
            .errors_only()
            .newest_first(),
    ]
}

fn write(storage: &mut dyn Storage, data: &[ProtocolEntry]) {
    // Two batches, out of time order, so write order is not time order.
    let (a, b) = data.split_at(data.len() / 2);
    storage.write_batch(b).unwrap();
    storage.write_batch(a).unwrap();
}

#[test]
fn every_read_answers_as_sqlite_does() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("same.db");
    let url = database("every_read");
    let data = dataset();
    let mut sqlite = SqliteStorage::open(&db).unwrap();
    let mut pg = PostgresStorage::connect(&url).unwrap();
    write(&mut sqlite, &data);
    write(&mut pg, &data);
    sqlite.close().unwrap();
    pg.close().unwrap();

    let lite = ProtocolReader::open(&db).unwrap();
    let reader = ProtocolReader::open(&url).unwrap();
    assert_eq!(
        reader.format(),
        reagentic_protocol::read::ProtocolFormat::Postgres
    );
    for filter in filters(&data) {
        let expected = lite.query(&filter).unwrap();
        assert_eq!(reader.query(&filter).unwrap(), expected, "{filter:?}");
    }
    for filter in [
        SessionFilter::default(),
        SessionFilter::default().with_limit(2),
        SessionFilter::default().with_since(data[30].timestamp),
        // The walk's last entry and the window's end bound what each
        // session's look-up reads (`read::conditions::Walked`).
        SessionFilter::default()
            .with_since(data[10].timestamp)
            .with_until(data[40].timestamp)
            .with_limit(3),
    ] {
        assert_eq!(
            reader.sessions(&filter).unwrap(),
            lite.sessions(&filter).unwrap()
        );
    }
    for by in [StatsBy::Agent, StatsBy::Tool, StatsBy::Model] {
        let filter = StatsFilter::new(by).with_since(data[5].timestamp);
        assert_eq!(reader.stats(&filter).unwrap(), lite.stats(&filter).unwrap());
    }
    let (pg_check, lite_check) = (reader.check().unwrap(), lite.check().unwrap());
    assert_eq!(pg_check, lite_check);
    assert_eq!(reader.meta().unwrap(), lite.meta().unwrap());

    // Following in write order: every entry once, batch by batch, in the
    // order the batches were written.
    let mut position = ReadPosition::start();
    let mut followed = Vec::new();
    loop {
        let batch = reader.read_from(&mut position, 7).unwrap();
        if batch.is_empty() {
            break;
        }
        followed.extend(batch);
    }
    let (a, b) = data.split_at(data.len() / 2);
    let ids = |entries: &[ProtocolEntry]| {
        let mut ids: Vec<String> = entries.iter().map(|e| e.entry_id.clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(followed.len(), data.len());
    assert_eq!(ids(&followed[..b.len()]), ids(b), "the first batch first");
    assert_eq!(ids(&followed[b.len()..]), ids(a));
    assert_eq!(reader.end_position().unwrap().offset(), position.offset());

    // Entries written after the end position are what a follower reads next.
    let mut end = reader.end_position().unwrap();
    let mut pg = PostgresStorage::connect(&url).unwrap();
    let late = sample_entry(500);
    pg.write_batch(std::slice::from_ref(&late)).unwrap();
    assert_eq!(reader.read_from(&mut end, 10).unwrap(), vec![late]);
    assert!(reader.read_from(&mut end, 10).unwrap().is_empty());
}

#[test]
fn a_recorded_run_reads_back_whole() {
    let url = database("recorded_run");
    let (provider, handle) = pipeline_at(Path::new(&url), |b| b);
    let dispatch = dispatch_for(&provider);
    tracing::dispatcher::with_default(&dispatch, || instrumented_run("conv-pg"));
    provider.force_flush().expect("flush");
    let entries = read_all(Path::new(&url));
    assert_eq!(entries.len(), 15, "{entries:#?}");
    assert!(entries
        .iter()
        .all(|e| e.session_id.as_deref() == Some("conv-pg")));
    let failed: Vec<_> = entries.iter().filter(|e| e.is_error()).collect();
    assert_eq!(failed.len(), 1);
    provider.shutdown().unwrap();
    assert_eq!(handle.stats().entries_written, 15);
}

#[test]
fn writing_again_stores_each_entry_once() {
    let url = database("idempotent");
    let data = dataset();
    let mut first = PostgresStorage::connect(&url).unwrap();
    let mut second = PostgresStorage::connect(&url).unwrap();
    first.write_batch(&data).unwrap();
    second.write_batch(&data).unwrap();
    first.write_batch(&data[..10]).unwrap();
    assert_eq!(first.entries_inserted(), data.len() as u64);
    assert_eq!(second.entries_inserted(), 0);
    let mut client = connect(&url);
    let rows: i64 = client
        .query_one("SELECT count(*) FROM protocol_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows as usize, data.len());
}

#[test]
fn the_columns_have_the_types_format_md_documents() {
    let url = database("column_types");
    PostgresStorage::connect(&url).unwrap().close().unwrap();
    let document = include_str!("../../FORMAT.md");
    let fields = &document[document.find("### Fields").unwrap()..];
    let fields = &fields[..fields.find("\n### Event types").unwrap()];
    let header: Vec<&str> = fields
        .lines()
        .find(|l| l.starts_with("| field"))
        .unwrap()
        .split('|')
        .map(str::trim)
        .collect();
    let pg_column = header.iter().position(|h| *h == "PostgreSQL").unwrap();
    let mut client = connect(&url);
    let mut checked = 0;
    for line in fields.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let name = cells[1].trim_matches('`');
        let documented = cells[pg_column].trim_matches('`');
        let row = client
            .query_one(
                "SELECT format_type(atttypid, atttypmod), attnotnull FROM pg_attribute \
                 WHERE attrelid = 'protocol_entries'::regclass AND attname = $1",
                &[&name],
            )
            .unwrap_or_else(|e| panic!("column {name}: {e}"));
        let (actual, not_null): (String, bool) = (row.get(0), row.get(1));
        let actual = actual.replace("timestamp with time zone", "timestamptz");
        assert_eq!(actual, documented, "column {name}");
        let required = header.iter().position(|h| *h == "required").unwrap();
        assert_eq!(not_null, cells[required] == "yes", "column {name} NOT NULL");
        checked += 1;
    }
    assert_eq!(checked, ProtocolEntry::field_names().len());
    let partitioned: String = client
        .query_one(
            "SELECT pg_get_partkeydef('protocol_entries'::regclass)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(partitioned, "RANGE (\"timestamp\")");
}

#[test]
fn entries_go_to_day_partitions_and_far_out_ones_to_the_default() {
    let url = database("partitions");
    let mut storage = PostgresStorage::connect(&url).unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let mut today = sample_entry(1);
    today.timestamp = now;
    let mut old = sample_entry(2);
    old.timestamp = Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 1).unwrap();
    let mut future = sample_entry(3);
    future.timestamp = Utc.with_ymd_and_hms(2200, 1, 1, 0, 0, 0).unwrap();
    storage
        .write_batch(&[today.clone(), old.clone(), future.clone()])
        .unwrap();
    let mut client = connect(&url);
    let where_is = |client: &mut postgres::Client, entry: &ProtocolEntry| -> String {
        client
            .query_one(
                "SELECT tableoid::regclass::text FROM protocol_entries WHERE entry_id = $1",
                &[&entry.entry_id],
            )
            .unwrap()
            .get(0)
    };
    let day = now.date_naive();
    assert_eq!(
        where_is(&mut client, &today),
        format!("protocol_entries_p{}", day.format("%Y%m%d"))
    );
    assert_eq!(where_is(&mut client, &old), "protocol_entries_default");
    assert_eq!(where_is(&mut client, &future), "protocol_entries_default");
    // Tomorrow's partition is made ahead of time.
    let tomorrow = format!(
        "protocol_entries_p{}",
        day.succ_opt().unwrap().format("%Y%m%d")
    );
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&tomorrow])
        .unwrap()
        .get(0);
    assert!(exists, "{tomorrow}");
    let read = ProtocolReader::open(&url)
        .unwrap()
        .query(&EntryFilter::default())
        .unwrap();
    assert_eq!(read, vec![old, today, future]);
}

#[test]
fn nul_characters_are_stored_as_replacement_characters() {
    let url = database("nul");
    let mut entry = sample_entry(1);
    entry.name = "nul\0name".into();
    entry.session_id = Some("conv\0x".into());
    entry.output = Some(serde_json::json!({"k\u{0}": "v\u{0}al", "literal": "\\u0000"}).into());
    let mut storage = PostgresStorage::connect(&url).unwrap();
    storage.write_batch(std::slice::from_ref(&entry)).unwrap();
    let reader = ProtocolReader::open(&url).unwrap();
    let read = reader
        .query(&EntryFilter::default().with_session("conv\0x"))
        .unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].name, "nul\u{FFFD}name");
    assert_eq!(
        read[0].output.as_ref().map(Content::to_value),
        Some(serde_json::json!({"k\u{FFFD}": "v\u{FFFD}al", "literal": "\\u0000"}))
    );
}

#[test]
fn content_jsonb_would_refuse_is_stored_the_documented_way() {
    // Valid JSON that jsonb refuses, as content may be captured: a lone
    // surrogate escape, a number beyond numeric's range. One such entry
    // must not make the server refuse its batch.
    let url = database("content_fit");
    let mut entry = sample_entry(1);
    entry.input = Some(
        Content::from_json(
            r#"{"lone":"a\ud800b","low":"\udc00","pair":"\ud83d\ude00","huge":1e999999,"long":-12.5e-3,"nul":"\u0000"}"#,
        )
        .unwrap(),
    );
    let other = sample_entry(2);
    let mut storage = PostgresStorage::connect(&url).unwrap();
    storage.write_batch(&[entry, other.clone()]).unwrap();
    let read = ProtocolReader::open(&url)
        .unwrap()
        .query(&EntryFilter::default())
        .unwrap();
    assert_eq!(read.len(), 2);
    assert_eq!(
        read[0].input.as_ref().map(Content::to_value),
        Some(serde_json::json!({
            "lone": "a\u{FFFD}b",
            "low": "\u{FFFD}",
            "pair": "\u{1F600}",
            "huge": "1e999999",
            "long": -0.0125,
            "nul": "\u{FFFD}",
        }))
    );
    assert_eq!(read[1], other);
}

#[test]
fn a_later_copy_fills_empty_fields_and_changes_nothing_else() {
    let url = database("fill_rule");
    let mut storage = PostgresStorage::connect(&url).unwrap();
    // A model call first written without its agent and session (its agent
    // span had not arrived), with a model the later copy disagrees on.
    let full = sample_entry(7);
    let mut sparse = full.clone();
    sparse.agent_name = None;
    sparse.session_id = None;
    sparse.output = None;
    storage.write_batch(&[sparse.clone()]).unwrap();
    assert_eq!(storage.entries_inserted(), 1);

    let mut later = full.clone();
    later.model = Some("another-model".into());
    // Two copies of one entry in one batch, and a new entry beside them.
    storage
        .write_batch(&[later.clone(), sparse.clone(), sample_entry(8)])
        .unwrap();
    assert_eq!(storage.entries_inserted(), 2, "a filled row is not added");
    storage
        .write_batch(&[sparse.clone(), later.clone()])
        .unwrap();
    storage.close().unwrap();

    let read = read_all(Path::new(&url));
    assert_eq!(read.len(), 2);
    let stored = read.iter().find(|e| e.entry_id == full.entry_id).unwrap();
    // Filled: the fields the first copy left empty.
    assert_eq!(stored.agent_name, full.agent_name);
    assert_eq!(stored.session_id, full.session_id);
    assert_eq!(stored.output, full.output);
    // Kept: a value the stored row had.
    assert_eq!(stored.model, full.model);
    // The session lookup finds it now.
    let session = full.session_id.clone().unwrap();
    let found = ProtocolReader::open(&url)
        .unwrap()
        .query(&EntryFilter::default().with_session(session.as_str()))
        .unwrap();
    assert!(found.iter().any(|e| e.entry_id == full.entry_id));
}
