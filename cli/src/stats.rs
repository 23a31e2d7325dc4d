//! `stats`: count, failures, latency and tokens per agent, model or tool.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use reagentic_protocol::{StatsBy, StatsFilter};
use serde_json::json;

use crate::failure::{open, warn_skipped, CliResult};
use crate::output::{self, Format};
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};
use crate::time_arg::time_value;

/// What to group by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// Agent runs, by agent (tokens of the agent's model calls).
    Agent,
    /// Model calls, by model.
    Model,
    /// Tool calls, by tool.
    Tool,
}

impl By {
    fn library(self) -> StatsBy {
        match self {
            By::Agent => StatsBy::Agent,
            By::Model => StatsBy::Model,
            By::Tool => StatsBy::Tool,
        }
    }

    fn title(self) -> &'static str {
        match self {
            By::Agent => "AGENT",
            By::Model => "MODEL",
            By::Tool => "TOOL",
        }
    }
}

/// Count, error rate, p50/p95/max duration and tokens per agent, model, tool.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol stats protocol.db
  reagentic-protocol stats protocol.db --by tool --since 7d
  reagentic-protocol stats protocol.jsonl --by model --json")]
pub struct Args {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson).
    file: PathBuf,
    /// Group by these (repeat or comma-separate); all three when not given.
    #[arg(long, value_enum, value_delimiter = ',')]
    by: Vec<By>,
    /// Only entries since then: RFC 3339, a date, or a time ago (15m, 2h, 7d).
    #[arg(long, value_parser = time_value)]
    since: Option<DateTime<Utc>>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args, json: bool) -> CliResult {
    let reader = open(&args.file)?;
    let by = if args.by.is_empty() {
        vec![By::Agent, By::Model, By::Tool]
    } else {
        args.by.clone()
    };
    let mut tables = Vec::new();
    for dimension in &by {
        let mut filter = StatsFilter::new(dimension.library());
        if let Some(since) = args.since {
            filter = filter.with_since(since);
        }
        tables.push((*dimension, reader.stats(&filter)?));
    }
    // Every table reads the same records: one warning covers them all.
    warn_skipped(&reader);
    if args.format.resolve(json) == Format::Json {
        let mut out = serde_json::Map::new();
        for (dimension, groups) in &tables {
            let rows: Vec<_> = groups
                .iter()
                .map(|g| {
                    let mut value = serde_json::to_value(g).unwrap_or_default();
                    value["error_rate"] = json!(g.error_rate());
                    value
                })
                .collect();
            let key = format!("{dimension:?}").to_lowercase();
            out.insert(key, json!(rows));
        }
        output::print_json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Terminal::detect();
    let mut text = String::new();
    for (i, (dimension, groups)) in tables.iter().enumerate() {
        if i > 0 {
            text.push('\n');
        }
        if groups.is_empty() {
            text.push_str(&format!("no {} steps\n", dimension.title().to_lowercase()));
            continue;
        }
        let columns = [
            Column::flexible(dimension.title()),
            Column::right("COUNT"),
            Column::right("ERRORS"),
            Column::right("ERR%"),
            Column::right("P50"),
            Column::right("P95"),
            Column::right("MAX"),
            Column::right("TOKENS IN"),
            Column::right("TOKENS OUT"),
        ];
        let ms = |v: Option<f64>| v.map(output::duration_ms).unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<Cell>> = groups
            .iter()
            .map(|g| {
                let errors = if g.errors > 0 {
                    Cell::toned(g.errors.to_string(), Tone::Failure)
                } else {
                    Cell::plain("0")
                };
                vec![
                    Cell::plain(g.name.clone()),
                    Cell::plain(g.count.to_string()),
                    errors,
                    Cell::plain(format!("{:.1}%", g.error_rate() * 100.0)),
                    Cell::plain(ms(g.p50_ms)),
                    Cell::plain(ms(g.p95_ms)),
                    Cell::plain(ms(g.max_ms)),
                    Cell::plain(g.input_tokens.to_string()),
                    Cell::plain(g.output_tokens.to_string()),
                ]
            })
            .collect();
        text.push_str(&render(&style, &columns, &rows));
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}
