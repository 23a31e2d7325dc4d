//! Runs that arrive in pieces: finished spans from a receiver, children
//! before parents, often one span per request.
//!
//! Within one submission the extractor resolves every span against the
//! others (as [`Extractor::on_finished_batch`] does), and a span whose
//! ancestors came in an earlier submission inherits from the span memory
//! (`ancestry.rs`). What neither can do is go *back*: a model call written
//! before its agent span arrived was written without its agent and session.
//!
//! So this module keeps, per recent trace, the span tree (parent and the
//! span's own session and agent) and, for each entry written without a
//! session or an agent, a skeleton of it (identity and required fields).
//! When a span arrives, the module resolves it upward through the tree and
//! then pushes what it resolved down through its descendants: every
//! remembered entry that now has a session or agent gets a *filling copy* —
//! the skeleton with those fields set. The storage merges a copy into the
//! stored entry by its identity (`timestamp`, `entry_id`), filling empty
//! fields only (`FORMAT.md`), so writing a copy twice, or a copy that knows
//! less, changes nothing.
//!
//! The memory is bounded by traces, spans and age (see
//! [`AssemblyLimits`](crate::pipeline::AssemblyLimits)); the oldest traces
//! are forgotten first, and their entries stay as written.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use foldhash::fast::RandomState;
use opentelemetry::trace::{SpanId, TraceId};
use opentelemetry_sdk::trace::SpanData;

use super::ancestry::{Lineage, SpanKey};
use super::facts::SpanFacts;
use super::{Extractor, StartAttributes};
use crate::entry::ProtocolEntry;

/// How far up (and down) the tree a resolution walks; also stops cycles.
const MAX_DEPTH: usize = 256;

/// An entry written without its session or agent, remembered so a filling
/// copy can be written when an ancestor supplies them.
#[derive(Debug)]
struct Waiting {
    /// The entry's identity and required fields, nothing else.
    skeleton: ProtocolEntry,
    needs_session: bool,
    needs_agent: bool,
}

/// A remembered span.
#[derive(Debug)]
struct Part {
    parent: SpanId,
    /// The span's own session and agent (not inherited).
    own: Lineage,
    waiting: Vec<Waiting>,
}

/// A remembered trace.
#[derive(Debug)]
struct TraceParts {
    parts: HashMap<SpanId, Part, RandomState>,
    children: HashMap<SpanId, Vec<SpanId>, RandomState>,
    /// The key of this trace in [`Assembly::by_age`].
    touched: (Instant, u64),
}

/// The bounded memory of recent traces.
#[derive(Debug)]
pub(crate) struct Assembly {
    /// Hashed with foldhash, seeded at random per map, as the extractor's
    /// span memory is (`ancestry.rs`): fast on ids, and a remote client
    /// cannot aim its ids at one bucket.
    traces: HashMap<TraceId, TraceParts, RandomState>,
    /// Traces by when they last received a span, oldest first.
    by_age: BTreeMap<(Instant, u64), TraceId>,
    spans: usize,
    seq: u64,
    max_traces: usize,
    max_spans: usize,
    max_age: Duration,
}

/// What a submission tells the memory about one of its spans.
struct Arrival {
    key: SpanKey,
    parent: SpanId,
    own: Lineage,
    /// Its entries, in the extractor's output.
    entries: Range<usize>,
}

impl Assembly {
    pub(crate) fn new(max_traces: usize, max_spans: usize, max_age: Duration) -> Self {
        Self {
            traces: HashMap::with_hasher(RandomState::default()),
            by_age: BTreeMap::new(),
            spans: 0,
            seq: 0,
            max_traces,
            max_spans,
            max_age,
        }
    }

    /// How many traces and spans are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> (usize, usize) {
        (self.traces.len(), self.spans)
    }

    /// Remembers a submission's spans and their entries (`out`), then appends
    /// to `out` the filling copies that the submission makes possible.
    fn add(&mut self, arrivals: &[Arrival], out: &mut Vec<ProtocolEntry>, now: Instant) {
        self.forget_old(now);
        for arrival in arrivals {
            self.remember(arrival, &out[arrival.entries.clone()], now);
        }
        let mut fills = Vec::new();
        for arrival in arrivals {
            self.resolve_from(arrival.key, &mut fills);
        }
        out.append(&mut fills);
        self.enforce_bounds();
    }

    fn remember(&mut self, arrival: &Arrival, entries: &[ProtocolEntry], now: Instant) {
        let (trace_id, span_id) = arrival.key;
        if !self.traces.contains_key(&trace_id) {
            if self.max_traces == 0 {
                return;
            }
            self.traces.insert(
                trace_id,
                TraceParts {
                    parts: HashMap::with_hasher(RandomState::default()),
                    children: HashMap::with_hasher(RandomState::default()),
                    touched: (now, 0),
                },
            );
        }
        self.seq += 1;
        let touched = (now, self.seq);
        let max_spans = self.max_spans;
        let Some(trace) = self.traces.get_mut(&trace_id) else {
            return;
        };
        self.by_age.remove(&trace.touched);
        trace.touched = touched;
        self.by_age.insert(touched, trace_id);
        match trace.parts.get_mut(&span_id) {
            // Sent again (a retried request): what it knows now is added;
            // an entry the new copy completes stops waiting for it.
            Some(part) => {
                part.parent = arrival.parent;
                if arrival.own.session.is_some() {
                    part.own.session.clone_from(&arrival.own.session);
                }
                if arrival.own.agent.is_some() {
                    part.own.agent.clone_from(&arrival.own.agent);
                }
                for entry in entries {
                    match part
                        .waiting
                        .iter_mut()
                        .find(|w| w.skeleton.entry_id == entry.entry_id)
                    {
                        Some(old) => {
                            old.needs_session &= entry.session_id.is_none();
                            old.needs_agent &= entry.agent_name.is_none();
                        }
                        None => part.waiting.extend(waiting_for(entry)),
                    }
                }
                part.waiting.retain(|w| w.needs_session || w.needs_agent);
            }
            None => {
                // A trace as large as the whole bound is not remembered
                // further (else it would push out every other trace).
                if trace.parts.len() >= max_spans {
                    return;
                }
                trace.parts.insert(
                    span_id,
                    Part {
                        parent: arrival.parent,
                        own: arrival.own.clone(),
                        waiting: entries.iter().filter_map(waiting_for).collect(),
                    },
                );
                if arrival.parent != SpanId::INVALID {
                    trace
                        .children
                        .entry(arrival.parent)
                        .or_default()
                        .push(span_id);
                }
                self.spans += 1;
            }
        }
    }

    /// Resolves the span upward, then fills its own waiting entries and its
    /// descendants' with what it and they resolve to.
    fn resolve_from(&mut self, (trace_id, span_id): SpanKey, fills: &mut Vec<ProtocolEntry>) {
        let Some(trace) = self.traces.get_mut(&trace_id) else {
            return;
        };
        let Some(part) = trace.parts.get(&span_id) else {
            return;
        };
        // Upward: the span's own values, then its nearest ancestors'.
        let mut lineage = part.own.clone();
        let mut current = part.parent;
        for _ in 0..MAX_DEPTH {
            if lineage.session.is_some() && lineage.agent.is_some() {
                break;
            }
            let Some(ancestor) = trace.parts.get(&current) else {
                break;
            };
            if lineage.session.is_none() {
                lineage.session.clone_from(&ancestor.own.session);
            }
            if lineage.agent.is_none() {
                lineage.agent.clone_from(&ancestor.own.agent);
            }
            current = ancestor.parent;
        }
        if lineage.session.is_none() && lineage.agent.is_none() {
            return;
        }
        // Downward: each descendant's own values win over what it inherits.
        let mut stack = vec![(span_id, lineage, 0usize)];
        let mut seen = HashSet::new();
        while let Some((id, inherited, depth)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let Some(part) = trace.parts.get_mut(&id) else {
                continue;
            };
            let lineage = Lineage {
                session: part.own.session.clone().or(inherited.session),
                agent: part.own.agent.clone().or(inherited.agent),
            };
            fill(part, &lineage, fills);
            if depth < MAX_DEPTH {
                for child in trace.children.get(&id).into_iter().flatten() {
                    stack.push((*child, lineage.clone(), depth + 1));
                }
            }
        }
    }

    /// Forgets traces that received nothing for longer than the age bound.
    fn forget_old(&mut self, now: Instant) {
        while let Some((&(touched, _), _)) = self.by_age.first_key_value() {
            if now.saturating_duration_since(touched) <= self.max_age {
                break;
            }
            self.forget_oldest();
        }
    }

    /// Forgets the oldest traces until the trace and span bounds hold.
    fn enforce_bounds(&mut self) {
        while self.traces.len() > self.max_traces || self.spans > self.max_spans {
            if !self.forget_oldest() {
                break;
            }
        }
    }

    fn forget_oldest(&mut self) -> bool {
        let Some((_, trace_id)) = self.by_age.pop_first() else {
            return false;
        };
        if let Some(trace) = self.traces.remove(&trace_id) {
            self.spans -= trace.parts.len();
        }
        true
    }
}

/// The entry, remembered if it lacks a session or an agent.
fn waiting_for(entry: &ProtocolEntry) -> Option<Waiting> {
    let needs_session = entry.session_id.is_none();
    let needs_agent = entry.agent_name.is_none();
    (needs_session || needs_agent).then(|| Waiting {
        skeleton: skeleton(entry),
        needs_session,
        needs_agent,
    })
}

/// Writes a filling copy of each of the part's waiting entries that the
/// lineage completes, and stops waiting for what it supplied.
fn fill(part: &mut Part, lineage: &Lineage, fills: &mut Vec<ProtocolEntry>) {
    for waiting in &mut part.waiting {
        let session = waiting
            .needs_session
            .then_some(lineage.session.as_deref())
            .flatten();
        let agent = waiting
            .needs_agent
            .then_some(lineage.agent.as_deref())
            .flatten();
        if session.is_none() && agent.is_none() {
            continue;
        }
        let mut copy = waiting.skeleton.clone();
        copy.session_id = session.map(str::to_owned);
        copy.agent_name = agent.map(str::to_owned);
        waiting.needs_session &= session.is_none();
        waiting.needs_agent &= agent.is_none();
        fills.push(copy);
    }
    part.waiting.retain(|w| w.needs_session || w.needs_agent);
}

/// The entry's identity and required fields (and its parent and service,
/// which a copy of it repeats harmlessly), without content.
fn skeleton(entry: &ProtocolEntry) -> ProtocolEntry {
    let mut copy = ProtocolEntry::new(
        entry.event_type,
        entry.trace_id.clone(),
        entry.span_id.clone(),
        entry.name.clone(),
        entry.timestamp,
    );
    copy.schema = entry.schema;
    copy.entry_id.clone_from(&entry.entry_id);
    copy.status = entry.status;
    copy.parent_span_id.clone_from(&entry.parent_span_id);
    copy.service_name.clone_from(&entry.service_name);
    copy
}

impl Extractor {
    /// Remembers recent traces to assemble runs that arrive in pieces (see
    /// the module documentation); used by
    /// [`ProtocolIngest`](crate::pipeline::ProtocolIngest).
    pub(crate) fn enable_assembly(
        &mut self,
        max_traces: usize,
        max_spans: usize,
        max_age: Duration,
    ) {
        self.assembly = Some(Assembly::new(max_traces, max_spans, max_age));
    }

    /// Entries (start and end) for finished spans from elsewhere, each span
    /// from the service `services[i]`, followed by the filling copies this
    /// submission makes possible for entries written earlier.
    pub(crate) fn on_ingested_batch(
        &mut self,
        spans: &[SpanData],
        services: &[Option<String>],
        out: &mut Vec<ProtocolEntry>,
    ) {
        let vocab = Arc::clone(&self.vocab);
        let mut all: Vec<SpanFacts<'_>> = spans
            .iter()
            .map(|s| SpanFacts::read(s, &vocab, self.detail))
            .collect();
        for facts in &all {
            self.remember(facts);
        }
        let mut arrivals = Vec::with_capacity(if self.assembly.is_some() {
            all.len()
        } else {
            0
        });
        for (i, facts) in all.iter_mut().enumerate() {
            let lineage = self.remember(facts);
            let own = self.own_lineage(facts);
            let first = out.len();
            if let Some(entry) = self.start_entry(facts, &lineage, StartAttributes::OnEndOnly) {
                out.push(entry);
            }
            if let Some(entry) = self.end_entry(facts, &lineage) {
                out.push(entry);
            }
            let service = services.get(i).cloned().flatten();
            for entry in &mut out[first..] {
                entry.service_name.clone_from(&service);
            }
            if self.assembly.is_some() {
                arrivals.push(Arrival {
                    key: facts.key,
                    parent: facts.span.parent_span_id,
                    own,
                    entries: first..out.len(),
                });
            }
        }
        for facts in &all {
            self.ancestry.end(facts.key);
        }
        self.ancestry.enforce_capacity();
        if let Some(assembly) = &mut self.assembly {
            assembly.add(&arrivals, out, Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;
    use crate::config::ProtocolConfig;
    use crate::entry::EventType;
    use crate::extract::test_support::span_at;

    const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;

    fn extractor() -> Extractor {
        let mut ex = Extractor::new(&ProtocolConfig::default()).unwrap();
        ex.enable_assembly(100, 1_000, Duration::from_secs(600));
        ex
    }

    fn ingest(ex: &mut Extractor, spans: &[SpanData]) -> Vec<ProtocolEntry> {
        let mut out = Vec::new();
        let services = vec![Some("svc".to_owned()); spans.len()];
        ex.on_ingested_batch(spans, &services, &mut out);
        out
    }

    /// agent (session s) → chat → tool, all in one trace.
    fn run() -> (SpanData, SpanData, SpanData) {
        let agent = span_at(
            TRACE,
            1,
            0,
            "invoke_agent planner",
            vec![KeyValue::new("gen_ai.conversation.id", "s")],
        );
        let chat = span_at(TRACE, 2, 1, "chat gpt-4o", vec![]);
        let tool = span_at(TRACE, 3, 2, "execute_tool search", vec![]);
        (agent, chat, tool)
    }

    #[test]
    fn one_span_per_submission_children_first_ends_up_filled() {
        let (agent, chat, tool) = run();
        let mut ex = extractor();
        let first = ingest(&mut ex, std::slice::from_ref(&tool));
        assert_eq!(first.len(), 2);
        assert!(first.iter().all(|e| e.session_id.is_none()));
        assert!(first
            .iter()
            .all(|e| e.service_name.as_deref() == Some("svc")));
        // The chat has no agent or session to give: nothing to fill yet.
        assert_eq!(ingest(&mut ex, std::slice::from_ref(&chat)).len(), 2);
        let last = ingest(&mut ex, std::slice::from_ref(&agent));
        // The agent's own two entries, then a copy of each of the four.
        assert_eq!(last.len(), 6);
        let fills = &last[2..];
        for fill in fills {
            assert_eq!(fill.session_id.as_deref(), Some("s"));
            assert_eq!(fill.agent_name.as_deref(), Some("planner"));
            assert!(fill.input.is_none() && fill.output.is_none());
        }
        let ids: HashSet<&str> = fills.iter().map(|e| e.entry_id.as_str()).collect();
        assert_eq!(ids.len(), 4);
        assert!(fills
            .iter()
            .any(|e| e.event_type == EventType::ToolEnd && e.status == first[1].status));
        // Everything is complete: sending the agent again fills nothing.
        assert_eq!(ingest(&mut ex, std::slice::from_ref(&agent)).len(), 2);
    }

    #[test]
    fn a_whole_run_in_one_submission_needs_no_copies() {
        let (agent, chat, tool) = run();
        let out = ingest(&mut extractor(), &[tool, chat, agent]);
        assert_eq!(out.len(), 6);
        assert!(out.iter().all(|e| e.session_id.as_deref() == Some("s")));
    }

    #[test]
    fn a_parent_from_an_earlier_submission_is_inherited_directly() {
        let (agent, chat, tool) = run();
        let mut ex = extractor();
        ingest(&mut ex, &[agent]);
        let out = ingest(&mut ex, &[chat, tool]);
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|e| e.session_id.as_deref() == Some("s")));
    }

    #[test]
    fn an_intermediate_span_arriving_last_links_both_halves() {
        let (agent, chat, tool) = run();
        let mut ex = extractor();
        ingest(&mut ex, &[tool]);
        ingest(&mut ex, &[agent]);
        let out = ingest(&mut ex, &[chat]);
        // The chat's own entries already inherit; the tool's get copies.
        assert_eq!(out.len(), 4);
        assert!(out.iter().all(|e| e.session_id.as_deref() == Some("s")));
        assert_eq!(
            out[2..]
                .iter()
                .filter(|e| e.span_id == out[2].span_id)
                .count(),
            2
        );
    }

    #[test]
    fn memory_is_bounded_by_traces_and_spans_and_forgets_the_oldest() {
        let mut ex = Extractor::new(&ProtocolConfig::default()).unwrap();
        ex.enable_assembly(10, 25, Duration::from_secs(600));
        for trace in 1..=100u128 {
            for span in 1..=3 {
                ingest(&mut ex, &[span_at(trace, span + 1, span, "chat m", vec![])]);
            }
        }
        let (traces, spans) = ex.assembly.as_ref().unwrap().len();
        assert!(
            traces <= 10 && spans <= 25,
            "{traces} traces, {spans} spans"
        );
        // The newest trace is still remembered: its agent fills its run.
        let agent = span_at(
            100,
            1,
            0,
            "invoke_agent a",
            vec![KeyValue::new("session.id", "s")],
        );
        assert_eq!(ingest(&mut ex, std::slice::from_ref(&agent)).len(), 2 + 6);
        // The oldest is forgotten: its agent fills nothing.
        let mut old = agent;
        old.span_context = span_at(1, 1, 0, "x", vec![]).span_context;
        assert_eq!(ingest(&mut ex, &[old]).len(), 2);
    }

    #[test]
    fn traces_older_than_the_age_bound_are_forgotten() {
        let mut assembly = Assembly::new(10, 100, Duration::from_secs(1));
        let now = Instant::now();
        let arrival = Arrival {
            key: (TraceId::from(1u128), SpanId::from(2u64)),
            parent: SpanId::from(1u64),
            own: Lineage::default(),
            entries: 0..0,
        };
        assembly.add(std::slice::from_ref(&arrival), &mut Vec::new(), now);
        assert_eq!(assembly.len(), (1, 1));
        let later = Arrival {
            key: (TraceId::from(2u128), SpanId::from(2u64)),
            ..arrival
        };
        assembly.add(&[later], &mut Vec::new(), now + Duration::from_secs(2));
        assert_eq!(assembly.len(), (1, 1));
    }
}
