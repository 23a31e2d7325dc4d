//! Every filter of the PostgreSQL reader binds its value as a parameter: the
//! SQL injection strings of the SQLite and JSON Lines test, through each
//! filter alone and all at once, find exactly the entries holding that text,
//! never fail, and leave every table of the database as it was. The reader's
//! session is read-only besides.

use std::collections::BTreeSet;

use reagentic_protocol::{EntryFilter, PostgresStorage, ProtocolReader, Storage};

use crate::sql_injection_strings_leave_the_file_unchanged::{entries, filters, INJECTIONS};
use crate::support::postgres::{connect, database};

/// The tables of the database and a digest of every row of each protocol table.
fn snapshot(url: &str) -> Vec<String> {
    let mut client = connect(url);
    let mut out: Vec<String> = client
        .query(
            "SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' ORDER BY relname",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for table in ["protocol_entries", "protocol_meta"] {
        let digest: Option<String> = client
            .query_one(
                &format!("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t"),
                &[],
            )
            .unwrap()
            .get(0);
        out.push(format!("{table}: {digest:?}"));
    }
    out
}

#[test]
fn postgres_filters_bind_injection_strings() {
    let url = database("injection");
    let all = entries();
    let mut storage = PostgresStorage::connect(&url).unwrap();
    storage.write_batch(&all).unwrap();
    storage.close().unwrap();
    let before = snapshot(&url);

    let reader = ProtocolReader::open(&url).unwrap();
    for text in INJECTIONS {
        for filter in filters(text) {
            let found: BTreeSet<String> = reader
                .query(&filter)
                .expect("an injection string is just text")
                .into_iter()
                .map(|e| e.entry_id)
                .collect();
            let expected: BTreeSet<String> = all
                .iter()
                .filter(|e| filter.matches(e))
                .map(|e| e.entry_id.clone())
                .collect();
            assert_eq!(found, expected, "{text:?} via {filter:?}");
        }
        let found = reader
            .query(&EntryFilter::default().with_session(*text))
            .unwrap();
        assert_eq!(found.len(), 1, "{text:?}");
    }
    assert_eq!(
        reader.meta().unwrap().schema_version,
        reagentic_protocol::SCHEMA_VERSION
    );
    drop(reader);
    assert_eq!(snapshot(&url), before, "the database changed");
}
