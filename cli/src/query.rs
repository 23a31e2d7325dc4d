//! `query`: entries that pass filters, as a table, JSON or JSON Lines.

use std::process::ExitCode;

use reagentic_protocol::entry::CostSource;
use reagentic_protocol::ProtocolEntry;

use crate::args::{EntryFormat, EntrySelectors, Global, Output, ProtocolFile, TimeWindow};
use crate::failure::{warn_skipped, CliResult};
use crate::output;
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};

/// How `--help` describes an entry in JSON; `tail` and `show` refer to it.
macro_rules! entry_json {
    () => {
        "Each entry is printed exactly as a JSON Lines protocol stores it
(fields not recorded are null):
  schema, entry_id     the entry format version; trace_id:span_id:start|end
  timestamp            RFC 3339, UTC, microseconds: the step's start, or its end
  event_type           agent_start, agent_end, llm_start, llm_end, tool_start,
                       tool_end, handoff, guardrail_start, guardrail_end,
                       span_start, span_end
  trace_id, span_id, parent_span_id, session_id, service_name
  agent_name, name     the agent (own or enclosing); the step's name
  model, provider, tool_name, tool_call_id, operation
  input, output        content (text or JSON), by the protocol's detail level
  input_tokens, output_tokens, cache_read_input_tokens,
  cache_creation_input_tokens, reasoning_tokens, finish_reasons
  cost_usd             US dollars, reported by the framework or priced from
                       the tokens (model calls)
  cost_source          \"reported\", \"priced\" or \"unpriced\" (no cost)
  price_model, price_rule  the price used and the rule that matched it
  unpriced_tokens      tokens of a model call that could not be priced
  duration_ms, time_to_first_chunk_ms
  status               \"unset\" (start entries), \"ok\" or \"error\"
  error                {type, message, stacktrace} when it failed
  attributes           every other attribute and event, at detail level Full"
    };
}
pub(crate) use entry_json;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol query protocol.db --session conv-42 --type tool_end
  reagentic-protocol query protocol.db --errors --since 2h
  reagentic-protocol query protocol.jsonl --tool search_flights --format jsonl > calls.jsonl
  reagentic-protocol query protocol.db --model gpt-4o --since 2026-11-27T00:00:00Z --until 1h
  reagentic-protocol query protocol.db --type llm_end --min-cost 0.10 --prices my-prices.json"
    };
}

/// List the entries that pass every filter given, oldest first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON: --json (or --format json) prints one array of entries; --format jsonl
prints one entry per line.

", entry_json!())
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    #[command(flatten)]
    select: EntrySelectors,
    #[command(flatten)]
    window: TimeWindow,
    /// At most this many entries (the newest ones with --newest-first).
    #[arg(long, short = 'n')]
    limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    newest_first: bool,
    /// Only entries that cost at least this many US dollars (reported or
    /// priced; e.g. `--type llm_end --min-cost 0.05`).
    #[arg(long, value_name = "USD", value_parser = usd)]
    min_cost: Option<f64>,
    #[command(flatten)]
    output: Output<EntryFormat>,
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let mut filter = args.window.apply(args.select.filter())?;
    if let Some(limit) = args.limit {
        filter = filter.with_limit(limit);
    }
    if args.newest_first {
        filter = filter.newest_first();
    }
    if let Some(usd) = args.min_cost {
        filter = filter.with_min_cost(usd);
    }
    let reader = args.file.open()?;
    let entries = reader.query(&filter)?;
    warn_skipped(&reader);
    match args.output.resolve(global) {
        EntryFormat::Json => output::print_json(&entries)?,
        EntryFormat::Jsonl => output::print_json_lines(&entries)?,
        EntryFormat::Table => output::print(&entry_table(&Terminal::detect(), &entries))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// A number of US dollars, zero or more (`0.05`, `$0.05`).
fn usd(text: &str) -> Result<f64, String> {
    let digits = text.trim().trim_start_matches('$');
    match digits.parse::<f64>() {
        Ok(usd) if usd.is_finite() && usd >= 0.0 => Ok(usd),
        _ => Err(format!(
            "{text:?} is not an amount of US dollars (zero or more, e.g. 0.05)"
        )),
    }
}

/// The table form of entries, shared with `tail`.
pub fn entry_table(terminal: &Terminal, entries: &[ProtocolEntry]) -> String {
    let columns = [
        Column::left("TIME"),
        Column::left("TYPE"),
        Column::flexible("SESSION"),
        Column::flexible("AGENT"),
        Column::flexible("NAME"),
        Column::right("DURATION"),
        Column::right("TOKENS"),
        Column::right("COST"),
        Column::left("STATUS"),
        Column::flexible("ERROR"),
    ];
    let rows: Vec<Vec<Cell>> = entries.iter().map(entry_row).collect();
    render(terminal, &columns, &rows)
}

/// A step's cost, `unpriced` for a model call without one, or nothing.
fn cost_cell(e: &ProtocolEntry) -> String {
    match (e.cost_usd, e.cost_source) {
        (Some(usd), _) => crate::cost::usd_text(usd),
        (None, Some(CostSource::Unpriced)) => "unpriced".into(),
        _ => String::new(),
    }
}

fn entry_row(e: &ProtocolEntry) -> Vec<Cell> {
    let tokens = match (e.input_tokens, e.output_tokens) {
        (None, None) => String::new(),
        (i, o) => format!("{}/{}", i.unwrap_or(0), o.unwrap_or(0)),
    };
    let status = if e.is_error() {
        Cell::toned("error", Tone::Failure)
    } else {
        Cell::plain(e.status.as_str())
    };
    vec![
        Cell::plain(output::time(&e.timestamp)),
        Cell::plain(e.event_type.as_str()),
        Cell::plain(e.session_id.as_deref().unwrap_or_default()),
        Cell::plain(e.agent_name.as_deref().unwrap_or_default()),
        Cell::plain(&e.name),
        Cell::plain(e.duration_ms.map(output::duration_ms).unwrap_or_default()),
        Cell::plain(tokens),
        Cell::plain(cost_cell(e)),
        status,
        Cell::toned(
            e.error.as_ref().map(output::error_text).unwrap_or_default(),
            Tone::Failure,
        ),
    ]
}
