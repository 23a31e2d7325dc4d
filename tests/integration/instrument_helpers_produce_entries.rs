//! The `instrument` helpers open spans the protocol classifies and reads
//! field for field: agent, model call, tool, handoff, tokens, errors — in
//! sync code and in async code through `instrument`.

use crate::support::{only, Harness};
use reagentic_protocol::instrument::{handoff, AgentSpan, Message, ModelCallSpan, ToolSpan, Usage};
use reagentic_protocol::{EntryStatus, EventType};
use serde_json::json;

#[derive(Debug)]
struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("weather service answered 503")
    }
}

impl std::error::Error for Unavailable {}

#[derive(Debug)]
struct ToolFailed(Unavailable);

impl std::fmt::Display for ToolFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("get_weather failed")
    }
}

impl std::error::Error for ToolFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn agent_model_tool_and_handoff_become_their_entries() {
    let harness = Harness::sqlite();
    harness.in_scope(|| {
        let triage = AgentSpan::new("triage")
            .id("agent-1")
            .conversation_id("conv-7")
            .input("Book me a flight")
            .start();
        triage.in_scope(|| {
            let call = ModelCallSpan::new("openai", "gpt-4o")
                .temperature(0.2)
                .max_tokens(256)
                .input_messages([Message::user("Book me a flight")])
                .start();
            // The model works inside the span: it has started by the time
            // the answer is recorded, so the answer reaches only the end entry.
            call.in_scope(|| {});
            call.record_output_messages(
                [Message::assistant("hand off").with_finish_reason("stop")],
            );
            call.record_usage(Usage::new(120, 36));
            call.record_finish_reasons(["stop"]);
            call.record_response_model("gpt-4o-2024-08-06");
            drop(call);
            handoff("triage", "travel_specialist");
        });
        triage.record_output("handed off");
        drop(triage);

        let specialist = AgentSpan::new("travel_specialist")
            .conversation_id("conv-7")
            .start();
        specialist.in_scope(|| {
            let tool = ToolSpan::new("search_flights")
                .call_id("call_1")
                .arguments(json!({"from": "BER", "to": "LIS"}))
                .start();
            tool.record_result(r#"[{"flight":"TP 537"}]"#);
        });
    });
    harness.flush();
    let entries = harness.entries();

    let agent_start = only(&entries, EventType::AgentStart, "triage");
    assert_eq!(agent_start.session_id.as_deref(), Some("conv-7"));
    assert_eq!(agent_start.agent_name.as_deref(), Some("triage"));
    assert_eq!(
        agent_start.input,
        Some(
            json!([{"role": "user", "parts": [{"type": "text", "content": "Book me a flight"}]}])
                .into()
        ),
        "the input is in the start entry"
    );
    let agent_end = only(&entries, EventType::AgentEnd, "triage");
    assert_eq!(agent_end.status, EntryStatus::Ok);
    assert!(agent_end.duration_ms.is_some());
    assert_eq!(
        agent_end.output,
        Some(
            json!([{"role": "assistant", "parts": [{"type": "text", "content": "handed off"}]}])
                .into()
        )
    );

    let llm_start = entries
        .iter()
        .find(|e| e.event_type == EventType::LlmStart)
        .expect("an llm_start entry");
    assert_eq!(llm_start.model.as_deref(), Some("gpt-4o"));
    assert_eq!(llm_start.input_tokens, None);
    assert_eq!(llm_start.provider.as_deref(), Some("openai"));
    assert_eq!(llm_start.agent_name.as_deref(), Some("triage"));
    let llm_end = entries
        .iter()
        .find(|e| e.event_type == EventType::LlmEnd)
        .expect("an llm_end entry");
    assert_eq!(llm_end.input_tokens, Some(120));
    assert_eq!(llm_end.output_tokens, Some(36));
    assert_eq!(llm_end.model.as_deref(), Some("gpt-4o-2024-08-06"));
    assert_eq!(llm_end.session_id.as_deref(), Some("conv-7"));
    assert_eq!(llm_end.parent_span_id, Some(agent_start.span_id.clone()));

    let handoff = only(&entries, EventType::Handoff, "travel_specialist");
    assert_eq!(handoff.agent_name.as_deref(), Some("triage"));
    assert_eq!(handoff.session_id.as_deref(), Some("conv-7"));

    let tool_start = only(&entries, EventType::ToolStart, "search_flights");
    assert_eq!(tool_start.tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(
        tool_start.input,
        Some(json!({"from": "BER", "to": "LIS"}).into())
    );
    assert_eq!(tool_start.agent_name.as_deref(), Some("travel_specialist"));
    let tool_end = only(&entries, EventType::ToolEnd, "search_flights");
    assert_eq!(tool_end.output, Some(json!([{"flight": "TP 537"}]).into()));
    assert_eq!(tool_end.status, EntryStatus::Ok);
}

#[test]
fn recorded_errors_carry_type_message_and_source_chain() {
    let harness = Harness::jsonl();
    harness.in_scope(|| {
        let agent = AgentSpan::new("planner")
            .conversation_id("conv-err")
            .start();
        agent.in_scope(|| {
            let tool = ToolSpan::new("get_weather").call_id("call_9").start();
            tool.record_error(&ToolFailed(Unavailable));
            drop(tool);
            let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Unavailable);
            let call = ModelCallSpan::new("local", "m1").start();
            call.record_error(&*boxed);
        });
    });
    harness.flush();
    let entries = harness.entries();

    let tool_end = only(&entries, EventType::ToolEnd, "get_weather");
    assert_eq!(tool_end.status, EntryStatus::Error);
    let error = tool_end.error.as_ref().expect("the error");
    assert_eq!(
        error.error_type.as_deref(),
        Some(std::any::type_name::<ToolFailed>())
    );
    assert_eq!(error.message.as_deref(), Some("get_weather failed"));
    assert_eq!(
        error.stacktrace.as_deref(),
        Some("weather service answered 503")
    );

    let llm_end = entries
        .iter()
        .find(|e| e.event_type == EventType::LlmEnd)
        .expect("an llm_end entry");
    assert_eq!(llm_end.status, EntryStatus::Error);
    let error = llm_end.error.as_ref().expect("the error");
    assert_eq!(error.error_type.as_deref(), Some("_OTHER"));
    assert_eq!(
        error.message.as_deref(),
        Some("weather service answered 503")
    );

    let agent_end = only(&entries, EventType::AgentEnd, "planner");
    assert_eq!(
        agent_end.status,
        EntryStatus::Ok,
        "a failed child does not fail its agent"
    );
}

#[test]
fn async_steps_keep_their_parents_through_instrument() {
    let harness = Harness::sqlite();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    harness.in_scope(|| {
        runtime.block_on(async {
            let agent = AgentSpan::new("async_agent")
                .conversation_id("conv-async")
                .start();
            agent
                .instrument(async {
                    let call = ModelCallSpan::new("local", "m1").start();
                    call.instrument(tokio::time::sleep(std::time::Duration::from_millis(5)))
                        .await;
                    call.record_usage(Usage::new(7, 3));
                    drop(call);
                    let tool = ToolSpan::new("lookup").call_id("c1").start();
                    tool.instrument(async { tokio::task::yield_now().await })
                        .await;
                    tool.record_result("found");
                })
                .await;
        })
    });
    harness.flush();
    let entries = harness.entries();
    let agent_start = only(&entries, EventType::AgentStart, "async_agent");
    let llm_end = entries
        .iter()
        .find(|e| e.event_type == EventType::LlmEnd)
        .expect("an llm_end entry");
    assert_eq!(llm_end.parent_span_id, Some(agent_start.span_id.clone()));
    assert_eq!(llm_end.agent_name.as_deref(), Some("async_agent"));
    assert_eq!(llm_end.session_id.as_deref(), Some("conv-async"));
    assert_eq!(llm_end.input_tokens, Some(7));
    assert!(
        llm_end.duration_ms.unwrap_or_default() >= 4.0,
        "{llm_end:?}"
    );
    let tool_end = only(&entries, EventType::ToolEnd, "lookup");
    assert_eq!(tool_end.parent_span_id, Some(agent_start.span_id.clone()));
    assert_eq!(tool_end.output, Some(json!("found").into()));
}
