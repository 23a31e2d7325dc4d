//! What a span is (agent run, model call, tool call, handoff, guardrail or
//! other), decided by declarative tables, and what its name says.

use std::borrow::Cow;
use std::sync::OnceLock;

use opentelemetry::trace::Status;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;

use crate::config::SpanMatch;
use crate::entry::EventType;

use super::aliases::{KeyId, KeyIndex, KeyRef};
use super::attributes::Attributes;
use super::keys;

/// The kind of step a span records, and so the entries it becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepKind {
    /// An agent run (`agent_start`/`agent_end`).
    Agent,
    /// A model call: chat, completion, embeddings (`llm_start`/`llm_end`).
    Llm,
    /// A tool call (`tool_start`/`tool_end`).
    Tool,
    /// A guardrail check (`guardrail_start`/`guardrail_end`).
    Guardrail,
    /// One agent handing over to another (one `handoff` entry).
    Handoff,
    /// Anything else (`span_start`/`span_end`, kept only when configured).
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

/// How a built-in rule recognises a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// An attribute has this value (ASCII case ignored: values are
    /// machine-set, and sources differ in case, `GENERATION`/`generation`).
    Attr(&'static str, &'static str),
    /// The span name's first word, GenAI's `{operation} {target}` form; the
    /// rest names the agent, model or tool. Matched exactly: a name is free
    /// text, and "Chat with support" is not a model call.
    Word(&'static str),
    /// The span name is exactly this.
    Name(&'static str),
    /// The span name starts with this; the rest names the agent or tool.
    Prefix(&'static str),
}

/// One row of the built-in classification table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Rule {
    /// What it matches.
    pub shape: Shape,
    /// What a matching span is.
    pub kind: StepKind,
}

const fn rule(shape: Shape, kind: StepKind) -> Rule {
    Rule { shape, kind }
}

use Shape::{Attr, Name, Prefix, Word};
use StepKind::{Agent, Guardrail, Handoff, Llm, Other, Tool};

const OP: &str = keys::OPERATION_NAME;
const OI: &str = keys::OPENINFERENCE_SPAN_KIND;
const LANGFUSE: &str = keys::LANGFUSE_OBSERVATION_TYPE;
const GOOSE: &str = keys::GOOSE_OBSERVATION_TYPE;

/// The built-in span shapes, in precedence order: the first matching row
/// wins, so an explicit operation attribute beats a span name. A source's
/// *known* value decides even when it maps to `Other` (a `CHAIN` named
/// `chat` is a chain); an unknown value falls through to the next rows.
/// Supporting another framework is a row here (plus aliases in `keys.rs`)
/// and a fixture test; each decision is documented in the README's
/// compatibility table.
pub(crate) const RULES: &[Rule] = &[
    // OpenTelemetry GenAI semantic conventions: `gen_ai.operation.name`.
    rule(Attr(OP, "invoke_agent"), Agent),
    rule(Attr(OP, "create_agent"), Agent),
    // A workflow orchestrates agents: its run is recorded as the outermost
    // agent run; `operation` tells it apart.
    rule(Attr(OP, "invoke_workflow"), Agent),
    rule(Attr(OP, "chat"), Llm),
    rule(Attr(OP, "text_completion"), Llm),
    rule(Attr(OP, "generate_content"), Llm),
    rule(Attr(OP, "embeddings"), Llm),
    rule(Attr(OP, "execute_tool"), Tool),
    rule(Attr(OP, "apply_guardrail"), Guardrail),
    // Retrieval and memory are the agent reading and writing a store: the
    // protocol records them as tool calls, `operation` naming which.
    rule(Attr(OP, "retrieval"), Tool),
    rule(Attr(OP, "search_memory"), Tool),
    rule(Attr(OP, "update_memory"), Tool),
    rule(Attr(OP, "delete_memory"), Tool),
    rule(Attr(OP, "create_memory_store"), Tool),
    rule(Attr(OP, "delete_memory_store"), Tool),
    // Planning is an agent-internal step (its model calls are their own spans).
    rule(Attr(OP, "plan"), Other),
    // rig: modality operations beyond chat are model calls too.
    rule(Attr(OP, "chat_streaming"), Llm),
    rule(Attr(OP, "rerank"), Llm),
    rule(Attr(OP, "transcription"), Llm),
    rule(Attr(OP, "image_generation"), Llm),
    rule(Attr(OP, "audio_generation"), Llm),
    rule(Attr(OP, "interactions"), Llm),
    rule(Attr(OP, "interactions_streaming"), Llm),
    rule(Attr(OP, "generate"), Llm),
    // The OpenAI Agents SDK through OpenInference: a handoff is a TOOL span
    // named `handoff to {agent}`; the name says what it is.
    rule(Prefix("handoff to "), Handoff),
    // OpenInference: `openinference.span.kind`.
    rule(Attr(OI, "AGENT"), Agent),
    rule(Attr(OI, "LLM"), Llm),
    rule(Attr(OI, "EMBEDDING"), Llm),
    rule(Attr(OI, "RERANKER"), Llm),
    rule(Attr(OI, "TOOL"), Tool),
    rule(Attr(OI, "RETRIEVER"), Tool),
    rule(Attr(OI, "GUARDRAIL"), Guardrail),
    // Evaluations judge a run after the fact; they do not gate it.
    rule(Attr(OI, "EVALUATOR"), Other),
    rule(Attr(OI, "CHAIN"), Other),
    rule(Attr(OI, "PROMPT"), Other),
    // Langfuse's OpenTelemetry attributes (swiftide, goose and others).
    rule(Attr(LANGFUSE, "agent"), Agent),
    rule(Attr(LANGFUSE, "generation"), Llm),
    rule(Attr(LANGFUSE, "embedding"), Llm),
    rule(Attr(LANGFUSE, "tool"), Tool),
    rule(Attr(LANGFUSE, "retriever"), Tool),
    rule(Attr(LANGFUSE, "guardrail"), Guardrail),
    rule(Attr(LANGFUSE, "chain"), Other),
    rule(Attr(LANGFUSE, "evaluator"), Other),
    rule(Attr(LANGFUSE, "span"), Other),
    rule(Attr(GOOSE, "generation"), Llm),
    rule(Attr(GOOSE, "span"), Other),
    // GenAI span names, `{operation} {target}` (rig's are bare: `chat`).
    rule(Word("invoke_agent"), Agent),
    rule(Word("create_agent"), Agent),
    rule(Word("invoke_workflow"), Agent),
    rule(Word("chat"), Llm),
    rule(Word("text_completion"), Llm),
    rule(Word("generate_content"), Llm),
    rule(Word("embeddings"), Llm),
    rule(Word("execute_tool"), Tool),
    rule(Word("apply_guardrail"), Guardrail),
    rule(Word("retrieval"), Tool),
    rule(Word("search_memory"), Tool),
    rule(Word("update_memory"), Tool),
    rule(Word("delete_memory"), Tool),
    rule(Word("create_memory_store"), Tool),
    rule(Word("delete_memory_store"), Tool),
    rule(Name("chat_streaming"), Llm),
    // Handoffs as the OpenAI Agents SDK names them.
    rule(Word("handoff"), Handoff),
    rule(Word("Handoff"), Handoff),
    // swiftide (`#[instrument(name = …)]` on the agent; tools as `tool.{name}`).
    rule(Name("agent.run"), Agent),
    rule(Name("agent.run_once"), Agent),
    rule(Name("agent.query"), Agent),
    rule(Name("agent.query_once"), Agent),
    // adk-rust (`adk-telemetry` span helpers; `tool.execute` is a `tool.` name).
    rule(Name("model.call"), Llm),
    rule(Name("gen_ai.generate"), Llm),
    rule(Name("call_llm"), Llm),
    rule(Prefix("tool."), Tool),
    // AutoAgents (`autoagents-telemetry`): a task is an agent run; a turn is
    // a loop iteration, not a step of its own.
    rule(Name("autoagents.task"), Agent),
    rule(Name("autoagents.tool_call"), Tool),
    rule(Name("autoagents.turn"), Other),
    // llm-sdk (`agent-rust`/`sdk-rust` `opentelemetry.rs`): the operation is
    // set with `set_attribute`, which the names back up.
    rule(Name("llm_agent.run"), Agent),
    rule(Name("llm_agent.run_stream"), Agent),
    rule(Name("llm_agent.tool"), Tool),
    rule(Name("llm_sdk.generate"), Llm),
    rule(Name("llm_sdk.stream"), Llm),
];

/// Classifies a span: the user's rules first (the first match wins), then
/// the built-in [`RULES`]; unknown spans are `Other`.
pub(crate) fn classify(
    attrs: &Attributes<'_>,
    span_name: &str,
    user_rules: &[(SpanMatch, StepKind)],
) -> StepKind {
    let attribute = |key: &str| attrs.get(key).map(Value::as_str);
    user_rules
        .iter()
        .find(|(matcher, _)| matcher.matches(span_name, attribute))
        .map(|&(_, kind)| kind)
        .or_else(|| builtin_kind(attrs, span_name))
        .unwrap_or(StepKind::Other)
}

/// Status messages that say a guardrail stopped the run, from sources that
/// mark the trip on another span than the guardrail's own. The OpenAI Agents
/// SDK attaches "Guardrail tripwire triggered", with the guardrail's name in
/// its data, to the turn the guardrail stopped; OpenInference exports that as
/// the status of the turn's `CHAIN` span (`Guardrail tripwire triggered:
/// {'guardrail': 'no_secrets'}`) while the guardrail's own span ends OK, as
/// it does not export whether the tripwire fired. Such a span, otherwise left
/// out, is recorded as the guardrail's trip.
const GUARDRAIL_TRIPS: &[&str] = &["Guardrail tripwire triggered"];

/// [`classify`], plus what the span's status says: a span that would be
/// left out as `Other` but failed with a guardrail's trip (see
/// [`GUARDRAIL_TRIPS`]) is a guardrail.
pub(crate) fn classify_span(
    attrs: &Attributes<'_>,
    span: &SpanData,
    user_rules: &[(SpanMatch, StepKind)],
) -> StepKind {
    match classify(attrs, &span.name, user_rules) {
        StepKind::Other if guardrail_trip(span).is_some() => StepKind::Guardrail,
        kind => kind,
    }
}

/// The status message of a span that failed because a guardrail tripped.
fn guardrail_trip(span: &SpanData) -> Option<&str> {
    match &span.status {
        Status::Error { description } => GUARDRAIL_TRIPS
            .iter()
            .any(|trip| description.starts_with(trip))
            .then_some(description.as_ref()),
        _ => None,
    }
}

/// The name of the guardrail whose trip a span's status records (the
/// `guardrail` member of the message's data, quoted as Python or JSON
/// prints it), when it is a trip and names one.
pub(crate) fn tripped_guardrail(span: &SpanData) -> Option<&str> {
    let message = guardrail_trip(span)?;
    ['\'', '"'].into_iter().find_map(|quote| {
        let key = format!("{quote}guardrail{quote}");
        let rest = message[message.find(&key)? + key.len()..].trim_start();
        let rest = rest.strip_prefix(':')?.trim_start().strip_prefix(quote)?;
        Some(&rest[..rest.find(quote)?])
    })
}

/// The kind the first matching row of [`RULES`] gives.
fn builtin_kind(attrs: &Attributes<'_>, span_name: &str) -> Option<StepKind> {
    // A key's rows are adjacent: its value is read and trimmed once for all
    // of them.
    let mut read: Option<(Option<KeyId>, Option<Cow<'_, str>>)> = None;
    for (rule, &id) in RULES.iter().zip(rule_key_ids()) {
        let matched = match rule.shape {
            Attr(name, value) => {
                if id.is_none() || read.as_ref().is_none_or(|(key, _)| *key != id) {
                    let text = attrs
                        .value(KeyRef { name, id })
                        .map(|v| trimmed(v.as_str()));
                    read = Some((id, text));
                }
                read.as_ref()
                    .and_then(|(_, text)| text.as_deref())
                    .is_some_and(|text| text.eq_ignore_ascii_case(value))
            }
            shape => name_target(shape, span_name).is_some(),
        };
        if matched {
            return Some(rule.kind);
        }
    }
    None
}

fn trimmed(text: Cow<'_, str>) -> Cow<'_, str> {
    match text {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

/// The number of each [`RULES`] row's attribute key, so a span is classified
/// by position instead of hashing a key per row. Built-in keys are numbered
/// alike in every index.
fn rule_key_ids() -> &'static [Option<KeyId>] {
    static IDS: OnceLock<Vec<Option<KeyId>>> = OnceLock::new();
    IDS.get_or_init(|| {
        let index = KeyIndex::builtin();
        RULES
            .iter()
            .map(|rule| match rule.shape {
                Attr(key, _) => index.id(key),
                _ => None,
            })
            .collect()
    })
}

/// Whether a name shape matches; `Some(target)` with what the name says
/// beyond the matched part (`search` in `execute_tool search`), if anything.
/// Attribute shapes never match a name.
fn name_target(shape: Shape, span_name: &str) -> Option<Option<&str>> {
    match shape {
        Attr(..) => None,
        Word(word) => {
            let (first, rest) = split_name(span_name);
            (first == word).then_some(rest)
        }
        Name(name) => (span_name.trim() == name).then_some(None),
        Prefix(prefix) => {
            let rest = span_name.trim().strip_prefix(prefix)?;
            Some(non_empty(rest))
        }
    }
}

/// What the span name says beyond the part that classified it as `kind`
/// (`search` in `execute_tool search`, `lookup` in `tool.lookup`,
/// `planner` in a user prefix rule `my_agent.` on `my_agent.planner`).
pub(crate) fn name_suffix<'n>(
    span_name: &'n str,
    kind: StepKind,
    user_rules: &[(SpanMatch, StepKind)],
) -> Option<&'n str> {
    let from_user = user_rules.iter().find_map(|(matcher, k)| match matcher {
        SpanMatch::NamePrefix(prefix) if *k == kind => span_name
            .trim()
            .strip_prefix(prefix.as_str())
            .map(non_empty),
        _ => None,
    });
    from_user.flatten().or_else(|| {
        RULES
            .iter()
            .filter(|rule| rule.kind == kind)
            .find_map(|rule| name_target(rule.shape, span_name))
            .flatten()
    })
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
        classify(&Attributes::new(attrs), name, &[])
    }

    fn suffix(name: &str, kind: StepKind) -> Option<&str> {
        name_suffix(name, kind, &[])
    }

    fn op(value: &str) -> KeyValue {
        KeyValue::new(keys::OPERATION_NAME, value.to_owned())
    }

    fn oi(value: &str) -> KeyValue {
        KeyValue::new(keys::OPENINFERENCE_SPAN_KIND, value.to_owned())
    }

    #[test]
    fn every_attribute_row_classifies_in_any_case() {
        for row in RULES {
            if let Attr(key, value) = row.shape {
                let attrs = [KeyValue::new(key, value.to_owned())];
                assert_eq!(kind(&attrs, "whatever"), row.kind, "{row:?}");
                let upper = [KeyValue::new(key, value.to_ascii_uppercase())];
                assert_eq!(kind(&upper, "whatever"), row.kind, "{row:?}");
            }
        }
    }

    #[test]
    fn every_name_row_classifies_with_and_without_a_target() {
        for row in RULES {
            match row.shape {
                Word(word) => {
                    assert_eq!(kind(&[], word), row.kind, "{row:?}");
                    assert_eq!(kind(&[], &format!("{word} x")), row.kind, "{row:?}");
                }
                Name(name) => assert_eq!(kind(&[], name), row.kind, "{row:?}"),
                Prefix(prefix) => {
                    assert_eq!(kind(&[], &format!("{prefix}x")), row.kind, "{row:?}")
                }
                Attr(..) => {}
            }
        }
    }

    #[test]
    fn the_table_has_no_duplicate_rows() {
        let mut seen = std::collections::HashSet::new();
        for row in RULES {
            assert!(seen.insert(format!("{:?}", row.shape)), "{row:?} twice");
        }
    }

    #[test]
    fn user_rules_come_first_and_name_their_targets() {
        let rules = [
            (SpanMatch::name_prefix("my_agent."), StepKind::Agent),
            (SpanMatch::attribute("my.kind", "model"), StepKind::Llm),
            (SpanMatch::has_attribute("my.tool"), StepKind::Tool),
            (SpanMatch::name("execute_tool special"), StepKind::Guardrail),
        ];
        let classify_with =
            |attrs: &[KeyValue], name: &str| classify(&Attributes::new(attrs), name, &rules);
        assert_eq!(classify_with(&[], "my_agent.planner"), StepKind::Agent);
        assert_eq!(
            name_suffix("my_agent.planner", StepKind::Agent, &rules),
            Some("planner")
        );
        let model = [KeyValue::new("my.kind", "MODEL")];
        assert_eq!(classify_with(&model, "x"), StepKind::Llm);
        let tool = [KeyValue::new("my.tool", true)];
        assert_eq!(classify_with(&tool, "x"), StepKind::Tool);
        assert_eq!(
            classify_with(&[], "execute_tool special"),
            StepKind::Guardrail
        );
        // Over the built-in rules, even an explicit operation.
        assert_eq!(classify_with(&[op("chat")], "my_agent.x"), StepKind::Agent);
        assert_eq!(classify_with(&[], "execute_tool other"), StepKind::Tool);
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
        assert_eq!(kind(&[oi("TOOL")], "handoff to billing"), StepKind::Handoff);
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
        assert_eq!(kind(&[oi("NEW_KIND")], "chat m"), StepKind::Llm);
        // A known value decides, even as `Other`.
        assert_eq!(kind(&[oi("CHAIN")], "chat m"), StepKind::Other);
    }

    #[test]
    fn the_last_recorded_operation_counts() {
        assert_eq!(kind(&[op("chat"), op("execute_tool")], "x"), StepKind::Tool);
    }

    #[test]
    fn suffixes_are_read_only_for_the_matching_operation() {
        assert_eq!(
            suffix("execute_tool search", StepKind::Tool),
            Some("search")
        );
        assert_eq!(
            suffix("invoke_agent  planner ", StepKind::Agent),
            Some("planner")
        );
        assert_eq!(
            suffix("handoff: billing", StepKind::Handoff),
            Some("billing")
        );
        assert_eq!(
            suffix("handoff:billing", StepKind::Handoff),
            Some("billing")
        );
        assert_eq!(
            suffix("handoff to billing", StepKind::Handoff),
            Some("billing")
        );
        assert_eq!(suffix("chat gpt-4o", StepKind::Tool), None);
        assert_eq!(suffix("execute_tool", StepKind::Tool), None);
        assert_eq!(suffix("planner", StepKind::Agent), None);
        assert_eq!(
            suffix("tool.search_docs", StepKind::Tool),
            Some("search_docs")
        );
        assert_eq!(suffix("agent.run", StepKind::Agent), None);
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

    #[test]
    fn a_span_failed_by_a_guardrail_trip_is_that_guardrail() {
        use crate::extract::test_support::span;
        let failed = |message: &'static str, attrs: Vec<KeyValue>| {
            let mut span = span("turn", attrs);
            span.status = Status::error(message);
            span
        };
        let chain = || vec![KeyValue::new(keys::OPENINFERENCE_SPAN_KIND, "CHAIN")];
        let python = failed(
            "Guardrail tripwire triggered: {'guardrail': 'no_secrets'}",
            chain(),
        );
        let kind_of =
            |span: &SpanData| classify_span(&Attributes::new(&span.attributes), span, &[]);
        assert_eq!(kind_of(&python), StepKind::Guardrail);
        assert_eq!(tripped_guardrail(&python), Some("no_secrets"));
        let json = failed(
            r#"Guardrail tripwire triggered: {"type": "output", "guardrail" : "pii"}"#,
            chain(),
        );
        assert_eq!(tripped_guardrail(&json), Some("pii"));
        // A trip that names no guardrail keeps the span's name.
        let unnamed = failed("Guardrail tripwire triggered", chain());
        assert_eq!(kind_of(&unnamed), StepKind::Guardrail);
        assert_eq!(tripped_guardrail(&unnamed), None);
        // Another failure, or the same message on a recognised step, changes
        // nothing.
        assert_eq!(kind_of(&failed("timeout", chain())), StepKind::Other);
        let agent = failed(
            "Guardrail tripwire triggered: {'guardrail': 'x'}",
            vec![KeyValue::new(keys::OPENINFERENCE_SPAN_KIND, "AGENT")],
        );
        assert_eq!(kind_of(&agent), StepKind::Agent);
    }
}
