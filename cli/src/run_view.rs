//! One run as the data of its HTML page (`show --html`, the `ui` server's
//! run page): the run's steps flattened in tree order with their place on a
//! shared time axis, a summary for the header, and the raw entries.
//!
//! The page's script draws everything from this; its shape is versioned
//! (`format`) so that a page and its data always come from one build.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use reagentic_protocol::read::{run_tree, RunKind, RunStep};
use reagentic_protocol::{EntryFilter, EventType, ProtocolEntry, ProtocolReader};
use serde::Serialize;

use crate::cost::{self, CostTotal, CostView};
use crate::failure::Failure;
use crate::output;
use crate::page::{self, Network, PageKind};

/// A run's entries, read by session id, or by trace id when no session has
/// that id.
pub fn load(
    reader: &ProtocolReader,
    id: &str,
) -> Result<Option<(RunKind, Vec<ProtocolEntry>)>, Failure> {
    let entries = reader.query(&EntryFilter::default().with_session(id))?;
    if !entries.is_empty() {
        return Ok(Some((RunKind::Session, entries)));
    }
    let entries = reader.query(&EntryFilter::default().with_trace(id))?;
    Ok((!entries.is_empty()).then_some((RunKind::Trace, entries)))
}

/// The "no such run" failure, pointing at `sessions`.
pub fn not_found(id: &str, path: &Path) -> Failure {
    let path = path.display();
    Failure::new(format!(
        "no session or trace {id:?} in {path} (`reagentic-protocol sessions {path}` lists them)"
    ))
}

/// The data of a run page.
#[derive(Debug, Serialize)]
pub struct RunData {
    /// The version of this shape.
    pub format: u32,
    /// The session or trace id.
    pub id: String,
    /// `session` or `trace`.
    pub kind: &'static str,
    /// The file the run was read from (its name only).
    pub source: String,
    /// The oldest entry's time.
    #[serde(serialize_with = "output::timestamp")]
    pub first: DateTime<Utc>,
    /// The newest entry's time.
    #[serde(serialize_with = "output::timestamp")]
    pub last: DateTime<Utc>,
    /// `last − first` in milliseconds: the length of the time axis.
    pub wall_ms: f64,
    /// The header's figures.
    pub summary: Summary,
    /// Every step, in tree order (a step, then the steps inside it).
    pub steps: Vec<StepData>,
    /// The raw entries, oldest first (what "download" writes as JSON Lines).
    pub entries: Vec<ProtocolEntry>,
    /// Where a served page asks for updates; absent in a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live: Option<Live>,
}

/// The header's figures.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// The agents that ran, sorted by name.
    pub agents: Vec<String>,
    /// The traces the run spans.
    pub traces: usize,
    /// Steps (spans and handoffs).
    pub steps: usize,
    /// Model calls.
    pub model_calls: usize,
    /// Tool calls.
    pub tool_calls: usize,
    /// Handoffs.
    pub handoffs: usize,
    /// Tokens read by the model calls.
    pub input_tokens: u64,
    /// Tokens written by the model calls.
    pub output_tokens: u64,
    /// Steps that failed.
    pub errors: usize,
    /// Steps with a start and no end (still running, or crashed).
    pub open_steps: usize,
    /// The cost, as far as it is known.
    pub cost: CostView,
}

/// One step on the waterfall.
#[derive(Debug, Serialize)]
pub struct StepData {
    /// The enclosing step's index in `steps`.
    pub parent: Option<usize>,
    /// How deep it is nested (0 for the outermost steps).
    pub depth: usize,
    /// `agent`, `llm`, `tool`, `guardrail`, `handoff` or `span`.
    pub kind: &'static str,
    /// What the row says: the agent, the model, the tool, `a → b`.
    pub label: String,
    /// Its start, in milliseconds after the run's first entry.
    pub start_ms: f64,
    /// Its end, likewise; null while it has no end.
    pub end_ms: Option<f64>,
    /// Whether it failed.
    pub failed: bool,
    /// Whether it has a start and no end.
    pub open: bool,
    /// Index of its start entry in `entries`.
    pub start: Option<usize>,
    /// Index of its end entry in `entries`.
    pub end: Option<usize>,
    /// How many steps it contains, at any depth (its subtree is the
    /// `descendants` steps after it).
    pub descendants: usize,
    /// For a handoff, the index of the agent step taking over.
    pub target: Option<usize>,
    /// Its cost label (model calls, and steps that reported a cost).
    pub cost: Option<String>,
}

/// Where a served page polls for updates.
#[derive(Clone, Debug, Serialize)]
pub struct Live {
    /// The URL of this run's data.
    pub run: String,
    /// The URL of the update stream (long poll).
    pub updates: String,
    /// The sessions list.
    pub home: String,
    /// The server's protocol generation this data was read at.
    pub generation: u64,
}

/// The step kind's short name.
pub fn kind_of(entry: &ProtocolEntry) -> &'static str {
    match entry.event_type {
        EventType::AgentStart | EventType::AgentEnd => "agent",
        EventType::LlmStart | EventType::LlmEnd => "llm",
        EventType::ToolStart | EventType::ToolEnd => "tool",
        EventType::GuardrailStart | EventType::GuardrailEnd => "guardrail",
        EventType::Handoff => "handoff",
        _ => "span",
    }
}

/// What a step's row says.
pub fn label_of(entry: &ProtocolEntry) -> String {
    match entry.event_type {
        EventType::LlmStart | EventType::LlmEnd => {
            entry.model.clone().unwrap_or_else(|| entry.name.clone())
        }
        EventType::ToolStart | EventType::ToolEnd => entry
            .tool_name
            .clone()
            .unwrap_or_else(|| entry.name.clone()),
        EventType::Handoff => format!(
            "{} → {}",
            entry.agent_name.as_deref().unwrap_or("?"),
            entry.name
        ),
        _ => entry.name.clone(),
    }
}

/// A run's steps in tree order, with their depth and parent index.
pub fn flatten(roots: &[RunStep]) -> Vec<(usize, Option<usize>, &RunStep)> {
    fn walk<'a>(
        step: &'a RunStep,
        depth: usize,
        parent: Option<usize>,
        out: &mut Vec<(usize, Option<usize>, &'a RunStep)>,
    ) {
        let at = out.len();
        out.push((depth, parent, step));
        for child in &step.children {
            walk(child, depth + 1, Some(at), out);
        }
    }
    let mut out = Vec::new();
    for root in roots {
        walk(root, 0, None, &mut out);
    }
    out
}

/// Milliseconds from `first` to `t`.
fn offset_ms(first: DateTime<Utc>, t: DateTime<Utc>) -> f64 {
    output::millis(t - first)
}

impl RunData {
    /// Arranges a run's entries for its page.
    pub fn new(id: &str, kind: RunKind, source: &Path, entries: Vec<ProtocolEntry>) -> Self {
        let first = entries
            .iter()
            .map(|e| e.timestamp)
            .min()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let last = entries.iter().map(|e| e.timestamp).max().unwrap_or(first);
        let traces = {
            let mut ids: Vec<&str> = entries.iter().map(|e| e.trace_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.len()
        };
        let roots = run_tree(entries);
        let flat = flatten(&roots);

        // The raw entries, oldest first, and where each step's are.
        let mut order: Vec<(&ProtocolEntry, usize, bool)> = Vec::new();
        for (i, (_, _, step)) in flat.iter().enumerate() {
            if let Some(e) = &step.start {
                order.push((e, i, true));
            }
            if let Some(e) = &step.end {
                order.push((e, i, false));
            }
        }
        order.sort_by(|a, b| (a.0.timestamp, &a.0.entry_id).cmp(&(b.0.timestamp, &b.0.entry_id)));
        let mut slots = vec![(None, None); flat.len()];
        let mut raw = Vec::with_capacity(order.len());
        for (at, (entry, step, is_start)) in order.into_iter().enumerate() {
            if is_start {
                slots[step].0 = Some(at);
            } else {
                slots[step].1 = Some(at);
            }
            raw.push(entry.clone());
        }

        let mut summary = Summary {
            traces,
            ..Summary::default()
        };
        let mut cost_total = CostTotal::default();
        let mut steps: Vec<StepData> = Vec::with_capacity(flat.len());
        for (i, (depth, parent, step)) in flat.iter().enumerate() {
            let entry = step.entry();
            let kind = kind_of(entry);
            let open = !step.is_finished();
            cost_total.add_step(step);
            summary.steps += 1;
            match kind {
                "agent" => summary.agents.push(entry.name.clone()),
                "llm" => {
                    summary.model_calls += 1;
                    if let Some(end) = &step.end {
                        summary.input_tokens += end.input_tokens.unwrap_or(0);
                        summary.output_tokens += end.output_tokens.unwrap_or(0);
                    }
                }
                "tool" => summary.tool_calls += 1,
                "handoff" => summary.handoffs += 1,
                _ => {}
            }
            summary.errors += usize::from(step.is_error());
            summary.open_steps += usize::from(open);
            let start_ms = offset_ms(first, step.started());
            let end_ms = match (&step.end, kind) {
                (Some(end), _) => Some(offset_ms(first, end.timestamp).max(start_ms)),
                (None, "handoff") => Some(start_ms),
                (None, _) => None,
            };
            steps.push(StepData {
                parent: *parent,
                depth: *depth,
                kind,
                label: label_of(entry),
                start_ms,
                end_ms,
                failed: step.is_error(),
                open,
                start: slots[i].0,
                end: slots[i].1,
                descendants: 0,
                target: None,
                cost: cost::step_label(step),
            });
        }
        // Subtree sizes, children before parents (they come later in tree order).
        for i in (0..steps.len()).rev() {
            if let Some(p) = steps[i].parent {
                steps[p].descendants += steps[i].descendants + 1;
            }
        }
        // A handoff points at the agent taking over: the first agent of
        // that name starting at or after it, else the first of that name.
        let mut agents_by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (j, (_, _, step)) in flat.iter().enumerate() {
            if steps[j].kind == "agent" {
                agents_by_name
                    .entry(&step.entry().name)
                    .or_default()
                    .push(j);
            }
        }
        for list in agents_by_name.values_mut() {
            list.sort_by(|&a, &b| steps[a].start_ms.total_cmp(&steps[b].start_ms));
        }
        for i in 0..steps.len() {
            if steps[i].kind != "handoff" {
                continue;
            }
            let Some(list) = agents_by_name.get(flat[i].2.entry().name.as_str()) else {
                continue;
            };
            let at = steps[i].start_ms;
            let next = list.partition_point(|&j| steps[j].start_ms < at);
            steps[i].target = list.get(next).or(list.first()).copied();
        }
        summary.agents.sort();
        summary.agents.dedup();
        summary.cost = cost_total.into();
        RunData {
            format: 1,
            id: id.to_owned(),
            kind: kind.as_str(),
            source: source
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
            first,
            last,
            wall_ms: offset_ms(first, last),
            summary,
            steps,
            entries: raw,
            live: None,
        }
    }

    /// The page's title.
    pub fn title(&self) -> String {
        format!("{} {} — reagentic-protocol", self.kind, self.id)
    }

    /// The run's self-contained HTML page.
    pub fn html(&self, network: Network) -> Result<String, Failure> {
        page::render(PageKind::Run, &self.title(), self, network)
            .map_err(|e| Failure::new(format!("cannot encode the run as JSON: {e}")))
    }
}

/// Writes `text` to `path`, with a one-line error naming it.
pub fn write_file(path: &Path, text: &str) -> Result<(), Failure> {
    std::fs::write(path, text)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", path.display())))
}

/// `48 KB`, `1.2 MB`.
pub fn size_text(bytes: usize) -> String {
    if bytes < 1_000_000 {
        format!("{} KB", bytes.div_ceil(1_000))
    } else {
        format!("{:.1} MB", bytes as f64 / 1e6)
    }
}
