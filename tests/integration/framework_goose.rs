//! goose, out of the box: its agent turn, provider generation and tool
//! dispatch spans.
//!
//! Mirrors `block/goose`:
//! - `crates/goose/src/agents/agent.rs` (stored version read through the
//!   index): `#[instrument(fields(user_message, trace_input, trace_output,
//!   session.id, gen_ai.operation.name = "invoke_agent", gen_ai.agent.name =
//!   Empty, gen_ai.input.messages, gen_ai.output.messages, usage Empty))]` on
//!   `Agent::reply` (span `reply`), and on `dispatch_tool_call` the fields
//!   `session.id`, `gen_ai.conversation.id`, `gen_ai.operation.name =
//!   "execute_tool"`, `gen_ai.tool.name`, `gen_ai.tool.call.id`,
//!   `gen_ai.tool.call.arguments`/`result` and `error.type` (Empty);
//! - `crates/goose/src/agents/gen_ai_telemetry.rs` @ 5a291ae20733634ffe143513d57b5f829acb20f3
//!   (`record_usage`: `gen_ai.usage.*` incl. `cache_read.input_tokens` and
//!   `cache_creation.input_tokens`; `gen_ai.response.finish_reasons` as a JSON
//!   list in a string);
//! - `crates/goose/src/tracing/provider_generation.rs` @ 9d8aaeb7a40006225985ae1676e2d81e63ef13e0
//!   (`provider_generation` span: `observation_type = "GENERATION"`,
//!   `session.id`, `provider`, `model`, and the JSON fields `input_json`,
//!   `output_json`, `usage_details_json`, `cost_details_json`,
//!   `status_message` recorded later).

use crate::support::{only, Format, Harness};
use reagentic_protocol::{EntryStatus, EventType};

#[test]
fn goose_turn_generation_and_tool_are_recorded_without_configuration() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        harness.in_scope(|| {
            let reply = tracing::info_span!(
                "reply",
                user_message = tracing::field::Empty,
                trace_input = tracing::field::Empty,
                trace_output = tracing::field::Empty,
                session.id = %"20261127_1",
                gen_ai.operation.name = "invoke_agent",
                gen_ai.agent.name = tracing::field::Empty,
                gen_ai.input.messages = tracing::field::Empty,
                gen_ai.output.messages = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
            );
            let _reply = reply.enter();
            reply.record("gen_ai.agent.name", "goose");
            {
                let generation = tracing::info_span!(
                    target: "goose::tracing::provider_generation",
                    "provider_generation",
                    observation_type = "GENERATION",
                    observation_id = %"0f8e…",
                    session.id = %"20261127_1",
                    provider = "anthropic",
                    model = %"claude-sonnet-4",
                    model_parameters_json = tracing::field::Empty,
                    input_json = tracing::field::Empty,
                    output_json = tracing::field::Empty,
                    usage_details_json = tracing::field::Empty,
                    cost_details_json = tracing::field::Empty,
                    completion_start_time = tracing::field::Empty,
                    status_message = tracing::field::Empty,
                );
                let _generation = generation.enter();
                generation.record("input_json", r#"{"system":"s","messages":[{"role":"user"}],"tools":[]}"#);
                generation.record("model", "claude-sonnet-4-20250514");
                generation.record(
                    "usage_details_json",
                    r#"{"input":1200,"output":85,"total":1285,"cache_read_input_tokens":1000,"cache_write_input_tokens":64}"#,
                );
                generation.record("cost_details_json", r#"{"total":0.00437}"#);
                generation.record("output_json", r#"[{"role":"assistant","content":[]}]"#);
            }
            {
                let tool = tracing::info_span!(
                    "dispatch_tool_call",
                    session.id = %"20261127_1",
                    gen_ai.conversation.id = %"20261127_1",
                    gen_ai.operation.name = "execute_tool",
                    gen_ai.tool.name = %"developer__shell",
                    gen_ai.tool.call.id = %"toolu_01",
                    gen_ai.tool.call.arguments = tracing::field::Empty,
                    gen_ai.tool.call.result = tracing::field::Empty,
                    error.type = tracing::field::Empty,
                );
                let _tool = tool.enter();
                tool.record("gen_ai.tool.call.arguments", tracing::field::display(r#"{"command":"ls"}"#));
                tool.record("error.type", "ExecutionError");
            }
            reply.record("gen_ai.usage.input_tokens", 1200_u64);
            reply.record("gen_ai.usage.output_tokens", 85_u64);
        });
        harness.flush();
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "{entries:#?}");

        let turn = only(&entries, EventType::AgentEnd, "goose");
        assert_eq!(turn.session_id.as_deref(), Some("20261127_1"));
        assert_eq!(
            (turn.input_tokens, turn.output_tokens),
            (Some(1200), Some(85))
        );
        assert_eq!(turn.operation.as_deref(), Some("invoke_agent"));
        // Named only after it started: the start entry has the span name.
        only(&entries, EventType::AgentStart, "reply");

        let generation = only(&entries, EventType::LlmEnd, "provider_generation");
        assert_eq!(
            generation.model.as_deref(),
            Some("claude-sonnet-4-20250514")
        );
        assert_eq!(generation.provider.as_deref(), Some("anthropic"));
        assert_eq!(generation.session_id.as_deref(), Some("20261127_1"));
        assert_eq!(generation.operation.as_deref(), Some("GENERATION"));
        assert_eq!(
            (generation.input_tokens, generation.output_tokens),
            (Some(1200), Some(85))
        );
        assert_eq!(
            (
                generation.cache_read_input_tokens,
                generation.cache_creation_input_tokens
            ),
            (Some(1000), Some(64))
        );
        assert_eq!(generation.cost_usd, Some(0.00437));
        assert_eq!(generation.input.as_ref().unwrap().to_value()["system"], "s");
        assert_eq!(
            generation.output.as_ref().unwrap().to_value()[0]["role"],
            "assistant"
        );
        assert_eq!(generation.status, EntryStatus::Ok);

        let tool = only(&entries, EventType::ToolEnd, "developer__shell");
        assert_eq!(tool.tool_call_id.as_deref(), Some("toolu_01"));
        assert_eq!(
            tool.input,
            Some(serde_json::json!({"command": "ls"}).into())
        );
        assert_eq!(tool.status, EntryStatus::Error);
        assert_eq!(
            tool.error.clone().unwrap().error_type.as_deref(),
            Some("ExecutionError")
        );
        assert_eq!(
            tool.agent_name.as_deref(),
            Some("reply"),
            "the name it had when the tool began"
        );
    }
}
