//! PostgreSQL storage: one database shared by many processes and hosts.
//!
//! The layout (a public contract, see `FORMAT.md`) is defined in
//! `codec::postgres`; this file connects, creates or migrates the schema in
//! one transaction under an advisory lock, creates the day partitions a
//! batch needs before writing it, and writes each batch as one transaction:
//! a binary `COPY` straight into the protocol, or, when an entry of the
//! batch is already stored, a `COPY` into a session-local table and one
//! `INSERT … SELECT … ON CONFLICT DO UPDATE` by the fill rule, so writing an
//! entry again — a retry, another process, a second `convert` — stores it
//! once, and a later copy only fills its empty fields.
//!
//! A lost connection (the server restarted, the network failed) fails the
//! batch; the next write connects again. Every wait is bounded: connecting
//! by the connect timeout, every statement (lock waits included) by the
//! statement timeout.

mod retention;

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use postgres::Client;

use super::Storage;
use crate::codec::postgres::{
    columns_added_after, create_partition, days_of, has_own_partition, partition_name,
    schema_version, table_columns, CopyEncoder, Target, COPY_BATCH, COPY_DIRECT,
    CREATE_BATCH_TABLE, CREATE_SCHEMA, DEFAULT_PARTITION, DEFAULT_STATEMENT_TIMEOUT, ENTRIES,
    INSERT_BATCH, PARTITION_LOCK, SCHEMA_LOCK,
};
use crate::entry::{ProtocolEntry, SCHEMA_VERSION};
use crate::error::{ProtocolError, Result};

/// Adds newly dropped entries to the database's running total, atomically
/// with any other writer doing the same.
const ADD_DROPPED: &str = "
INSERT INTO protocol_meta (key, value) VALUES ('dropped_entries', $1::bigint::text)
ON CONFLICT (key) DO UPDATE SET value = (protocol_meta.value::bigint + $1::bigint)::text";

/// Protocol entries in a PostgreSQL database (table `protocol_entries`,
/// partitioned by day).
///
/// Connects with a `postgres://` URL; what the URL leaves out comes from the
/// standard `PG*` variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
/// `PGDATABASE`, `PGSSLMODE`, …), then libpq's defaults. Messages, errors
/// and `Debug` name the database as `postgres://user@host:port/database`,
/// never with its password.
///
/// ```no_run
/// use reagentic_protocol::{PostgresStorage, ProtocolProcessor};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = PostgresStorage::connect("postgres://agents@db.internal/protocol")?;
/// let processor = ProtocolProcessor::builder(storage).build()?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresStorage {
    target: Target,
    statement_timeout: Duration,
    /// `None` after a lost connection (the next write connects again).
    client: Option<Client>,
    closed: bool,
    encoder: CopyEncoder,
    /// Days whose partition this storage has seen exist (`true`) or decided
    /// to leave in the default partition (`false`).
    days: HashMap<NaiveDate, bool>,
    /// The dropped total this storage has already added to the database.
    recorded_dropped: u64,
    /// Rows this storage added (entries not already stored).
    inserted: u64,
    retention: Option<retention::Retention>,
    /// Batches written since the last retention step.
    batches_since_retention: u32,
    /// Whether the failure of the retention done under load has been warned
    /// about (once per spell of failures, as on SQLite).
    retention_warned: bool,
}

impl std::fmt::Debug for PostgresStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStorage")
            .field("target", &self.target.redacted())
            .field("connected", &self.client.is_some())
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

/// Options for connecting a [`PostgresStorage`].
///
/// ```no_run
/// use std::time::Duration;
/// use reagentic_protocol::PostgresStorage;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = PostgresStorage::builder("postgres://agents@db.internal/protocol")
///     .with_connect_timeout(Duration::from_secs(2))
///     .with_statement_timeout(Duration::from_secs(10))
///     .connect()?;
/// # drop(storage); Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub struct PostgresStorageBuilder {
    url: Result<Target>,
    connect_timeout: Option<Duration>,
    statement_timeout: Duration,
    retention: Option<Duration>,
}

impl std::fmt::Debug for PostgresStorageBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match &self.url {
            Ok(target) => target.redacted().to_owned(),
            Err(_) => "(invalid URL)".to_owned(),
        };
        f.debug_struct("PostgresStorageBuilder")
            .field("target", &target)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("retention", &self.retention)
            .finish()
    }
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://user:password@host:port/database`
    /// or `postgresql://…`, with libpq's query parameters such as
    /// `sslmode`), creating or migrating the protocol's tables.
    ///
    /// Fails with [`ProtocolError::Postgres`] naming the host and database
    /// when the server cannot be reached within the connect timeout (default
    /// 5 s), [`ProtocolError::InvalidConfig`] for a URL it cannot read,
    /// [`ProtocolError::Corrupt`] when the database holds tables of that name
    /// that are not a protocol, and [`ProtocolError::UnsupportedSchema`] when
    /// a newer build wrote it.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// // user, password, host and database from PGUSER, PGPASSWORD, PGHOST, PGDATABASE:
    /// let storage = reagentic_protocol::PostgresStorage::connect("postgres://")?;
    /// # Ok(()) }
    /// ```
    pub fn connect(url: &str) -> Result<Self> {
        Self::builder(url).connect()
    }

    /// Starts configuring a connection to `url`.
    ///
    /// ```
    /// let builder = reagentic_protocol::PostgresStorage::builder("postgres://agents@localhost/protocol");
    /// ```
    pub fn builder(url: &str) -> PostgresStorageBuilder {
        PostgresStorageBuilder {
            url: Target::parse(url),
            connect_timeout: None,
            statement_timeout: DEFAULT_STATEMENT_TIMEOUT,
            retention: None,
        }
    }

    /// How many entries this storage added to the database: those of its
    /// batches that were not stored already.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// use reagentic_protocol::{PostgresStorage, Storage};
    /// let mut storage = PostgresStorage::connect("postgres://agents@localhost/protocol")?;
    /// storage.write_batch(&[])?;
    /// assert_eq!(storage.entries_inserted(), 0);
    /// # Ok(()) }
    /// ```
    pub fn entries_inserted(&self) -> u64 {
        self.inserted
    }

    /// The connection, made again after a lost one.
    fn client(&mut self) -> Result<&mut Client> {
        if self.closed {
            return Err(ProtocolError::Closed {
                path: self.target.redacted().into(),
            });
        }
        if self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        if self.client.is_none() {
            let client = open_session(&self.target, self.statement_timeout)?;
            tracing::debug!(
                target_db = self.target.redacted(),
                "connected to PostgreSQL"
            );
            self.client = Some(client);
        }
        Ok(self.client.as_mut().expect("connected just above"))
    }

    /// Forgets the connection when `err` left it unusable, so the next write
    /// connects again instead of failing on a dead one.
    fn after_error(&mut self, err: ProtocolError) -> ProtocolError {
        let dead = match &err {
            ProtocolError::Postgres { source, .. } => {
                source.is_closed()
                    || source.as_db_error().is_none()
                    || source.code().is_some_and(|code| {
                        // admin_shutdown, crash_shutdown, cannot_connect_now, …
                        code.code().starts_with("57") || code.code().starts_with("08")
                    })
            }
            _ => false,
        };
        if dead || self.client.as_ref().is_some_and(Client::is_closed) {
            self.client = None;
        }
        err
    }

    /// Creates the partitions of the batch's days that have none yet (and of
    /// the day after each, so midnight finds tomorrow's ready), under an
    /// advisory lock so concurrent writers create each once. A day further
    /// than the partition window from today, or one the default partition
    /// already holds rows of, stays in the default partition.
    fn ensure_partitions(&mut self, entries: &[ProtocolEntry]) -> Result<()> {
        let today = Utc::now().date_naive();
        let mut wanted: Vec<NaiveDate> = Vec::new();
        for day in days_of(entries) {
            for candidate in [Some(day), day.succ_opt()].into_iter().flatten() {
                if !self.days.contains_key(&candidate) && !wanted.contains(&candidate) {
                    wanted.push(candidate);
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let target = self.target.clone();
        let client = self.client()?;
        let mut decided = Vec::with_capacity(wanted.len());
        let mut tx = client.transaction().map_err(|e| target.error(e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
            .map_err(|e| target.error(e))?;
        for day in wanted {
            let name = partition_name(day);
            let exists: bool = tx
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                .map_err(|e| target.error(e))?
                .get(0);
            let own = if exists {
                true
            } else if !has_own_partition(day, today) {
                false
            } else {
                let start = day.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
                let end = day
                    .succ_opt()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|t| t.and_utc());
                let held: bool = tx
                    .query_one(
                        &format!(
                            "SELECT EXISTS (SELECT 1 FROM {DEFAULT_PARTITION} \
                             WHERE timestamp >= $1 AND timestamp < $2)"
                        ),
                        &[&start, &end],
                    )
                    .map_err(|e| target.error(e))?
                    .get(0);
                if held {
                    false
                } else {
                    tx.batch_execute(&create_partition(day))
                        .map_err(|e| target.error(e))?;
                    true
                }
            };
            decided.push((day, own));
        }
        tx.commit().map_err(|e| target.error(e))?;
        self.days.extend(decided);
        Ok(())
    }

    /// One batch, one transaction. First straight into the protocol with
    /// `COPY`; if an entry of the batch is already stored (a retry after a
    /// commit whose answer was lost, a second `convert`), that fails as a
    /// whole on the primary key and the batch is written again the
    /// idempotent way: `COPY` into the batch table, then one `INSERT …
    /// ON CONFLICT DO UPDATE` by the fill rule. Returns the number of rows
    /// added (filled ones are not).
    fn write_rows(&mut self, entries: &[ProtocolEntry]) -> Result<u64> {
        let target = self.target.clone();
        let payload = self.encoder.encode(entries)?;
        let client = match self.client.as_mut() {
            Some(client) => client,
            None => unreachable_client(&target)?,
        };
        match copy_in(client, &target, payload, &COPY_DIRECT, None) {
            Err(ProtocolError::Postgres { source, .. })
                if source.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) =>
            {
                copy_in(client, &target, payload, &COPY_BATCH, Some(&INSERT_BATCH))
            }
            other => other,
        }
    }
}

/// One transaction: `copy` of `payload`, then `then` if given; the rows
/// added (by the last statement).
fn copy_in(
    client: &mut Client,
    target: &Target,
    payload: &[u8],
    copy: &str,
    then: Option<&str>,
) -> Result<u64> {
    let mut tx = client.transaction().map_err(|e| target.error(e))?;
    let mut writer = tx.copy_in(copy).map_err(|e| target.error(e))?;
    if let Err(io) = writer.write_all(payload) {
        return Err(copy_error(target, io));
    }
    let mut added = writer.finish().map_err(|e| target.error(e))?;
    if let Some(statement) = then {
        // Each row returned says whether it was inserted or filled.
        let rows = tx.query(statement, &[]).map_err(|e| target.error(e))?;
        added = rows.iter().filter(|row| row.get::<_, bool>(0)).count() as u64;
    }
    tx.commit().map_err(|e| target.error(e))?;
    Ok(added)
}

/// A writer always has its connection when it writes rows; this is only
/// the error if that ever changed.
fn unreachable_client<'c>(target: &Target) -> Result<&'c mut Client> {
    Err(ProtocolError::Worker(format!(
        "no connection to {} while writing",
        target.redacted()
    )))
}

/// The client's error inside an I/O error from the `COPY` stream.
fn copy_error(target: &Target, io: std::io::Error) -> ProtocolError {
    let kind = io.kind();
    match io
        .into_inner()
        .map(|inner| inner.downcast::<postgres::Error>())
    {
        Some(Ok(client_error)) => target.error(*client_error),
        Some(Err(other)) => ProtocolError::Io {
            path: target.redacted().into(),
            source: std::io::Error::new(kind, other),
        },
        None => ProtocolError::Io {
            path: target.redacted().into(),
            source: std::io::Error::from(kind),
        },
    }
}

/// A writing session: connected, bounded, with its batch table.
fn open_session(target: &Target, statement_timeout: Duration) -> Result<Client> {
    let mut client = target.connect(statement_timeout, false)?;
    client
        .batch_execute(&CREATE_BATCH_TABLE)
        .map_err(|e| target.error(e))?;
    Ok(client)
}

impl PostgresStorageBuilder {
    /// Sets the bound on connecting (default 5 s, or `connect_timeout` in the
    /// URL, or `PGCONNECT_TIMEOUT`).
    ///
    /// ```
    /// # use std::time::Duration;
    /// let builder = reagentic_protocol::PostgresStorage::builder("postgres://localhost/protocol")
    ///     .with_connect_timeout(Duration::from_secs(2));
    /// ```
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets the bound on each statement, waiting for another session's locks
    /// included (default 30 s). A write that passes it fails, and the
    /// pipeline retries the batch.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let builder = reagentic_protocol::PostgresStorage::builder("postgres://localhost/protocol")
    ///     .with_statement_timeout(Duration::from_secs(10));
    /// ```
    pub fn with_statement_timeout(mut self, timeout: Duration) -> Self {
        self.statement_timeout = timeout;
        self
    }

    /// Prunes, from the writer, the runs whose last entry is older than
    /// `age`: whole sessions and session-less traces, a few hundred entries'
    /// runs per step in one transaction, between batches (and every
    /// [`RETENTION_UNDER_LOAD_AFTER_BATCHES`] batches under steady load), so
    /// writes never wait long. Once nothing is old, the server is asked
    /// again a minute later. The same rule as
    /// [`prune`](PostgresStorage::prune) with [`PruneRule::older_than`].
    ///
    /// [`RETENTION_UNDER_LOAD_AFTER_BATCHES`]: crate::storage::RETENTION_UNDER_LOAD_AFTER_BATCHES
    /// [`PruneRule::older_than`]: crate::storage::PruneRule::older_than
    ///
    /// ```
    /// # use std::time::Duration;
    /// let builder = reagentic_protocol::PostgresStorage::builder("postgres://localhost/protocol")
    ///     .with_retention(Duration::from_secs(30 * 24 * 3600));
    /// ```
    pub fn with_retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// Connects and creates (or migrates) the protocol's tables; see
    /// [`PostgresStorage::connect`] for the errors.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let storage = reagentic_protocol::PostgresStorage::builder("postgres://localhost/protocol").connect()?;
    /// # Ok(()) }
    /// ```
    pub fn connect(self) -> Result<PostgresStorage> {
        let mut target = self.url?;
        if let Some(timeout) = self.connect_timeout {
            target.set_connect_timeout(timeout);
        }
        let mut client = open_session(&target, self.statement_timeout)?;
        create_schema(&mut client, &target)?;
        Ok(PostgresStorage {
            target,
            statement_timeout: self.statement_timeout,
            client: Some(client),
            closed: false,
            encoder: CopyEncoder::default(),
            days: HashMap::new(),
            recorded_dropped: 0,
            inserted: 0,
            retention: self.retention.map(retention::Retention::new),
            batches_since_retention: 0,
            retention_warned: false,
        })
    }
}

/// Creates the schema, or migrates an older one, in one transaction under an
/// advisory lock: concurrent writers starting on a new database create it
/// once, and a crash leaves it at its old version or the new one. A
/// database already at this build's version is only read.
fn create_schema(client: &mut Client, target: &Target) -> Result<()> {
    if schema_version(client, target)? == Some(SCHEMA_VERSION)
        && !table_columns(client, target, ENTRIES)?.is_empty()
    {
        return check_layout(client, target);
    }
    let on = |e| target.error(e);
    let mut tx = client.transaction().map_err(on)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
        .map_err(on)?;
    // Read again under the lock: another writer may have just done it.
    let has_meta: bool = tx
        .query_one("SELECT to_regclass('protocol_meta') IS NOT NULL", &[])
        .map_err(on)?
        .get(0);
    let found: Option<String> = if has_meta {
        tx.query_opt(
            "SELECT value FROM protocol_meta WHERE key = 'schema_version'",
            &[],
        )
        .map_err(on)?
        .and_then(|row| row.get(0))
    } else {
        None
    };
    let present: Vec<String> = tx
        .query(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass($1) \
             AND attnum > 0 AND NOT attisdropped",
            &[&ENTRIES],
        )
        .map_err(on)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let version = match found.as_deref().map(str::trim).map(str::parse::<u32>) {
        None => None,
        Some(Ok(v)) if v > SCHEMA_VERSION => {
            return Err(ProtocolError::UnsupportedSchema {
                path: target.redacted().into(),
                found: i64::from(v),
                supported: i64::from(SCHEMA_VERSION),
            })
        }
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => {
            return Err(target.corrupt(format!(
                "protocol_meta has an invalid schema_version {found:?}"
            )))
        }
    };
    match (version, present.is_empty()) {
        (_, true) => {
            // A new database (or meta data without entries): the whole schema.
            tx.batch_execute(&CREATE_SCHEMA).map_err(on)?;
            tx.execute(
                "INSERT INTO protocol_meta (key, value) VALUES ('schema_version', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&SCHEMA_VERSION.to_string()],
            )
            .map_err(on)?;
        }
        (version, false) => {
            let missing: Vec<&str> = crate::codec::columns::columns_of_schema(1)
                .map(|c| c.name)
                .chain(["written_xact", "written_seq"])
                .filter(|name| !present.iter().any(|p| p == name))
                .collect();
            if !missing.is_empty() {
                return Err(target.corrupt(format!(
                    "table {ENTRIES} lacks column(s) {}",
                    missing.join(", ")
                )));
            }
            let from = version.unwrap_or(1);
            let added = columns_added_after(from);
            if !added.is_empty() {
                tx.batch_execute(&format!("ALTER TABLE {ENTRIES} {}", added.join(", ")))
                    .map_err(on)?;
            }
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS protocol_meta \
                 (key text COLLATE \"C\" PRIMARY KEY, value text)",
            )
            .map_err(on)?;
            tx.execute(
                "INSERT INTO protocol_meta (key, value) VALUES ('schema_version', $1) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                &[&SCHEMA_VERSION.to_string()],
            )
            .map_err(on)?;
            tracing::info!(
                target_db = target.redacted(),
                from,
                to = SCHEMA_VERSION,
                "migrated the PostgreSQL protocol schema"
            );
        }
    }
    tx.commit().map_err(on)?;
    check_layout(client, target)
}

/// Checks that an existing `protocol_entries` is the protocol's table: every
/// field and the written-order columns, partitioned.
fn check_layout(client: &mut Client, target: &Target) -> Result<()> {
    crate::codec::postgres::verify_protocol_schema(client, target)?;
    let partitioned: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass($1))",
            &[&ENTRIES],
        )
        .map_err(|e| target.error(e))?
        .get(0);
    if partitioned {
        Ok(())
    } else {
        Err(target.corrupt(format!("table {ENTRIES} is not partitioned by time")))
    }
}

impl Storage for PostgresStorage {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> Result<()> {
        self.client()?;
        if entries.is_empty() {
            return Ok(());
        }
        let result = self
            .ensure_partitions(entries)
            .and_then(|()| self.write_rows(entries));
        self.encoder.shrink();
        match result {
            Ok(inserted) => {
                self.inserted += inserted;
                // A steady producer leaves the writer no idle moment for
                // retention: a step every so many batches, as SQLite does.
                if self.retention.is_some() {
                    self.batches_since_retention = self.batches_since_retention.saturating_add(1);
                    if self.batches_since_retention >= super::RETENTION_UNDER_LOAD_AFTER_BATCHES {
                        self.batches_since_retention = 0;
                        // The batch is committed: a failed step is only
                        // warned about, once for a spell of failures (under
                        // a steady producer one fails every so many
                        // batches), and tried again later.
                        match self.maintain() {
                            Ok(_) => self.retention_warned = false,
                            Err(e) => {
                                if !std::mem::replace(&mut self.retention_warned, true) {
                                    tracing::warn!(target_db = self.target.redacted(), error = %e,
                                        "a retention step failed; it is tried again later");
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
            Err(err) => Err(self.after_error(err)),
        }
    }

    /// One step of retention, if asked for and due.
    fn maintain(&mut self) -> Result<bool> {
        let Some(mut retention) = self.retention.take() else {
            return Ok(false);
        };
        let target = self.target.clone();
        let result = self
            .client()
            .and_then(|client| retention.step(client).map_err(|e| target.error(e)));
        self.retention = Some(retention);
        result.map_err(|err| self.after_error(err))
    }

    fn record_dropped(&mut self, total_dropped: u64) -> Result<()> {
        let delta = total_dropped.saturating_sub(self.recorded_dropped);
        let target = self.target.clone();
        let client = self.client()?;
        if delta == 0 {
            return Ok(());
        }
        let delta_i64 = i64::try_from(delta).unwrap_or(i64::MAX);
        match client.execute(ADD_DROPPED, &[&delta_i64]) {
            Ok(_) => {
                self.recorded_dropped = total_dropped;
                Ok(())
            }
            Err(e) => {
                let err = target.error(e);
                Err(self.after_error(err))
            }
        }
    }

    fn close(&mut self) -> Result<()> {
        self.closed = true;
        if let Some(client) = self.client.take() {
            // Terminate politely; a connection already gone is closed anyway.
            let _ = client.close();
        }
        Ok(())
    }

    fn describe(&self) -> String {
        self.target.redacted().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_description_and_debug_never_show_the_password() {
        let builder = PostgresStorage::builder("postgres://alice:s3cret-pw@db.example:6543/runs");
        let text = format!("{builder:?}");
        assert!(!text.contains("s3cret-pw"), "{text}");
        assert!(
            text.contains("postgres://alice@db.example:6543/runs"),
            "{text}"
        );
    }

    #[test]
    fn an_unreadable_url_is_a_configuration_error_without_the_url() {
        let err = PostgresStorage::connect("postgres://bob:hunter2@host:notaport/db").unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidConfig(_)), "{err:?}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn partition_names_and_bounds_are_days() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        assert_eq!(partition_name(day), "protocol_entries_p20261127");
        assert!(create_partition(day)
            .ends_with("FROM ('2026-11-27 00:00:00+00') TO ('2026-11-28 00:00:00+00')"));
        assert!(has_own_partition(day, day));
        assert!(!has_own_partition(day + chrono::TimeDelta::days(30), day));
        assert!(!has_own_partition(
            NaiveDate::from_ymd_opt(1970, 1, 1).unwrap(),
            day
        ));
    }
}
