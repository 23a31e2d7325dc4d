//! `show`: one run as a tree, in time order.

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use reagentic_protocol::read::{run_tree, RunStep};
use reagentic_protocol::{Content, EventType, ProtocolEntry};
use serde::Serialize;
use serde_json::Value;

use crate::args::{Format, Global, Output, ProtocolFile};
use crate::failure::{warn_skipped, CliResult};
use crate::output::{self, one_line};
use crate::page::Network;
use crate::run_view::{self, RunData};
use crate::sessions::kind_name;
use crate::terminal::Terminal;

/// Content is cut to this many columns when the terminal width is unknown.
const DEFAULT_CONTENT_WIDTH: usize = 100;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol show protocol.db conv-42
  reagentic-protocol show protocol.db 4bf92f3577b34da6a3ce929d0e0e4736 --content
  reagentic-protocol show protocol.jsonl conv-42 --json
  reagentic-protocol show protocol.db conv-42 --html run.html"
    };
}

/// Show one run (session or trace) as a tree.
///
/// Agents with their model calls, tool calls and handoffs nested under them,
/// in time order, each with duration, tokens, status, and the error where
/// one failed. Inputs and outputs are shortened unless --content is given.
///
/// With --html, writes the run as one self-contained web page instead: a
/// waterfall of its steps, each step's messages, tool arguments and errors,
/// search, and the raw entries; it opens from disk in any browser, loads
/// nothing from the network, and shows every piece of content as text.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  id           the session or trace id asked for
  kind         \"session\", or \"trace\" when no session has that id
  first, last  its oldest and newest entry's time (RFC 3339, UTC)
  wall_ms      last − first, in milliseconds
  errors       entries recording a failure
  steps        the outermost steps, oldest first, each
    name         the agent, model call or tool; for a handoff, the agent taking over
    event_type   the type of its end entry, or of its start entry while it has no end
    finished     whether its end entry is there
    error        whether it failed
    start, end   its start and end entries (null when missing), as `query --json` prints entries
    children     the steps inside it, oldest first, in the same form")
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    /// A session id, or a trace id (as listed by `sessions`).
    id: String,
    /// Show inputs and outputs in full instead of shortened.
    #[arg(long)]
    content: bool,
    /// Write the run as a self-contained HTML page to this file instead.
    #[arg(long, value_name = "PAGE.html")]
    html: Option<PathBuf>,
    #[command(flatten)]
    output: Output<Format>,
}

/// `show --json`.
#[derive(Debug, Serialize)]
struct RunJson<'a> {
    id: &'a str,
    kind: &'static str,
    #[serde(serialize_with = "output::timestamp")]
    first: DateTime<Utc>,
    #[serde(serialize_with = "output::timestamp")]
    last: DateTime<Utc>,
    wall_ms: f64,
    errors: usize,
    steps: Vec<StepJson<'a>>,
}

/// One step of a run, with the steps inside it.
#[derive(Debug, Serialize)]
struct StepJson<'a> {
    name: &'a str,
    event_type: &'static str,
    finished: bool,
    error: bool,
    start: Option<&'a ProtocolEntry>,
    end: Option<&'a ProtocolEntry>,
    children: Vec<StepJson<'a>>,
}

impl<'a> From<&'a RunStep> for StepJson<'a> {
    fn from(step: &'a RunStep) -> Self {
        StepJson {
            name: step.name(),
            event_type: step.entry().event_type.as_str(),
            finished: step.is_finished(),
            error: step.is_error(),
            start: step.start.as_ref(),
            end: step.end.as_ref(),
            children: step.children.iter().map(StepJson::from).collect(),
        }
    }
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let reader = args.file.open()?;
    let loaded = run_view::load(&reader, &args.id)?;
    warn_skipped(&reader);
    let Some((kind, entries)) = loaded else {
        return Err(run_view::not_found(&args.id, args.file.path()));
    };
    if let Some(html) = &args.html {
        let run = RunData::new(&args.id, kind, args.file.path(), entries);
        let page = run.html(Network::None)?;
        run_view::write_file(html, &page)?;
        output::print(&format!(
            "wrote {}: {} steps, {}\n",
            html.display(),
            run.steps.len(),
            run_view::size_text(page.len())
        ))?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Err(run_view::not_found(&args.id, args.file.path()));
    };
    let (first, last) = (first.timestamp, last.timestamp);
    let wall_ms = output::millis(last - first);
    let errors = entries.iter().filter(|e| e.is_error()).count();
    let steps = run_tree(entries);
    if args.output.resolve(global) == Format::Json {
        output::print_json(&RunJson {
            id: &args.id,
            kind: kind_name(kind),
            first,
            last,
            wall_ms,
            errors,
            steps: steps.iter().map(StepJson::from).collect(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let terminal = Terminal::detect();
    let errors = if errors > 0 {
        terminal.red(&format!("{errors} failed"))
    } else {
        terminal.green("no errors")
    };
    let mut out = format!(
        "{} {}  {}  wall {}  {errors}\n",
        kind_name(kind),
        terminal.bold(&one_line(&args.id)),
        terminal.dim(&output::time(&first)),
        output::duration_ms(wall_ms),
    );
    let printer = Printer {
        terminal,
        content: args.content,
    };
    let count = steps.len();
    for (i, step) in steps.iter().enumerate() {
        printer.step(&mut out, step, "", i + 1 == count);
    }
    output::print(&out)?;
    Ok(ExitCode::SUCCESS)
}

struct Printer {
    terminal: Terminal,
    content: bool,
}

impl Printer {
    fn step(&self, out: &mut String, step: &RunStep, prefix: &str, last: bool) {
        let (branch, more) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let terminal = &self.terminal;
        let entry = step.entry();
        let mut line = format!("{prefix}{branch}{}", headline(terminal, entry));
        if let Some(ms) = step.end.as_ref().and_then(|e| e.duration_ms) {
            line.push_str(&format!("  {}", output::duration_ms(ms)));
        }
        let tokens = step
            .end
            .as_ref()
            .map_or((None, None), |e| (e.input_tokens, e.output_tokens));
        if tokens.0.is_some() || tokens.1.is_some() {
            line.push_str(&terminal.dim(&format!(
                "  tokens {}/{}",
                tokens.0.unwrap_or(0),
                tokens.1.unwrap_or(0)
            )));
        }
        if step.is_error() {
            let error = step
                .end
                .as_ref()
                .and_then(|e| e.error.as_ref())
                .or_else(|| step.start.as_ref().and_then(|e| e.error.as_ref()))
                .map_or_else(|| "failed".to_owned(), output::error_text);
            let failed = format!("FAILED {}", one_line(&error));
            line.push_str(&format!("  {}", terminal.red(&failed)));
        } else if !step.is_finished() {
            line.push_str(&format!(
                "  {}",
                terminal.yellow("no end (still running, or crashed)")
            ));
        } else if entry.event_type != EventType::Handoff {
            line.push_str(&format!("  {}", terminal.green("ok")));
        }
        out.push_str(&line);
        out.push('\n');
        let inner = format!("{prefix}{more}");
        let input = step.start.as_ref().and_then(|e| e.input.as_ref());
        let input = input.or_else(|| step.end.as_ref().and_then(|e| e.input.as_ref()));
        let output = step.end.as_ref().and_then(|e| e.output.as_ref());
        for (label, value) in [("in ", input), ("out", output)] {
            if let Some(value) = value {
                self.content_line(out, &inner, label, value);
            }
        }
        let count = step.children.len();
        for (i, child) in step.children.iter().enumerate() {
            self.step(out, child, &inner, i + 1 == count);
        }
    }

    fn content_line(&self, out: &mut String, prefix: &str, label: &str, content: &Content) {
        let terminal = &self.terminal;
        let value = &content.to_value();
        if self.content {
            let text = match value {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            out.push_str(&format!("{prefix}  {}\n", terminal.dim(label)));
            for line in text.lines() {
                out.push_str(&format!("{prefix}    {}\n", output::printable(line)));
            }
            return;
        }
        let used = output::width(prefix) + label.len() + 3;
        let room = terminal
            .width
            .map_or(DEFAULT_CONTENT_WIDTH, |w| w.saturating_sub(used).max(10));
        let text = output::shorten(&output::content_text(value), room);
        out.push_str(&format!("{prefix}  {} {text}\n", terminal.dim(label)));
    }
}

/// `agent planner`, `llm gpt-4o`, `tool search_flights (call_1)`, `handoff a → b`.
fn headline(terminal: &Terminal, e: &ProtocolEntry) -> String {
    let bold = |text: &str| terminal.bold(&one_line(text));
    match e.event_type {
        EventType::AgentStart | EventType::AgentEnd => format!("agent {}", bold(&e.name)),
        EventType::LlmStart | EventType::LlmEnd => {
            format!("llm {}", bold(e.model.as_deref().unwrap_or(&e.name)))
        }
        EventType::ToolStart | EventType::ToolEnd => {
            let tool = bold(e.tool_name.as_deref().unwrap_or(&e.name));
            match &e.tool_call_id {
                Some(id) => format!(
                    "tool {tool} {}",
                    terminal.dim(&format!("({})", one_line(id)))
                ),
                None => format!("tool {tool}"),
            }
        }
        EventType::Handoff => format!(
            "handoff {} → {}",
            one_line(e.agent_name.as_deref().unwrap_or("?")),
            bold(&e.name)
        ),
        EventType::GuardrailStart | EventType::GuardrailEnd => {
            format!("guardrail {}", bold(&e.name))
        }
        // Other spans, and kinds a newer format may add.
        _ => format!("span {}", bold(&e.name)),
    }
}
