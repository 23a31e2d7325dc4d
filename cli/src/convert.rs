//! `convert`: between JSON Lines, SQLite and PostgreSQL, any direction,
//! each entry stored once however often it is run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use reagentic_protocol::read::{ProtocolFormat, ReadPosition};
use reagentic_protocol::{PostgresStorage, ProtocolReader, Storage};
use serde::Serialize;

use crate::args::{Format, Global, Output};
use crate::failure::{open, warn_skipped, CliResult, Failure};
use crate::output;

/// Entries per write: one SQLite transaction, one JSON Lines append.
const BATCH: usize = 10_000;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol convert protocol.jsonl protocol.db
  reagentic-protocol convert protocol.db export.jsonl
  reagentic-protocol convert a.jsonl merged.db && reagentic-protocol convert b.jsonl merged.db
  reagentic-protocol convert protocol.db postgres://me@db.internal/protocol   # a laptop's runs into the team database
  reagentic-protocol convert postgres://me@db.internal/protocol team.jsonl"
    };
}

/// Copy a protocol between JSON Lines, SQLite and PostgreSQL (formats by
/// extension, or a postgres:// URL).
///
/// Entries already in OUT are not written again, so converting twice (or
/// into a protocol that already holds some of the entries) stores each once.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  input, output  the two protocols (a database's URL without its password)
  read           entries read from INPUT
  written        entries added to OUTPUT (0 when all were there already)
  skipped        unreadable records of INPUT, left out")
)]
pub struct Args {
    /// The protocol to read: a file, or postgres://user@host:port/database.
    input: PathBuf,
    /// The protocol to write (created if missing, added to if not): a file,
    /// or postgres://user@host:port/database.
    output: PathBuf,
    #[command(flatten)]
    format: Output<Format>,
}

/// `convert --json`.
#[derive(Debug, Serialize)]
struct ConvertJson {
    input: String,
    output: String,
    read: u64,
    written: u64,
    skipped: u64,
}

/// Where entries are written, and how many were new.
enum Target {
    /// A file: SQLite counts new rows by its rowids, JSON Lines is given
    /// only the ids it lacks.
    File(Box<dyn Storage>),
    /// PostgreSQL counts what its inserts added.
    Postgres(Box<PostgresStorage>),
}

impl Target {
    fn storage(&mut self) -> &mut dyn Storage {
        match self {
            Target::File(storage) => storage.as_mut(),
            Target::Postgres(storage) => storage.as_mut(),
        }
    }
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let out_format = ProtocolFormat::from_path(&args.output)?;
    let reader = open(&args.input)?;
    let meta = reader.meta()?;
    let input_name = reader.path().display().to_string();
    let mut already: HashSet<String> = HashSet::new();
    let mut rows_before = 0;
    let (existed, mut target) = if out_format == ProtocolFormat::Postgres {
        let url = args.output.to_string_lossy();
        // Idempotent by itself: an entry already stored is left as it is.
        let existed = ProtocolReader::open(&args.output).is_ok();
        (
            existed,
            Target::Postgres(Box::new(PostgresStorage::connect(&url)?)),
        )
    } else {
        if same_file(&args.input, &args.output) {
            return Err(Failure::new(format!(
                "{} and {} are the same file",
                args.input.display(),
                args.output.display()
            )));
        }
        let existed = args.output.exists();
        // JSON Lines appends whatever it is given, so the ids OUT already
        // holds are left out of the writes: that makes a second conversion a
        // no-op. SQLite skips them by itself; the rowids it hands out tell
        // how many rows were really added (rows are only ever appended).
        if existed {
            let out_reader = open(&args.output)?;
            match out_format {
                ProtocolFormat::Jsonl => {
                    let mut at = ReadPosition::start();
                    loop {
                        let batch = out_reader.read_from(&mut at, BATCH)?;
                        if batch.is_empty() {
                            break;
                        }
                        already.extend(batch.into_iter().map(|e| e.entry_id));
                    }
                }
                _ => rows_before = out_reader.end_position()?.offset(),
            }
        }
        let storage = reagentic_protocol::storage::open(&args.output)?;
        (existed, Target::File(storage))
    };
    let output_name = target.storage().describe();
    if reader.format() == ProtocolFormat::Postgres && input_name == output_name {
        return Err(Failure::new(format!(
            "{input_name} and {output_name} are the same database"
        )));
    }
    let end = reader.end_position()?.offset();
    let bar = progress_bar(&reader, end);
    let mut position = ReadPosition::start();
    let (mut read, mut written, mut skipped) = (0u64, 0u64, 0u64);
    loop {
        let batch = reader.read_from(&mut position, BATCH)?;
        skipped += reader.skipped_lines().len() as u64;
        warn_skipped(&reader);
        if batch.is_empty() {
            break;
        }
        read += batch.len() as u64;
        let fresh: Vec<_> = batch
            .into_iter()
            .filter(|e| !already.contains(&e.entry_id))
            .collect();
        target.storage().write_batch(&fresh)?;
        written += fresh.len() as u64;
        bar.set_position(position.offset().min(end));
    }
    // The count of dropped entries is carried into a new protocol only:
    // adding it again on every conversion into the same one would inflate it.
    if !existed && meta.dropped_entries > 0 {
        target.storage().record_dropped(meta.dropped_entries)?;
    }
    target.storage().close()?;
    bar.finish_and_clear();
    match (&target, out_format) {
        (Target::Postgres(storage), _) => written = storage.entries_inserted(),
        (Target::File(_), ProtocolFormat::Sqlite) => {
            let rows_after = open(&args.output)?.end_position()?.offset();
            written = rows_after.saturating_sub(rows_before);
        }
        _ => {}
    }
    if reader.format() == ProtocolFormat::Jsonl {
        // Over a rotated set, the offset counts every file's bytes.
        let len: u64 = reader
            .files()?
            .iter()
            .map(|file| std::fs::metadata(file).map_or(0, |m| m.len()))
            .sum();
        if len > position.offset() {
            eprintln!(
                "warning: the last {} byte(s) of {} are an unfinished line (still being written, or torn by a crash) and were not converted",
                len - position.offset(),
                input_name
            );
        }
    }
    if args.format.resolve(global) == Format::Json {
        output::print_json(&ConvertJson {
            input: input_name,
            output: output_name,
            read,
            written,
            skipped,
        })?;
    } else {
        output::print(&format!(
            "{input_name} → {output_name}: {read} entries read, {written} written, {} already there{}\n",
            read.saturating_sub(written),
            if skipped > 0 {
                format!(", {skipped} unreadable skipped")
            } else {
                String::new()
            }
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether two paths name one existing file (through links or `..`).
fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A bar on stderr over rows (SQLite) or bytes (JSON Lines); indicatif
/// draws nothing when stderr is not a terminal.
fn progress_bar(reader: &ProtocolReader, end: u64) -> ProgressBar {
    let bar = ProgressBar::new(end);
    let template = match reader.format() {
        ProtocolFormat::Jsonl => "{bar:40} {bytes}/{total_bytes}  {eta} left",
        // By writing transaction: how far, not how many.
        ProtocolFormat::Postgres => "{bar:40} {percent}%  {eta} left",
        _ => "{bar:40} {pos}/{len} rows  {eta} left",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
