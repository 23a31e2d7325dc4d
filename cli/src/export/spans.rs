//! Protocol entries back into OTLP spans: each step's start and end entries
//! (sharing trace and span id) become one span, a handoff entry a span of its
//! own, with the OpenTelemetry GenAI attributes the extraction (and Jaeger,
//! Phoenix, Langfuse, a Collector) read as agent runs, model calls and tool
//! calls. Reading the spans back through the extraction gives the entries
//! again.

// `opentelemetry-semantic-conventions` marks every `gen_ai.*` constant
// deprecated because their definitions moved to the separate GenAI
// conventions; the names are unchanged and are what backends read.
#![allow(deprecated)]

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use opentelemetry_proto::tonic::common::v1::{
    any_value, AnyValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{
    span, status, ResourceSpans, ScopeSpans, Span, Status,
};
use opentelemetry_semantic_conventions::attribute as semconv;
use opentelemetry_semantic_conventions::resource::SERVICE_NAME;
use reagentic_protocol::entry::CostSource;
use reagentic_protocol::{Content, EntryStatus, EventType, ProtocolEntry};

/// Cache writes. The conventions crate marks its constant deprecated (the
/// GenAI names moved to a repository of their own; the name itself is
/// current), so it is read once here rather than allowed everywhere.
#[allow(deprecated)]
const CACHE_CREATION_INPUT_TOKENS: &str = semconv::GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS;
/// A reported cost in US dollars, as the extraction reads it back.
const COST: &str = "gen_ai.usage.cost";
/// The agents of a handoff span, as the library's own `handoff` records them.
const HANDOFF_FROM: &str = "handoff.from_agent";
const HANDOFF_TO: &str = "handoff.to_agent";

/// A protocol's entries, read in the order written, made into finished
/// spans as they come: only the steps still open are held, so a protocol of
/// any size goes through in bounded memory.
#[derive(Default)]
pub struct Pairing {
    /// Start entries whose end has not come yet, by trace and span id.
    open: HashMap<(String, String), ProtocolEntry>,
    /// Entries whose trace or span id is not hex of the right length.
    pub bad_ids: u64,
}

impl Pairing {
    /// Takes the next entry; returns the span it finishes, with the name of
    /// its service (`None` when the entries name none).
    pub fn add(&mut self, entry: ProtocolEntry) -> Option<(Option<String>, Span)> {
        let key = (entry.trace_id.clone(), entry.span_id.clone());
        if entry.event_type.is_start() {
            // The first copy wins, as readers return an entry once.
            self.open.entry(key).or_insert(entry);
            return None;
        }
        let start = self.open.remove(&key);
        let Some(span) = span_of(start.as_ref(), &entry) else {
            self.bad_ids += 1;
            return None;
        };
        let service = entry.service_name.or_else(|| start?.service_name);
        Some((service, span))
    }

    /// Steps with a start entry and no end entry: still running, or their
    /// process died. OTLP carries only finished spans, so they are left out.
    pub fn unfinished(&self) -> u64 {
        self.open.len() as u64
    }
}

/// One request's resource spans: `spans` grouped by service, in the order
/// each service first comes.
pub fn request_of(spans: Vec<(Option<String>, Span)>) -> Vec<ResourceSpans> {
    let mut by_service: Vec<(Option<String>, Vec<Span>)> = Vec::new();
    for (service, span) in spans {
        match by_service.iter_mut().find(|(name, _)| *name == service) {
            Some((_, list)) => list.push(span),
            None => by_service.push((service, vec![span])),
        }
    }
    by_service
        .into_iter()
        .map(|(service, spans)| resource_spans(service.as_deref(), spans))
        .collect()
}

fn resource_spans(service: Option<&str>, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: service
                .map(|name| vec![string(SERVICE_NAME, name)])
                .unwrap_or_default(),
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: Some(InstrumentationScope {
                name: "reagentic-protocol".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                ..Default::default()
            }),
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }
}

/// The span of one step: `end` is its end entry (or its handoff entry),
/// `start` its start entry when the protocol has it. `None` when its ids
/// are not valid.
fn span_of(start: Option<&ProtocolEntry>, end: &ProtocolEntry) -> Option<Span> {
    let trace_id = hex_id::<16>(&end.trace_id)?;
    let span_id = hex_id::<8>(&end.span_id)?;
    let parent_span_id = match &end.parent_span_id {
        Some(parent) => hex_id::<8>(parent)?.to_vec(),
        None => Vec::new(),
    };
    let duration_ns = end
        .duration_ms
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map_or(0, |ms| (ms * 1e6).round() as u64);
    let (start_ns, end_ns) = if end.event_type == EventType::Handoff {
        // A handoff's timestamp is its span's start.
        let at = nanos(end.timestamp);
        (at, at.saturating_add(duration_ns))
    } else {
        let end_ns = nanos(end.timestamp);
        match start {
            Some(start) => exact_times(nanos(start.timestamp), end_ns, duration_ns),
            // Without its start entry (pruned, or before `--since`), a step
            // began its duration before it ended.
            None => (end_ns.saturating_sub(duration_ns), end_ns),
        }
    };
    // The end entry has what the step ended with; the start entry fills
    // what the end entry lacks (the input, usually).
    let field = |get: fn(&ProtocolEntry) -> Option<&String>| {
        get(end).or_else(|| start.and_then(get)).map(String::as_str)
    };
    let mut attributes = Vec::new();
    let mut put_str = |key: &'static str, value: Option<&str>| {
        if let Some(value) = value {
            attributes.push(string(key, value));
        }
    };
    let (operation, span_name) = naming(end);
    put_str(semconv::GEN_AI_OPERATION_NAME, operation.as_deref());
    put_str(
        semconv::GEN_AI_CONVERSATION_ID,
        field(|e| e.session_id.as_ref()),
    );
    if end.event_type == EventType::Handoff {
        put_str(HANDOFF_FROM, end.agent_name.as_deref());
        put_str(HANDOFF_TO, Some(&end.name));
    } else {
        put_str(semconv::GEN_AI_AGENT_NAME, field(|e| e.agent_name.as_ref()));
    }
    put_str(semconv::GEN_AI_REQUEST_MODEL, field(|e| e.model.as_ref()));
    put_str(
        semconv::GEN_AI_PROVIDER_NAME,
        field(|e| e.provider.as_ref()),
    );
    put_str(semconv::GEN_AI_TOOL_NAME, field(|e| e.tool_name.as_ref()));
    put_str(
        semconv::GEN_AI_TOOL_CALL_ID,
        field(|e| e.tool_call_id.as_ref()),
    );
    let count = |get: fn(&ProtocolEntry) -> Option<u64>| get(end).or_else(|| start.and_then(get));
    let mut put_count = |key: &'static str, value: Option<u64>| {
        if let Some(value) = value {
            attributes.push(int(key, value));
        }
    };
    put_count(
        semconv::GEN_AI_USAGE_INPUT_TOKENS,
        count(|e| e.input_tokens),
    );
    put_count(
        semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
        count(|e| e.output_tokens),
    );
    put_count(
        semconv::GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
        count(|e| e.cache_read_input_tokens),
    );
    put_count(
        CACHE_CREATION_INPUT_TOKENS,
        count(|e| e.cache_creation_input_tokens),
    );
    put_count(
        semconv::GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
        count(|e| e.reasoning_tokens),
    );
    // A priced cost is priced again by whoever reads the tokens; only a cost
    // the source reported is the source's word to pass on.
    if let (Some(cost), Some(CostSource::Reported)) = (end.cost_usd, end.cost_source) {
        attributes.push(double(COST, cost));
    }
    if let Some(reasons) = &end.finish_reasons {
        let values = reasons
            .iter()
            .map(|r| AnyValue {
                value: Some(any_value::Value::StringValue(r.clone())),
            })
            .collect();
        attributes.push(kv(
            semconv::GEN_AI_RESPONSE_FINISH_REASONS,
            any_value::Value::ArrayValue(ArrayValue { values }),
        ));
    }
    if let Some(ms) = end.time_to_first_chunk_ms {
        attributes.push(double(
            semconv::GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
            ms / 1000.0,
        ));
    }
    let tool = matches!(end.event_type, EventType::ToolEnd);
    let (input_key, output_key) = if tool {
        (
            semconv::GEN_AI_TOOL_CALL_ARGUMENTS,
            semconv::GEN_AI_TOOL_CALL_RESULT,
        )
    } else {
        (
            semconv::GEN_AI_INPUT_MESSAGES,
            semconv::GEN_AI_OUTPUT_MESSAGES,
        )
    };
    let input = end.input.as_ref().or_else(|| start?.input.as_ref());
    let output = end.output.as_ref().or_else(|| start?.output.as_ref());
    for (key, content) in [(input_key, input), (output_key, output)] {
        if let Some(content) = content {
            attributes.push(kv(key, content_value(content)));
        }
    }
    let failed = end.status == EntryStatus::Error || end.error.is_some();
    let error = end.error.as_ref();
    if let Some(error_type) = error.and_then(|e| e.error_type.as_deref()) {
        attributes.push(string(semconv::ERROR_TYPE, error_type));
    }
    if let Some(stacktrace) = error.and_then(|e| e.stacktrace.as_deref()) {
        attributes.push(string(semconv::EXCEPTION_STACKTRACE, stacktrace));
    }
    let status = if failed {
        Status {
            code: status::StatusCode::Error as i32,
            message: error.and_then(|e| e.message.clone()).unwrap_or_default(),
        }
    } else if end.status == EntryStatus::Ok {
        Status {
            code: status::StatusCode::Ok as i32,
            message: String::new(),
        }
    } else {
        Status::default()
    };
    extra_attributes(end, &mut attributes);
    Some(Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        parent_span_id,
        name: span_name,
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: end_ns.max(start_ns),
        attributes,
        status: Some(status),
        ..Default::default()
    })
}

/// Span times that give back both timestamps and the exact duration:
/// entries keep times to the microsecond but durations to the nanosecond,
/// so the end is placed within its microsecond where the start, a duration
/// earlier, falls within the start's. Where no such place exists (a
/// duration that does not fit the timestamps), the timestamps win.
fn exact_times(start_us: u64, end_us: u64, duration_ns: u64) -> (u64, u64) {
    const MICRO: u64 = 1_000;
    let earliest = end_us.max(start_us.saturating_add(duration_ns));
    let latest = end_us.saturating_add(MICRO - 1).min(
        start_us
            .saturating_add(duration_ns)
            .saturating_add(MICRO - 1),
    );
    if earliest <= latest && earliest >= duration_ns {
        (earliest - duration_ns, earliest)
    } else {
        (start_us, end_us)
    }
}

/// The GenAI operations that mean each kind of step, so a step keeps the
/// operation it was recorded with when that still says what it is; any
/// other (OpenInference's `AGENT`, …) gives way to the kind's first one.
const AGENT_OPERATIONS: &[&str] = &["invoke_agent", "create_agent", "invoke_workflow"];
const LLM_OPERATIONS: &[&str] = &[
    "chat",
    "text_completion",
    "generate_content",
    "embeddings",
    "chat_streaming",
    "rerank",
    "transcription",
    "image_generation",
    "audio_generation",
    "interactions",
    "interactions_streaming",
    "generate",
];
const TOOL_OPERATIONS: &[&str] = &[
    "execute_tool",
    "retrieval",
    "search_memory",
    "update_memory",
    "delete_memory",
    "create_memory_store",
    "delete_memory_store",
];
const GUARDRAIL_OPERATIONS: &[&str] = &["apply_guardrail"];

/// The span's `gen_ai.operation.name` and name: `{operation} {agent}`,
/// `execute_tool {tool}`, `apply_guardrail {name}` as the GenAI conventions
/// name spans; a model call and any other span keep the name they had.
fn naming(end: &ProtocolEntry) -> (Option<String>, String) {
    let recorded = end.operation.as_deref();
    let pick = |known: &[&str]| {
        recorded
            .filter(|op| known.iter().any(|k| k.eq_ignore_ascii_case(op.trim())))
            .unwrap_or(known[0])
            .to_owned()
    };
    match end.event_type {
        EventType::AgentEnd => {
            let op = pick(AGENT_OPERATIONS);
            let name = format!("{op} {}", end.name);
            (Some(op), name)
        }
        EventType::ToolEnd => {
            let op = pick(TOOL_OPERATIONS);
            let name = format!("{op} {}", end.name);
            (Some(op), name)
        }
        EventType::GuardrailEnd => {
            let op = pick(GUARDRAIL_OPERATIONS);
            let name = format!("{op} {}", end.name);
            (Some(op), name)
        }
        EventType::LlmEnd => (Some(pick(LLM_OPERATIONS)), end.name.clone()),
        // Named as the library's own handoff: the parties are attributes.
        EventType::Handoff => (None, "handoff".to_owned()),
        _ => (end.operation.clone(), end.name.clone()),
    }
}

/// The other attributes a `Full` protocol kept, passed on as they were
/// (objects and arrays as their JSON text); the protocol's own bookkeeping
/// (`otel.*`: events, omitted and dropped counts) and keys already set stay
/// out.
fn extra_attributes(end: &ProtocolEntry, attributes: &mut Vec<KeyValue>) {
    let Some(map) = &end.attributes else {
        return;
    };
    for (key, value) in map {
        if key.starts_with("otel.") || attributes.iter().any(|kv| kv.key == *key) {
            continue;
        }
        let value = match value {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(b) => any_value::Value::BoolValue(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => any_value::Value::IntValue(i),
                None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => any_value::Value::StringValue(s.clone()),
            other => any_value::Value::StringValue(other.to_string()),
        };
        attributes.push(kv(key, value));
    }
}

/// Content as an attribute value: text as a string, JSON objects and arrays
/// as their JSON text (which the extraction reads back as that JSON),
/// numbers and booleans as themselves.
fn content_value(content: &Content) -> any_value::Value {
    match content.as_text() {
        Some(text) => any_value::Value::StringValue(text),
        None => match content.to_value() {
            serde_json::Value::Bool(b) => any_value::Value::BoolValue(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => any_value::Value::IntValue(i),
                None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
            },
            _ => any_value::Value::StringValue(content.json().to_owned()),
        },
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn string(key: &str, value: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(value.into()))
}

fn int(key: &str, value: u64) -> KeyValue {
    kv(
        key,
        any_value::Value::IntValue(i64::try_from(value).unwrap_or(i64::MAX)),
    )
}

fn double(key: &str, value: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(value))
}

/// Nanoseconds since the Unix epoch; times before it are the epoch.
fn nanos(at: DateTime<Utc>) -> u64 {
    at.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// `N` bytes from `2N` hex digits, not all zero.
fn hex_id<const N: usize>(hex: &str) -> Option<[u8; N]> {
    let hex = hex.as_bytes();
    if hex.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let digit = |c: u8| (c as char).to_digit(16);
        *byte = u8::try_from(digit(pair[0])? * 16 + digit(pair[1])?).ok()?;
    }
    (out != [0u8; N]).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reagentic_protocol::EntryError;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_558_000_000 + ms).unwrap()
    }

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

    fn entry(event_type: EventType, span: &str, name: &str, ms: i64) -> ProtocolEntry {
        ProtocolEntry::new(event_type, TRACE, span, name, at(ms))
    }

    fn attr<'s>(span: &'s Span, key: &str) -> Option<&'s any_value::Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.as_ref()?.value.as_ref())
    }

    /// Every entry through one pairing: the spans, and the pairing.
    fn spans_of(entries: Vec<ProtocolEntry>) -> (Vec<Span>, Pairing) {
        let mut pairing = Pairing::default();
        let spans = entries
            .into_iter()
            .filter_map(|entry| pairing.add(entry))
            .map(|(_, span)| span)
            .collect();
        (spans, pairing)
    }

    #[test]
    fn a_start_and_an_end_make_one_span_and_an_unfinished_step_is_counted() {
        let mut end = entry(EventType::ToolEnd, "00f067aa0ba902b7", "get_weather", 250);
        end.duration_ms = Some(250.0);
        end.status = EntryStatus::Error;
        end.error = Some(EntryError::new(
            Some("ServiceDown".into()),
            Some("503".into()),
        ));
        end.tool_name = Some("get_weather".into());
        let mut start = entry(EventType::ToolStart, "00f067aa0ba902b7", "get_weather", 0);
        start.input = Some(Content::from_json(r#"{"city":"Lisbon"}"#).unwrap());
        let running = entry(EventType::AgentStart, "00f067aa0ba902b8", "planner", 0);
        let (spans, pairing) = spans_of(vec![start, running, end]);
        assert_eq!(
            (spans.len(), pairing.unfinished(), pairing.bad_ids),
            (1, 1, 0)
        );
        let span = &spans[0];
        assert_eq!(span.name, "execute_tool get_weather");
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            250_000_000
        );
        let status = span.status.as_ref().unwrap();
        assert_eq!((status.code, status.message.as_str()), (2, "503"));
        assert_eq!(
            attr(span, "gen_ai.tool.call.arguments"),
            Some(&any_value::Value::StringValue(
                r#"{"city":"Lisbon"}"#.into()
            ))
        );
        assert_eq!(
            attr(span, "error.type"),
            Some(&any_value::Value::StringValue("ServiceDown".into()))
        );
    }

    #[test]
    fn an_end_without_its_start_began_its_duration_earlier() {
        let mut end = entry(EventType::LlmEnd, "00f067aa0ba902b7", "chat gpt-4o", 1000);
        end.duration_ms = Some(400.0);
        end.output = Some(Content::text("hi"));
        let (spans, _) = spans_of(vec![end]);
        let span = &spans[0];
        assert_eq!(
            span.end_time_unix_nano - span.start_time_unix_nano,
            400_000_000
        );
        assert_eq!(
            attr(span, "gen_ai.output.messages"),
            Some(&any_value::Value::StringValue("hi".into()))
        );
        assert_eq!(
            attr(span, "gen_ai.operation.name"),
            Some(&any_value::Value::StringValue("chat".into()))
        );
    }

    #[test]
    fn times_keep_the_timestamps_and_the_nanosecond_duration() {
        // 2.238575 ms from a start at 1000 µs to an end at 3238 µs.
        let (start, end) = exact_times(1_000_000, 3_238_000, 2_238_575);
        assert_eq!(end - start, 2_238_575);
        assert_eq!((start / 1000, end / 1000), (1000, 3238));
        // A duration the timestamps cannot hold: the timestamps win.
        assert_eq!(
            exact_times(1_000_000, 3_238_000, 9_000_000),
            (1_000_000, 3_238_000)
        );
    }

    #[test]
    fn bad_ids_are_counted_not_sent() {
        let mut end = entry(EventType::ToolEnd, "not-hex-at-all!!", "t", 0);
        end.trace_id = "zz".into();
        let (spans, pairing) = spans_of(vec![end]);
        assert_eq!((spans.len(), pairing.bad_ids), (0, 1));
        assert_eq!(hex_id::<2>("00ff"), Some([0, 255]));
        assert_eq!(hex_id::<2>("0000"), None);
        assert_eq!(hex_id::<2>("+0ff"), None);
        assert_eq!(hex_id::<2>("é0"), None);
    }

    #[test]
    fn a_request_groups_its_spans_by_service_in_first_come_order() {
        let named = |service: Option<&str>, name: &str| {
            (
                service.map(str::to_owned),
                Span {
                    name: name.into(),
                    ..Span::default()
                },
            )
        };
        let request = request_of(vec![
            named(Some("a"), "1"),
            named(None, "2"),
            named(Some("a"), "3"),
        ]);
        let names: Vec<Vec<&str>> = request
            .iter()
            .map(|rs| {
                rs.scope_spans[0]
                    .spans
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect()
            })
            .collect();
        assert_eq!(names, vec![vec!["1", "3"], vec!["2"]]);
        assert_eq!(request[1].resource.as_ref().unwrap().attributes.len(), 0);
    }
}
