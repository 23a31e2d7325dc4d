//! `tail`: the newest entries, and with `-f` the ones written after them.

use std::collections::HashSet;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reagentic_protocol::read::ReadPosition;
use reagentic_protocol::{EntryFilter, ProtocolEntry, ProtocolReader};

use crate::args::{EntryFormat, EntrySelectors, Global, Output, ProtocolFile};
use crate::failure::{warn_skipped, CliResult, Failure};
use crate::output;
use crate::query::{entry_json, entry_table};
use crate::terminal::Terminal;

/// Entries read per poll at most, so a burst is printed as it is read.
const BATCH: usize = 1_000;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol tail protocol.db
  reagentic-protocol tail protocol.jsonl -n 50
  reagentic-protocol tail -f protocol.db --errors
  reagentic-protocol tail -f protocol.db --json | jq .name"
    };
}

/// Show the newest entries; with -f, follow new ones as they are written.
///
/// Following works on SQLite and JSON Lines alike and goes on until
/// interrupted with Ctrl-C. The filters keep only the entries they select,
/// both the newest shown first and those followed.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON: --json, --format json and --format jsonl all print one entry per line
(JSON Lines), oldest first, as they are read.

", entry_json!())
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    /// How many of the newest entries to show first.
    #[arg(long, short = 'n', default_value_t = 20)]
    lines: usize,
    /// Keep following the file for new entries until interrupted.
    #[arg(long, short = 'f')]
    follow: bool,
    /// How often to look for new entries while following, in milliseconds.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    interval_ms: u64,
    #[command(flatten)]
    select: EntrySelectors,
    #[command(flatten)]
    output: Output<EntryFormat>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let reader = args.file.open()?;
    let format = args.output.resolve(global);
    let terminal = Terminal::detect();
    let filter = args.select.filter();
    // Taken before the newest entries are read, so nothing written in
    // between is missed; what is read twice is printed once (`shown`).
    let mut position = reader.end_position()?;
    let mut newest = reader.query(&filter.clone().newest_first().with_limit(args.lines))?;
    warn_skipped(&reader);
    newest.reverse();
    let mut shown: HashSet<String> = newest.iter().map(|e| e.entry_id.clone()).collect();
    if !args.follow {
        print_entries(&terminal, format, &newest, true)?;
        return Ok(ExitCode::SUCCESS);
    }
    // Following a protocol with nothing to show yet: the heading comes with
    // the first entries, laid out for them (printed now, alone, it came twice).
    if !newest.is_empty() {
        print_entries(&terminal, format, &newest, true)?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst))
        .map_err(|e| Failure::new(format!("cannot watch for Ctrl-C: {e}")))?;
    let interval = Duration::from_millis(args.interval_ms);
    let mut header = newest.is_empty();
    while !stop.load(Ordering::SeqCst) {
        let batch = read_new(&reader, &mut position, &filter)?;
        let fresh: Vec<ProtocolEntry> = batch
            .into_iter()
            .filter(|e| shown.is_empty() || !shown.remove(&e.entry_id))
            .collect();
        if !fresh.is_empty() {
            print_entries(&terminal, format, &fresh, header)?;
            header = false;
        }
        sleep_unless_stopped(interval, &stop);
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything written since `position` that `filter` keeps.
fn read_new(
    reader: &ProtocolReader,
    position: &mut ReadPosition,
    filter: &EntryFilter,
) -> Result<Vec<ProtocolEntry>, Failure> {
    let mut all = Vec::new();
    loop {
        let batch = reader.read_from(position, BATCH)?;
        warn_skipped(reader);
        let done = batch.len() < BATCH;
        all.extend(batch.into_iter().filter(|e| filter.matches(e)));
        if done {
            return Ok(all);
        }
    }
}

fn sleep_unless_stopped(interval: Duration, stop: &AtomicBool) {
    let until = Instant::now() + interval;
    while !stop.load(Ordering::SeqCst) {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

fn print_entries(
    terminal: &Terminal,
    format: EntryFormat,
    entries: &[ProtocolEntry],
    header: bool,
) -> Result<(), Failure> {
    match format {
        EntryFormat::Json | EntryFormat::Jsonl => output::print_json_lines(entries),
        EntryFormat::Table => {
            let table = entry_table(terminal, entries);
            // Each batch is laid out on its own; the heading once, on top.
            let text = if header {
                table
            } else {
                table.lines().skip(1).map(|l| format!("{l}\n")).collect()
            };
            output::print(&text)
        }
    }
}
