//! A bounded memory of spans, so a span without its own session or agent
//! inherits its nearest ancestor's within the trace.
//!
//! Every span is remembered (unclassified ones too, so inheritance passes
//! through them). Ended spans stay until the bound forces them out, oldest
//! first, because children may start after their parent ended; open spans are
//! evicted only when nothing ended is left.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use foldhash::fast::RandomState;
use opentelemetry::trace::{SpanId, TraceId};

/// How far up a parent chain inheritance looks; also what stops a cycle.
const MAX_DEPTH: usize = 256;

/// A span's identity: span ids are only unique within a trace.
pub(crate) type SpanKey = (TraceId, SpanId);

/// What descendants can inherit from a span.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lineage {
    /// The session, the span's own or inherited.
    pub session: Option<Arc<str>>,
    /// The agent, the span's own or inherited.
    pub agent: Option<Arc<str>>,
}

#[derive(Debug)]
struct Node {
    parent: SpanId,
    lineage: Lineage,
    /// Whether the span's start entry carried its input, so its end entry
    /// need not repeat it.
    input_sent: bool,
    /// Its place in `open` or `ended`: when it was remembered, or ended.
    seq: u64,
    ended: bool,
}

/// The span memory, bounded by a maximum number of spans.
///
/// The eviction order is kept in two queues of `(seq, key)`, oldest first,
/// rather than in ordered maps: at the bound every span remembered evicts
/// one, and the maps' node allocations and rebalancing were a tenth of
/// extraction. A span that ends leaves its place in `open` behind, stale (its
/// node's `seq` no longer matches): skipped when met, and swept out once
/// stale places outnumber the live ones, so the queues stay within twice
/// the spans remembered.
pub(crate) struct Ancestry {
    /// Hashed with foldhash, seeded at random per map: a span is looked up
    /// half a dozen times, and SipHash (std's default) was 9 % of
    /// extraction's instructions under callgrind (`--scenario
    /// jsonl_storage_limit --spans 8000`). The seed keeps ids chosen
    /// by a remote client (`serve`) from aiming at one bucket.
    nodes: HashMap<SpanKey, Node, RandomState>,
    open: VecDeque<(u64, SpanKey)>,
    ended: VecDeque<(u64, SpanKey)>,
    /// How many remembered spans have not ended.
    open_spans: usize,
    next_seq: u64,
    capacity: usize,
}

impl fmt::Debug for Ancestry {
    // Up to `capacity` nodes: print the bookkeeping, not the contents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ancestry")
            .field("open", &self.open.len())
            .field("ended", &self.ended.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl Ancestry {
    /// An empty memory of at most `capacity` spans.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            nodes: HashMap::with_hasher(RandomState::default()),
            open: VecDeque::new(),
            ended: VecDeque::new(),
            open_spans: 0,
            next_seq: 0,
            capacity,
        }
    }

    /// How many spans are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Remembers a span, or updates it: a value given here replaces the
    /// remembered one (a session recorded late), an absent one keeps it.
    /// Does not enforce the bound; see [`Ancestry::enforce_capacity`].
    pub(crate) fn upsert(&mut self, key: SpanKey, parent: SpanId, lineage: Lineage) {
        if let Some(node) = self.nodes.get_mut(&key) {
            node.parent = parent;
            if lineage.session.is_some() {
                node.lineage.session = lineage.session;
            }
            if lineage.agent.is_some() {
                node.lineage.agent = lineage.agent;
            }
            return;
        }
        let seq = self.bump();
        self.open.push_back((seq, key));
        self.open_spans += 1;
        self.nodes.insert(
            key,
            Node {
                parent,
                lineage,
                input_sent: false,
                seq,
                ended: false,
            },
        );
    }

    /// A span's own session and agent as shared text, the remembered span's
    /// where the text is the same: a span is remembered at its start and
    /// again at its end, and text shared anew each time cost an allocation
    /// and a free per entry.
    pub(crate) fn own_lineage(
        &self,
        key: SpanKey,
        session: Option<&str>,
        agent: Option<&str>,
    ) -> Lineage {
        let known = self.nodes.get(&key).map(|node| &node.lineage);
        let shared = |text: Option<&str>, known: Option<&Arc<str>>| {
            let text = text?;
            Some(match known {
                Some(known) if **known == *text => Arc::clone(known),
                _ => Arc::from(text),
            })
        };
        Lineage {
            session: shared(session, known.and_then(|k| k.session.as_ref())),
            agent: shared(agent, known.and_then(|k| k.agent.as_ref())),
        }
    }

    /// Marks a span ended: from now on it is among the first to be evicted.
    pub(crate) fn end(&mut self, key: SpanKey) {
        let seq = self.bump();
        if let Some(node) = self.nodes.get_mut(&key) {
            if !node.ended {
                self.open_spans -= 1;
            }
            node.ended = true;
            node.seq = seq;
            self.ended.push_back((seq, key));
            self.sweep();
        }
    }

    /// Drops the stale places once they outnumber the live ones.
    fn sweep(&mut self) {
        let ended_spans = self.nodes.len() - self.open_spans;
        let nodes = &self.nodes;
        let live = |ended: bool| {
            move |&(seq, key): &(u64, SpanKey)| {
                nodes
                    .get(&key)
                    .is_some_and(|node| node.ended == ended && node.seq == seq)
            }
        };
        if self.open.len() > 2 * self.open_spans + 64 {
            self.open.retain(live(false));
        }
        if self.ended.len() > 2 * ended_spans + 64 {
            self.ended.retain(live(true));
        }
    }

    /// Records that the span's start entry carried its input.
    pub(crate) fn mark_input_sent(&mut self, key: SpanKey) {
        if let Some(node) = self.nodes.get_mut(&key) {
            node.input_sent = true;
        }
    }

    /// Whether the span's start entry carried its input.
    pub(crate) fn input_sent(&self, key: SpanKey) -> bool {
        self.nodes.get(&key).is_some_and(|node| node.input_sent)
    }

    /// The nearest session and agent among `parent` and its ancestors.
    pub(crate) fn inherited(&self, trace: TraceId, parent: SpanId) -> Lineage {
        let mut found = Lineage::default();
        let mut current = parent;
        for _ in 0..MAX_DEPTH {
            if current == SpanId::INVALID {
                break;
            }
            let Some(node) = self.nodes.get(&(trace, current)) else {
                break;
            };
            if found.session.is_none() {
                found.session.clone_from(&node.lineage.session);
            }
            if found.agent.is_none() {
                found.agent.clone_from(&node.lineage.agent);
            }
            if found.session.is_some() && found.agent.is_some() {
                break;
            }
            current = node.parent;
        }
        found
    }

    /// Evicts spans until at most `capacity` remain: ended ones first, oldest
    /// first, then open ones, oldest first.
    pub(crate) fn enforce_capacity(&mut self) {
        while self.nodes.len() > self.capacity {
            let (queue, ended) = if self.ended.is_empty() {
                (&mut self.open, false)
            } else {
                (&mut self.ended, true)
            };
            let Some((seq, key)) = queue.pop_front() else {
                break;
            };
            let live = self
                .nodes
                .get(&key)
                .is_some_and(|node| node.ended == ended && node.seq == seq);
            if live {
                self.nodes.remove(&key);
                if !ended {
                    self.open_spans -= 1;
                }
            }
        }
    }

    fn bump(&mut self) -> u64 {
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: TraceId = TraceId::from_bytes([1; 16]);
    const OTHER_TRACE: TraceId = TraceId::from_bytes([2; 16]);

    fn id(n: u64) -> SpanId {
        SpanId::from(n)
    }

    fn lineage(session: Option<&str>, agent: Option<&str>) -> Lineage {
        Lineage {
            session: session.map(Arc::from),
            agent: agent.map(Arc::from),
        }
    }

    #[test]
    fn a_span_remembered_again_shares_its_unchanged_text() {
        let mut ancestry = Ancestry::new(8);
        let key = (T, id(1));
        let first = ancestry.own_lineage(key, Some("s1"), Some("planner"));
        ancestry.upsert(key, SpanId::INVALID, first.clone());
        // At its end: the same session, an agent named late.
        let again = ancestry.own_lineage(key, Some("s1"), Some("booker"));
        assert_eq!(again, lineage(Some("s1"), Some("booker")));
        let (before, after) = (first.session.unwrap(), again.session.unwrap());
        assert!(Arc::ptr_eq(&before, &after), "the same text is shared");
        assert_eq!(ancestry.own_lineage(key, None, None), Lineage::default());
        // Another span's equal text is its own.
        let other = ancestry.own_lineage((T, id(2)), Some("s1"), None);
        assert!(!Arc::ptr_eq(&before, &other.session.unwrap()));
    }

    #[test]
    fn nearest_ancestor_wins_and_values_come_from_different_levels() {
        let mut a = Ancestry::new(100);
        a.upsert(
            (T, id(1)),
            SpanId::INVALID,
            lineage(Some("s-root"), Some("root")),
        );
        a.upsert((T, id(2)), id(1), lineage(None, Some("planner")));
        a.upsert((T, id(3)), id(2), lineage(None, None));
        assert_eq!(
            a.inherited(T, id(3)),
            lineage(Some("s-root"), Some("planner"))
        );
        assert_eq!(a.inherited(T, SpanId::INVALID), Lineage::default());
    }

    #[test]
    fn inheritance_stays_within_the_trace() {
        let mut a = Ancestry::new(100);
        a.upsert((T, id(1)), SpanId::INVALID, lineage(Some("s"), None));
        assert_eq!(a.inherited(OTHER_TRACE, id(1)), Lineage::default());
    }

    #[test]
    fn cycles_terminate() {
        let mut a = Ancestry::new(100);
        a.upsert((T, id(1)), id(2), lineage(None, None));
        a.upsert((T, id(2)), id(1), lineage(None, None));
        a.upsert((T, id(3)), id(3), lineage(None, None));
        assert_eq!(a.inherited(T, id(1)), Lineage::default());
        assert_eq!(a.inherited(T, id(3)), Lineage::default());
    }

    #[test]
    fn late_values_update_and_absent_values_keep() {
        let mut a = Ancestry::new(100);
        a.upsert((T, id(1)), SpanId::INVALID, lineage(None, Some("a")));
        a.upsert((T, id(1)), SpanId::INVALID, lineage(Some("late"), None));
        assert_eq!(a.inherited(T, id(1)), lineage(Some("late"), Some("a")));
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn ended_spans_are_evicted_before_open_ones_oldest_first() {
        let mut a = Ancestry::new(3);
        for n in 1..=4 {
            a.upsert((T, id(n)), SpanId::INVALID, lineage(Some("s"), None));
        }
        a.end((T, id(3)));
        a.end((T, id(2)));
        a.enforce_capacity();
        assert_eq!(a.len(), 3);
        // 3 ended first, so it went first; the open ones stay.
        assert!(a.inherited(T, id(3)).session.is_none());
        for n in [1, 2, 4] {
            assert!(a.inherited(T, id(n)).session.is_some(), "{n}");
        }
        // With nothing ended left, the oldest open span goes.
        a.upsert((T, id(5)), SpanId::INVALID, lineage(Some("s"), None));
        a.upsert((T, id(6)), SpanId::INVALID, lineage(Some("s"), None));
        a.enforce_capacity();
        assert_eq!(a.len(), 3);
        assert!(a.inherited(T, id(2)).session.is_none());
        assert!(a.inherited(T, id(1)).session.is_none());
        assert!(a.inherited(T, id(6)).session.is_some());
    }

    #[test]
    fn ending_twice_or_ending_unknown_spans_is_harmless() {
        let mut a = Ancestry::new(1);
        a.end((T, id(9)));
        a.upsert((T, id(1)), SpanId::INVALID, Lineage::default());
        a.end((T, id(1)));
        a.end((T, id(1)));
        assert_eq!((a.open_spans, a.len()), (0, 1));
        a.enforce_capacity();
        assert_eq!(a.len(), 1);
    }

    #[test]
    fn the_queues_stay_within_twice_the_spans_remembered() {
        let mut a = Ancestry::new(100);
        for n in 1..=10_000 {
            a.upsert((T, id(n)), id(n - 1), Lineage::default());
            // Every third span stays open a while; some end twice.
            if n % 3 != 0 {
                a.end((T, id(n)));
            }
            if n % 7 == 0 {
                a.end((T, id(n)));
            }
            if n % 3 == 0 && n > 30 {
                a.end((T, id(n - 30)));
            }
            a.enforce_capacity();
            assert!(a.len() <= 100);
            assert!(a.open.len() + a.ended.len() <= 2 * 100 + 128, "{n}: {a:?}");
        }
        // The newest spans are the ones kept.
        assert!(a.nodes.contains_key(&(T, id(10_000))));
        assert!(!a.nodes.contains_key(&(T, id(1))));
    }

    #[test]
    fn zero_capacity_remembers_nothing_after_enforcement() {
        let mut a = Ancestry::new(0);
        a.upsert((T, id(1)), SpanId::INVALID, Lineage::default());
        a.enforce_capacity();
        assert_eq!(a.len(), 0);
        assert!(a.open.is_empty() && a.ended.is_empty());
    }

    #[test]
    fn input_sent_is_remembered_per_span() {
        let mut a = Ancestry::new(10);
        a.upsert((T, id(1)), SpanId::INVALID, Lineage::default());
        assert!(!a.input_sent((T, id(1))));
        a.mark_input_sent((T, id(1)));
        assert!(a.input_sent((T, id(1))));
        assert!(!a.input_sent((T, id(2))));
    }
}
