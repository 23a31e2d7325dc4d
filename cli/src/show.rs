//! `show`: one run as a tree, in time order.

use std::path::PathBuf;
use std::process::ExitCode;

use reagentic_protocol::{run_tree, EntryFilter, EventType, ProtocolEntry, RunStep};
use serde_json::{json, Value};

use crate::failure::{open, warn_skipped, CliResult, Failure};
use crate::output::{self, Format};
use crate::terminal::Terminal;

/// Content is cut to this many characters when the terminal width is unknown.
const DEFAULT_CONTENT_CHARS: usize = 100;

/// Show one run (session or trace) as a tree.
///
/// Agents with their model calls, tool calls and handoffs nested under them,
/// in time order, each with duration, tokens, status, and the error where
/// one failed. Inputs and outputs are shortened unless --content is given.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol show protocol.db conv-42
  reagentic-protocol show protocol.db 4bf92f3577b34da6a3ce929d0e0e4736 --content
  reagentic-protocol show protocol.jsonl conv-42 --json")]
pub struct Args {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson).
    file: PathBuf,
    /// A session id, or a trace id (as listed by `sessions`).
    id: String,
    /// Show inputs and outputs in full instead of shortened.
    #[arg(long)]
    content: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args, json: bool) -> CliResult {
    let reader = open(&args.file)?;
    let mut entries = reader.query(&EntryFilter::default().with_session(&args.id))?;
    let mut kind = "session";
    if entries.is_empty() {
        entries = reader.query(&EntryFilter::default().with_trace(&args.id))?;
        kind = "trace";
    }
    warn_skipped(&reader);
    if entries.is_empty() {
        return Err(Failure::new(format!(
            "no session or trace {:?} in {} (`reagentic-protocol sessions {}` lists them)",
            args.id,
            args.file.display(),
            args.file.display()
        )));
    }
    let first = entries.first().map(|e| e.timestamp);
    let last = entries.last().map(|e| e.timestamp);
    let errors = entries.iter().filter(|e| e.is_error()).count();
    let steps = run_tree(entries);
    if args.format.resolve(json) == Format::Json {
        output::print_json(&json!({
            "id": args.id,
            "kind": kind,
            "errors": errors,
            "steps": steps.iter().map(step_json).collect::<Vec<_>>(),
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    let style = Terminal::detect();
    let mut out = String::new();
    if let (Some(first), Some(last)) = (first, last) {
        let wall = output::millis(last - first);
        let errors = if errors > 0 {
            style.red(&format!("{errors} failed"))
        } else {
            style.green("no errors")
        };
        out.push_str(&format!(
            "{} {}  {}  wall {}  {errors}\n",
            kind,
            style.bold(&output::one_line(&args.id)),
            style.dim(&output::time(&first)),
            output::duration_ms(wall),
        ));
    }
    let printer = Printer {
        style,
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
    style: Terminal,
    content: bool,
}

impl Printer {
    fn step(&self, out: &mut String, step: &RunStep, prefix: &str, last: bool) {
        let (branch, more) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        let style = &self.style;
        let entry = step.entry();
        let mut line = format!("{prefix}{branch}{}", headline(style, entry));
        if let Some(ms) = step.end.as_ref().and_then(|e| e.duration_ms) {
            line.push_str(&format!("  {}", output::duration_ms(ms)));
        }
        let tokens = step
            .end
            .as_ref()
            .map_or((None, None), |e| (e.input_tokens, e.output_tokens));
        if tokens.0.is_some() || tokens.1.is_some() {
            line.push_str(&style.dim(&format!(
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
            let failed = format!("FAILED {}", output::one_line(&error));
            line.push_str(&format!("  {}", style.red(&failed)));
        } else if !step.is_finished() {
            line.push_str(&format!(
                "  {}",
                style.yellow("no end (still running, or crashed)")
            ));
        } else if entry.event_type != EventType::Handoff {
            line.push_str(&format!("  {}", style.green("ok")));
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

    fn content_line(&self, out: &mut String, prefix: &str, label: &str, value: &Value) {
        let style = &self.style;
        if self.content {
            let text = match value {
                Value::String(s) => s.clone(),
                other => serde_json::to_string_pretty(other).unwrap_or_default(),
            };
            out.push_str(&format!("{prefix}  {}\n", style.dim(label)));
            for line in text.lines() {
                out.push_str(&format!("{prefix}    {}\n", output::printable(line)));
            }
            return;
        }
        let used = output::width(prefix) + label.len() + 3;
        let room = self
            .style
            .width
            .map_or(DEFAULT_CONTENT_CHARS, |w| w.saturating_sub(used).max(10));
        let text = output::shorten(&output::content_text(value), room);
        out.push_str(&format!("{prefix}  {} {text}\n", style.dim(label)));
    }
}

/// `agent planner`, `llm gpt-4o`, `tool search_flights (call_1)`, `handoff a → b`.
fn headline(style: &Terminal, e: &ProtocolEntry) -> String {
    let bold = |text: &str| style.bold(&output::one_line(text));
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
                    style.dim(&format!("({})", output::one_line(id)))
                ),
                None => format!("tool {tool}"),
            }
        }
        EventType::Handoff => format!(
            "handoff {} → {}",
            output::one_line(e.agent_name.as_deref().unwrap_or("?")),
            bold(&e.name)
        ),
        EventType::GuardrailStart | EventType::GuardrailEnd => {
            format!("guardrail {}", bold(&e.name))
        }
        EventType::SpanStart | EventType::SpanEnd => format!("span {}", bold(&e.name)),
    }
}

fn step_json(step: &RunStep) -> Value {
    json!({
        "name": step.name(),
        "event_type": step.entry().event_type,
        "finished": step.is_finished(),
        "error": step.is_error(),
        "start": step.start,
        "end": step.end,
        "children": step.children.iter().map(step_json).collect::<Vec<_>>(),
    })
}
