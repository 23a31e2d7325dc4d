//! What a span is (agent run, model call, tool call, handoff, guardrail or
//! other), decided by declarative tables, and what its name says.

use crate::entry::EventType;

use super::attributes::Attributes;
use super::keys;

/// The kind of step a span records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum StepKind {
    /// An agent run.
    Agent,
    /// A model call (chat, completion, embeddings).
    Llm,
    /// A tool call.
    Tool,
    /// A guardrail check.
    Guardrail,
    /// One agent handing over to another.
    Handoff,
    /// Anything else.
    Other,
}

impl StepKind {
    /// The event type of the span's start entry; handoffs have none.
    pub(crate) fn start_event(self) -> Option<EventType> {
        match self {
            StepKind::Agent => Some(EventType::AgentStart),
            StepKind::Llm => Some(EventType::LlmStart),
            StepKind::Tool => Some(EventType::ToolStart),
            StepKind::Guardrail => Some(EventType::GuardrailStart),
            StepKind::Handoff => None,
            StepKind::Other => Some(EventType::SpanStart),
        }
    }

    /// The event type of the span's end entry (a handoff's only entry).
    pub(crate) fn end_event(self) -> EventType {
        match self {
            StepKind::Agent => EventType::AgentEnd,
            StepKind::Llm => EventType::LlmEnd,
            StepKind::Tool => EventType::ToolEnd,
            StepKind::Guardrail => EventType::GuardrailEnd,
            StepKind::Handoff => EventType::Handoff,
            StepKind::Other => EventType::SpanEnd,
        }
    }
}

/// Rule 1: `gen_ai.operation.name` values (GenAI semantic conventions).
const OPERATIONS: &[(&str, StepKind)] = &[
    ("invoke_agent", StepKind::Agent),
    ("create_agent", StepKind::Agent),
    ("chat", StepKind::Llm),
    ("text_completion", StepKind::Llm),
    ("generate_content", StepKind::Llm),
    ("embeddings", StepKind::Llm),
    ("execute_tool", StepKind::Tool),
];

/// Rule 2: `openinference.span.kind` values (OpenInference).
const OPENINFERENCE_KINDS: &[(&str, StepKind)] = &[
    ("AGENT", StepKind::Agent),
    ("LLM", StepKind::Llm),
    ("EMBEDDING", StepKind::Llm),
    ("TOOL", StepKind::Tool),
    ("GUARDRAIL", StepKind::Guardrail),
];

/// Rule 3, handoff spans as the OpenAI Agents SDK names them.
const HANDOFF_NAMES: &[(&str, StepKind)] = &[
    ("handoff", StepKind::Handoff),
    ("Handoff", StepKind::Handoff),
];

/// Rule 3: the first word of a span name — GenAI's `{operation} {target}`
/// form, and handoffs. Matched exactly: a name is free text, and "Chat with
/// support" is not a model call.
const NAME_TABLES: &[&[(&str, StepKind)]] = &[OPERATIONS, HANDOFF_NAMES];

/// The rule tables checked against attributes, in order: (attribute, table).
const ATTRIBUTE_RULES: &[(&str, &[(&str, StepKind)])] = &[
    (keys::OPERATION_NAME, OPERATIONS),
    (keys::OPENINFERENCE_SPAN_KIND, OPENINFERENCE_KINDS),
];

/// Classifies a span; the first matching rule wins, unknown values fall
/// through to the next rule.
pub(crate) fn classify(attrs: &Attributes<'_>, span_name: &str) -> StepKind {
    ATTRIBUTE_RULES
        .iter()
        .find_map(|(key, table)| {
            let value = attrs.get(key)?.as_str();
            let value = value.trim();
            // Attribute values are machine-set; tolerate case drift.
            table
                .iter()
                .find(|(word, _)| word.eq_ignore_ascii_case(value))
                .map(|&(_, kind)| kind)
        })
        .or_else(|| name_kind(span_name))
        .unwrap_or(StepKind::Other)
}

/// The kind a span name alone implies.
fn name_kind(span_name: &str) -> Option<StepKind> {
    let (word, _) = split_name(span_name);
    NAME_TABLES
        .iter()
        .flat_map(|table| table.iter())
        .find(|(w, _)| *w == word)
        .map(|&(_, kind)| kind)
}

/// The part after the operation word (`search` in `execute_tool search`),
/// when the name's word implies `kind`.
pub(crate) fn name_suffix(span_name: &str, kind: StepKind) -> Option<&str> {
    let (_, suffix) = split_name(span_name);
    suffix.filter(|_| name_kind(span_name) == Some(kind))
}

/// Splits `word rest`, `word: rest` or `word:rest` into the word and the
/// trimmed, non-empty rest.
fn split_name(span_name: &str) -> (&str, Option<&str>) {
    let name = span_name.trim();
    match name.find(|c: char| c.is_whitespace() || c == ':') {
        Some(i) => {
            let rest = name[i..].trim_start_matches(|c: char| c.is_whitespace() || c == ':');
            let rest = rest.trim();
            (&name[..i], (!rest.is_empty()).then_some(rest))
        }
        None => (name, None),
    }
}

fn non_empty(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

/// The arrows that separate the parties in a handoff name (`a -> b`).
const HANDOFF_ARROWS: &[&str] = &["->", "→", "=>"];

/// The agents a handoff name's suffix names: `to`, or `from -> to`.
pub(crate) fn handoff_parties(suffix: &str) -> (Option<&str>, Option<&str>) {
    match HANDOFF_ARROWS
        .iter()
        .find_map(|arrow| suffix.split_once(arrow))
    {
        Some((from, to)) => (non_empty(from), non_empty(to)),
        None => (None, non_empty(suffix)),
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::*;

    fn kind(attrs: &[KeyValue], name: &str) -> StepKind {
        classify(&Attributes::new(attrs), name)
    }

    fn op(value: &str) -> KeyValue {
        KeyValue::new(keys::OPERATION_NAME, value.to_owned())
    }

    fn oi(value: &str) -> KeyValue {
        KeyValue::new(keys::OPENINFERENCE_SPAN_KIND, value.to_owned())
    }

    #[test]
    fn operation_names_classify() {
        for (value, expected) in OPERATIONS {
            assert_eq!(kind(&[op(value)], "whatever"), *expected, "{value}");
        }
        assert_eq!(kind(&[op("CHAT")], "x"), StepKind::Llm);
    }

    #[test]
    fn openinference_kinds_classify() {
        for (value, expected) in OPENINFERENCE_KINDS {
            assert_eq!(kind(&[oi(value)], "whatever"), *expected, "{value}");
        }
    }

    #[test]
    fn span_names_classify_with_and_without_a_target() {
        assert_eq!(kind(&[], "invoke_agent planner"), StepKind::Agent);
        assert_eq!(kind(&[], "create_agent planner"), StepKind::Agent);
        assert_eq!(kind(&[], "chat gpt-4o"), StepKind::Llm);
        assert_eq!(kind(&[], "text_completion m"), StepKind::Llm);
        assert_eq!(kind(&[], "generate_content gemini"), StepKind::Llm);
        assert_eq!(kind(&[], "embeddings text-embedding-3"), StepKind::Llm);
        assert_eq!(kind(&[], "execute_tool search"), StepKind::Tool);
        assert_eq!(kind(&[], "chat"), StepKind::Llm);
        assert_eq!(kind(&[], "execute_tool"), StepKind::Tool);
        assert_eq!(kind(&[], "handoff"), StepKind::Handoff);
        assert_eq!(kind(&[], "handoff billing"), StepKind::Handoff);
        assert_eq!(kind(&[], "Handoff: a -> b"), StepKind::Handoff);
    }

    #[test]
    fn everything_else_is_other() {
        assert_eq!(kind(&[], "GET /users"), StepKind::Other);
        assert_eq!(kind(&[], "chatter"), StepKind::Other);
        assert_eq!(kind(&[], "Chat with support"), StepKind::Other);
        assert_eq!(kind(&[], ""), StepKind::Other);
        assert_eq!(kind(&[oi("CHAIN")], "pipeline"), StepKind::Other);
    }

    #[test]
    fn first_matching_rule_wins() {
        // Rule 1 over rule 2 over rule 3.
        assert_eq!(
            kind(&[op("execute_tool"), oi("AGENT")], "chat m"),
            StepKind::Tool
        );
        assert_eq!(kind(&[oi("GUARDRAIL")], "chat m"), StepKind::Guardrail);
        assert_eq!(kind(&[op("invoke_agent")], "handoff"), StepKind::Agent);
        // An unknown value falls through to the next rule.
        assert_eq!(kind(&[op("retrieve"), oi("TOOL")], "x"), StepKind::Tool);
        assert_eq!(kind(&[oi("RETRIEVER")], "chat m"), StepKind::Llm);
    }

    #[test]
    fn the_last_recorded_operation_counts() {
        assert_eq!(kind(&[op("chat"), op("execute_tool")], "x"), StepKind::Tool);
    }

    #[test]
    fn suffixes_are_read_only_for_the_matching_operation() {
        assert_eq!(
            name_suffix("execute_tool search", StepKind::Tool),
            Some("search")
        );
        assert_eq!(
            name_suffix("invoke_agent  planner ", StepKind::Agent),
            Some("planner")
        );
        assert_eq!(
            name_suffix("handoff: billing", StepKind::Handoff),
            Some("billing")
        );
        assert_eq!(
            name_suffix("handoff:billing", StepKind::Handoff),
            Some("billing")
        );
        assert_eq!(name_suffix("chat gpt-4o", StepKind::Tool), None);
        assert_eq!(name_suffix("execute_tool", StepKind::Tool), None);
        assert_eq!(name_suffix("planner", StepKind::Agent), None);
    }

    #[test]
    fn handoff_parties_parse_with_and_without_arrow() {
        assert_eq!(handoff_parties("billing"), (None, Some("billing")));
        assert_eq!(
            handoff_parties("triage -> billing"),
            (Some("triage"), Some("billing"))
        );
        assert_eq!(
            handoff_parties("triage → billing"),
            (Some("triage"), Some("billing"))
        );
        assert_eq!(handoff_parties(" -> billing"), (None, Some("billing")));
    }

    #[test]
    fn event_types_follow_the_kind() {
        assert_eq!(StepKind::Handoff.start_event(), None);
        assert_eq!(StepKind::Handoff.end_event(), EventType::Handoff);
        assert_eq!(
            StepKind::Guardrail.start_event(),
            Some(EventType::GuardrailStart)
        );
        assert_eq!(StepKind::Other.end_event(), EventType::SpanEnd);
        for kind in [
            StepKind::Agent,
            StepKind::Llm,
            StepKind::Tool,
            StepKind::Other,
        ] {
            assert!(kind.start_event().is_some_and(EventType::is_start));
            assert!(kind.end_event().is_end());
        }
    }
}
