//! Property: whatever span data arrives — any names, attribute keys, types
//! and sizes, events, links, status, timestamps in any order, invalid ids —
//! the extractor does not panic, and every entry it makes is valid JSON that
//! reads back as the same record and stays within the configured caps.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use reagentic_protocol::unstable::Extractor;
use reagentic_protocol::{DetailLevel, ProtocolConfig, ProtocolEntry};

/// Keys the extractor looks for, so generated spans hit its real paths.
const KNOWN_KEYS: &[&str] = &[
    "gen_ai.operation.name",
    "openinference.span.kind",
    "gen_ai.agent.name",
    "gen_ai.conversation.id",
    "session.id",
    "gen_ai.request.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.tool.name",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "input.value",
    "output.value",
    "error.type",
    "exception.message",
    "exception.stacktrace",
    "handoff.from",
    "handoff.to",
];

const KNOWN_VALUES: &[&str] = &[
    "invoke_agent",
    "chat",
    "execute_tool",
    "AGENT",
    "LLM",
    "TOOL",
    "GUARDRAIL",
    "12",
    "-1",
    "1e400",
    "{\"a\":[1,2,{\"b\":null}]}",
    "[[[[[]]]]]",
    "sk-abcdefghijklmnopqrstuvwxyz012345",
];

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        2 => prop::sample::select(KNOWN_VALUES).prop_map(str::to_owned),
        1 => (any::<char>(), 0usize..20_000).prop_map(|(c, n)| c.to_string().repeat(n)),
        1 => "(invoke_agent|chat|execute_tool|handoff) .{0,40}",
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KNOWN_KEYS).prop_map(str::to_owned),
        2 => any::<String>(),
        1 => (0usize..3_000).prop_map(|n| "k".repeat(n)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        prop_oneof![
            any::<f64>(),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(-0.0)
        ]
        .prop_map(Value::F64),
        text().prop_map(Value::from),
        prop::collection::vec(any::<bool>(), 0..8).prop_map(|v| Value::Array(Array::Bool(v))),
        prop::collection::vec(any::<i64>(), 0..8).prop_map(|v| Value::Array(Array::I64(v))),
        prop::collection::vec(any::<f64>(), 0..8).prop_map(|v| Value::Array(Array::F64(v))),
        prop::collection::vec(text(), 0..8).prop_map(|v| Value::Array(Array::String(
            v.into_iter().map(StringValue::from).collect()
        ))),
    ]
}

fn attributes() -> impl Strategy<Value = Vec<KeyValue>> {
    prop::collection::vec((key(), value()), 0..24)
        .prop_map(|kvs| kvs.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect())
}

/// Seconds from the epoch, negative included, far past year 9999 included.
fn time() -> impl Strategy<Value = SystemTime> {
    (-(1i64 << 45)..(1i64 << 45), 0u32..1_000_000_000).prop_map(|(secs, nanos)| {
        let offset = Duration::new(secs.unsigned_abs(), nanos);
        if secs < 0 {
            SystemTime::UNIX_EPOCH - offset
        } else {
            SystemTime::UNIX_EPOCH + offset
        }
    })
}

fn span_context() -> impl Strategy<Value = SpanContext> {
    (any::<u128>(), any::<u64>(), any::<bool>()).prop_map(|(trace, span, remote)| {
        SpanContext::new(
            TraceId::from(trace),
            SpanId::from(span),
            TraceFlags::SAMPLED,
            remote,
            TraceState::default(),
        )
    })
}

fn status() -> impl Strategy<Value = Status> {
    prop_oneof![
        Just(Status::Unset),
        Just(Status::Ok),
        text().prop_map(|d| Status::Error {
            description: Cow::Owned(d)
        }),
    ]
}

fn event() -> impl Strategy<Value = Event> {
    (
        prop_oneof![Just("exception".to_owned()), text()],
        time(),
        attributes(),
        any::<u32>(),
    )
        .prop_map(|(name, at, attributes, dropped)| Event::new(name, at, attributes, dropped))
}

prop_compose! {
    /// One span; ids drawn from a small range so parents and children meet.
    fn span_data()(
        trace in 0u128..3,
        id in 0u64..8,
        parent in 0u64..8,
        name in text(),
        start in time(),
        end in time(),
        attributes in attributes(),
        events in prop::collection::vec(event(), 0..4),
        links in prop::collection::vec((span_context(), attributes()), 0..3),
        status in status(),
        dropped in any::<u32>(),
    ) -> SpanData {
        // Both are non-exhaustive: filled in field by field.
        let mut span_events = SpanEvents::default();
        span_events.events = events;
        span_events.dropped_count = dropped;
        let mut span_links = SpanLinks::default();
        span_links.links = links.into_iter().map(|(cx, attrs)| Link::new(cx, attrs, 0)).collect();
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(trace),
                SpanId::from(id),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::from(parent),
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Owned(name),
            start_time: start,
            end_time: end,
            attributes,
            dropped_attributes_count: dropped,
            events: span_events,
            links: span_links,
            status,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }
}

fn config() -> impl Strategy<Value = ProtocolConfig> {
    (
        prop::sample::select(vec![
            DetailLevel::Minimal,
            DetailLevel::Standard,
            DetailLevel::Full,
        ]),
        0usize..300,
        0usize..2_000,
        any::<bool>(),
    )
        .prop_map(|(detail, chars, cap, keep_other)| {
            ProtocolConfig::default()
                .with_detail(detail)
                .with_max_content_chars(chars)
                .with_full_content_cap(cap)
                .with_keep_other_spans(keep_other)
                .with_max_tracked_spans(4)
        })
}

/// The bound on identifier fields (names, ids, error types), whatever the
/// content limits.
const IDENTIFIER_BYTES: usize = 1_024;

/// The most one stored value may take at this config, in bytes: the limit
/// (a char is at most 4 bytes, 6 once JSON-escaped) plus a truncation marker.
fn value_cap(config: &ProtocolConfig) -> usize {
    let limit = match config.detail() {
        DetailLevel::Full => config.full_content_cap(),
        _ => 6 * config.max_content_chars(),
    };
    6 * limit + 256
}

fn check(config: &ProtocolConfig, entries: &[ProtocolEntry]) -> Result<(), TestCaseError> {
    let cap = value_cap(config);
    for entry in entries {
        let line = entry
            .to_json_line()
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back: ProtocolEntry = serde_json::from_str(&line)
            .map_err(|e| TestCaseError::fail(format!("{e}: {line:.300}")))?;
        // Stored timestamps have microseconds, in-memory ones may have
        // nanoseconds: compare what is stored, which must be stable.
        prop_assert_eq!(&back.to_json_line().unwrap(), &line);
        for (field, value) in [("input", &entry.input), ("output", &entry.output)] {
            let size = value.as_ref().map_or(0, |v| v.to_string().len());
            prop_assert!(size <= cap, "{} is {} bytes, cap {}", field, size, cap);
        }
        if let Some(error) = &entry.error {
            for text in [&error.message, &error.stacktrace].into_iter().flatten() {
                prop_assert!(text.len() <= cap, "error text {} bytes", text.len());
            }
            // The error type is an identifier, like names and ids: bounded by
            // the extractor's identifier limit, not by the content cap.
            if let Some(error_type) = &error.error_type {
                prop_assert!(
                    error_type.len() <= IDENTIFIER_BYTES,
                    "error type {} bytes",
                    error_type.len()
                );
            }
        }
        if config.detail() != DetailLevel::Full {
            prop_assert!(entry.attributes.is_none());
        }
        if config.detail() == DetailLevel::Minimal {
            prop_assert!(entry.input.is_none() && entry.output.is_none());
        }
        // Names, the attribute map and events share one budget per entry.
        prop_assert!(
            line.len() <= 16 * cap + 64 * 1024,
            "line is {} bytes",
            line.len()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        // Replays the seeds of the cases it once failed, kept beside this
        // file (`….proptest-regressions`), before any new case.
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions"
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn processor_path_never_panics_and_stays_in_caps(
        config in config(),
        spans in prop::collection::vec(span_data(), 1..6),
    ) {
        let mut extractor = Extractor::new(&config).unwrap();
        let mut entries = Vec::new();
        for span in &spans {
            extractor.on_start(span, &mut entries);
        }
        for span in spans.iter().rev() {
            extractor.on_end(span, &mut entries);
        }
        check(&config, &entries)?;
    }

    #[test]
    fn exporter_path_never_panics_and_stays_in_caps(
        config in config(),
        batches in prop::collection::vec(prop::collection::vec(span_data(), 0..5), 1..3),
    ) {
        let mut extractor = Extractor::new(&config).unwrap();
        let mut entries = Vec::new();
        for batch in &batches {
            extractor.on_finished_batch(batch, &mut entries);
        }
        check(&config, &entries)?;
    }
}
