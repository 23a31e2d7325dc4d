//! Entries shared by the crate's unit tests: one with every field set, one
//! with every optional field empty, and a clock to place them in time.
use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use crate::entry::{EntryError, EntryStatus, EventType, ProtocolEntry};

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
    let mut e = ProtocolEntry::new(
        EventType::ToolEnd,
        trace_id,
        span_id,
        "search_flights",
        at(i64::from(n), 123_456),
    );
    e.parent_span_id = Some("53995c3f42cd8ad8".into());
    e.session_id = Some(format!("conv-{}", n % 2));
    e.service_name = Some("travel-agent".into());
    e.agent_name = Some("planner".into());
    e.model = Some("gpt-4o".into());
    e.provider = Some("openai".into());
    e.tool_name = Some("search_flights".into());
    e.tool_call_id = Some(format!("call_{n}"));
    e.input = Some(json!({"from": "BER", "n": n, "nested": [1, {"x": null}]}).into());
    e.output = Some(json!("3 flights \u{1F6EB} \"quoted\"").into());
    e.input_tokens = Some(u64::from(n) * 10);
    e.output_tokens = Some(7);
    e.duration_ms = Some(182.4);
    e.status = EntryStatus::Error;
    e.error = Some(EntryError {
        error_type: Some("Timeout".into()),
        message: Some("took too long".into()),
        stacktrace: Some("at search_flights\nat main".into()),
    });
    e.attributes = json!({"http.status": 504, "retry": true})
        .as_object()
        .cloned();
    e.operation = Some("execute_tool".into());
    e.cache_read_input_tokens = Some(3);
    e.cache_creation_input_tokens = Some(2);
    e.reasoning_tokens = Some(5);
    e.finish_reasons = Some(vec!["stop".into(), "tool_calls".into()]);
    e.cost_usd = Some(0.0125);
    e.time_to_first_chunk_ms = Some(41.5);
    e
}

/// A start entry with every optional field empty.
pub(crate) fn bare_entry(n: u32) -> ProtocolEntry {
    let trace_id = format!("{:032x}", 0xaaaa_u64);
    let span_id = format!("{:016x}", 0xbbbb_u64 + u64::from(n));
    ProtocolEntry::new(
        EventType::AgentStart,
        trace_id,
        span_id,
        "planner",
        at(i64::from(n), 0),
    )
}
