//! A run as a tree: agents, with their model calls, tool calls and handoffs
//! nested under them, in time order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::entry::{EventType, ProtocolEntry};

/// One step of a run: a span's start and end entries (a handoff's single
/// entry is its `start`), and the steps it contains.
///
/// ```no_run
/// use reagentic_protocol::read::{run_tree, RunStep};
/// use reagentic_protocol::{EntryFilter, ProtocolReader};
///
/// fn print(step: &RunStep, depth: usize) {
///     let status = if step.is_error() { "FAILED" } else { "" };
///     println!("{:indent$}{} {status}", "", step.name(), indent = depth * 2);
///     for child in &step.children {
///         print(child, depth + 1);
///     }
/// }
/// # fn main() -> reagentic_protocol::Result<()> {
/// let entries = ProtocolReader::open("protocol.db")?
///     .query(&EntryFilter::default().with_session("conv-42"))?;
/// for root in run_tree(entries) {
///     print(&root, 0);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct RunStep {
    /// The start entry (for a handoff, its only entry); `None` when only the
    /// end was recorded.
    pub start: Option<ProtocolEntry>,
    /// The end entry; `None` while the step runs, or when it crashed.
    pub end: Option<ProtocolEntry>,
    /// The steps inside this one, oldest first.
    pub children: Vec<RunStep>,
}

impl RunStep {
    /// The entry that says most about the step: the end when there is one.
    ///
    /// # Panics
    ///
    /// If both `start` and `end` were taken out of the step; [`run_tree`]
    /// never builds such a step.
    pub fn entry(&self) -> &ProtocolEntry {
        match (&self.end, &self.start) {
            (Some(end), _) => end,
            (None, Some(start)) => start,
            (None, None) => panic!("a run step without entries"),
        }
    }

    /// The step's name (agent, model call, tool, or handoff target).
    pub fn name(&self) -> &str {
        &self.entry().name
    }

    /// When the step began (the end's time when only the end was recorded).
    pub fn started(&self) -> DateTime<Utc> {
        self.start
            .as_ref()
            .map_or(self.entry().timestamp, |s| s.timestamp)
    }

    /// Whether the step failed.
    pub fn is_error(&self) -> bool {
        self.start.as_ref().is_some_and(ProtocolEntry::is_error)
            || self.end.as_ref().is_some_and(ProtocolEntry::is_error)
    }

    /// Whether the step is over: it has an end, or is a handoff.
    pub fn is_finished(&self) -> bool {
        self.end.is_some() || self.entry().event_type == EventType::Handoff
    }
}

/// Builds the tree of a run from its entries (any order; ids seen twice are
/// kept once). Steps nest by `parent_span_id` within their trace; a step whose
/// parent was not recorded (a span the config left out) becomes a root.
/// Roots and children are in start order.
///
/// ```
/// let roots = reagentic_protocol::read::run_tree(Vec::new());
/// assert!(roots.is_empty());
/// ```
pub fn run_tree(entries: Vec<ProtocolEntry>) -> Vec<RunStep> {
    // Index by (trace, span): one step per span.
    let mut steps: Vec<RunStep> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for entry in entries {
        let key = (entry.trace_id.clone(), entry.span_id.clone());
        let at = *index.entry(key).or_insert_with(|| {
            steps.push(RunStep {
                start: None,
                end: None,
                children: Vec::new(),
            });
            steps.len() - 1
        });
        let step = &mut steps[at];
        let slot = if entry.event_type.is_end() {
            &mut step.end
        } else {
            &mut step.start
        };
        // The first of two records with the same id wins, as in the reader.
        if slot.is_none() {
            *slot = Some(entry);
        }
    }
    let parents: Vec<Option<usize>> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let entry = step.entry();
            let parent = entry.parent_span_id.as_ref()?;
            index
                .get(&(entry.trace_id.clone(), parent.clone()))
                .copied()
                .filter(|&p| p != i)
        })
        .collect();
    // Children lists by index, then assembled bottom-up from the roots.
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    let mut roots = Vec::new();
    for (i, parent) in parents.iter().enumerate() {
        match parent {
            Some(p) if !creates_cycle(&parents, i) => children[*p].push(i),
            _ => roots.push(i),
        }
    }
    let mut slots: Vec<Option<RunStep>> = steps.into_iter().map(Some).collect();
    let mut out: Vec<RunStep> = roots
        .into_iter()
        .filter_map(|r| assemble(r, &mut slots, &children))
        .collect();
    sort_steps(&mut out);
    out
}

/// Whether following parents from `start` comes back to it (corrupt ids);
/// such a step is made a root so every step is shown exactly once.
fn creates_cycle(parents: &[Option<usize>], start: usize) -> bool {
    let mut at = parents[start];
    let mut hops = 0;
    while let Some(p) = at {
        if p == start || hops > parents.len() {
            return true;
        }
        at = parents[p];
        hops += 1;
    }
    false
}

fn assemble(at: usize, slots: &mut [Option<RunStep>], children: &[Vec<usize>]) -> Option<RunStep> {
    let mut step = slots[at].take()?;
    step.children = children[at]
        .iter()
        .filter_map(|&c| assemble(c, slots, children))
        .collect();
    sort_steps(&mut step.children);
    Some(step)
}

fn sort_steps(steps: &mut [RunStep]) {
    steps.sort_by(|a, b| {
        a.started()
            .cmp(&b.started())
            .then_with(|| a.entry().entry_id.cmp(&b.entry().entry_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entries::{at, bare_entry};

    fn step(span: &str, parent: Option<&str>, kind: EventType, second: i64) -> ProtocolEntry {
        let mut e = bare_entry(0);
        e.span_id = span.into();
        e.parent_span_id = parent.map(str::to_owned);
        e.event_type = kind;
        e.name = span.into();
        e.timestamp = at(second, 0);
        e.entry_id = ProtocolEntry::make_id(
            &e.trace_id,
            span,
            if kind.is_end() { "end" } else { "start" },
        );
        e
    }

    #[test]
    fn steps_nest_by_parent_in_time_order_and_orphans_become_roots() {
        let entries = vec![
            step("tool", Some("agent"), EventType::ToolEnd, 4),
            step("agent", None, EventType::AgentStart, 0),
            step("tool", Some("agent"), EventType::ToolStart, 3),
            step("llm", Some("agent"), EventType::LlmStart, 1),
            step("hand", Some("agent"), EventType::Handoff, 5),
            step("agent", None, EventType::AgentEnd, 6),
            step("orphan", Some("left-out"), EventType::ToolStart, 2),
        ];
        let roots = run_tree(entries);
        let names: Vec<&str> = roots.iter().map(RunStep::name).collect();
        assert_eq!(names, ["agent", "orphan"]);
        let agent = &roots[0];
        assert!(agent.is_finished() && !agent.is_error());
        let children: Vec<&str> = agent.children.iter().map(RunStep::name).collect();
        assert_eq!(children, ["llm", "tool", "hand"]);
        assert!(!agent.children[0].is_finished(), "llm has no end");
        assert!(agent.children[1].is_finished());
        assert!(
            agent.children[2].is_finished(),
            "a handoff is complete in itself"
        );
        assert_eq!(agent.children[1].started(), at(3, 0));
    }

    #[test]
    fn a_parent_cycle_still_shows_every_step_once() {
        let entries = vec![
            step("a", Some("b"), EventType::AgentStart, 0),
            step("b", Some("a"), EventType::AgentStart, 1),
        ];
        fn count(steps: &[RunStep]) -> usize {
            steps.iter().map(|s| 1 + count(&s.children)).sum()
        }
        assert_eq!(count(&run_tree(entries)), 2);
    }
}
