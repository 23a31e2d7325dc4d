//! Entries shared by the crate's unit tests: one with every field set, one
//! with every optional field empty, and a clock to place them in time.
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::entry::{EntryError, EntryStatus, EventType, ProtocolEntry, SCHEMA_VERSION};

/// Seconds after 2026-11-27T03:00:00Z, plus microseconds, as a timestamp.
pub(crate) fn at(seconds: i64, micros: u32) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_748_400 + seconds, micros * 1_000)
        .single()
        .expect("valid test timestamp")
}

/// A fully populated entry: every optional field set, JSON content,
/// an error and attributes, so round trips exercise every column.
pub(crate) fn full_entry(n: u32) -> ProtocolEntry {
    let trace_id = format!("{:032x}", 0x4bf9_2f35_u64 + u64::from(n % 3));
    let span_id = format!("{:016x}", 0x00f0_67aa_u64 + u64::from(n));
    ProtocolEntry {
        schema: SCHEMA_VERSION,
        entry_id: ProtocolEntry::make_id(&trace_id, &span_id, "end"),
        timestamp: at(i64::from(n), 123_456),
        event_type: EventType::ToolEnd,
        trace_id,
        span_id,
        parent_span_id: Some("53995c3f42cd8ad8".into()),
        session_id: Some(format!("conv-{}", n % 2)),
        service_name: Some("travel-agent".into()),
        agent_name: Some("planner".into()),
        name: "search_flights".into(),
        model: Some("gpt-4o".into()),
        provider: Some("openai".into()),
        tool_name: Some("search_flights".into()),
        tool_call_id: Some(format!("call_{n}")),
        input: Some(json!({"from": "BER", "n": n, "nested": [1, {"x": null}]})),
        output: Some(json!("3 flights \u{1F6EB} \"quoted\"")),
        input_tokens: Some(u64::from(n) * 10),
        output_tokens: Some(7),
        duration_ms: Some(182.4),
        status: EntryStatus::Error,
        error: Some(EntryError {
            error_type: Some("Timeout".into()),
            message: Some("took too long".into()),
            stacktrace: Some("at search_flights\nat main".into()),
        }),
        attributes: json!({"http.status": 504, "retry": true})
            .as_object()
            .cloned(),
        operation: Some("execute_tool".into()),
        cache_read_input_tokens: Some(3),
        cache_creation_input_tokens: Some(2),
        reasoning_tokens: Some(5),
        finish_reasons: Some(vec!["stop".into(), "tool_calls".into()]),
        cost_usd: Some(0.0125),
        time_to_first_chunk_ms: Some(41.5),
    }
}

/// A start entry with every optional field empty.
pub(crate) fn bare_entry(n: u32) -> ProtocolEntry {
    let trace_id = format!("{:032x}", 0xaaaa_u64);
    let span_id = format!("{:016x}", 0xbbbb_u64 + u64::from(n));
    ProtocolEntry {
        schema: SCHEMA_VERSION,
        entry_id: ProtocolEntry::make_id(&trace_id, &span_id, "start"),
        timestamp: at(i64::from(n), 0),
        event_type: EventType::AgentStart,
        trace_id,
        span_id,
        parent_span_id: None,
        session_id: None,
        service_name: None,
        agent_name: None,
        name: "planner".into(),
        model: None,
        provider: None,
        tool_name: None,
        tool_call_id: None,
        input: None,
        output: None,
        input_tokens: None,
        output_tokens: None,
        duration_ms: None,
        status: EntryStatus::Unset,
        error: None,
        attributes: None,
        operation: None,
        cache_read_input_tokens: None,
        cache_creation_input_tokens: None,
        reasoning_tokens: None,
        finish_reasons: None,
        cost_usd: None,
        time_to_first_chunk_ms: None,
    }
}
