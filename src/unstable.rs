//! Outside the semver promise, behind the `unstable` feature: what the
//! benchmark and the fuzz targets need to drive parts of the crate without a
//! pipeline. [`Extractor`] is tied to the OpenTelemetry SDK's `SpanData`,
//! which changes with the SDK's 0.x releases.

pub use crate::extract::Extractor;

/// CPU time the calling thread has run for, as the pipeline's threads
/// measure their own (`ProtocolStats::extraction_cpu`): the bench measures
/// the application thread with the same clock. `None` where the platform
/// does not say (only Linux is read).
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    crate::pipeline::cpu_time::thread_cpu_time()
}

use crate::codec::sqlite::{sqlite_error, RowEncoder, RowInsert};
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// Inserts `entries` into the `protocol_entries` table of `conn` with the
/// crate's own statement and encoding, in the caller's transaction; returns
/// how many rows were new. For measuring what the storage alone can take.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("p.db");
/// reagentic_protocol::SqliteStorage::open(&path)?; // creates the schema
/// let mut conn = rusqlite::Connection::open(&path)?;
/// let tx = conn.transaction()?;
/// assert_eq!(reagentic_protocol::unstable::insert_rows(&tx, &[])?, 0);
/// tx.commit()?;
/// # Ok(()) }
/// ```
pub fn insert_rows(conn: &rusqlite::Connection, entries: &[ProtocolEntry]) -> Result<usize> {
    let path = conn.path().unwrap_or("");
    let on = |e| sqlite_error(std::path::Path::new(path), e);
    let mut insert = RowInsert::prepare(conn).map_err(on)?;
    let mut encoder = RowEncoder::default();
    let mut inserted = 0;
    for entry in entries {
        inserted += encoder
            .insert(&mut insert, entry)
            .map_err(|e| e.on(std::path::Path::new(path)))?;
    }
    Ok(inserted)
}
