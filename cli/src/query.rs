//! `query`: entries that pass filters, as a table, JSON or JSON Lines.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use reagentic_protocol::{EntryFilter, EventType, ProtocolEntry};

use crate::failure::{open, warn_skipped, CliResult, Failure};
use crate::output;
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};
use crate::time_arg::time_value;

/// How `query` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum QueryFormat {
    /// Aligned columns that fit the terminal.
    Table,
    /// One JSON array of entries.
    Json,
    /// One entry per line, exactly as in a JSON Lines protocol.
    Jsonl,
}

/// List the entries that pass every filter given, oldest first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol query protocol.db --session conv-42 --type tool_end
  reagentic-protocol query protocol.db --errors --since 2h
  reagentic-protocol query protocol.jsonl --tool search_flights --format jsonl > calls.jsonl
  reagentic-protocol query protocol.db --model gpt-4o --since 2026-11-27T00:00:00Z --until 1h")]
pub struct Args {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson).
    file: PathBuf,
    /// Only this session.
    #[arg(long)]
    session: Option<String>,
    /// Only this trace (32 hex digits).
    #[arg(long)]
    trace: Option<String>,
    /// Only these event types (repeat or comma-separate: tool_start,tool_end).
    #[arg(long = "type", value_delimiter = ',', value_parser = event_type)]
    types: Vec<EventType>,
    /// Only this agent.
    #[arg(long)]
    agent: Option<String>,
    /// Only this tool.
    #[arg(long)]
    tool: Option<String>,
    /// Only this model.
    #[arg(long)]
    model: Option<String>,
    /// Only entries at or after: RFC 3339, a date, or a time ago (15m, 2h, 7d).
    #[arg(long, value_parser = time_value)]
    since: Option<DateTime<Utc>>,
    /// Only entries before: RFC 3339, a date, or a time ago.
    #[arg(long, value_parser = time_value)]
    until: Option<DateTime<Utc>>,
    /// Only failed steps.
    #[arg(long)]
    errors: bool,
    /// At most this many entries (the newest ones with --newest-first).
    #[arg(long, short = 'n')]
    limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    newest_first: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    format: QueryFormat,
}

fn event_type(text: &str) -> Result<EventType, String> {
    text.parse()
        .map_err(|e: reagentic_protocol::UnknownEventType| e.to_string())
}

impl Args {
    fn filter(&self) -> EntryFilter {
        let mut f = EntryFilter::default().with_event_types(self.types.iter().copied());
        if let Some(v) = &self.session {
            f = f.with_session(v);
        }
        if let Some(v) = &self.trace {
            f = f.with_trace(v);
        }
        if let Some(v) = &self.agent {
            f = f.with_agent(v);
        }
        if let Some(v) = &self.tool {
            f = f.with_tool(v);
        }
        if let Some(v) = &self.model {
            f = f.with_model(v);
        }
        if let Some(v) = self.since {
            f = f.with_since(v);
        }
        if let Some(v) = self.until {
            f = f.with_until(v);
        }
        if self.errors {
            f = f.errors_only();
        }
        if let Some(v) = self.limit {
            f = f.with_limit(v);
        }
        if self.newest_first {
            f = f.newest_first();
        }
        f
    }
}

pub fn run(args: Args, json: bool) -> CliResult {
    if let (Some(since), Some(until)) = (args.since, args.until) {
        if since >= until {
            return Err(Failure::new(format!(
                "--since ({since}) is not before --until ({until}): nothing can match"
            )));
        }
    }
    let reader = open(&args.file)?;
    let entries = reader.query(&args.filter())?;
    warn_skipped(&reader);
    let format = if json { QueryFormat::Json } else { args.format };
    match format {
        QueryFormat::Json => output::print_json(&entries)?,
        QueryFormat::Jsonl => output::print_json_lines(&entries)?,
        QueryFormat::Table => {
            output::print(&entry_table(&Terminal::detect(), &entries))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The table form of entries, shared with `tail`.
pub fn entry_table(style: &Terminal, entries: &[ProtocolEntry]) -> String {
    let columns = [
        Column::left("TIME"),
        Column::left("TYPE"),
        Column::flexible("SESSION"),
        Column::flexible("AGENT"),
        Column::flexible("NAME"),
        Column::right("DURATION"),
        Column::right("TOKENS"),
        Column::left("STATUS"),
        Column::flexible("ERROR"),
    ];
    let rows: Vec<Vec<Cell>> = entries.iter().map(entry_row).collect();
    render(style, &columns, &rows)
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
        Cell::plain(e.session_id.clone().unwrap_or_default()),
        Cell::plain(e.agent_name.clone().unwrap_or_default()),
        Cell::plain(e.name.clone()),
        Cell::plain(e.duration_ms.map(output::duration_ms).unwrap_or_default()),
        Cell::plain(tokens),
        status,
        Cell::toned(
            e.error.as_ref().map(output::error_text).unwrap_or_default(),
            Tone::Failure,
        ),
    ]
}
