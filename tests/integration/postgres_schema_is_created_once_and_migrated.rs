//! The PostgreSQL schema: a database written at schema 1 (the first 23
//! fields) is read as it is, then migrated by the next writer in one
//! transaction; a database of a newer version is refused; a table of that
//! name that is not a protocol is refused; writers starting together on a
//! new database create the schema once.

use std::sync::{Arc, Barrier};

use reagentic_protocol::{
    EntryFilter, PostgresStorage, ProtocolError, ProtocolReader, Storage, SCHEMA_VERSION,
};

use crate::support::postgres::{connect, database};
use crate::support::sample_entry;

/// The layout a schema-1 build created: the same table, partitions and
/// written-order columns, without the fields schema 2 added.
const SCHEMA_1: &str = r#"
CREATE TABLE protocol_meta (key text COLLATE "C" PRIMARY KEY, value text);
INSERT INTO protocol_meta VALUES ('schema_version', '1');
CREATE SEQUENCE protocol_entries_written_seq AS bigint CACHE 1000;
CREATE TABLE protocol_entries (
    schema bigint NOT NULL, entry_id text COLLATE "C" NOT NULL, timestamp timestamptz NOT NULL,
    event_type text COLLATE "C" NOT NULL, trace_id text COLLATE "C" NOT NULL,
    span_id text COLLATE "C" NOT NULL, parent_span_id text COLLATE "C",
    session_id text COLLATE "C", service_name text COLLATE "C", agent_name text COLLATE "C",
    name text COLLATE "C" NOT NULL, model text COLLATE "C", provider text COLLATE "C",
    tool_name text COLLATE "C", tool_call_id text COLLATE "C", input jsonb, output jsonb,
    input_tokens bigint, output_tokens bigint, duration_ms double precision,
    status text COLLATE "C" NOT NULL, error jsonb, attributes jsonb,
    written_xact bigint NOT NULL DEFAULT (pg_current_xact_id()::text)::bigint,
    written_seq bigint NOT NULL DEFAULT nextval('protocol_entries_written_seq'),
    PRIMARY KEY (timestamp, entry_id)
) PARTITION BY RANGE (timestamp);
CREATE TABLE protocol_entries_default PARTITION OF protocol_entries DEFAULT;
INSERT INTO protocol_entries (schema, entry_id, timestamp, event_type, trace_id, span_id,
    session_id, agent_name, name, tool_name, tool_call_id, input, output, duration_ms, status)
VALUES (1, 't:s:end', '2026-11-27T03:00:00Z', 'tool_end', 't', 's', 'conv-1', 'planner',
    'search', 'search', 'c1', '{"q":1}', '"ok"', 12.5, 'ok');
"#;

fn meta(url: &str, key: &str) -> Option<String> {
    connect(url)
        .query_opt("SELECT value FROM protocol_meta WHERE key = $1", &[&key])
        .unwrap()
        .map(|row| row.get(0))
}

#[test]
fn a_schema_1_database_is_read_as_is_then_migrated_by_the_next_writer() {
    let url = database("schema_1");
    connect(&url).batch_execute(SCHEMA_1).unwrap();

    let reader = ProtocolReader::open(&url).unwrap();
    let old = reader.query(&EntryFilter::default()).unwrap();
    assert_eq!((old.len(), old[0].schema), (1, 1));
    assert_eq!(old[0].input, Some(serde_json::json!({"q": 1}).into()));
    assert_eq!((old[0].operation.clone(), old[0].cost_usd), (None, None));
    assert_eq!(meta(&url, "schema_version").as_deref(), Some("1"));

    let mut storage = PostgresStorage::connect(&url).unwrap();
    assert_eq!(
        meta(&url, "schema_version").as_deref(),
        Some(SCHEMA_VERSION.to_string().as_str())
    );
    storage.write_batch(&[sample_entry(1)]).unwrap();
    storage.close().unwrap();
    // The reader opened before the migration reads the new fields too.
    let read = reader.query(&EntryFilter::default()).unwrap();
    assert_eq!(read.len(), 2);
    assert!(read.contains(&sample_entry(1)));
    // Opening again changes nothing.
    PostgresStorage::connect(&url).unwrap().close().unwrap();
    assert_eq!(
        meta(&url, "schema_version").as_deref(),
        Some(SCHEMA_VERSION.to_string().as_str())
    );
}

#[test]
fn a_newer_schema_or_a_foreign_table_is_refused() {
    let url = database("newer");
    PostgresStorage::connect(&url).unwrap().close().unwrap();
    connect(&url)
        .execute(
            "UPDATE protocol_meta SET value = $1 WHERE key = 'schema_version'",
            &[&(SCHEMA_VERSION + 1).to_string()],
        )
        .unwrap();
    for err in [
        PostgresStorage::connect(&url).unwrap_err(),
        ProtocolReader::open(&url).unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                ProtocolError::UnsupportedSchema { found, supported, .. }
                    if found == i64::from(SCHEMA_VERSION) + 1
                        && supported == i64::from(SCHEMA_VERSION)
            ),
            "{err:?}"
        );
    }

    let url = database("foreign");
    connect(&url)
        .batch_execute("CREATE TABLE protocol_entries (id int, body text)")
        .unwrap();
    let err = PostgresStorage::connect(&url).unwrap_err();
    assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
    assert!(err.to_string().contains("lacks column"), "{err}");
    let err = ProtocolReader::open(database("empty")).unwrap_err();
    assert!(matches!(err, ProtocolError::Corrupt { .. }), "{err:?}");
}

#[test]
fn writers_starting_together_create_the_schema_once() {
    let url = database("together");
    let barrier = Arc::new(Barrier::new(8));
    let writers: Vec<_> = (0..8u32)
        .map(|n| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut storage = PostgresStorage::connect(&url)?;
                storage.write_batch(&[sample_entry(n)])?;
                storage.close()
            })
        })
        .collect();
    for writer in writers {
        writer
            .join()
            .unwrap()
            .expect("every writer opens and writes");
    }
    let rows: i64 = connect(&url)
        .query_one("SELECT count(*) FROM protocol_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 8);
    assert_eq!(
        meta(&url, "schema_version").as_deref(),
        Some(SCHEMA_VERSION.to_string().as_str())
    );
}
