//! A realistic agent run through the real pipeline comes back, field for
//! field, from both storage forms — SQLite through a second connection.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{EntryStatus, EventType};

fn record_run(harness: &Harness) {
    harness.in_scope(|| {
        let agent = agent_span!("planner", gen_ai.conversation.id = "conv-42");
        let _a = agent.enter();
        {
            let llm = llm_span!(
                "gpt-4o",
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                gen_ai.response.model = tracing::field::Empty
            );
            let _l = llm.enter();
            // u64 fields reach SpanData as strings: tokens must still be numbers.
            llm.record("gen_ai.usage.input_tokens", 120_u64);
            llm.record("gen_ai.usage.output_tokens", 36_u64);
            llm.record("gen_ai.response.model", "gpt-4o-2024-08-06");
        }
        {
            let tool = tool_span!(
                "search_flights",
                gen_ai.tool.call.id = "call_1",
                gen_ai.tool.call.arguments = r#"{"from":"BER"}"#,
                gen_ai.tool.call.result = tracing::field::Empty
            );
            let _t = tool.enter();
            tool.record("gen_ai.tool.call.result", "3 flights");
        }
    });
    harness.flush();
}

fn check(format: Format) {
    let harness = Harness::new(format, |b| b);
    record_run(&harness);
    let entries = harness.entries();
    assert_eq!(entries.len(), 6, "{entries:#?}");

    let agent_start = only(&entries, EventType::AgentStart, "planner");
    let agent_end = only(&entries, EventType::AgentEnd, "planner");
    let llm_end = only(&entries, EventType::LlmEnd, "chat gpt-4o");
    let tool_start = only(&entries, EventType::ToolStart, "search_flights");
    let tool_end = only(&entries, EventType::ToolEnd, "search_flights");

    for e in &entries {
        assert_eq!(e.session_id.as_deref(), Some("conv-42"), "{e:?}");
        assert_eq!(e.agent_name.as_deref(), Some("planner"), "{e:?}");
        assert_eq!(e.service_name.as_deref(), Some("test-agent"), "{e:?}");
        assert_eq!(e.trace_id, agent_start.trace_id);
        let suffix = if e.event_type.is_start() {
            "start"
        } else {
            "end"
        };
        assert_eq!(e.entry_id, format!("{}:{}:{suffix}", e.trace_id, e.span_id));
    }
    assert_eq!(agent_start.status, EntryStatus::Unset);
    assert_eq!(agent_start.duration_ms, None);
    assert_eq!(agent_start.parent_span_id, None);
    assert_eq!(agent_end.status, EntryStatus::Ok);
    assert!(agent_end.duration_ms.is_some());

    assert_eq!(
        llm_end.parent_span_id.as_deref(),
        Some(agent_start.span_id.as_str())
    );
    assert_eq!(llm_end.input_tokens, Some(120));
    assert_eq!(llm_end.output_tokens, Some(36));
    assert_eq!(llm_end.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(llm_end.provider.as_deref(), Some("openai"));

    assert_eq!(tool_start.tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(
        tool_start.input,
        Some(serde_json::json!({"from": "BER"}).into())
    );
    assert_eq!(tool_end.tool_name.as_deref(), Some("search_flights"));
    assert_eq!(tool_end.output, Some(serde_json::json!("3 flights").into()));
    assert!(tool_start.timestamp <= tool_end.timestamp);
}

#[test]
fn sqlite_protocol_holds_the_whole_run() {
    check(Format::Sqlite);
}

#[test]
fn jsonl_protocol_holds_the_whole_run() {
    check(Format::Jsonl);
}

#[test]
fn sqlite_rows_are_readable_through_a_raw_second_connection() {
    let harness = Harness::sqlite();
    record_run(&harness);
    let conn = rusqlite::Connection::open_with_flags(
        &harness.path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let (count, tokens): (i64, i64) = conn
        .query_row(
            "SELECT count(*), sum(coalesce(input_tokens, 0)) FROM protocol_entries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(count, 6);
    assert_eq!(tokens, 120);
    let input: String = conn
        .query_row(
            "SELECT input FROM protocol_entries WHERE event_type = 'tool_start'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&input).unwrap(),
        serde_json::json!({"from": "BER"})
    );
}

#[test]
fn jsonl_lines_are_exactly_the_entries() {
    let harness = Harness::jsonl();
    record_run(&harness);
    let text = std::fs::read_to_string(&harness.path).unwrap();
    assert!(text.ends_with('\n'));
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 6);
    let mut from_lines = Vec::new();
    for line in &lines {
        let parsed: reagentic_protocol::ProtocolEntry = serde_json::from_str(line).unwrap();
        assert_eq!(parsed.schema, reagentic_protocol::SCHEMA_VERSION);
        assert_eq!(
            parsed.to_json_line().unwrap(),
            *line,
            "a line is the entry's canonical JSON"
        );
        from_lines.push(parsed);
    }
    // The reader returns exactly what the lines hold (it sorts by time).
    let mut from_reader = harness.entries();
    from_lines.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    from_reader.sort_by(|a, b| a.entry_id.cmp(&b.entry_id));
    assert_eq!(from_lines, from_reader);
}
