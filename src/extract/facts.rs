//! What one span says about itself: its kind, name, session, agent, model,
//! tool and token counts — read once, before any inheritance.

use std::borrow::Cow;

use opentelemetry_sdk::trace::SpanData;

use opentelemetry::{Array, Value};

use super::aliases::Fixed;
use super::ancestry::SpanKey;
use super::attributes::{Attributes, Found, MAX_IDENT_BYTES};
use super::classify::{classify_span, handoff_parties, name_suffix, tripped_guardrail, StepKind};
use super::truncate::cut_bytes;
use super::vocabulary::Vocabulary;
use crate::config::DetailLevel;

/// At most this many finish reasons are kept (one per choice; a runaway
/// list is not a protocol fact).
const MAX_FINISH_REASONS: usize = 16;

/// The entry name of a span whose name is empty.
const UNNAMED: &str = "(unnamed)";

/// The span's own facts.
#[derive(Debug)]
pub(crate) struct SpanFacts<'a> {
    /// The span itself.
    pub span: &'a SpanData,
    /// Its identity in the span memory.
    pub key: SpanKey,
    /// What kind of step it records.
    pub kind: StepKind,
    /// Its attributes, last value wins.
    pub attrs: Attributes<'a>,
    /// The entry's `name` (agent, tool, span name, or the agent taken over to).
    pub name: Cow<'a, str>,
    /// Its own session, if it names one.
    pub session: Option<Cow<'a, str>>,
    /// Its own agent: an agent span's name, else an explicit agent attribute.
    pub agent: Option<Cow<'a, str>>,
    /// On a handoff, the agent handing off, when the span says.
    pub handoff_from: Option<Cow<'a, str>>,
    /// The model.
    pub model: Option<Cow<'a, str>>,
    /// The model provider.
    pub provider: Option<Cow<'a, str>>,
    /// The tool.
    pub tool_name: Option<Cow<'a, str>>,
    /// The tool call's id.
    pub tool_call_id: Option<Cow<'a, str>>,
    /// Tokens read.
    pub input_tokens: Option<u64>,
    /// Tokens written.
    pub output_tokens: Option<u64>,
    /// Tokens read from the prompt cache.
    pub cache_read_input_tokens: Option<u64>,
    /// Tokens written to the prompt cache.
    pub cache_creation_input_tokens: Option<u64>,
    /// Tokens spent reasoning.
    pub reasoning_tokens: Option<u64>,
    /// Cost in US dollars.
    pub cost_usd: Option<f64>,
    /// Why the model stopped.
    pub finish_reasons: Option<Vec<String>>,
    /// Milliseconds to the first streamed chunk.
    pub time_to_first_chunk_ms: Option<f64>,
    /// The operation the source named.
    pub operation: Option<Cow<'a, str>>,
    /// The aliases in force (the user's and the built-in ones).
    pub vocab: &'a Vocabulary,
    /// The attribute keys that supplied the fields above, so the `Full`
    /// attribute map does not repeat them; empty at the other levels.
    pub mapped: Vec<&'a str>,
}

impl<'a> SpanFacts<'a> {
    /// Reads the span's facts; which keys supplied them (`mapped`) only at
    /// `DetailLevel::Full`, the one level whose attribute map needs them.
    pub(crate) fn read(span: &'a SpanData, vocab: &'a Vocabulary, detail: DetailLevel) -> Self {
        let attrs = Attributes::indexed(&span.attributes, &vocab.index);
        let fixed = Fixed::get();
        let kind = classify_span(&attrs, span, &vocab.rules);
        let mut mapped = Mapped {
            keys: Vec::new(),
            noting: detail == DetailLevel::Full,
        };
        let session = mapped.take(attrs.ident(&vocab.session));
        let agent_attr = mapped.take(attrs.ident(&vocab.agent));
        let model = mapped.take(attrs.ident(&vocab.model));
        let provider = mapped.take(attrs.ident(&vocab.provider));
        let tool_attr = mapped.take(attrs.ident(&vocab.tool_name));
        let tool_call_id = mapped.take(attrs.ident(&vocab.tool_call_id));
        let input_tokens = mapped.take(attrs.count(&vocab.input_tokens));
        let output_tokens = mapped.take(attrs.count(&vocab.output_tokens));
        let cache_read_input_tokens = mapped.take(attrs.count(&vocab.cache_read));
        let cache_creation_input_tokens = mapped.take(attrs.count(&vocab.cache_creation));
        let reasoning_tokens = mapped.take(attrs.count(&vocab.reasoning));
        let cost_usd = mapped.take(attrs.amount(&vocab.cost));
        let time_to_first_chunk_ms = mapped
            .take(attrs.amount(&fixed.time_to_first_chunk))
            .map(|seconds| seconds * 1000.0);
        let operation = mapped.take(attrs.ident(&fixed.operation));
        let finish_reasons = attrs.first_of(&fixed.finish_reasons).and_then(|found| {
            let reasons = finish_reasons(&found.value)?;
            mapped.note(found.key);
            Some(reasons)
        });

        let span_name = bounded_name(&span.name);
        let suffix = |kind| name_suffix(&span.name, kind, &vocab.rules).map(bounded_name);
        let (mut handoff_from, mut name) = (None, span_name.clone());
        let mut agent = agent_attr;
        let mut tool_name = tool_attr;
        match kind {
            StepKind::Agent => {
                let own = agent
                    .take()
                    .or_else(|| suffix(StepKind::Agent))
                    .unwrap_or(span_name);
                name.clone_from(&own);
                agent = Some(own);
            }
            StepKind::Tool => {
                let tool = tool_name
                    .take()
                    .or_else(|| suffix(StepKind::Tool))
                    .unwrap_or(span_name);
                name.clone_from(&tool);
                tool_name = Some(tool);
            }
            StepKind::Handoff => {
                let suffix = name_suffix(&span.name, StepKind::Handoff, &vocab.rules);
                let (from_name, to_name) = suffix.map_or((None, None), handoff_parties);
                handoff_from = mapped
                    .take(attrs.ident(&fixed.handoff_from))
                    .or_else(|| from_name.map(bounded_name));
                let to_attr = mapped.take(attrs.ident(&fixed.handoff_to));
                if let Some(to) = to_attr.or_else(|| to_name.map(bounded_name)) {
                    name = to;
                }
                // A handoff's agent is the one handing off; leave it to
                // inheritance unless the span names it explicitly.
            }
            // A guardrail is named by what it checks (`jailbreak` in
            // `apply_guardrail jailbreak`); a trip recorded on another span,
            // by the guardrail its status names.
            StepKind::Guardrail => {
                if let Some(target) = suffix(StepKind::Guardrail)
                    .or_else(|| tripped_guardrail(span).map(bounded_name))
                {
                    name = target;
                }
            }
            StepKind::Llm | StepKind::Other => {}
        }

        Self {
            span,
            key: (span.span_context.trace_id(), span.span_context.span_id()),
            kind,
            attrs,
            name,
            session,
            agent,
            handoff_from,
            model,
            provider,
            tool_name,
            tool_call_id,
            input_tokens,
            output_tokens,
            cache_read_input_tokens,
            cache_creation_input_tokens,
            reasoning_tokens,
            cost_usd,
            finish_reasons,
            time_to_first_chunk_ms,
            operation,
            vocab,
            mapped: mapped.keys,
        }
    }
}

/// Finish reasons from a list, a JSON list in a string, or one string;
/// each bounded, empty ones dropped.
fn finish_reasons(value: &Value) -> Option<Vec<String>> {
    let list: Vec<String> = match value {
        Value::Array(Array::String(items)) => items.iter().map(|s| s.as_str().to_owned()).collect(),
        Value::String(text) => {
            let text = text.as_str().trim();
            serde_json::from_str::<Vec<String>>(text).unwrap_or_else(|_| vec![text.to_owned()])
        }
        _ => return None,
    };
    let list: Vec<String> = list
        .iter()
        .map(|s| cut_bytes(s.trim(), MAX_IDENT_BYTES).to_owned())
        .filter(|s| !s.is_empty())
        .take(MAX_FINISH_REASONS)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// The keys that supplied a span's facts, when they are wanted: noted at
/// every level, they cost an allocation or two per span read (on every
/// entry) for a list only the `Full` attribute map reads.
struct Mapped<'k> {
    keys: Vec<&'k str>,
    noting: bool,
}

impl<'k> Mapped<'k> {
    /// The value found, noting the alias that supplied it.
    fn take<T>(&mut self, found: Option<Found<'k, T>>) -> Option<T> {
        found.map(|f| {
            self.note(f.key);
            f.value
        })
    }

    fn note(&mut self, key: &'k str) {
        if self.noting {
            self.keys.push(key);
        }
    }
}

/// A span name fit for an entry: bounded, and never empty.
fn bounded_name(name: &str) -> Cow<'_, str> {
    let name = cut_bytes(name.trim(), MAX_IDENT_BYTES);
    Cow::Borrowed(if name.is_empty() { UNNAMED } else { name })
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;
    use crate::extract::keys;
    use crate::extract::test_support::{builtin, span};

    /// The span's facts as read at `Full`, the level that notes `mapped`.
    fn facts(span: &SpanData) -> SpanFacts<'_> {
        SpanFacts::read(span, builtin(), DetailLevel::Full)
    }

    #[test]
    fn the_keys_that_supplied_the_facts_are_noted_only_for_the_full_map() {
        let s = span(
            "chat",
            vec![
                KeyValue::new("gen_ai.request.model", "gpt-4o"),
                KeyValue::new("gen_ai.usage.input_tokens", 12),
            ],
        );
        let full = facts(&s);
        assert_eq!(
            full.mapped,
            ["gen_ai.request.model", "gen_ai.usage.input_tokens"]
        );
        for detail in [DetailLevel::Standard, DetailLevel::Minimal] {
            let f = SpanFacts::read(&s, builtin(), detail);
            assert!(f.mapped.is_empty() && f.mapped.capacity() == 0);
            assert_eq!((f.model, f.input_tokens), (full.model.clone(), Some(12)));
        }
    }

    #[test]
    fn agent_name_from_attribute_then_name_suffix_then_span_name() {
        let s = span(
            "invoke_agent planner",
            vec![KeyValue::new("gen_ai.agent.name", "boss")],
        );
        let f = facts(&s);
        assert_eq!((f.kind, f.name.as_ref()), (StepKind::Agent, "boss"));
        assert_eq!(f.agent.as_deref(), Some("boss"));
        assert_eq!(f.mapped, ["gen_ai.agent.name"]);

        for key in ["agent.name", "agent_name"] {
            let s = span("invoke_agent planner", vec![KeyValue::new(key, "alt")]);
            assert_eq!(facts(&s).name, "alt", "{key}");
        }

        let s = span("invoke_agent planner", vec![]);
        assert_eq!(facts(&s).agent.as_deref(), Some("planner"));

        let s = span(
            "Planner",
            vec![KeyValue::new("openinference.span.kind", "AGENT")],
        );
        assert_eq!(facts(&s).agent.as_deref(), Some("Planner"));
    }

    #[test]
    fn non_agent_spans_own_an_agent_only_when_they_say_so() {
        let s = span("chat gpt-4o", vec![]);
        let f = facts(&s);
        assert_eq!(
            (f.kind, f.name.as_ref(), f.agent),
            (StepKind::Llm, "chat gpt-4o", None)
        );
        let s = span(
            "chat gpt-4o",
            vec![KeyValue::new("gen_ai.agent.name", "writer")],
        );
        assert_eq!(facts(&s).agent.as_deref(), Some("writer"));
    }

    #[test]
    fn tool_name_from_attributes_then_suffix_then_span_name() {
        for key in ["gen_ai.tool.name", "tool.name"] {
            let s = span("execute_tool x", vec![KeyValue::new(key, "search")]);
            let f = facts(&s);
            assert_eq!(
                (f.name.as_ref(), f.tool_name.as_deref()),
                ("search", Some("search"))
            );
        }
        let s = span("execute_tool lookup", vec![]);
        assert_eq!(facts(&s).tool_name.as_deref(), Some("lookup"));
        let s = span(
            "fetch",
            vec![KeyValue::new("openinference.span.kind", "TOOL")],
        );
        assert_eq!(facts(&s).tool_name.as_deref(), Some("fetch"));
    }

    #[test]
    fn tool_call_id_model_and_provider_aliases() {
        for (key, value) in [("gen_ai.tool.call.id", "c1"), ("tool_call.id", "c2")] {
            let s = span("execute_tool t", vec![KeyValue::new(key, value)]);
            assert_eq!(facts(&s).tool_call_id.as_deref(), Some(value));
        }
        let s = span(
            "chat",
            vec![
                KeyValue::new("gen_ai.request.model", "asked"),
                KeyValue::new("gen_ai.response.model", "answered"),
            ],
        );
        assert_eq!(facts(&s).model.as_deref(), Some("answered"));
        for key in ["gen_ai.request.model", "llm.model_name"] {
            let s = span("chat", vec![KeyValue::new(key, "m")]);
            assert_eq!(facts(&s).model.as_deref(), Some("m"), "{key}");
        }
        for key in [
            "gen_ai.provider.name",
            "gen_ai.system",
            "llm.provider",
            "llm.system",
        ] {
            let s = span("chat", vec![KeyValue::new(key, "openai")]);
            assert_eq!(facts(&s).provider.as_deref(), Some("openai"), "{key}");
        }
    }

    #[test]
    fn handoff_parties_from_attributes_or_name() {
        let s = span(
            "handoff",
            vec![
                KeyValue::new("handoff.from_agent", "triage"),
                KeyValue::new("handoff.to_agent", "billing"),
            ],
        );
        let f = facts(&s);
        assert_eq!((f.kind, f.name.as_ref()), (StepKind::Handoff, "billing"));
        assert_eq!(f.handoff_from.as_deref(), Some("triage"));
        assert_eq!(f.agent, None);

        let s = span("handoff refunds", vec![KeyValue::new("from_agent", "a")]);
        let f = facts(&s);
        assert_eq!(
            (f.name.as_ref(), f.handoff_from.as_deref()),
            ("refunds", Some("a"))
        );

        let s = span(
            "Handoff: triage -> billing",
            vec![KeyValue::new("to_agent", "x")],
        );
        let f = facts(&s);
        assert_eq!(
            (f.name.as_ref(), f.handoff_from.as_deref()),
            ("x", Some("triage"))
        );

        let s = span("handoff", vec![]);
        assert_eq!(facts(&s).name, "handoff");
    }

    #[test]
    fn empty_names_become_unnamed() {
        let s = span("", vec![]);
        assert_eq!(facts(&s).name, UNNAMED);
        let s = span(
            "  ",
            vec![KeyValue::new("openinference.span.kind", "AGENT")],
        );
        assert_eq!(facts(&s).agent.as_deref(), Some(UNNAMED));
    }

    #[test]
    fn every_session_alias_is_read_in_table_order() {
        for key in keys::SESSION_ID {
            let s = span("x", vec![KeyValue::new(*key, "sess")]);
            assert_eq!(facts(&s).session.as_deref(), Some("sess"), "{key}");
        }
        let s = span(
            "x",
            vec![
                KeyValue::new("run_id", "run"),
                KeyValue::new("session.id", "sess"),
            ],
        );
        assert_eq!(facts(&s).session.as_deref(), Some("sess"));
    }

    #[test]
    fn tokens_from_current_and_older_names_in_any_numeric_form() {
        let cases = [
            ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"),
            (
                "gen_ai.usage.prompt_tokens",
                "gen_ai.usage.completion_tokens",
            ),
            ("llm.token_count.prompt", "llm.token_count.completion"),
        ];
        for (input, output) in cases {
            let s = span(
                "chat",
                vec![KeyValue::new(input, "12"), KeyValue::new(output, 3.0)],
            );
            let f = facts(&s);
            assert_eq!(
                (f.input_tokens, f.output_tokens),
                (Some(12), Some(3)),
                "{input}"
            );
            assert_eq!(f.mapped, [input, output]);
        }
        let s = span(
            "chat",
            vec![
                KeyValue::new("gen_ai.usage.input_tokens", 7),
                KeyValue::new("gen_ai.usage.output_tokens", -1),
            ],
        );
        let f = facts(&s);
        assert_eq!((f.input_tokens, f.output_tokens), (Some(7), None));
    }

    #[test]
    fn usage_details_cost_finish_reasons_and_time_to_first_chunk() {
        let s = span(
            "chat",
            vec![
                KeyValue::new("gen_ai.usage.cache_read.input_tokens", "30"),
                KeyValue::new("llm.token_count.prompt_details.cache_write", 4),
                KeyValue::new("gen_ai.usage.thinking_tokens", 9),
                KeyValue::new("llm.cost.total", 0.25),
                KeyValue::new("gen_ai.response.time_to_first_chunk", 0.5),
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new(
                    "gen_ai.response.finish_reasons",
                    Value::Array(Array::String(vec!["stop".into(), " ".into()])),
                ),
            ],
        );
        let f = facts(&s);
        assert_eq!(
            (
                f.cache_read_input_tokens,
                f.cache_creation_input_tokens,
                f.reasoning_tokens
            ),
            (Some(30), Some(4), Some(9))
        );
        assert_eq!(f.cost_usd, Some(0.25));
        assert_eq!(f.time_to_first_chunk_ms, Some(500.0));
        assert_eq!(f.operation.as_deref(), Some("chat"));
        assert_eq!(f.finish_reasons, Some(vec!["stop".to_owned()]));

        for (text, expected) in [
            (r#"["length","stop"]"#, vec!["length", "stop"]),
            ("tool_calls", vec!["tool_calls"]),
        ] {
            let s = span(
                "chat",
                vec![KeyValue::new("gen_ai.response.finish_reason", text)],
            );
            let f = facts(&s);
            assert_eq!(
                f.finish_reasons,
                Some(expected.iter().map(|s| s.to_string()).collect())
            );
        }
        let s = span(
            "chat",
            vec![KeyValue::new("gen_ai.response.finish_reasons", "")],
        );
        assert_eq!(facts(&s).finish_reasons, None);
    }

    #[test]
    fn guardrails_are_named_by_what_they_check() {
        let s = span("apply_guardrail jailbreak", vec![]);
        let f = facts(&s);
        assert_eq!(
            (f.kind, f.name.as_ref()),
            (StepKind::Guardrail, "jailbreak")
        );
    }

    #[test]
    fn duplicated_attributes_read_as_the_last_value() {
        let s = span(
            "chat",
            vec![
                KeyValue::new("gen_ai.usage.input_tokens", "1"),
                KeyValue::new("session.id", "old"),
                KeyValue::new("gen_ai.usage.input_tokens", "99"),
                KeyValue::new("session.id", "new"),
            ],
        );
        let f = facts(&s);
        assert_eq!(
            (f.input_tokens, f.session.as_deref()),
            (Some(99), Some("new"))
        );
    }
}
