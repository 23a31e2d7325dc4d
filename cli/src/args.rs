//! The argument groups the commands share, flattened into each with
//! `#[command(flatten)]` so that a flag reads, parses and is documented the
//! same everywhere.

use std::fmt::Debug;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use reagentic_protocol::entry::UnknownEventType;
use reagentic_protocol::pricing::Prices;
use reagentic_protocol::read::{SessionFilter, StatsFilter};
use reagentic_protocol::{EntryFilter, EventType, ProtocolReader};

use crate::failure::{open, Failure};
use crate::time_arg::time_value;

/// Flags that apply to every command, given before or after it.
#[derive(Debug, clap::Args)]
pub struct Global {
    /// Print JSON instead of a table (the same as `--format json`).
    #[arg(long, global = true)]
    pub json: bool,
}

/// The protocol file a command reads.
#[derive(Debug, clap::Args)]
pub struct ProtocolFile {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson) or a
    /// PostgreSQL database (postgres://user@host:port/database; a password
    /// may be given there or in PGPASSWORD, and is never printed).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Price model calls with this price file too (the format of LiteLLM's
    /// model_prices_and_context_window.json, whole or a snippet); repeat for
    /// more, later files winning over earlier ones and the built-in prices.
    /// Recomputes every cost the recording computed; reported costs stay.
    #[arg(long, value_name = "PRICES")]
    prices: Vec<PathBuf>,
}

impl ProtocolFile {
    /// The path (or database URL) as given: never print it, it may hold a
    /// password.
    pub fn path(&self) -> &std::path::Path {
        &self.file
    }

    /// Opens it for reading (read-only; a missing file is an error, never
    /// created).
    pub fn open(&self) -> Result<ProtocolReader, Failure> {
        // Read first: a bad price file is reported before the protocol is.
        let prices = self.prices()?;
        let reader = open(&self.file)?;
        Ok(match prices {
            Some(prices) => reader.with_prices(prices),
            None => reader,
        })
    }

    /// The built-in prices plus the `--prices` files, when any are given.
    fn prices(&self) -> Result<Option<Prices>, Failure> {
        if self.prices.is_empty() {
            return Ok(None);
        }
        let mut prices = Prices::built_in();
        for file in &self.prices {
            prices = prices.with_file(file)?;
        }
        Ok(Some(prices))
    }
}

/// An output format: table for people, JSON for scripts.
pub trait FormatChoice: ValueEnum + Copy + Default + Debug + Send + Sync + 'static {
    /// What `--json` stands for.
    const JSON: Self;
}

/// The formats of commands that print one document.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns that fit the terminal.
    #[default]
    Table,
    /// JSON for scripts (its shape is described at the end of --help).
    Json,
}

impl FormatChoice for Format {
    const JSON: Self = Format::Json;
}

/// The formats of commands that print entries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum EntryFormat {
    /// Aligned columns that fit the terminal.
    #[default]
    Table,
    /// JSON for scripts (its shape is described at the end of --help).
    Json,
    /// One entry per line, exactly as in a JSON Lines protocol.
    Jsonl,
}

impl FormatChoice for EntryFormat {
    const JSON: Self = EntryFormat::Json;
}

/// `--format`; the global `--json` wins over it.
#[derive(Debug, clap::Args)]
pub struct Output<F: FormatChoice> {
    /// Output format (`--json` is the same as `--format json`).
    #[arg(long, value_enum, default_value_t)]
    format: F,
}

impl<F: FormatChoice> Output<F> {
    /// The format to print in.
    pub fn resolve(&self, global: &Global) -> F {
        if global.json {
            F::JSON
        } else {
            self.format
        }
    }
}

/// `--since` and `--until`.
#[derive(Debug, clap::Args)]
pub struct TimeWindow {
    /// Only what happened at or after this time: RFC 3339, a date, or a time ago (15m, 2h, 7d).
    #[arg(long, value_name = "TIME", value_parser = time_value)]
    pub since: Option<DateTime<Utc>>,
    /// Only what happened before this time: RFC 3339, a date, or a time ago.
    #[arg(long, value_name = "TIME", value_parser = time_value)]
    pub until: Option<DateTime<Utc>>,
}

/// A reading filter that takes a time window.
pub trait Windowed: Sized {
    fn since(self, since: DateTime<Utc>) -> Self;
    fn until(self, until: DateTime<Utc>) -> Self;
}

impl Windowed for EntryFilter {
    fn since(self, since: DateTime<Utc>) -> Self {
        self.with_since(since)
    }
    fn until(self, until: DateTime<Utc>) -> Self {
        self.with_until(until)
    }
}

impl Windowed for SessionFilter {
    fn since(self, since: DateTime<Utc>) -> Self {
        self.with_since(since)
    }
    fn until(self, until: DateTime<Utc>) -> Self {
        self.with_until(until)
    }
}

impl Windowed for StatsFilter {
    fn since(self, since: DateTime<Utc>) -> Self {
        self.with_since(since)
    }
    fn until(self, until: DateTime<Utc>) -> Self {
        self.with_until(until)
    }
}

impl TimeWindow {
    /// Narrows `filter` to the window; an empty window is an error rather
    /// than an empty answer, as it is always a mistake.
    pub fn apply<F: Windowed>(&self, mut filter: F) -> Result<F, Failure> {
        if let (Some(since), Some(until)) = (self.since, self.until) {
            if since >= until {
                return Err(Failure::new(format!(
                    "--since ({since}) is not before --until ({until}): nothing can match"
                )));
            }
        }
        if let Some(since) = self.since {
            filter = filter.since(since);
        }
        if let Some(until) = self.until {
            filter = filter.until(until);
        }
        Ok(filter)
    }
}

/// Which entries: by session or trace, kind, agent, tool, model, failure.
#[derive(Debug, clap::Args)]
pub struct EntrySelectors {
    /// Only this session.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    /// Only this trace (32 hex digits).
    #[arg(long, value_name = "ID")]
    trace: Option<String>,
    /// Only these event types (repeat or comma-separate: tool_start,tool_end).
    #[arg(long = "type", value_name = "TYPE", value_delimiter = ',', value_parser = event_type)]
    types: Vec<EventType>,
    /// Only this agent.
    #[arg(long, value_name = "NAME")]
    agent: Option<String>,
    /// Only this tool.
    #[arg(long, value_name = "NAME")]
    tool: Option<String>,
    /// Only this model.
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// Only failed steps.
    #[arg(long)]
    errors: bool,
}

fn event_type(text: &str) -> Result<EventType, String> {
    text.parse().map_err(|e: UnknownEventType| e.to_string())
}

impl EntrySelectors {
    /// The filter that keeps the selected entries.
    pub fn filter(&self) -> EntryFilter {
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
        if self.errors {
            f = f.errors_only();
        }
        f
    }
}
