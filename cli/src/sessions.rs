//! `sessions`: one row per session, newest first.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use reagentic_protocol::{RunKind, SessionFilter};

use crate::failure::{open, warn_skipped, CliResult};
use crate::output::{self, Format};
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};
use crate::time_arg::time_value;

/// List sessions (or traces without a session), most recently active first.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol sessions protocol.db
  reagentic-protocol sessions protocol.jsonl --since 2h --limit 10
  reagentic-protocol sessions protocol.db --json | jq '.[0].id'")]
pub struct Args {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson).
    file: PathBuf,
    /// Show at most this many sessions.
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: usize,
    /// Only sessions active since then: RFC 3339, a date, or a time ago (15m, 2h, 7d).
    #[arg(long, value_parser = time_value)]
    since: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args, json: bool) -> CliResult {
    let reader = open(&args.file)?;
    let mut filter = SessionFilter::default().with_limit(args.limit);
    if let Some(since) = args.since {
        filter = filter.with_since(since);
    }
    let sessions = reader.sessions(&filter)?;
    warn_skipped(&reader);
    if args.format.resolve(json) == Format::Json {
        let list: Vec<serde_json::Value> = sessions
            .iter()
            .map(|s| {
                let mut value = serde_json::to_value(s).unwrap_or_default();
                value["wall_ms"] = serde_json::json!(output::millis(s.wall_duration()));
                value
            })
            .collect();
        output::print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Terminal::detect();
    if sessions.is_empty() {
        eprintln!("no sessions in {}", args.file.display());
        return Ok(ExitCode::SUCCESS);
    }
    let columns = [
        Column::left("LAST"),
        Column::flexible("SESSION"),
        Column::right("WALL"),
        Column::flexible("AGENTS"),
        Column::right("MODEL"),
        Column::right("TOOLS"),
        Column::right("TOKENS IN/OUT"),
        Column::right("ERRORS"),
    ];
    let rows: Vec<Vec<Cell>> = sessions
        .iter()
        .map(|s| {
            let id = match s.kind {
                RunKind::Session => s.id.clone(),
                RunKind::Trace => format!("trace {}", s.id),
            };
            vec![
                Cell::plain(output::time(&s.last)),
                Cell::plain(id),
                Cell::plain(output::duration_ms(output::millis(s.wall_duration()))),
                Cell::plain(s.agents.join(", ")),
                Cell::plain(s.model_calls.to_string()),
                Cell::plain(s.tool_calls.to_string()),
                Cell::plain(format!("{}/{}", s.input_tokens, s.output_tokens)),
                if s.errors > 0 {
                    Cell::toned(s.errors.to_string(), Tone::Failure)
                } else {
                    Cell::plain("0")
                },
            ]
        })
        .collect();
    output::print(&render(&style, &columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}
