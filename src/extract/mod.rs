//! Span data → protocol entries: classification, attribute keys, content.
//!
//! The [`Extractor`] reads each span once into its own facts ([`facts`]),
//! resolves what it inherits from its ancestors ([`ancestry`]), and assembles
//! the start entry, end entry or handoff entry the protocol format defines.

mod aliases;
mod ancestry;
mod assembly;
mod attributes;
mod classify;
mod content;
mod extras;
mod facts;
mod keys;
mod outcome;
mod redact;
mod spare_strings;
mod timing;
mod truncate;
mod vocabulary;

pub use self::classify::StepKind;

#[cfg(test)]
mod test_support;

use std::sync::Arc;

use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value as Json};

use crate::config::{DetailLevel, ProtocolConfig};
use crate::entry::{Content, EventType, ProtocolEntry};
use crate::error::Result;

use self::aliases::Aliases;
use self::ancestry::{Ancestry, Lineage};
use self::extras::extra_attributes;
use self::facts::SpanFacts;
use self::outcome::outcome;
use self::redact::Redactor;
use self::spare_strings::SpareStrings;
use self::timing::{duration_ms, timestamp};
use self::truncate::Limit;
use self::vocabulary::Vocabulary;
use crate::pricing::Prices;

/// Turns spans into protocol entries. Runs on the extraction thread; keeps a
/// bounded memory of open and recently ended spans so descendants inherit
/// session and agent.
#[derive(Debug)]
pub struct Extractor {
    service_name: Option<String>,
    detail: DetailLevel,
    /// The bound on content and error text at this detail level.
    content_limit: Limit,
    /// The per-value cap of `DetailLevel::Full`'s attribute map.
    full_content_cap: usize,
    keep_other_spans: bool,
    redactor: Redactor,
    ancestry: Ancestry,
    /// Shared so span facts can borrow it while the extractor is mutated.
    vocab: Arc<Vocabulary>,
    /// Prices model calls that report no cost of their own.
    prices: Prices,
    /// Runs arriving in pieces, for ingested spans only (`assembly.rs`).
    assembly: Option<assembly::Assembly>,
    /// The strings of written entries, for the next entries' fields.
    spares: SpareStrings,
}

/// Whether a start entry gets the `Full` attribute map.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StartAttributes {
    /// The processor path: the attributes known at start are all there is.
    AsKnown,
    /// The exporter path: the end entry carries them all; repeating them on
    /// the start entry would store every value twice.
    OnEndOnly,
}

impl Extractor {
    /// Builds an extractor; fails on an invalid redaction pattern, alias or
    /// span rule.
    pub fn new(config: &ProtocolConfig) -> Result<Self> {
        config.check_vocabulary()?;
        let content_limit = match config.detail() {
            DetailLevel::Full => Limit::Bytes(config.full_content_cap()),
            DetailLevel::Minimal | DetailLevel::Standard => {
                Limit::Chars(config.max_content_chars())
            }
        };
        Ok(Self {
            service_name: None,
            detail: config.detail(),
            content_limit,
            full_content_cap: config.full_content_cap(),
            keep_other_spans: config.keep_other_spans(),
            redactor: Redactor::new(config)?,
            ancestry: Ancestry::new(config.max_tracked_spans()),
            vocab: Arc::new(Vocabulary::new(config)),
            prices: config.prices()?,
            assembly: None,
            spares: SpareStrings::default(),
        })
    }

    /// Sets the `service.name` written on every entry.
    pub fn set_service_name(&mut self, name: Option<String>) {
        self.service_name = name;
    }

    /// Takes the strings of an entry made here once it is written, leaving
    /// them empty: they hold the next entries' fields instead of going back
    /// to the allocator.
    pub fn recycle(&mut self, entry: &mut ProtocolEntry) {
        self.spares.keep_from(entry);
    }

    /// Gives the strings kept by [`Extractor::recycle`] back to the
    /// allocator: for when no entries are being made.
    pub fn release_spares(&mut self) {
        self.spares.release();
    }

    /// Entries for a span that just started (its start entry, if it is kept).
    pub fn on_start(&mut self, span: &SpanData, out: &mut Vec<ProtocolEntry>) {
        let vocab = Arc::clone(&self.vocab);
        let mut facts = SpanFacts::read(span, &vocab, self.detail);
        let lineage = self.remember(&facts);
        if let Some(entry) = self.start_entry(&mut facts, &lineage, StartAttributes::AsKnown) {
            out.push(entry);
        }
        self.ancestry.enforce_capacity();
    }

    /// Entries for a span that just ended (its end entry or handoff, if kept).
    pub fn on_end(&mut self, span: &SpanData, out: &mut Vec<ProtocolEntry>) {
        let vocab = Arc::clone(&self.vocab);
        let mut facts = SpanFacts::read(span, &vocab, self.detail);
        // Attributes recorded late (a session set only at the end) update the
        // memory before the entry is built and before descendants need them.
        let lineage = self.remember(&facts);
        if let Some(entry) = self.end_entry(&mut facts, &lineage) {
            out.push(entry);
        }
        self.ancestry.end(facts.key);
        self.ancestry.enforce_capacity();
    }

    /// Entries (start and end) for a batch of finished spans, as an exporter gets them.
    pub fn on_finished_batch(&mut self, spans: &[SpanData], out: &mut Vec<ProtocolEntry>) {
        let vocab = Arc::clone(&self.vocab);
        let mut all: Vec<SpanFacts<'_>> = spans
            .iter()
            .map(|s| SpanFacts::read(s, &vocab, self.detail))
            .collect();
        // Children usually precede their parents in a batch: remember the
        // whole batch before resolving anything.
        for facts in &all {
            self.remember(facts);
        }
        for facts in &mut all {
            // Resolved again now that every ancestor in the batch is known;
            // this also stores the resolved values for later batches.
            let lineage = self.remember(facts);
            if let Some(entry) = self.start_entry(facts, &lineage, StartAttributes::OnEndOnly) {
                out.push(entry);
            }
            if let Some(entry) = self.end_entry(facts, &lineage) {
                out.push(entry);
            }
        }
        for facts in &all {
            self.ancestry.end(facts.key);
        }
        // Enforced only now so a batch larger than the bound still resolves
        // within itself.
        self.ancestry.enforce_capacity();
    }

    /// Stores the span's own-or-inherited session and agent, and returns them.
    fn remember(&mut self, facts: &SpanFacts<'_>) -> Lineage {
        let (trace, _) = facts.key;
        let inherited = self.ancestry.inherited(trace, facts.span.parent_span_id);
        let own = self.own_lineage(facts);
        let lineage = Lineage {
            session: own.session.or(inherited.session),
            agent: own.agent.or(inherited.agent),
        };
        self.ancestry
            .upsert(facts.key, facts.span.parent_span_id, lineage.clone());
        lineage
    }

    /// What the span itself passes on to its descendants.
    fn own_lineage(&self, facts: &SpanFacts<'_>) -> Lineage {
        let (session, agent) = (facts.session.as_deref(), facts.agent.as_deref());
        self.ancestry.own_lineage(facts.key, session, agent)
    }

    fn is_kept(&self, kind: StepKind) -> bool {
        kind != StepKind::Other || self.keep_other_spans
    }

    fn start_entry(
        &mut self,
        facts: &mut SpanFacts<'_>,
        lineage: &Lineage,
        attributes: StartAttributes,
    ) -> Option<ProtocolEntry> {
        let event_type = facts.kind.start_event()?;
        if !self.is_kept(facts.kind) {
            return None;
        }
        let mut entry = self.base_entry(facts, lineage, event_type);
        entry.input = self.content(facts, &facts.vocab.input);
        if entry.input.is_some() {
            self.ancestry.mark_input_sent(facts.key);
        }
        if attributes == StartAttributes::AsKnown {
            entry.attributes = self.full_attributes(facts);
        }
        Some(entry)
    }

    /// The end entry: the last built from `facts`, which it takes the finish
    /// reasons of.
    fn end_entry(&mut self, facts: &mut SpanFacts<'_>, lineage: &Lineage) -> Option<ProtocolEntry> {
        if !self.is_kept(facts.kind) {
            return None;
        }
        let span = facts.span;
        let mut entry = self.base_entry(facts, lineage, facts.kind.end_event());
        // A handoff is one moment, stamped when it began; it has no start entry.
        if facts.kind != StepKind::Handoff {
            entry.timestamp = timestamp(span.end_time);
        }
        if facts.kind == StepKind::Handoff {
            let from = facts.handoff_from.as_deref().or(lineage.agent.as_deref());
            entry.agent_name = self.spares.copy_some(from);
        }
        // Input recorded after the start entry was written (or with no start
        // entry at all) would otherwise never reach the protocol.
        if !self.ancestry.input_sent(facts.key) {
            entry.input = self.content(facts, &facts.vocab.input);
        }
        entry.output = self.content(facts, &facts.vocab.output);
        entry.input_tokens = facts.input_tokens;
        entry.output_tokens = facts.output_tokens;
        entry.cache_read_input_tokens = facts.cache_read_input_tokens;
        entry.cache_creation_input_tokens = facts.cache_creation_input_tokens;
        entry.reasoning_tokens = facts.reasoning_tokens;
        entry.cost_usd = facts.cost_usd;
        self.prices.apply(&mut entry);
        entry.finish_reasons = facts.finish_reasons.take();
        entry.time_to_first_chunk_ms = facts.time_to_first_chunk_ms;
        entry.duration_ms = Some(duration_ms(span.start_time, span.end_time));
        let (status, error) = outcome(span, &facts.attrs, self.content_limit, &self.redactor);
        entry.status = status;
        entry.error = error;
        entry.attributes = self.full_attributes(facts).map(|mut map| {
            insert_count(
                &mut map,
                keys::DROPPED_ATTRIBUTES_KEY,
                span.dropped_attributes_count,
            );
            insert_count(
                &mut map,
                keys::DROPPED_EVENTS_KEY,
                span.events.dropped_count,
            );
            map
        });
        Some(entry)
    }

    /// The fields start and end entries share; the start entry's id, time and
    /// status. Its strings are the spare ones of written entries, refilled.
    fn base_entry(
        &mut self,
        facts: &SpanFacts<'_>,
        lineage: &Lineage,
        event_type: EventType,
    ) -> ProtocolEntry {
        let span = facts.span;
        let spares = &mut self.spares;
        let trace_id = hex_id(&span.span_context.trace_id().to_bytes(), spares);
        let span_id = hex_id(&span.span_context.span_id().to_bytes(), spares);
        let id = ProtocolEntry::id_parts(&trace_id, &span_id, event_type.id_suffix());
        let entry_id = spares.copy_parts(&id);
        let name = spares.copy(&facts.name);
        let mut entry = ProtocolEntry::with_id(
            entry_id,
            event_type,
            trace_id,
            span_id,
            name,
            timestamp(span.start_time),
        );
        entry.parent_span_id = (span.parent_span_id != SpanId::INVALID)
            .then(|| hex_id(&span.parent_span_id.to_bytes(), spares));
        entry.session_id = spares.copy_some(lineage.session.as_deref());
        entry.service_name = spares.copy_some(self.service_name.as_deref());
        entry.agent_name = spares.copy_some(lineage.agent.as_deref());
        entry.model = spares.copy_some(facts.model.as_deref());
        entry.provider = spares.copy_some(facts.provider.as_deref());
        entry.tool_name = spares.copy_some(facts.tool_name.as_deref());
        entry.tool_call_id = spares.copy_some(facts.tool_call_id.as_deref());
        entry.operation = spares.copy_some(facts.operation.as_deref());
        entry
    }

    /// The first content attribute of `table`, shaped by the detail level.
    fn content(&self, facts: &SpanFacts<'_>, table: &Aliases) -> Option<Content> {
        if self.detail == DetailLevel::Minimal {
            return None;
        }
        let found = facts.attrs.first_of(table)?;
        Some(content::content(
            &found.value,
            self.content_limit,
            &self.redactor,
        ))
    }

    fn full_attributes(&self, facts: &SpanFacts<'_>) -> Option<Map<String, Json>> {
        (self.detail == DetailLevel::Full).then(|| {
            extra_attributes(
                &facts.attrs,
                &facts.mapped,
                facts.vocab,
                Some(&facts.span.events.events),
                self.full_content_cap,
                &self.redactor,
            )
        })
    }
}

/// An id as its `Display` writes it (`{:032x}`/`{:016x}` of the big-endian
/// number: its bytes in lowercase hex), without the formatting machinery,
/// which took a tenth of an entry's cost.
fn hex_id(bytes: &[u8], spares: &mut SpareStrings) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // Trace ids, the longest, are 16 bytes.
    let mut text = [0u8; 32];
    for (pair, &byte) in text.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
    let len = (bytes.len() * 2).min(text.len());
    // Hex digits are ASCII: this never falls back.
    spares.copy(std::str::from_utf8(&text[..len]).unwrap_or_default())
}

fn insert_count(map: &mut Map<String, Json>, key: &str, count: u32) {
    if count > 0 {
        map.insert(key.to_owned(), Json::from(count));
    }
}

/// How many entries a span's start produces (0 or 1). Used by producers to
/// count a dropped start exactly, so `written + dropped = emitted` holds.
pub(crate) fn start_entry_count(config: &ProtocolConfig, span: &SpanData) -> u64 {
    let kind = classify::classify_span(
        &attributes::Attributes::new(&span.attributes),
        span,
        config.span_rules(),
    );
    u64::from(
        kind.start_event().is_some() && (kind != StepKind::Other || config.keep_other_spans()),
    )
}

/// How many entries a span's end produces (0 or 1), for exact drop counts.
pub(crate) fn end_entry_count(config: &ProtocolConfig, span: &SpanData) -> u64 {
    let kind = classify::classify_span(
        &attributes::Attributes::new(&span.attributes),
        span,
        config.span_rules(),
    );
    u64::from(kind != StepKind::Other || config.keep_other_spans())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use opentelemetry::trace::{Event, Status};
    use opentelemetry::KeyValue;
    use serde_json::json;

    use super::test_support::{span, span_at, spans_from_tracing, start_time, TRACE};
    use super::*;
    use crate::entry::{format_timestamp, EntryError};
    use crate::entry::{EntryStatus, SCHEMA_VERSION};
    use crate::error::ProtocolError;

    fn extractor(config: ProtocolConfig) -> Extractor {
        Extractor::new(&config).unwrap()
    }

    fn standard() -> Extractor {
        extractor(ProtocolConfig::default())
    }

    /// Start entries, then end entries, through the processor path.
    fn through_processor(ex: &mut Extractor, spans: &[SpanData]) -> Vec<ProtocolEntry> {
        let mut out = Vec::new();
        for s in spans {
            ex.on_start(s, &mut out);
        }
        for s in spans.iter().rev() {
            ex.on_end(s, &mut out);
        }
        out
    }

    fn one(ex: &mut Extractor, s: &SpanData) -> (Vec<ProtocolEntry>, Vec<ProtocolEntry>) {
        let (mut start, mut end) = (Vec::new(), Vec::new());
        ex.on_start(s, &mut start);
        ex.on_end(s, &mut end);
        (start, end)
    }

    fn find(entries: &[ProtocolEntry], event: EventType, span_id: u64) -> &ProtocolEntry {
        let id = SpanId::from(span_id).to_string();
        entries
            .iter()
            .find(|e| e.event_type == event && e.span_id == id)
            .unwrap_or_else(|| panic!("no {event} for span {id} in {entries:#?}"))
    }

    #[test]
    fn entries_made_from_recycled_ones_carry_nothing_of_them() {
        let rich = span_at(
            TRACE,
            0x00f0_67aa_0ba9_02b7,
            0x5399_5c3f_42cd_8ad8,
            "execute_tool search_flights_and_hotels_for_the_whole_team",
            vec![
                KeyValue::new("gen_ai.conversation.id", "a-long-conversation-id-0001"),
                KeyValue::new("gen_ai.agent.name", "travel-planner"),
                KeyValue::new("gen_ai.request.model", "gpt-4o-2024-08-06"),
                KeyValue::new("gen_ai.provider.name", "openai"),
                KeyValue::new("gen_ai.tool.call.id", "call_0123456789abcdef"),
                KeyValue::new("gen_ai.tool.call.arguments", r#"{"from":"BER"}"#),
            ],
        );
        let bare = span_at(TRACE, 0x0b, 0, "execute_tool x", vec![]);
        let mut fresh = standard();
        let expected = through_processor(&mut fresh, std::slice::from_ref(&bare));

        let mut ex = standard();
        ex.set_service_name(Some("svc".into()));
        // The husks stay alive: a string not taken from them stays theirs,
        // so `malloc` cannot hand its memory out again and pass for reuse.
        let (mut recycled, mut husks) = (Vec::new(), Vec::new());
        for _ in 0..3 {
            for mut entry in through_processor(&mut ex, std::slice::from_ref(&rich)) {
                recycled.extend(string_buffers(&entry));
                ex.recycle(&mut entry);
                husks.push(entry);
            }
        }
        ex.set_service_name(None);
        let made = through_processor(&mut ex, std::slice::from_ref(&bare));
        assert_eq!(made, expected);
        assert!(made[0].session_id.is_none() && made[0].parent_span_id.is_none());
        // And its ids were held in reused strings, not new ones: the rich
        // span's entries gave back strings of their sizes (a one-letter name
        // has no spare of its size, and gets a new one).
        for entry in &made {
            for id in [&entry.entry_id, &entry.trace_id, &entry.span_id] {
                assert!(recycled.contains(&id.as_ptr()), "{id} in a new string");
            }
        }
        assert!(husks.iter().all(|husk| husk.trace_id.is_empty()));
    }

    /// Where an entry's strings (those kept for reuse) hold their text.
    fn string_buffers(entry: &ProtocolEntry) -> Vec<*const u8> {
        let optional = [
            &entry.parent_span_id,
            &entry.session_id,
            &entry.service_name,
            &entry.agent_name,
            &entry.model,
            &entry.provider,
            &entry.tool_name,
            &entry.tool_call_id,
            &entry.operation,
        ];
        [
            &entry.entry_id,
            &entry.trace_id,
            &entry.span_id,
            &entry.name,
        ]
        .into_iter()
        .chain(optional.into_iter().flatten())
        .map(|text| text.as_ptr())
        .collect()
    }

    #[test]
    fn start_and_end_entries_carry_ids_times_and_status() {
        let mut ex = standard();
        ex.set_service_name(Some("travel-agent".into()));
        let s = span_at(
            TRACE,
            0x00f0_67aa_0ba9_02b7,
            0x5399_5c3f_42cd_8ad8,
            "execute_tool search_flights",
            vec![
                KeyValue::new("gen_ai.tool.call.id", "call_1"),
                KeyValue::new("gen_ai.tool.call.arguments", r#"{"from":"BER"}"#),
                KeyValue::new("gen_ai.tool.call.result", "3 flights"),
            ],
        );
        let (start, end) = one(&mut ex, &s);
        let (start, end) = (&start[0], &end[0]);

        assert_eq!(start.schema, SCHEMA_VERSION);
        assert_eq!(
            start.entry_id,
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:start"
        );
        assert_eq!(
            end.entry_id,
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:end"
        );
        assert_eq!(start.parent_span_id.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(start.service_name.as_deref(), Some("travel-agent"));
        assert_eq!(
            (start.event_type, end.event_type),
            (EventType::ToolStart, EventType::ToolEnd)
        );
        assert_eq!(
            format_timestamp(&start.timestamp),
            "2023-11-14T22:13:20.000000Z"
        );
        assert_eq!(
            format_timestamp(&end.timestamp),
            "2023-11-14T22:13:21.500000Z"
        );
        assert_eq!(
            (start.status, start.duration_ms),
            (EntryStatus::Unset, None)
        );
        assert_eq!(
            (end.status, end.duration_ms),
            (EntryStatus::Ok, Some(1500.0))
        );
        assert_eq!(start.name, "search_flights");
        assert_eq!(end.tool_name.as_deref(), Some("search_flights"));
        assert_eq!(end.tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(start.input, Some(json!({"from": "BER"}).into()));
        assert_eq!((start.output.clone(), end.input.clone()), (None, None));
        assert_eq!(end.output, Some(json!("3 flights").into()));
    }

    #[test]
    fn root_spans_have_no_parent_id() {
        let (start, _) = one(&mut standard(), &span("chat m", vec![]));
        assert_eq!(start[0].parent_span_id, None);
    }

    #[test]
    fn each_kind_gets_its_event_types() {
        let cases = [
            (
                span("invoke_agent a", vec![]),
                EventType::AgentStart,
                EventType::AgentEnd,
            ),
            (
                span("chat m", vec![]),
                EventType::LlmStart,
                EventType::LlmEnd,
            ),
            (
                span("execute_tool t", vec![]),
                EventType::ToolStart,
                EventType::ToolEnd,
            ),
            (
                span(
                    "check",
                    vec![KeyValue::new("openinference.span.kind", "GUARDRAIL")],
                ),
                EventType::GuardrailStart,
                EventType::GuardrailEnd,
            ),
        ];
        for (s, start_type, end_type) in cases {
            let (start, end) = one(&mut standard(), &s);
            assert_eq!((start.len(), end.len()), (1, 1), "{}", s.name);
            assert_eq!(
                (start[0].event_type, end[0].event_type),
                (start_type, end_type)
            );
        }
    }

    #[test]
    fn other_spans_are_left_out_unless_kept() {
        let s = span("GET /users", vec![]);
        let (start, end) = one(&mut standard(), &s);
        assert!(start.is_empty() && end.is_empty());

        let mut ex = extractor(ProtocolConfig::default().with_keep_other_spans(true));
        let (start, end) = one(&mut ex, &s);
        assert_eq!(start[0].event_type, EventType::SpanStart);
        assert_eq!(end[0].event_type, EventType::SpanEnd);
        assert_eq!(end[0].name, "GET /users");
    }

    #[test]
    fn handoff_is_one_entry_at_end_stamped_with_its_start() {
        let mut ex = standard();
        let spans = [
            span_at(TRACE, 1, 0, "invoke_agent triage", vec![]),
            span_at(TRACE, 2, 1, "handoff billing", vec![]),
        ];
        let mut start = Vec::new();
        ex.on_start(&spans[0], &mut start);
        ex.on_start(&spans[1], &mut start);
        assert_eq!(start.len(), 1, "nothing at a handoff's start");
        let mut end = Vec::new();
        ex.on_end(&spans[1], &mut end);
        let handoff = &end[0];
        assert_eq!(handoff.event_type, EventType::Handoff);
        assert_eq!(
            handoff.entry_id,
            ProtocolEntry::make_id(&handoff.trace_id, &handoff.span_id, "end")
        );
        assert_eq!(handoff.timestamp, timestamp(start_time()));
        assert_eq!(handoff.duration_ms, Some(1500.0));
        assert_eq!(handoff.agent_name.as_deref(), Some("triage"));
        assert_eq!(handoff.name, "billing");

        let explicit = span_at(
            TRACE,
            3,
            1,
            "handoff",
            vec![
                KeyValue::new("handoff.from_agent", "router"),
                KeyValue::new("handoff.to_agent", "refunds"),
            ],
        );
        let (_, end) = one(&mut ex, &explicit);
        assert_eq!(
            (end[0].agent_name.as_deref(), end[0].name.as_str()),
            (Some("router"), "refunds")
        );
    }

    #[test]
    fn session_is_inherited_through_an_unclassified_span() {
        let spans = [
            span_at(
                TRACE,
                1,
                0,
                "invoke_agent planner",
                vec![KeyValue::new("gen_ai.conversation.id", "conv-42")],
            ),
            span_at(TRACE, 2, 1, "step", vec![]),
            span_at(TRACE, 3, 2, "chat gpt-4o", vec![]),
        ];
        let out = through_processor(&mut standard(), &spans);
        for entry in &out {
            assert_eq!(
                entry.session_id.as_deref(),
                Some("conv-42"),
                "{}",
                entry.entry_id
            );
            assert_eq!(
                entry.agent_name.as_deref(),
                Some("planner"),
                "{}",
                entry.entry_id
            );
        }
        assert_eq!(out.len(), 4, "the unclassified span itself is left out");
    }

    #[test]
    fn every_session_alias_is_inherited() {
        for key in keys::SESSION_ID {
            let spans = [
                span_at(TRACE, 1, 0, "x", vec![KeyValue::new(*key, "s-1")]),
                span_at(TRACE, 2, 1, "chat m", vec![]),
            ];
            let out = through_processor(&mut standard(), &spans);
            assert_eq!(
                find(&out, EventType::LlmStart, 2).session_id.as_deref(),
                Some("s-1"),
                "{key}"
            );
        }
    }

    #[test]
    fn own_session_and_agent_override_inherited_ones() {
        let spans = [
            span_at(
                TRACE,
                1,
                0,
                "invoke_agent outer",
                vec![KeyValue::new("session.id", "outer")],
            ),
            span_at(
                TRACE,
                2,
                1,
                "chat m",
                vec![
                    KeyValue::new("session.id", "inner"),
                    KeyValue::new("gen_ai.agent.name", "helper"),
                ],
            ),
            span_at(TRACE, 3, 2, "execute_tool t", vec![]),
        ];
        let out = through_processor(&mut standard(), &spans);
        let llm = find(&out, EventType::LlmEnd, 2);
        assert_eq!(
            (llm.session_id.as_deref(), llm.agent_name.as_deref()),
            (Some("inner"), Some("helper"))
        );
        let tool = find(&out, EventType::ToolEnd, 3);
        assert_eq!(
            (tool.session_id.as_deref(), tool.agent_name.as_deref()),
            (Some("inner"), Some("helper"))
        );
    }

    #[test]
    fn nested_agents_give_children_the_nearest_agent() {
        let spans = [
            span_at(TRACE, 1, 0, "invoke_agent outer", vec![]),
            span_at(TRACE, 2, 1, "invoke_agent inner", vec![]),
            span_at(TRACE, 3, 2, "chat m", vec![]),
        ];
        let out = through_processor(&mut standard(), &spans);
        assert_eq!(
            find(&out, EventType::AgentStart, 2).agent_name.as_deref(),
            Some("inner")
        );
        assert_eq!(
            find(&out, EventType::LlmStart, 3).agent_name.as_deref(),
            Some("inner")
        );
        assert_eq!(find(&out, EventType::AgentEnd, 1).name, "outer");
    }

    #[test]
    fn inheritance_does_not_cross_traces() {
        let spans = [
            span_at(
                TRACE,
                1,
                0,
                "invoke_agent a",
                vec![KeyValue::new("session.id", "s")],
            ),
            span_at(TRACE + 1, 2, 1, "chat m", vec![]),
        ];
        let out = through_processor(&mut standard(), &spans);
        let llm = find(&out, EventType::LlmStart, 2);
        assert_eq!(
            (llm.session_id.clone(), llm.agent_name.clone()),
            (None, None)
        );
    }

    #[test]
    fn a_session_recorded_at_end_reaches_later_children() {
        let mut ex = standard();
        let parent_at_start = span_at(TRACE, 1, 0, "invoke_agent a", vec![]);
        let parent_at_end = span_at(
            TRACE,
            1,
            0,
            "invoke_agent a",
            vec![KeyValue::new("session_id", "late")],
        );
        let child = span_at(TRACE, 2, 1, "chat m", vec![]);
        let mut out = Vec::new();
        ex.on_start(&parent_at_start, &mut out);
        assert_eq!(out[0].session_id, None);
        ex.on_end(&parent_at_end, &mut out);
        assert_eq!(out[1].session_id.as_deref(), Some("late"));
        // A child that starts after its parent ended still inherits.
        ex.on_start(&child, &mut out);
        assert_eq!(out[2].session_id.as_deref(), Some("late"));
    }

    #[test]
    fn finished_batch_resolves_children_that_come_before_parents() {
        let batch = [
            span_at(
                TRACE,
                3,
                2,
                "chat gpt-4o",
                vec![KeyValue::new("gen_ai.usage.input_tokens", "5")],
            ),
            span_at(TRACE, 2, 1, "step", vec![]),
            span_at(
                TRACE,
                1,
                0,
                "invoke_agent planner",
                vec![
                    KeyValue::new("gen_ai.conversation.id", "conv-7"),
                    KeyValue::new("input.value", "plan a trip"),
                ],
            ),
        ];
        let mut out = Vec::new();
        standard().on_finished_batch(&batch, &mut out);
        assert_eq!(out.len(), 4);
        let llm_start = find(&out, EventType::LlmStart, 3);
        let llm_end = find(&out, EventType::LlmEnd, 3);
        for e in [llm_start, llm_end] {
            assert_eq!(
                (e.session_id.as_deref(), e.agent_name.as_deref()),
                (Some("conv-7"), Some("planner"))
            );
        }
        // Tokens only on the end entry, so sums over entries count them once.
        assert_eq!(
            (llm_start.input_tokens, llm_end.input_tokens),
            (None, Some(5))
        );
        let agent_start = find(&out, EventType::AgentStart, 1);
        let agent_end = find(&out, EventType::AgentEnd, 1);
        assert_eq!(agent_start.input, Some(json!("plan a trip").into()));
        assert_eq!(agent_end.input, None);
        assert_eq!(
            agent_end.timestamp,
            timestamp(start_time() + Duration::from_millis(1500))
        );
    }

    #[test]
    fn input_recorded_late_comes_with_the_end_entry_once() {
        let mut ex = standard();
        let at_start = span("chat m", vec![]);
        let at_end = span(
            "chat m",
            vec![
                KeyValue::new("gen_ai.input.messages", r#"[{"role":"user"}]"#),
                KeyValue::new("gen_ai.output.messages", "hi"),
            ],
        );
        let mut out = Vec::new();
        ex.on_start(&at_start, &mut out);
        ex.on_end(&at_end, &mut out);
        assert_eq!(out[0].input, None);
        assert_eq!(out[1].input, Some(json!([{"role": "user"}]).into()));
        assert_eq!(out[1].output, Some(json!("hi").into()));

        let with_input = span_at(
            TRACE,
            2,
            0,
            "chat m",
            vec![KeyValue::new("gen_ai.prompt", "q")],
        );
        let (start, end) = one(&mut ex, &with_input);
        assert_eq!(
            (start[0].input.clone(), end[0].input.clone()),
            (Some(Content::text("q")), None)
        );
    }

    #[test]
    fn content_aliases_are_read() {
        for (input_key, output_key) in [
            ("gen_ai.input.messages", "gen_ai.output.messages"),
            ("gen_ai.prompt", "gen_ai.completion"),
            ("gen_ai.tool.call.arguments", "gen_ai.tool.call.result"),
            ("input.value", "output.value"),
        ] {
            let s = span(
                "chat m",
                vec![
                    KeyValue::new(input_key, "in"),
                    KeyValue::new(output_key, "out"),
                ],
            );
            let (start, end) = one(&mut standard(), &s);
            assert_eq!(start[0].input, Some(json!("in").into()), "{input_key}");
            assert_eq!(end[0].output, Some(json!("out").into()), "{output_key}");
        }
    }

    #[test]
    fn invalid_json_content_is_kept_as_a_string() {
        let s = span(
            "chat m",
            vec![KeyValue::new("input.value", r#"{"broken": "#)],
        );
        let (start, _) = one(&mut standard(), &s);
        assert_eq!(start[0].input, Some(json!(r#"{"broken": "#).into()));
    }

    #[test]
    fn end_before_start_gives_zero_duration() {
        let mut s = span("chat m", vec![]);
        s.end_time = s.start_time - Duration::from_secs(5);
        let (_, end) = one(&mut standard(), &s);
        assert_eq!(end[0].duration_ms, Some(0.0));
    }

    #[test]
    fn end_status_reflects_each_error_source() {
        let mut by_status = span("chat m", vec![]);
        by_status.status = Status::error("boom");
        let by_type = span("chat m", vec![KeyValue::new("error.type", "Timeout")]);
        let mut by_event = span("chat m", vec![]);
        by_event.events.events.push(Event::new(
            "exception",
            start_time(),
            vec![KeyValue::new("exception.message", "bad")],
            0,
        ));
        for (s, expected) in [
            (
                by_status,
                EntryError {
                    message: Some("boom".into()),
                    ..Default::default()
                },
            ),
            (
                by_type,
                EntryError {
                    error_type: Some("Timeout".into()),
                    ..Default::default()
                },
            ),
            (
                by_event,
                EntryError {
                    message: Some("bad".into()),
                    ..Default::default()
                },
            ),
        ] {
            let (start, end) = one(&mut standard(), &s);
            assert_eq!(
                (start[0].status, start[0].error.clone()),
                (EntryStatus::Unset, None)
            );
            assert_eq!(end[0].status, EntryStatus::Error);
            assert_eq!(end[0].error.as_ref(), Some(&expected));
            assert!(end[0].is_error());
        }
    }

    #[test]
    fn minimal_keeps_model_tokens_and_error_but_no_content() {
        let mut s = span(
            "chat m",
            vec![
                KeyValue::new("gen_ai.request.model", "gpt-4o"),
                KeyValue::new("gen_ai.usage.input_tokens", 10),
                KeyValue::new("gen_ai.usage.output_tokens", "4"),
                KeyValue::new("gen_ai.input.messages", "hello"),
                KeyValue::new("gen_ai.output.messages", "hi"),
            ],
        );
        s.status = Status::error("rate limited");
        let mut ex = extractor(ProtocolConfig::default().with_detail(DetailLevel::Minimal));
        let (start, end) = one(&mut ex, &s);
        for e in [&start[0], &end[0]] {
            assert_eq!(
                (e.input.clone(), e.output.clone(), e.attributes.clone()),
                (None, None, None)
            );
            assert_eq!(e.model.as_deref(), Some("gpt-4o"));
        }
        assert_eq!(
            (end[0].input_tokens, end[0].output_tokens),
            (Some(10), Some(4))
        );
        assert_eq!(
            end[0].error.as_ref().unwrap().message.as_deref(),
            Some("rate limited")
        );
    }

    #[test]
    fn standard_truncates_multibyte_content_at_character_boundaries() {
        let text = "こんにちは世界".repeat(10); // 70 characters, 210 bytes
        let s = span("chat m", vec![KeyValue::new("input.value", text.clone())]);
        let mut ex = extractor(ProtocolConfig::default().with_max_content_chars(9));
        let (start, _) = one(&mut ex, &s);
        assert_eq!(
            start[0].input,
            Some(
                json!(format!(
                    "こんにちは世界こん…[truncated, {} bytes total]",
                    text.len()
                ))
                .into()
            )
        );
        assert_eq!(start[0].attributes, None);
    }

    #[test]
    fn full_keeps_content_whole_and_every_other_attribute_and_event() {
        let long = "word ".repeat(2_000); // beyond the Standard default
        let mut s = span(
            "chat m",
            vec![
                KeyValue::new("input.value", long.clone()),
                KeyValue::new("gen_ai.request.model", "gpt-4o"),
                KeyValue::new("gen_ai.request.temperature", 0.2),
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new("api.key", "sk-abcdefghijklmnopqrstuvwx"),
            ],
        );
        s.events.events.push(Event::new(
            "first_token",
            start_time(),
            vec![KeyValue::new("n", 1)],
            0,
        ));
        s.dropped_attributes_count = 3;
        let mut ex = extractor(ProtocolConfig::default().with_detail(DetailLevel::Full));
        let (start, end) = one(&mut ex, &s);
        assert_eq!(start[0].input, Some(json!(long).into()));
        let attrs = end[0].attributes.clone().unwrap();
        assert_eq!(attrs["gen_ai.request.temperature"], json!(0.2));
        // The operation is an entry field now, so not repeated here.
        assert!(!attrs.contains_key("gen_ai.operation.name"));
        assert_eq!(end[0].operation.as_deref(), Some("chat"));
        assert_eq!(attrs["api.key"], json!("[REDACTED]"));
        assert_eq!(attrs[keys::DROPPED_ATTRIBUTES_KEY], json!(3));
        assert!(
            !attrs.contains_key("input.value"),
            "content is not repeated"
        );
        assert!(
            !attrs.contains_key("gen_ai.request.model"),
            "mapped to `model`"
        );
        assert_eq!(
            attrs[keys::EVENTS_KEY],
            json!([{"name": "first_token", "timestamp": "2023-11-14T22:13:20.000000Z", "attributes": {"n": 1}}])
        );
        assert!(start[0].attributes.is_some());
    }

    #[test]
    fn full_caps_content_at_the_hard_cap() {
        let s = span(
            "chat m",
            vec![KeyValue::new("input.value", "é".repeat(1_000))],
        );
        let mut ex = extractor(
            ProtocolConfig::default()
                .with_detail(DetailLevel::Full)
                .with_full_content_cap(101),
        );
        let (start, _) = one(&mut ex, &s);
        let text = start[0].input.as_ref().and_then(Content::as_text).unwrap();
        assert_eq!(
            text,
            format!("{}…[truncated, 2000 bytes total]", "é".repeat(50))
        );
    }

    #[test]
    fn full_stays_bounded_with_huge_and_many_attributes() {
        let mut attrs: Vec<KeyValue> = (0..10_000)
            .map(|i| KeyValue::new(format!("k{i}"), i64::from(i)))
            .collect();
        attrs.push(KeyValue::new("blob", "x".repeat(10 * 1024 * 1024)));
        attrs.push(KeyValue::new("input.value", "y".repeat(10 * 1024 * 1024)));
        let s = span("chat m", attrs);
        let cap = 16 * 1024;
        let mut ex = extractor(
            ProtocolConfig::default()
                .with_detail(DetailLevel::Full)
                .with_full_content_cap(cap),
        );
        let started = Instant::now();
        let (start, end) = one(&mut ex, &s);
        assert!(started.elapsed() < Duration::from_secs(5));
        for e in [&start[0], &end[0]] {
            let size = e.to_json_line().unwrap().len();
            // 4 caps of attributes, the value crossing that bound, the content.
            assert!(size < 8 * cap, "entry of {size} bytes");
        }
        let attrs = end[0].attributes.as_ref().unwrap();
        let omitted = attrs[keys::OMITTED_ATTRIBUTES_KEY].as_u64().unwrap();
        let kept = attrs
            .keys()
            .filter(|k| k.starts_with('k') || *k == "blob")
            .count();
        assert_eq!(kept as u64 + omitted, 10_001);
    }

    #[test]
    fn standard_is_fast_on_a_ten_megabyte_input() {
        let s = span(
            "chat m",
            vec![KeyValue::new("input.value", "z".repeat(10 * 1024 * 1024))],
        );
        let started = Instant::now();
        let (start, _) = one(&mut standard(), &s);
        assert!(started.elapsed() < Duration::from_secs(2));
        let text = start[0].input.as_ref().and_then(Content::as_text).unwrap();
        assert!(text.len() < 4_096 + 64);
    }

    #[test]
    fn secrets_are_redacted_in_input_tool_arguments_and_errors() {
        let secrets = [
            "sk-proj-abcdefghijklmnopqrstuvwxyz",
            "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "AKIAIOSFODNN7EXAMPLE",
            "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEI\n-----END EC PRIVATE KEY-----",
        ];
        for secret in secrets {
            let mut s = span(
                "execute_tool http",
                vec![KeyValue::new("input.value", format!("use {secret} please"))],
            );
            s.status = Status::error(format!("rejected {secret}"));
            let (start, end) = one(&mut standard(), &s);
            assert_eq!(
                start[0].input,
                Some(json!("use [REDACTED] please").into()),
                "{secret}"
            );
            assert_eq!(
                end[0].error.as_ref().unwrap().message.as_deref(),
                Some("rejected [REDACTED]")
            );

            let args = span(
                "execute_tool http",
                vec![KeyValue::new(
                    "gen_ai.tool.call.arguments",
                    json!({"auth": secret}).to_string(),
                )],
            );
            let (start, _) = one(&mut standard(), &args);
            assert_eq!(
                start[0].input,
                Some(json!({"auth": "[REDACTED]"}).into()),
                "{secret}"
            );
        }
    }

    #[test]
    fn user_patterns_redact_and_invalid_ones_are_rejected() {
        let mut ex = extractor(ProtocolConfig::default().with_redaction_pattern(r"ACME-\d{6}"));
        let s = span(
            "chat m",
            vec![KeyValue::new("input.value", "order ACME-123456")],
        );
        let (start, _) = one(&mut ex, &s);
        assert_eq!(start[0].input, Some(json!("order [REDACTED]").into()));

        let err =
            Extractor::new(&ProtocolConfig::default().with_redaction_pattern("[z-a]")).unwrap_err();
        assert!(
            matches!(err, ProtocolError::InvalidConfig(ref m) if m.contains("[z-a]")),
            "{err}"
        );
    }

    #[test]
    fn redaction_can_be_turned_off() {
        let mut ex = extractor(ProtocolConfig::default().with_secret_redaction(false));
        let s = span(
            "chat m",
            vec![KeyValue::new("input.value", "AKIAIOSFODNN7EXAMPLE")],
        );
        let (start, _) = one(&mut ex, &s);
        assert_eq!(start[0].input, Some(json!("AKIAIOSFODNN7EXAMPLE").into()));
    }

    #[test]
    fn span_memory_is_bounded() {
        let mut ex = extractor(ProtocolConfig::default().with_max_tracked_spans(10));
        let mut out = Vec::new();
        for id in 1..=1_000 {
            let s = span_at(TRACE, id, 0, "chat m", vec![]);
            ex.on_start(&s, &mut out);
            ex.on_end(&s, &mut out);
        }
        assert!(ex.ancestry.len() <= 10);
        let batch: Vec<SpanData> = (1_001..=1_100)
            .map(|id| span_at(TRACE, id, 0, "x", vec![]))
            .collect();
        ex.on_finished_batch(&batch, &mut out);
        assert!(ex.ancestry.len() <= 10);
        assert_eq!(out.len(), 2_000);
    }

    #[test]
    fn evicting_ended_spans_keeps_open_ancestors() {
        let mut ex = extractor(
            ProtocolConfig::default()
                .with_max_tracked_spans(3)
                .with_keep_other_spans(true),
        );
        let mut out = Vec::new();
        let agent = span_at(
            TRACE,
            1,
            0,
            "invoke_agent a",
            vec![KeyValue::new("session.id", "s")],
        );
        ex.on_start(&agent, &mut out);
        for id in 10..20 {
            let s = span_at(TRACE, id, 1, "chat m", vec![]);
            ex.on_start(&s, &mut out);
            ex.on_end(&s, &mut out);
        }
        let late = span_at(TRACE, 99, 1, "chat m", vec![]);
        ex.on_start(&late, &mut out);
        let last = out.last().unwrap();
        assert_eq!(
            (last.session_id.as_deref(), last.agent_name.as_deref()),
            (Some("s"), Some("a"))
        );
    }

    #[test]
    fn garbage_spans_do_not_panic() {
        let mut ex = extractor(
            ProtocolConfig::default()
                .with_detail(DetailLevel::Full)
                .with_keep_other_spans(true),
        );
        let mut s = span_at(
            TRACE,
            5,
            5,
            "",
            vec![
                KeyValue::new("gen_ai.usage.input_tokens", f64::NAN),
                KeyValue::new("gen_ai.usage.output_tokens", "-9"),
                KeyValue::new("input.value", "\u{0}{[\"\\"),
                KeyValue::new("", ""),
            ],
        );
        s.start_time = std::time::SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        s.end_time =
            std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 1_000);
        let (start, end) = one(&mut ex, &s);
        assert_eq!(start[0].name, "(unnamed)");
        assert_eq!((end[0].input_tokens, end[0].output_tokens), (None, None));
        assert!(end[0].to_json_line().is_ok());
    }

    #[test]
    fn spans_from_tracing_opentelemetry_are_understood() {
        let spans = spans_from_tracing(|| {
            let agent = tracing::info_span!(
                "invoke_agent planner",
                gen_ai.operation.name = "invoke_agent",
                gen_ai.conversation.id = "conv-9",
            );
            let _agent = agent.enter();
            let llm = tracing::info_span!(
                "chat gpt-4o",
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = 7u64,
            );
            {
                let _llm = llm.enter();
                // `u64` fields reach OpenTelemetry as strings.
                llm.record("gen_ai.usage.input_tokens", 12u64);
                tracing::error!(error = "rate limited");
            }
            drop(llm);
            let tool = tracing::info_span!("execute_tool search", error = tracing::field::Empty);
            let failure = std::io::Error::other("disk full");
            tool.record("error", &failure as &(dyn std::error::Error + 'static));
        });
        assert_eq!(spans.len(), 3);
        let mut out = Vec::new();
        standard().on_finished_batch(&spans, &mut out);
        assert_eq!(out.len(), 6);

        let llm = out
            .iter()
            .find(|e| e.event_type == EventType::LlmEnd)
            .unwrap();
        assert_eq!((llm.input_tokens, llm.output_tokens), (Some(12), Some(7)));
        assert_eq!(llm.status, EntryStatus::Error);
        assert_eq!(
            llm.error.as_ref().unwrap().message.as_deref(),
            Some("rate limited")
        );
        assert_eq!(llm.session_id.as_deref(), Some("conv-9"));
        assert_eq!(llm.agent_name.as_deref(), Some("planner"));

        let tool = out
            .iter()
            .find(|e| e.event_type == EventType::ToolEnd)
            .unwrap();
        assert_eq!(
            (tool.status, tool.name.as_str()),
            (EntryStatus::Error, "search")
        );
        assert_eq!(
            tool.error.as_ref().unwrap().message.as_deref(),
            Some("disk full")
        );
        assert_eq!(tool.session_id.as_deref(), Some("conv-9"));

        let agent = out
            .iter()
            .find(|e| e.event_type == EventType::AgentEnd)
            .unwrap();
        assert_eq!(
            (agent.status, agent.name.as_str()),
            (EntryStatus::Ok, "planner")
        );
    }

    #[test]
    fn hex_ids_read_as_the_ids_display() {
        use opentelemetry::trace::TraceId;
        for id in [0, 1, 0xab, 0x00f0_67aa_0ba9_02b7, u64::MAX] {
            let span_id = SpanId::from(id);
            assert_eq!(
                hex_id(&span_id.to_bytes(), &mut SpareStrings::default()),
                span_id.to_string()
            );
            let trace_id = TraceId::from(u128::from(id) << 64 | 0x0e);
            assert_eq!(
                hex_id(&trace_id.to_bytes(), &mut SpareStrings::default()),
                trace_id.to_string()
            );
        }
        assert_eq!(
            hex_id(
                &TraceId::from(TRACE).to_bytes(),
                &mut SpareStrings::default()
            ),
            TraceId::from(TRACE).to_string()
        );
    }
}
