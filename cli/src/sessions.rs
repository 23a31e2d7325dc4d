//! `sessions`: one row per session, newest first.

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use reagentic_protocol::read::{RunKind, SessionFilter, SessionSummary};
use serde::Serialize;

use crate::args::{Format, Global, Output, ProtocolFile, TimeWindow};
use crate::cost::{CostTotal, CostView};
use crate::failure::{warn_skipped, CliResult};
use crate::output;
use crate::table::{render, Cell, Column};
use crate::terminal::{Terminal, Tone};

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol sessions protocol.db
  reagentic-protocol sessions protocol.jsonl --since 2h --limit 10
  reagentic-protocol sessions protocol.db --sort cost --since 7d --limit 10
  reagentic-protocol sessions protocol.db --json | jq '.[0].id'"
    };
}

/// List sessions (or traces without a session), most recently active first.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): an array, most recently active first, of
  id             the session id; for a trace without a session, the trace id
  kind           \"session\" or \"trace\"
  first, last    its oldest and newest entry's time (RFC 3339, UTC)
  wall_ms        last − first, in milliseconds
  entries        how many entries it has
  agents         the agents involved, sorted by name
  model_calls    model calls started
  tool_calls     tool calls started
  input_tokens   tokens its model calls read
  output_tokens  tokens its model calls wrote
  errors         entries recording a failure
  cost           {usd, unpriced_calls, unpriced_tokens, label}: what its model
                 calls (and tools with a cost of their own) cost in US dollars
                 (null when none is known), and the calls and tokens that
                 could not be priced")
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    /// Show at most this many sessions.
    #[arg(long, short = 'n', default_value_t = 50)]
    limit: usize,
    /// The order: most recently active first, or most expensive first
    /// (known cost, then unpriced tokens; reads every session in the window).
    #[arg(long, value_enum, default_value_t = Sort::Recent)]
    sort: Sort,
    #[command(flatten)]
    window: TimeWindow,
    #[command(flatten)]
    output: Output<Format>,
}

/// The order of the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Sort {
    /// Most recently active first.
    Recent,
    /// Most expensive first.
    Cost,
}

/// One session in `sessions --json`.
#[derive(Debug, Serialize)]
struct SessionJson<'a> {
    id: &'a str,
    kind: &'static str,
    #[serde(serialize_with = "output::timestamp")]
    first: DateTime<Utc>,
    #[serde(serialize_with = "output::timestamp")]
    last: DateTime<Utc>,
    entries: u64,
    agents: &'a [String],
    model_calls: u64,
    tool_calls: u64,
    input_tokens: u64,
    output_tokens: u64,
    errors: u64,
    wall_ms: f64,
    cost: CostView,
}

impl<'a> From<&'a SessionSummary> for SessionJson<'a> {
    fn from(s: &'a SessionSummary) -> Self {
        SessionJson {
            id: &s.id,
            kind: kind_name(s.kind),
            first: s.first,
            last: s.last,
            entries: s.entries,
            agents: &s.agents,
            model_calls: s.model_calls,
            tool_calls: s.tool_calls,
            input_tokens: s.input_tokens,
            output_tokens: s.output_tokens,
            errors: s.errors,
            wall_ms: output::millis(s.wall_duration()),
            cost: CostTotal::from(s.cost).into(),
        }
    }
}

/// `"session"` or `"trace"`, as the JSON of `sessions` and `show` names it.
pub fn kind_name(kind: RunKind) -> &'static str {
    kind.as_str()
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let reader = args.file.open()?;
    let filter = match args.sort {
        Sort::Recent => SessionFilter::default().with_limit(args.limit),
        // The most expensive may be anywhere in the window.
        Sort::Cost => SessionFilter::default(),
    };
    let mut sessions = reader.sessions(&args.window.apply(filter)?)?;
    if args.sort == Sort::Cost {
        let key = |s: &SessionSummary| (s.cost.usd().unwrap_or(0.0), s.cost.unpriced_tokens());
        sessions.sort_by(|a, b| {
            let ((ua, ta), (ub, tb)) = (key(a), key(b));
            ub.total_cmp(&ua).then(tb.cmp(&ta))
        });
        sessions.truncate(args.limit);
    }
    warn_skipped(&reader);
    if args.output.resolve(global) == Format::Json {
        let list: Vec<SessionJson> = sessions.iter().map(SessionJson::from).collect();
        output::print_json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if sessions.is_empty() {
        eprintln!("no sessions in {}", reader.path().display());
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
        Column::right("COST"),
    ];
    let rows: Vec<Vec<Cell>> = sessions
        .iter()
        .map(|s| {
            let id = match s.kind {
                RunKind::Session => s.id.clone(),
                other => format!("{} {}", other.as_str(), s.id),
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
                Cell::plain(CostTotal::from(s.cost).label()),
            ]
        })
        .collect();
    output::print(&render(&Terminal::detect(), &columns, &rows))?;
    Ok(ExitCode::SUCCESS)
}
