//! Reading a PostgreSQL protocol: every scan is one SELECT, built from the
//! scan's conditions (every value a bound parameter) and answered from the
//! table's indexes, fetched in chunks so a scan that stops early reads no
//! further.
//!
//! Write order. Several processes write at once, so the order rows become
//! visible is the order their transactions commit, not the order they were
//! numbered. Each row records the transaction that wrote it
//! (`written_xact`, a 64-bit id that only grows) and its number
//! (`written_seq`); following the table (`read_from`, `tail -f`, `convert`)
//! reads rows by `(written_xact, written_seq)`, but only those of
//! transactions older than every transaction still running in this
//! database. Those are final: no row can appear before the position later.
//! A transaction that stays open in the same database delays following
//! (never loses a row) until it ends.

use std::cell::RefCell;
use std::ops::ControlFlow;

use postgres::types::ToSql;
use postgres::Client;

use super::conditions::{Placeholders, SqlConditions, SqlValue};
use super::follow::ReadPosition;
use super::reader::{ProtocolFormat, ProtocolMeta};
use super::scan::{Record, Scan, Skips, Source};
use crate::codec::columns::COLUMNS;
use crate::codec::postgres::{
    decode_row, read_meta_number, select_list, table_columns, verify_protocol_schema, Target,
    DEFAULT_STATEMENT_TIMEOUT, ENTRIES,
};
use crate::entry::SCHEMA_VERSION;
use crate::error::Result;

/// Rows fetched per round trip.
const FETCH_ROWS: i32 = 2_000;

/// The writing transaction below which every transaction that may write
/// to this database has finished: rows written by older transactions are
/// all visible now, or never will be.
///
/// It is the oldest transaction the statement's snapshot sees running,
/// leaving out those known to run in another database of the server (a
/// session never changes database): a long transaction elsewhere on a
/// shared server does not hold followers back. A transaction the statement
/// cannot place (it ended since, or belongs to another user and the
/// session may not see its database) counts as this database's. With none
/// running, it is the snapshot's upper bound.
const FINISHED_BELOW: &str = "(SELECT coalesce(min(running::text::bigint), \
     min(pg_snapshot_xmax(snapshot)::text::bigint)) \
     FROM (SELECT pg_current_snapshot() AS snapshot) AS current \
     LEFT JOIN LATERAL pg_snapshot_xip(snapshot) AS running ON NOT EXISTS ( \
         SELECT 1 FROM pg_stat_activity AS other \
         WHERE other.backend_xid = xid(running) \
         AND other.datname IS DISTINCT FROM current_database()))";

/// A PostgreSQL protocol, read through a read-only session.
pub(crate) struct PostgresSource {
    target: Target,
    client: RefCell<Option<Client>>,
    /// The entry columns the table has (see `read::sqlite`).
    present: RefCell<Vec<String>>,
}

impl std::fmt::Debug for PostgresSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresSource")
            .field("target", &self.target.redacted())
            .finish_non_exhaustive()
    }
}

impl PostgresSource {
    /// Connects (read-only) and checks that the database holds a protocol.
    pub(crate) fn open(url: &str) -> Result<Self> {
        let target = Target::parse(url)?;
        let mut client = connect(&target)?;
        let present = verify_protocol_schema(&mut client, &target)?;
        Ok(PostgresSource {
            target,
            client: RefCell::new(Some(client)),
            present: RefCell::new(present),
        })
    }

    /// The database, without its password.
    pub(crate) fn redacted(&self) -> &str {
        self.target.redacted()
    }

    /// Runs `f` on the session, connecting again first if the last one was
    /// lost (a reader following for hours outlives server restarts).
    fn with_client<T>(&self, f: impl FnOnce(&mut Client, &Target) -> Result<T>) -> Result<T> {
        // A read never starts another from inside its own visit; if one
        // did, it gets an error rather than a panic.
        let Ok(mut slot) = self.client.try_borrow_mut() else {
            return Err(crate::error::ProtocolError::Worker(format!(
                "a read of {} started inside another read of it",
                self.target.redacted()
            )));
        };
        if slot.as_ref().is_none_or(Client::is_closed) {
            *slot = Some(connect(&self.target)?);
        }
        let client = slot.as_mut().expect("connected just above");
        let result = f(client, &self.target);
        if client.is_closed() {
            *slot = None;
        }
        result
    }

    /// The statement and parameters of `scan`.
    fn statement(&self, client: &mut Client, scan: &Scan<'_>) -> Result<(String, Vec<SqlValue>)> {
        let list = {
            let mut present = self.present.try_borrow_mut().map_err(|_| {
                crate::error::ProtocolError::Worker("nested read of one PostgreSQL source".into())
            })?;
            if present.len() < COLUMNS.len() + 2 {
                *present = table_columns(client, &self.target, ENTRIES)?;
            }
            select_list(&present, scan.selection)
        };
        let mut sql = format!("SELECT written_xact, written_seq, {list} FROM {ENTRIES}");
        let mut conditions = SqlConditions::new(Placeholders::Numbered);
        scan.conditions.push_sql(&mut conditions);
        if let Some(position) = &scan.resume {
            let (xact, seq) = position.written();
            let xact = conditions.bind(SqlValue::Integer(i64::try_from(xact).unwrap_or(i64::MAX)));
            let seq = conditions.bind(SqlValue::Integer(i64::try_from(seq).unwrap_or(i64::MAX)));
            conditions.push(format!("(written_xact, written_seq) > ({xact}, {seq})"));
            conditions.push(format!("written_xact < {FINISHED_BELOW}"));
        }
        sql.push_str(&conditions.statement_tail(
            scan.order,
            scan.limit,
            "written_xact, written_seq",
        ));
        // PostgreSQL stores U+0000 as U+FFFD (see the codec); a filter
        // value is looked up as it would have been stored.
        let params = conditions
            .params
            .into_iter()
            .map(|value| match value {
                SqlValue::Text(text) if text.contains('\0') => {
                    SqlValue::Text(text.replace('\0', "\u{FFFD}"))
                }
                other => other,
            })
            .collect();
        Ok((sql, params))
    }
}

/// A read-only session.
fn connect(target: &Target) -> Result<Client> {
    target.connect(DEFAULT_STATEMENT_TIMEOUT, true)
}

/// The client's value for a condition's parameter.
fn to_sql(value: &SqlValue) -> &(dyn ToSql + Sync) {
    match value {
        SqlValue::Text(text) => text,
        SqlValue::Integer(n) => n,
        SqlValue::Time(at) => at,
    }
}

impl Source for PostgresSource {
    fn format(&self) -> ProtocolFormat {
        ProtocolFormat::Postgres
    }

    fn scan(
        &self,
        mut scan: Scan<'_>,
        visit: &mut dyn FnMut(Record) -> ControlFlow<()>,
    ) -> Result<Skips> {
        self.with_client(|client, target| {
            let (sql, params) = self.statement(client, &scan)?;
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(to_sql).collect();
            let on = |e| target.error(e);
            // A portal, fetched in chunks: a scan that stops early (sessions
            // walking back from the newest entry) reads no further.
            let mut tx = client
                .build_transaction()
                .read_only(true)
                .start()
                .map_err(on)?;
            let portal = tx.bind(sql.as_str(), &params).map_err(on)?;
            let mut skips = Skips::default();
            'fetch: loop {
                let rows = tx.query_portal(&portal, FETCH_ROWS).map_err(on)?;
                let done = rows.len() < FETCH_ROWS as usize;
                for row in rows {
                    let xact: i64 = row.try_get(0).map_err(on)?;
                    let seq: i64 = row.try_get(1).map_err(on)?;
                    let (xact, seq) = (
                        u64::try_from(xact).unwrap_or(0),
                        u64::try_from(seq).unwrap_or(0),
                    );
                    if let Some(position) = scan.resume.as_deref_mut() {
                        position.advance_to_written(xact, seq);
                    }
                    match decode_row(&row, 2) {
                        Ok(entry) => {
                            if visit(Record {
                                position: seq,
                                entry,
                            })
                            .is_break()
                            {
                                break 'fetch;
                            }
                        }
                        Err(reason) => skips.push(seq, reason),
                    }
                }
                if done {
                    break;
                }
            }
            drop(portal);
            tx.commit().map_err(on)?;
            Ok(skips)
        })
    }

    fn meta(&self) -> Result<ProtocolMeta> {
        self.with_client(|client, target| {
            Ok(ProtocolMeta {
                schema_version: read_meta_number(client, target, "schema_version")?
                    .unwrap_or(SCHEMA_VERSION),
                dropped_entries: read_meta_number(client, target, "dropped_entries")?.unwrap_or(0),
            })
        })
    }

    fn end_position(&self) -> Result<ReadPosition> {
        self.with_client(|client, target| {
            let row = client
                .query_opt(
                    &format!(
                        "SELECT written_xact, written_seq FROM {ENTRIES} \
                         WHERE written_xact < {FINISHED_BELOW} \
                         ORDER BY written_xact DESC, written_seq DESC LIMIT 1"
                    ),
                    &[],
                )
                .map_err(|e| target.error(e))?;
            Ok(match row {
                Some(row) => ReadPosition::after_written(
                    u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                    u64::try_from(row.get::<_, i64>(1)).unwrap_or(0),
                ),
                None => ReadPosition::start(),
            })
        })
    }

    fn reads_newest_first_cheaply(&self) -> bool {
        true
    }

    fn integrity_problems(&self) -> Result<Vec<String>> {
        // The server checks its own pages; there is no cheap check to run.
        Ok(Vec::new())
    }

    fn files(&self) -> Result<Vec<std::path::PathBuf>> {
        Ok(Vec::new())
    }
}
