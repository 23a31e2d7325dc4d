//! `prune` and `vacuum`: keeping a SQLite protocol to the runs that matter,
//! and giving the space back.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use reagentic_protocol::read::ProtocolFormat;
use reagentic_protocol::storage::{
    sqlite_storage_report, PruneReport, PruneRule, ReclaimReport, SqliteStorage,
};
use reagentic_protocol::{JsonlStorage, PostgresStorage, Storage};
use serde::Serialize;

use crate::args::{Format, Global, Output};
use crate::failure::{CliResult, Failure};
use crate::output;
use crate::time_arg::{age_value, time_value};

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol prune protocol.db --older-than 30d --dry-run
  reagentic-protocol prune protocol.db --older-than 30d
  reagentic-protocol prune protocol.db --keep-last 1000
  reagentic-protocol prune protocol.db --session conv-42
  reagentic-protocol prune protocol.db --before 2026-11-01
  reagentic-protocol prune protocol.jsonl --older-than 30d   # whole rotated files"
    };
}

/// Delete whole sessions (and traces without a session) from a SQLite
/// protocol, then give the freed space back to the file system; or from a
/// PostgreSQL database; or remove whole rotated files of a JSON Lines
/// protocol (--older-than, --before).
///
/// A session is judged by its last entry: one still going on is kept whole,
/// however long ago it began. Everything goes in one transaction (a crash
/// leaves the file as it was), and it works while the application is writing
/// the file: it waits for the write lock up to --busy-timeout.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  file               the file, as given
  dry_run            true when nothing was deleted
  runs, entries      sessions and session-less traces, and their entries,
                     deleted (or that would be)
  bytes              the bytes their values take (JSON Lines: the files')
  files              JSON Lines: rotated files removed (or that would be)
  reclaimed_bytes    bytes given back to the file system (0 on a dry run)
  free_pages_left    free pages the file keeps: all of them when it was
                     created without incremental auto-vacuum (see `vacuum`)
  file_bytes_before, file_bytes_after   the file's size")
)]
pub struct Args {
    /// The SQLite protocol (.db, .sqlite, .sqlite3), a PostgreSQL
    /// database (postgres://user@host:port/database; its password is never
    /// printed), or a rotated JSON Lines protocol (.jsonl).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    rule: RuleArgs,
    /// Say what would be deleted, and delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// How long to wait for the application's write lock (on PostgreSQL:
    /// for each statement), in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    busy_timeout: u64,
    #[command(flatten)]
    output: Output<Format>,
}

/// Exactly one rule.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = false)]
struct RuleArgs {
    /// Sessions whose last entry is older than this (30d, 12h, 2w).
    #[arg(long, value_name = "AGE", value_parser = age_value)]
    older_than: Option<DateTime<Utc>>,
    /// Keep this many most recently active sessions, delete the rest.
    #[arg(long, value_name = "N")]
    keep_last: Option<u64>,
    /// This session (or trace without a session), by its id.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Sessions whose last entry is before this time (RFC 3339, a date, or
    /// a time ago).
    #[arg(long, value_name = "TIME", value_parser = time_value)]
    before: Option<DateTime<Utc>>,
}

impl RuleArgs {
    fn rule(&self) -> PruneRule {
        match (self.older_than, self.keep_last, &self.session, self.before) {
            (_, Some(keep), _, _) => PruneRule::KeepLast(keep),
            (_, _, Some(session), _) => PruneRule::Session(session.clone()),
            (Some(cutoff), ..) | (_, _, _, Some(cutoff)) => PruneRule::Before(cutoff),
            // clap requires one of the group.
            (None, None, None, None) => PruneRule::KeepLast(u64::MAX),
        }
    }
}

/// `prune --json`.
#[derive(Debug, Serialize)]
struct PruneJson {
    file: String,
    #[serde(flatten)]
    pruned: PruneReport,
    reclaimed_bytes: u64,
    free_pages_left: u64,
    file_bytes_before: u64,
    file_bytes_after: u64,
}

/// A SQLite protocol opened for maintenance; JSON Lines is refused by name.
fn open_sqlite(path: &Path, busy_timeout: std::time::Duration) -> Result<SqliteStorage, Failure> {
    match ProtocolFormat::from_path(path)? {
        ProtocolFormat::Sqlite => {}
        ProtocolFormat::Jsonl => {
            return Err(Failure::new(format!(
                "{} is a JSON Lines protocol; prune and vacuum work on SQLite protocols (.db)",
                path.display()
            )))
        }
        // The URL is not repeated: it may hold a password.
        _ => {
            return Err(Failure::new(
                "vacuum works on SQLite protocols (.db); PostgreSQL reclaims space with \
                 its own autovacuum (or VACUUM FULL protocol_entries, run by the table's owner)",
            ))
        }
    }
    if !path.is_file() {
        return Err(Failure::new(format!(
            "cannot open {}: no such file",
            path.display()
        )));
    }
    Ok(SqliteStorage::builder(path)
        .with_busy_timeout(busy_timeout)
        .open()?)
}

fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

pub fn run(args: Args, global: &Global) -> CliResult {
    match ProtocolFormat::from_path(&args.file)? {
        ProtocolFormat::Postgres => return run_postgres(args, global),
        ProtocolFormat::Jsonl => return run_jsonl(args, global),
        _ => {}
    }
    let timeout = std::time::Duration::from_secs(args.busy_timeout);
    let mut storage = open_sqlite(&args.file, timeout)?;
    let before = file_bytes(&args.file);
    let pruned = storage.prune(&args.rule.rule(), args.dry_run)?;
    let reclaimed = if args.dry_run {
        ReclaimReport::default()
    } else {
        storage.reclaim()?
    };
    reagentic_protocol::Storage::close(&mut storage)?;
    let report = PruneJson {
        file: args.file.display().to_string(),
        pruned,
        reclaimed_bytes: reclaimed.bytes,
        free_pages_left: reclaimed.free_pages_left,
        file_bytes_before: before,
        file_bytes_after: file_bytes(&args.file),
    };
    if args.output.resolve(global) == Format::Json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let what = format!(
        "{} session(s) or trace(s), {} entries, {} of values",
        pruned.runs,
        pruned.entries,
        bytes(pruned.bytes)
    );
    let mut text = if args.dry_run {
        format!("would prune {what} (dry run: nothing was deleted)\n")
    } else {
        format!(
            "pruned {what}; gave back {}; {} is {} (was {})\n",
            bytes(reclaimed.bytes),
            args.file.display(),
            bytes(report.file_bytes_after),
            bytes(before)
        )
    };
    if !args.dry_run && !reclaimed.incremental && reclaimed.free_pages_left > 0 {
        text.push_str(&format!(
            "note: this file was created without incremental auto-vacuum: its freed pages \
             are reused for new entries but not given back. Run `reagentic-protocol vacuum {}` \
             once to compact it and convert it.\n",
            args.file.display()
        ));
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `prune` on a PostgreSQL database: the same rules, the rows deleted by
/// the server (which reuses their space after its autovacuum); the database
/// is named without its password.
fn run_postgres(args: Args, global: &Global) -> CliResult {
    let url = args.file.to_string_lossy();
    let mut storage = PostgresStorage::builder(&url)
        .with_statement_timeout(std::time::Duration::from_secs(args.busy_timeout.max(1)))
        .connect()?;
    let name = storage.describe();
    let pruned = storage.prune(&args.rule.rule(), args.dry_run)?;
    storage.close()?;
    if args.output.resolve(global) == Format::Json {
        output::print_json(&PlainPruneJson { file: name, pruned })?;
        return Ok(ExitCode::SUCCESS);
    }
    let what = format!(
        "{} session(s) or trace(s), {} entries, {} of rows",
        pruned.runs,
        pruned.entries,
        bytes(pruned.bytes)
    );
    output::print(&if args.dry_run {
        format!("would prune {what} from {name} (dry run: nothing was deleted)\n")
    } else {
        format!("pruned {what} from {name}; the server reuses their space after autovacuum\n")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `prune` on a JSON Lines protocol: whole rotated files, by their age.
fn run_jsonl(args: Args, global: &Global) -> CliResult {
    if !args.file.is_file() {
        return Err(Failure::new(format!(
            "cannot open {}: no such file",
            args.file.display()
        )));
    }
    let pruned = JsonlStorage::prune(&args.file, &args.rule.rule(), args.dry_run)?;
    if args.output.resolve(global) == Format::Json {
        output::print_json(&PlainPruneJson {
            file: args.file.display().to_string(),
            pruned,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let what = format!(
        "{} rotated file(s): {} entries of {} session(s) or trace(s), {}",
        pruned.files,
        pruned.entries,
        pruned.runs,
        bytes(pruned.bytes)
    );
    output::print(&if args.dry_run {
        format!("would remove {what} (dry run: nothing was deleted)\n")
    } else {
        format!("removed {what}\n")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `prune --json` on PostgreSQL and JSON Lines: no file sizes, the database without its
/// password.
#[derive(Debug, Serialize)]
struct PlainPruneJson {
    file: String,
    #[serde(flatten)]
    pruned: PruneReport,
}

/// Compact a SQLite protocol: rewrite it without free pages, and switch it
/// to incremental auto-vacuum so `prune` gives space back from then on.
///
/// Needs free disk space for a copy of the data (checked first), and holds
/// the write lock while it runs: the application's writes wait.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol vacuum protocol.db
  reagentic-protocol stats protocol.db --storage   # what it would give back")]
pub struct VacuumArgs {
    /// The SQLite protocol (.db, .sqlite, .sqlite3).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// How long to wait for the application's write lock, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    busy_timeout: u64,
    #[command(flatten)]
    output: Output<Format>,
}

/// `vacuum --json`.
#[derive(Debug, Serialize)]
struct VacuumJson {
    file: String,
    file_bytes_before: u64,
    file_bytes_after: u64,
}

pub fn vacuum(args: VacuumArgs, global: &Global) -> CliResult {
    let timeout = std::time::Duration::from_secs(args.busy_timeout);
    let mut storage = open_sqlite(&args.file, timeout)?;
    let before = file_bytes(&args.file);
    storage.vacuum()?;
    reagentic_protocol::Storage::close(&mut storage)?;
    let report = VacuumJson {
        file: args.file.display().to_string(),
        file_bytes_before: before,
        file_bytes_after: file_bytes(&args.file),
    };
    if args.output.resolve(global) == Format::Json {
        output::print_json(&report)?;
    } else {
        output::print(&format!(
            "{}: {} → {}\n",
            report.file,
            bytes(before),
            bytes(report.file_bytes_after)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `stats --storage`: the file's size, entries, free pages, reclaimable bytes.
pub fn storage_report(path: &Path, global: &Global, output: &Output<Format>) -> CliResult {
    match ProtocolFormat::from_path(path)? {
        ProtocolFormat::Sqlite => {}
        ProtocolFormat::Jsonl => return jsonl_storage_report(path, global, output),
        // The URL is not repeated: it may hold a password.
        _ => {
            return Err(Failure::new(
                "stats --storage reads SQLite and JSON Lines protocols; for PostgreSQL ask the \
                 server: SELECT pg_size_pretty(pg_total_relation_size('protocol_entries'))",
            ))
        }
    }
    let report = sqlite_storage_report(path)?;
    if output.resolve(global) == Format::Json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "file          {} (+ {} write-ahead log)\n\
         entries       {}\n\
         pages         {} of {} bytes, {} free\n\
         reclaimable   {}\n\
         auto-vacuum   {}\n",
        bytes(report.file_bytes),
        bytes(report.wal_bytes),
        report.entries,
        report.pages,
        report.page_size,
        report.free_pages,
        bytes(report.reclaimable_bytes),
        report.auto_vacuum
    );
    if report.auto_vacuum == "none" {
        text.push_str(&format!(
            "note: created without incremental auto-vacuum, so `prune` cannot give space back; \
             `reagentic-protocol vacuum {}` converts it once\n",
            path.display()
        ));
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `stats --storage --json` on JSON Lines.
#[derive(Debug, Serialize)]
struct JsonlStorageJson {
    /// Every file of the protocol, oldest first, the file being written last.
    files: Vec<JsonlFileJson>,
    rotated_files: usize,
    file_bytes: u64,
    entries: u64,
}

#[derive(Debug, Serialize)]
struct JsonlFileJson {
    path: String,
    bytes: u64,
}

/// What a JSON Lines protocol takes: its files (rotated ones included),
/// their size and the entries in them; it has no free space to give back.
fn jsonl_storage_report(path: &Path, global: &Global, output: &Output<Format>) -> CliResult {
    let reader = crate::failure::open(path)?;
    let files: Vec<JsonlFileJson> = reader
        .files()?
        .into_iter()
        .map(|file| JsonlFileJson {
            bytes: file_bytes(&file),
            path: file.display().to_string(),
        })
        .collect();
    let mut entries = 0u64;
    reader.for_each(&reagentic_protocol::EntryFilter::default(), |_| {
        entries += 1;
        std::ops::ControlFlow::Continue(())
    })?;
    crate::failure::warn_skipped(&reader);
    let report = JsonlStorageJson {
        rotated_files: files.len().saturating_sub(1),
        file_bytes: files.iter().map(|f| f.bytes).sum(),
        files,
        entries,
    };
    if output.resolve(global) == Format::Json {
        output::print_json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut text = format!(
        "files         {} ({} rotated)\n\
         size          {} in all, {} in the file being written\n\
         entries       {}\n",
        report.files.len(),
        report.rotated_files,
        bytes(report.file_bytes),
        bytes(report.files.last().map_or(0, |f| f.bytes)),
        report.entries
    );
    if let Some(oldest) = report.files.first().filter(|_| report.rotated_files > 0) {
        text.push_str(&format!("oldest file   {}\n", oldest.path));
    }
    text.push_str(
        "JSON Lines has no free space to give back; `prune --older-than` removes whole \
         rotated files\n",
    );
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `1.5 MB`, `812 B`.
fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if n < 1_000 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1_000.0;
    let mut unit = 0;
    while value >= 1_000.0 && unit < UNITS.len() - 1 {
        value /= 1_000.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::bytes;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(812), "812 B");
        assert_eq!(bytes(1_500), "1.5 KB");
        assert_eq!(bytes(2_269_184), "2.3 MB");
        assert_eq!(bytes(40_000_000_000), "40.0 GB");
    }
}
