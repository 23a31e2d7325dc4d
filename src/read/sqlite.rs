//! Reading a SQLite protocol: every scan is one SELECT, built from the scan's
//! conditions and answered from the file's indexes.

use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use super::conditions::{Placeholders, SqlConditions, SqlValue};
use super::follow::ReadPosition;
use super::reader::{ProtocolFormat, ProtocolMeta};
use super::scan::{Order, Record, Scan, Skips, Source};
use crate::codec::columns::COLUMNS;
use crate::codec::sqlite::{
    column_names, decode_row, keep_plans, read_meta_number, select_list, sqlite_error,
    sqlite_open_error, verify_protocol_schema, KeyLookup, RunField, ENTRIES,
};
use crate::entry::{format_timestamp, SCHEMA_VERSION};
use crate::error::Result;

/// A SQLite protocol opened read-only.
#[derive(Debug)]
pub(crate) struct SqliteSource {
    path: PathBuf,
    conn: Connection,
    /// The entry columns the file has. A schema-1 file lacks the newer ones
    /// (they read as NULL) until a writer migrates it, which may happen while
    /// this reader is open: then they are looked up again.
    present: RefCell<Vec<String>>,
    /// How the file finds traces and sessions; looked up again until it is
    /// this build's way, as a writer may migrate the file while this reader
    /// is open.
    key_lookup: Cell<KeyLookup>,
}

impl SqliteSource {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        // Read-only, no URI parsing, no create. WAL mode lets this connection
        // read the last committed state while another process writes.
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_open_error(path, e))?;
        keep_plans(&conn, path)?;
        let present = verify_protocol_schema(&conn, path)?;
        let key_lookup = KeyLookup::of_file(&conn, path)?;
        Ok(SqliteSource {
            path: path.to_path_buf(),
            conn,
            present: RefCell::new(present),
            key_lookup: Cell::new(key_lookup),
        })
    }

    /// The select list of a scan, after looking again for columns a writer
    /// may have added since the last scan.
    fn select_list(&self, scan: &Scan<'_>) -> Result<String> {
        let mut present = self.present.borrow_mut();
        if present.len() < COLUMNS.len() {
            *present = column_names(&self.conn, &self.path, ENTRIES)?;
        }
        Ok(select_list(&present, scan.selection))
    }

    /// The statement and parameters of `scan`.
    pub(super) fn statement(&self, scan: &Scan<'_>) -> Result<(String, Vec<Value>)> {
        let mut sql = format!("SELECT rowid, {} FROM {ENTRIES}", self.select_list(scan)?);
        let mut conditions = SqlConditions::new(Placeholders::Question);
        scan.conditions.push_sql(&mut conditions);
        let keyed_by_runs = scan.conditions.trace.is_some() || scan.conditions.session.is_some();
        if scan.order == Order::Written && scan.conditions.window.is_bounded() && !keyed_by_runs {
            // In the order written, SQLite would scan the whole table for a
            // window rather than walk the identity index and sort what it
            // finds (it guesses a one-sided range holds a quarter of the
            // rows): a subquery of the window's rowids lets it walk the
            // index, and hands the rows over in rowid order, sorting only
            // rowids: `for_each` of the last hour of 1 000 000 entries, as
            // `export --since 1h` reads it, 216 → 5.0 ms (bench `read_1m`).
            // A window of everything costs about twice the scan (0.34 →
            // 0.64 s for 1 000 000 rows in the sqlite3 shell, 8 MB).
            conditions.nest_as_rowids(ENTRIES);
        }
        // A trace or session is found through its runs; its own condition
        // above stays, as what the rows found that way must meet.
        let keyed = [
            (RunField::Trace, &scan.conditions.trace),
            (RunField::Session, &scan.conditions.session),
        ];
        for (field, key) in keyed {
            let Some(key) = key else { continue };
            if self.key_lookup.get() != KeyLookup::RunRanges {
                self.key_lookup
                    .set(KeyLookup::of_file(&self.conn, &self.path)?);
            }
            if let Some(rowids) = self.key_lookup.get().rowids_sql() {
                // The query's two `?` take the key, then the field, in
                // SQLite's in-order binding.
                conditions.bind(SqlValue::Text(key.clone()));
                conditions.bind(SqlValue::Text(field.name().to_owned()));
                conditions.push(format!("rowid IN ({rowids})"));
            }
        }
        if let Some(position) = &scan.resume {
            let mark = conditions.bind(SqlValue::Integer(
                i64::try_from(position.offset()).unwrap_or(i64::MAX),
            ));
            conditions.push(format!("rowid > {mark}"));
        }
        sql.push_str(&conditions.statement_tail(scan.order, scan.limit, "rowid"));
        let params = conditions
            .params
            .into_iter()
            .map(|value| match value {
                SqlValue::Text(text) => Value::Text(text),
                SqlValue::Integer(n) => Value::Integer(n),
                // The stored text form, which sorts chronologically.
                SqlValue::Time(at) => Value::Text(format_timestamp(&at)),
            })
            .collect();
        Ok((sql, params))
    }
}

impl Source for SqliteSource {
    fn format(&self) -> ProtocolFormat {
        ProtocolFormat::Sqlite
    }

    fn scan(
        &self,
        mut scan: Scan<'_>,
        visit: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Skips> {
        let on = |e| sqlite_error(&self.path, e);
        let (sql, params) = self.statement(&scan)?;
        let mut stmt = self.conn.prepare_cached(&sql).map_err(on)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(on)?;
        let mut skips = Skips::default();
        while let Some(row) = rows.next().map_err(on)? {
            let rowid = u64::try_from(row.get::<_, i64>(0).map_err(on)?).unwrap_or(0);
            // Past an undecodable row too, so following never reads it again.
            if let Some(position) = scan.resume.as_deref_mut() {
                position.advance_to_row(rowid);
            }
            match decode_row(row, 1) {
                Ok(entry) => {
                    let record = Record {
                        position: rowid,
                        entry,
                    };
                    if visit(record).is_break() {
                        break;
                    }
                }
                Err(reason) => skips.push(rowid, reason),
            }
        }
        Ok(skips)
    }

    fn meta(&self) -> Result<ProtocolMeta> {
        Ok(ProtocolMeta {
            schema_version: read_meta_number(&self.conn, &self.path, "schema_version")?
                .unwrap_or(SCHEMA_VERSION),
            dropped_entries: read_meta_number(&self.conn, &self.path, "dropped_entries")?
                .unwrap_or(0),
        })
    }

    fn end_position(&self) -> Result<ReadPosition> {
        let max: Option<i64> = self
            .conn
            .query_row(&format!("SELECT max(rowid) FROM {ENTRIES}"), [], |r| {
                r.get(0)
            })
            .map_err(|e| sqlite_error(&self.path, e))?;
        Ok(ReadPosition::after_row(
            max.and_then(|m| u64::try_from(m).ok()).unwrap_or(0),
        ))
    }

    fn reads_newest_first_cheaply(&self) -> bool {
        true
    }

    fn files(&self) -> Result<Vec<std::path::PathBuf>> {
        Ok(vec![self.path.clone()])
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        let on = |e| sqlite_error(&self.path, e);
        let mut stmt = self.conn.prepare("PRAGMA quick_check").map_err(on)?;
        let found = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .map_err(on)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(on)?;
        Ok(found.into_iter().filter(|line| line != "ok").collect())
    }
}

#[cfg(test)]
impl SqliteSource {
    /// The connection, for tests that look at query plans.
    pub(crate) fn connection(&self) -> &Connection {
        &self.conn
    }
}
