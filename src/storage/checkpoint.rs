//! WAL checkpoints on a thread of their own, so the writer never waits for them.
//!
//! SQLite's automatic checkpoint runs inside the commit that pushes the WAL
//! past 1,000 pages: the committing thread copies the WAL back into the
//! database file and waits for two `fsync`s. For the pipeline's writer that
//! was about half its time (`cargo bench --bench pipeline`: the storage limit
//! wrote 50,000 entries/s with automatic checkpoints and 95,000 without).
//!
//! Here a commit that crosses the threshold only signals, and the thread
//! `reagentic-protocol-checkpoint` runs a `PASSIVE` checkpoint on its own
//! connection while the writer goes on appending to the WAL. A passive
//! checkpoint never blocks the writer. Durability is unchanged: SQLite still
//! syncs the WAL before copying it back and the database file after.
//!
//! The WAL stays bounded even if that thread falls behind or cannot run: a
//! commit that finds the WAL past [`INLINE_PAGES`] checkpoints then and there,
//! as SQLite itself would have done earlier.

use std::ffi::c_int;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rusqlite::wal::CheckpointMode;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use crate::codec::sqlite::{sqlite_error, sqlite_open_error};
use crate::error::{ProtocolError, Result};

/// WAL pages at which a commit asks for a background checkpoint: SQLite's own
/// automatic-checkpoint threshold (4 MiB at the default page size).
pub(crate) const SIGNAL_PAGES: c_int = 1_000;

/// WAL pages at which a commit checkpoints on the writer itself (64 MiB at
/// the default page size): the bound on the WAL when the background thread
/// is behind. Below it the WAL cannot restart while the writer is busy, so
/// under sustained load it grows to about this size, then starts over.
pub(crate) const INLINE_PAGES: c_int = 16_000;

/// The background checkpointer of one writing connection.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    state: State,
    signal_pages: c_int,
    inline_pages: c_int,
}

#[derive(Debug)]
enum State {
    /// Its connection is open (so a file that refuses a second connection
    /// fails at `SqliteStorage::open`); the thread starts with the first
    /// write, from the writing thread, whose priority it inherits.
    Ready(Connection),
    Running {
        /// Never sent on: dropping it tells the thread to stop after its
        /// current checkpoint. (The wake-up sender lives in the writer's WAL
        /// hook, so it outlives this.)
        stop: Option<Sender<()>>,
        /// Disconnects when the thread has closed its connection.
        stopped: Receiver<()>,
        thread: Option<JoinHandle<()>>,
    },
    /// Stopped, or could not start: SQLite checkpoints inside commits, as it
    /// does by default.
    Off,
}

impl Checkpointer {
    /// Opens the checkpointer's own connection to `path`, a database in WAL
    /// mode, waiting up to `busy_timeout` for another process's lock.
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self> {
        Self::open_with(path, busy_timeout, SIGNAL_PAGES, INLINE_PAGES)
    }

    fn open_with(
        path: &Path,
        busy_timeout: Duration,
        signal_pages: c_int,
        inline_pages: c_int,
    ) -> Result<Self> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| sqlite_open_error(path, e))?;
        // Passive checkpoints never wait on a lock; this is for the first read.
        conn.busy_timeout(busy_timeout)
            .map_err(|e| sqlite_error(path, e))?;
        // A connection learns that the file is in WAL mode when it first
        // reads it; until then its checkpoints do nothing.
        conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
            .map_err(|e| sqlite_error(path, e))?;
        Ok(Self {
            state: State::Ready(conn),
            signal_pages,
            inline_pages,
        })
    }

    /// Starts the thread and hands it the checkpoints of `writer` (whose WAL
    /// hook replaces SQLite's automatic checkpoint), unless already done. If
    /// that fails, warns once and leaves the checkpoints to SQLite.
    pub(crate) fn start_if_ready(&mut self, writer: &mut Connection, path: &Path) {
        let conn = match std::mem::replace(&mut self.state, State::Off) {
            State::Ready(conn) => conn,
            running_or_off => {
                self.state = running_or_off;
                return;
            }
        };
        match self.start(conn, writer, path) {
            Ok(running) => self.state = running,
            Err(e) => tracing::warn!(
                path = %path.display(),
                error = %e,
                "protocol WAL checkpoints stay inside commits: the checkpoint thread did not start"
            ),
        }
    }

    fn start(&self, conn: Connection, writer: &mut Connection, path: &Path) -> Result<State> {
        let (signal, wakes) = crossbeam_channel::bounded(1);
        let (stop, stops) = crossbeam_channel::bounded::<()>(0);
        let (stopped_sender, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("reagentic-protocol-checkpoint".into())
            .spawn(move || {
                run(&conn, &thread_path, &wakes, &stops);
                drop(conn);
                drop(stopped_sender);
            })
            .map_err(|e| ProtocolError::Worker(format!("cannot start the checkpointer: {e}")))?;
        let (signal_pages, inline_pages) = (self.signal_pages, self.inline_pages);
        // If this fails, `stop` is dropped on return and the thread ends.
        writer
            .wal_hook(Some(move |wal: &mut rusqlite::hooks::Wal, pages: c_int| {
                if pages >= inline_pages {
                    // Not signalling lets a running background checkpoint end,
                    // so this one (or the next commit's) gets the lock. Its
                    // outcome is the commit's business only as far as the WAL
                    // size goes; the commit itself has already happened.
                    let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                } else if pages >= signal_pages {
                    // Full means a checkpoint is already asked for.
                    let _ = signal.try_send(());
                }
                Ok(())
            }))
            .map_err(|e| sqlite_error(path, e))?;
        Ok(State::Running {
            stop: Some(stop),
            stopped,
            thread: Some(thread),
        })
    }

    /// Stops the thread, waiting at most `wait` for a checkpoint in progress,
    /// and closes its connection. The writer's connection must close after
    /// this to be the last one, which is what makes SQLite checkpoint the rest
    /// and remove the WAL file.
    pub(crate) fn stop(&mut self, wait: Duration) {
        let State::Running {
            stop,
            stopped,
            thread,
        } = &mut self.state
        else {
            self.state = State::Off;
            return;
        };
        *stop = None;
        if let Err(RecvTimeoutError::Disconnected) = stopped.recv_timeout(wait) {
            if let Some(thread) = thread.take() {
                let _ = thread.join();
            }
        }
        // On timeout the thread is left to finish on its own: its work is
        // only ever a copy of what the WAL already holds, so nothing is lost.
        self.state = State::Off;
    }
}

/// The thread: one passive checkpoint per wake-up until told to stop.
fn run(conn: &Connection, path: &Path, wakes: &Receiver<()>, stops: &Receiver<()>) {
    let mut failing = false;
    loop {
        crossbeam_channel::select! {
            recv(wakes) -> wake => if wake.is_err() { return },
            recv(stops) -> _ => return,
        }
        match conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE) {
            Ok(_) => failing = false,
            // Another connection (another process's checkpointer) is at it.
            Err(e) if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) => {}
            Err(e) => {
                if !failing {
                    // One warning per fault. The WAL still holds every entry,
                    // and the writer's own checkpoint keeps it bounded.
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "protocol WAL checkpoint failed; the writer will checkpoint itself"
                    );
                }
                failing = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Instant;

    use super::*;

    /// Pages the WAL file has room for: a 32-byte header, then one frame
    /// (a 24-byte header and the page) per page.
    fn wal_pages(path: &Path) -> u64 {
        let wal = super::super::with_suffix(path, "-wal");
        let len = std::fs::metadata(wal).map_or(0, |m| m.len());
        len.saturating_sub(32) / (24 + 4096)
    }

    /// A new WAL database with one table, and its writing connection.
    fn new_database() -> (tempfile::TempDir, PathBuf, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        (dir, path, conn)
    }

    fn started(writer: &mut Connection, path: &Path, signal: c_int, inline: c_int) -> Checkpointer {
        let mut checkpointer =
            Checkpointer::open_with(path, Duration::from_secs(5), signal, inline).unwrap();
        checkpointer.start_if_ready(writer, path);
        assert!(matches!(checkpointer.state, State::Running { .. }));
        checkpointer
    }

    fn write_pages(conn: &Connection, pages: usize) {
        let tx = conn.unchecked_transaction().unwrap();
        for _ in 0..pages {
            tx.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                .unwrap();
        }
        tx.commit().unwrap();
    }

    fn main_file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn a_commit_past_the_threshold_is_checkpointed_by_the_thread() {
        let (_dir, path, mut writer) = new_database();
        let mut checkpointer = started(&mut writer, &path, 50, 100_000);
        let before = main_file_len(&path);
        write_pages(&writer, 60);
        // The writer does nothing more: only the thread can copy the pages
        // into the main file.
        let deadline = Instant::now() + Duration::from_secs(10);
        while main_file_len(&path) < before + 50 * 4096 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(main_file_len(&path) >= before + 50 * 4096);
        checkpointer.stop(Duration::from_secs(5));
    }

    #[test]
    fn below_the_threshold_nothing_is_checkpointed() {
        let (_dir, path, mut writer) = new_database();
        let mut checkpointer = started(&mut writer, &path, 50, 100_000);
        let before = main_file_len(&path);
        write_pages(&writer, 20);
        // Stopping waits for any checkpoint that was asked for.
        checkpointer.stop(Duration::from_secs(5));
        assert_eq!(main_file_len(&path), before);
        assert!(wal_pages(&path) >= 20);
    }

    #[test]
    fn the_wal_stays_bounded_when_the_thread_cannot_keep_up() {
        let (_dir, path, mut writer) = new_database();
        // The background thread never runs a checkpoint: the signal threshold
        // is out of reach, so only the writer's own checkpoints bound the WAL.
        let mut checkpointer = started(&mut writer, &path, c_int::MAX, 200);
        for _ in 0..40 {
            write_pages(&writer, 30);
            // One commit past the bound, then the WAL starts over.
            assert!(wal_pages(&path) <= 200 + 2 * 31, "{}", wal_pages(&path));
        }
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 1_200);
        checkpointer.stop(Duration::from_secs(5));
    }

    #[test]
    fn after_stop_the_writer_is_the_last_connection_and_removes_the_wal() {
        let (_dir, path, mut writer) = new_database();
        let mut checkpointer = started(&mut writer, &path, 50, 100_000);
        write_pages(&writer, 120);
        checkpointer.stop(Duration::from_secs(5));
        writer.close().unwrap();
        assert!(!super::super::with_suffix(&path, "-wal").exists());
        let reader = Connection::open(&path).unwrap();
        let rows: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 120);
    }
}
