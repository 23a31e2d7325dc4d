//! `stats`: count, failures, latency and tokens per agent, model or tool.

use std::process::ExitCode;

use clap::ValueEnum;
use reagentic_protocol::pricing::CostTotal;
use reagentic_protocol::read::{CostExplanation, GroupStats, StatsBy, StatsFilter};
use reagentic_protocol::ProtocolReader;
use serde::ser::SerializeMap as _;
use serde::{Serialize, Serializer};

use crate::args::{Format, Global, Output, ProtocolFile, TimeWindow};
use crate::cost;
use crate::failure::{warn_skipped, CliResult};
use crate::output;
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};

/// What to group by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum By {
    /// Agent runs, by agent (tokens of the agent's model calls).
    Agent,
    /// Model calls, by model.
    Model,
    /// Tool calls, by tool.
    Tool,
    /// Model calls, by session (or trace, without a session).
    Session,
}

impl By {
    fn library(self) -> StatsBy {
        match self {
            By::Agent => StatsBy::Agent,
            By::Model => StatsBy::Model,
            By::Tool => StatsBy::Tool,
            By::Session => StatsBy::Session,
        }
    }

    /// Its key in the JSON.
    fn key(self) -> &'static str {
        match self {
            By::Agent => "agent",
            By::Model => "model",
            By::Tool => "tool",
            By::Session => "session",
        }
    }

    fn title(self) -> &'static str {
        match self {
            By::Agent => "AGENT",
            By::Model => "MODEL",
            By::Tool => "TOOL",
            By::Session => "SESSION",
        }
    }
}

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol stats protocol.db
  reagentic-protocol stats protocol.db --by tool --since 7d
  reagentic-protocol stats protocol.jsonl --by model --json
  reagentic-protocol stats protocol.db --by session --since 1d
  reagentic-protocol stats protocol.db --explain-cost --prices my-prices.json"
    };
}

/// Count, error rate, p50/p95/max duration and tokens per agent, model, tool.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object with a key per grouping, in the order asked
(\"agent\", \"model\", \"tool\", \"session\"), each an array, busiest first, of
  name                    the agent, model, tool or session (\"(none)\" when
                          not recorded; a trace id for a run without a session)
  count                   finished agent runs, model calls or tool calls (a
                          session: its model calls)
  errors                  how many of them failed
  p50_ms, p95_ms, max_ms  median, 95th percentile and longest duration in
                          milliseconds (null when none was recorded)
  input_tokens            tokens read (an agent: its own model calls')
  output_tokens           tokens written
  error_rate              errors / count, from 0 to 1
  cost                    {usd, reported, priced, unpriced_calls,
                          unpriced_input_tokens, unpriced_output_tokens}: the
                          known cost in US dollars (null when none is known),
                          how many steps reported it or were priced, and the
                          model calls and tokens that could not be priced.
                          An agent's and a session's cost is its model calls'
                          and tools' own, never an agent's re-reported total.

With --explain-cost, one object {\"cost_by_price\": [...]} instead, one element
per model, provider and way of pricing, most expensive first:
  model, provider         as the model calls named them
  source                  \"reported\", \"priced\", \"unpriced\" (null: not priced)
  price_model             the price table's name for the model
  price_rule              with_provider, exact, without_provider,
                          without_version or pattern:<pattern>
  calls, input_tokens, output_tokens, cost   as above

With --storage (SQLite), one object instead: file_bytes, wal_bytes, entries,
page_size, pages, free_pages, reclaimable_bytes (what `prune` or `vacuum`
would give back), auto_vacuum (\"none\", \"full\" or \"incremental\").
With --storage on JSON Lines: files (each {path, bytes}, oldest first, the
file being written last), rotated_files, file_bytes (all of them), entries.")
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    /// Group by these (repeat or comma-separate); agent, model and tool
    /// when not given.
    #[arg(long, value_enum, value_delimiter = ',')]
    by: Vec<By>,
    /// Say which price each model's calls got and by which rule (or that
    /// they reported their own cost, or could not be priced), instead of
    /// the groupings.
    #[arg(long, conflicts_with = "by")]
    explain_cost: bool,
    /// Report the file itself instead: its size, entries, free pages and the
    /// bytes `prune` (or `vacuum`) would give back (SQLite).
    #[arg(long, conflicts_with_all = ["by", "explain_cost"])]
    storage: bool,
    #[command(flatten)]
    window: TimeWindow,
    #[command(flatten)]
    output: Output<Format>,
}

/// `stats --json`: a key per grouping asked for, in the order asked.
#[derive(Debug)]
struct StatsJson<'a>(Vec<(By, Vec<GroupJson<'a>>)>);

impl Serialize for StatsJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (by, groups) in &self.0 {
            map.serialize_entry(by.key(), groups)?;
        }
        map.end()
    }
}

/// One agent, model or tool.
#[derive(Debug, Serialize)]
struct GroupJson<'a> {
    name: &'a str,
    count: u64,
    errors: u64,
    p50_ms: Option<f64>,
    p95_ms: Option<f64>,
    max_ms: Option<f64>,
    input_tokens: u64,
    output_tokens: u64,
    error_rate: f64,
    cost: CostTotal,
}

impl<'a> From<&'a GroupStats> for GroupJson<'a> {
    fn from(g: &'a GroupStats) -> Self {
        GroupJson {
            name: &g.name,
            count: g.count,
            errors: g.errors,
            p50_ms: g.p50_ms,
            p95_ms: g.p95_ms,
            max_ms: g.max_ms,
            input_tokens: g.input_tokens,
            output_tokens: g.output_tokens,
            error_rate: g.error_rate(),
            cost: g.cost,
        }
    }
}

pub fn run(args: Args, global: &Global) -> CliResult {
    if args.storage {
        return crate::prune::storage_report(args.file.path(), global, &args.output);
    }
    let reader = args.file.open()?;
    if args.explain_cost {
        return explain_cost(&reader, &args, global);
    }
    let asked: &[By] = if args.by.is_empty() {
        &[By::Agent, By::Model, By::Tool]
    } else {
        &args.by
    };
    // Each grouping once, where it was first asked for.
    let mut by: Vec<By> = Vec::new();
    for b in asked {
        if !by.contains(b) {
            by.push(*b);
        }
    }
    let mut tables = Vec::new();
    for dimension in &by {
        let filter = args.window.apply(StatsFilter::new(dimension.library()))?;
        tables.push((*dimension, reader.stats(&filter)?));
    }
    // Every table reads the same records: one warning covers them all.
    warn_skipped(&reader);
    if args.output.resolve(global) == Format::Json {
        let json = StatsJson(
            tables
                .iter()
                .map(|(by, groups)| (*by, groups.iter().map(GroupJson::from).collect()))
                .collect(),
        );
        output::print_json(&json)?;
        return Ok(ExitCode::SUCCESS);
    }
    let terminal = Terminal::detect();
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
            Column::right("COST"),
            Column::right("UNPRICED TOKENS"),
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
                    Cell::plain(&g.name),
                    Cell::plain(g.count.to_string()),
                    errors,
                    Cell::plain(format!("{:.1}%", g.error_rate() * 100.0)),
                    Cell::plain(ms(g.p50_ms)),
                    Cell::plain(ms(g.p95_ms)),
                    Cell::plain(ms(g.max_ms)),
                    Cell::plain(g.input_tokens.to_string()),
                    Cell::plain(g.output_tokens.to_string()),
                    Cell::plain(
                        g.cost
                            .usd()
                            .map(cost::usd_text)
                            .unwrap_or_else(|| "-".into()),
                    ),
                    unpriced_cell(&g.cost),
                ]
            })
            .collect();
        text.push_str(&render(&terminal, &columns, &rows));
    }
    output::print(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// Unpriced tokens, marked: a cost that leaves them out is not the whole cost.
fn unpriced_cell(total: &CostTotal) -> Cell {
    match total.unpriced_tokens() {
        0 if total.unpriced_calls == 0 => Cell::plain("0"),
        tokens => Cell::toned(cost::thousands(tokens), Tone::Warning),
    }
}

/// `stats --explain-cost --json`.
#[derive(Debug, Serialize)]
struct ExplainJson {
    cost_by_price: Vec<CostExplanation>,
}

/// `stats --explain-cost`: which price each model's calls got.
fn explain_cost(reader: &ProtocolReader, args: &Args, global: &Global) -> CliResult {
    let filter = args.window.apply(StatsFilter::new(StatsBy::Model))?;
    let lines = reader.explain_cost(&filter)?;
    warn_skipped(reader);
    if args.output.resolve(global) == Format::Json {
        output::print_json(&ExplainJson {
            cost_by_price: lines,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if lines.is_empty() {
        output::print("no model calls\n")?;
        return Ok(ExitCode::SUCCESS);
    }
    let columns = [
        Column::flexible("MODEL"),
        Column::flexible("PROVIDER"),
        Column::left("COST FROM"),
        Column::flexible("PRICE"),
        Column::left("RULE"),
        Column::right("CALLS"),
        Column::right("TOKENS IN"),
        Column::right("TOKENS OUT"),
        Column::right("COST"),
        Column::right("UNPRICED TOKENS"),
    ];
    let rows: Vec<Vec<Cell>> = lines
        .iter()
        .map(|l| {
            vec![
                Cell::plain(&l.model),
                Cell::plain(l.provider.as_deref().unwrap_or("-")),
                Cell::plain(l.source.map_or("-", |s| s.as_str())),
                Cell::plain(l.price_model.as_deref().unwrap_or("-")),
                Cell::plain(l.price_rule.as_deref().unwrap_or("-")),
                Cell::plain(l.calls.to_string()),
                Cell::plain(l.input_tokens.to_string()),
                Cell::plain(l.output_tokens.to_string()),
                Cell::plain(
                    l.cost
                        .usd()
                        .map(cost::usd_text)
                        .unwrap_or_else(|| "-".into()),
                ),
                unpriced_cell(&l.cost),
            ]
        })
        .collect();
    output::print(&render(&Terminal::detect(), &columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}
