//! The fill rule in SQLite: writing an entry whose identity (`timestamp`,
//! `entry_id`) is already stored fills that stored entry's empty fields from
//! the new copy and changes nothing else (`FORMAT.md`).
//!
//! The batch's INSERT (`ON CONFLICT DO NOTHING`) stays the fast path; only an
//! entry it did not insert comes here: one look-up through the identity index
//! tells which of the stored row's optional columns are empty, and when the
//! new copy has a value for any of them, an upsert-style
//! `UPDATE … SET c = coalesce(c, ?)` over every optional column (derived
//! from the column table) fills exactly those. A session that becomes set is
//! reported so the caller adds the row to the session index runs.

use std::sync::LazyLock;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OptionalExtension};

use crate::codec::columns::{Cell, Column, COLUMNS};
use crate::entry::{format_timestamp, ProtocolEntry};

/// The optional columns: the ones the rule may fill.
fn optional() -> impl Iterator<Item = &'static Column> {
    COLUMNS.iter().filter(|c| !c.required)
}

/// The stored row of an identity, and which optional columns it has empty.
static SELECT_EMPTY: LazyLock<String> = LazyLock::new(|| {
    let empties: Vec<String> = optional().map(|c| format!("{} IS NULL", c.name)).collect();
    format!(
        "SELECT rowid, {} FROM protocol_entries WHERE timestamp = ?1 AND entry_id = ?2",
        empties.join(", ")
    )
});

/// Fills a row's empty optional columns, `?1` being the rowid and `?2…` the
/// optional columns' new values in table order.
static UPDATE_FILL: LazyLock<String> = LazyLock::new(|| {
    let sets: Vec<String> = optional()
        .enumerate()
        .map(|(i, c)| format!("{0} = coalesce({0}, ?{1})", c.name, i + 2))
        .collect();
    format!(
        "UPDATE protocol_entries SET {} WHERE rowid = ?1",
        sets.join(", ")
    )
});

/// What filling a stored entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Filled {
    /// The stored row.
    pub(crate) rowid: i64,
    /// Whether its session went from empty to set (it then belongs in the
    /// session index runs).
    pub(crate) session: bool,
}

/// Applies the fill rule for an entry the INSERT found already stored.
/// `None` when nothing was filled (the stored row had every value the copy
/// has, or no row has this exact identity).
pub(crate) fn fill_stored(
    tx: &Connection,
    entry: &ProtocolEntry,
) -> rusqlite::Result<Option<Filled>> {
    let timestamp = format_timestamp(&entry.timestamp);
    let found = tx
        .prepare_cached(&SELECT_EMPTY)?
        .query_row(rusqlite::params![timestamp, entry.entry_id], |row| {
            let rowid: i64 = row.get(0)?;
            let mut empty = Vec::with_capacity(COLUMNS.len());
            for i in 0..optional().count() {
                empty.push(row.get::<_, bool>(i + 1)?);
            }
            Ok((rowid, empty))
        })
        .optional()?;
    let Some((rowid, empty)) = found else {
        return Ok(None);
    };
    let mut fills_any = false;
    let mut session = false;
    for (column, was_empty) in optional().zip(&empty) {
        if *was_empty && !matches!((column.get)(entry), Cell::Null) {
            fills_any = true;
            session |= column.name == "session_id";
        }
    }
    if !fills_any {
        return Ok(None);
    }
    let mut update = tx.prepare_cached(&UPDATE_FILL)?;
    update.raw_bind_parameter(1, rowid)?;
    for (i, column) in optional().enumerate() {
        update.raw_bind_parameter(i + 2, sql_value(column, entry))?;
    }
    update.raw_execute()?;
    Ok(Some(Filled { rowid, session }))
}

/// A column's value of `entry` as SQLite stores it (the same text the
/// INSERT's encoder writes).
fn sql_value(column: &Column, entry: &ProtocolEntry) -> ToSqlOutput<'static> {
    ToSqlOutput::Owned(match (column.get)(entry) {
        Cell::Null => Value::Null,
        Cell::Text(text) => Value::Text(text.to_owned()),
        Cell::Integer(n) => Value::Integer(n),
        Cell::Real(f) => Value::Real(f),
        Cell::Timestamp(ts) => Value::Text(format_timestamp(ts)),
        Cell::Json(value) => {
            let mut buffer = Vec::new();
            match value.write_json(&mut buffer) {
                // serde_json writes UTF-8.
                Ok(()) => Value::Text(String::from_utf8(buffer).unwrap_or_default()),
                // A value that does not serialize fills nothing.
                Err(_) => Value::Null,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use crate::entry::EventType;
    use crate::read::{EntryFilter, ProtocolReader};
    use crate::storage::{SqliteStorage, Storage};
    use crate::test_entries::full_entry;

    fn raw_count(path: &std::path::Path, sql: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_later_copy_fills_empty_fields_and_changes_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut first = full_entry(1);
        first.session_id = None;
        first.agent_name = None;
        let original_name = first.name.clone();
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[first.clone()]).unwrap();

        // A sparse copy: same identity, a session and an agent, a different
        // name and model (which must not change anything).
        let mut copy = crate::entry::ProtocolEntry::new(
            EventType::ToolEnd,
            first.trace_id.clone(),
            first.span_id.clone(),
            "another name",
            first.timestamp,
        );
        copy.entry_id.clone_from(&first.entry_id);
        copy.session_id = Some("late-session".into());
        copy.agent_name = Some("late-agent".into());
        copy.model = Some("other-model".into());
        storage.write_batch(&[copy.clone()]).unwrap();
        // Again, and a copy with another session: nothing changes.
        copy.session_id = Some("third".into());
        storage.write_batch(&[copy]).unwrap();

        let reader = ProtocolReader::open(&path).unwrap();
        let all = reader.query(&EntryFilter::default()).unwrap();
        assert_eq!(all.len(), 1);
        let mut expected = first.clone();
        expected.session_id = Some("late-session".into());
        expected.agent_name = Some("late-agent".into());
        assert_eq!(all[0], expected);
        assert_eq!(all[0].name, original_name);
        // Found by the session it got later, through the index runs, once.
        let by_session = reader
            .query(&EntryFilter::default().with_session("late-session"))
            .unwrap();
        assert_eq!(by_session, vec![expected]);
        assert_eq!(
            raw_count(
                &path,
                "SELECT count(*) FROM protocol_index_runs WHERE key = 'late-session'"
            ),
            1
        );
    }

    #[test]
    fn a_copy_filling_in_the_same_batch_as_its_entry_is_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        let mut first = full_entry(2);
        first.session_id = None;
        let mut copy = first.clone();
        copy.session_id = Some("s".into());
        copy.input = None;
        let mut storage = SqliteStorage::open(&path).unwrap();
        storage.write_batch(&[first.clone(), copy]).unwrap();
        // Index runs merge without a conflict (each pair is in one run).
        while storage.maintain().unwrap() {}
        let found = ProtocolReader::open(&path)
            .unwrap()
            .query(&EntryFilter::default().with_session("s"))
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].input, first.input);
    }
}
