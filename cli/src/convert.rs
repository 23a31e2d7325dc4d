//! `convert`: JSON Lines ↔ SQLite, each entry stored once however often it
//! is run.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use reagentic_protocol::read::{ProtocolFormat, ReadPosition};
use reagentic_protocol::{ProtocolReader, Storage};
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
  reagentic-protocol convert a.jsonl merged.db && reagentic-protocol convert b.jsonl merged.db"
    };
}

/// Copy a protocol between JSON Lines and SQLite (formats by extension).
///
/// Entries already in OUT are not written again, so converting twice (or
/// into a file that already holds some of the entries) stores each once.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  input, output  the two files, as given
  read           entries read from INPUT
  written        entries added to OUTPUT (0 when all were there already)
  skipped        unreadable records of INPUT, left out")
)]
pub struct Args {
    /// The protocol to read.
    input: PathBuf,
    /// The protocol to write (created if missing, added to if not).
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

pub fn run(args: Args, global: &Global) -> CliResult {
    let out_format = ProtocolFormat::from_path(&args.output)?;
    if same_file(&args.input, &args.output) {
        return Err(Failure::new(format!(
            "{} and {} are the same file",
            args.input.display(),
            args.output.display()
        )));
    }
    let reader = open(&args.input)?;
    let meta = reader.meta()?;
    let existed = args.output.exists();
    // JSON Lines appends whatever it is given, so the ids OUT already holds
    // are left out of the writes: that makes a second conversion a no-op.
    // SQLite skips them by itself; the rowids it hands out tell how many rows
    // were really added (rows are only ever appended, never deleted).
    let mut already: HashSet<String> = HashSet::new();
    let mut rows_before = 0;
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
            // A database stores each id once by itself.
            _ => rows_before = out_reader.end_position()?.offset(),
        }
    }
    let mut storage = reagentic_protocol::storage::open(&args.output)?;
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
        storage.write_batch(&fresh)?;
        written += fresh.len() as u64;
        bar.set_position(position.offset().min(end));
    }
    // The count of dropped entries is carried into a new file only: adding it
    // again on every conversion into the same file would inflate it.
    if !existed && meta.dropped_entries > 0 {
        storage.record_dropped(meta.dropped_entries)?;
    }
    storage.close()?;
    bar.finish_and_clear();
    if out_format == ProtocolFormat::Sqlite {
        let rows_after = open(&args.output)?.end_position()?.offset();
        written = rows_after.saturating_sub(rows_before);
    }
    if reader.format() == ProtocolFormat::Jsonl {
        let len = std::fs::metadata(&args.input).map_or(0, |m| m.len());
        if len > position.offset() {
            eprintln!(
                "warning: the last {} byte(s) of {} are an unfinished line (still being written, or torn by a crash) and were not converted",
                len - position.offset(),
                args.input.display()
            );
        }
    }
    if args.format.resolve(global) == Format::Json {
        output::print_json(&ConvertJson {
            input: args.input.display().to_string(),
            output: args.output.display().to_string(),
            read,
            written,
            skipped,
        })?;
    } else {
        output::print(&format!(
            "{} → {}: {read} entries read, {written} written, {} already there{}\n",
            args.input.display(),
            args.output.display(),
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
        _ => "{bar:40} {pos}/{len} rows  {eta} left",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
