//! adk-rust, out of the box: its span helpers and the GenAI/Vertex shapes
//! ADK uses for model and tool calls.
//!
//! Mirrors `zavora-ai/adk-rust` `adk-telemetry/src/spans.rs`
//! @ 07475effc32edbb957987c9cfd1171b336ea0363: `agent_run_span` →
//! `info_span!("agent.run", agent.name, invocation.id, otel.kind = "internal")`,
//! `model_call_span` → `info_span!("model.call", model.name, otel.kind =
//! "client")`, `tool_execute_span` → `info_span!("tool.execute", tool.name,
//! otel.kind = "internal")`; `llm_generate_span` (a later version of the same
//! file, read through the index) → `info_span!("gen_ai.generate",
//! gen_ai.system, gen_ai.request.model, gen_ai.request.stream, usage fields
//! `Empty` incl. `gen_ai.usage.cache_read_tokens`, `cache_creation_tokens`,
//! `thinking_tokens`)`. ADK's `execute_tool {name}` and `call_llm` spans carry
//! `gcp.vertex.agent.session_id`, `…llm_request`/`…llm_response` and
//! `…tool_call_args`/`…tool_response` (as ADK Python/Go and their
//! OpenInference instrumentation record them).

use crate::support::{only, Format, Harness};
use reagentic_protocol::{EntryStatus, EventType};

#[test]
fn adk_agent_model_and_tool_spans_are_recorded_without_configuration() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        harness.in_scope(|| {
            let agent = tracing::info_span!(
                "agent.run",
                agent.name = "weather_agent",
                invocation.id = "inv-123",
                otel.kind = "internal"
            );
            let _agent = agent.enter();
            {
                let call = tracing::info_span!(
                    "call_llm",
                    gen_ai.system = "gcp.vertex.agent",
                    gen_ai.request.model = "gemini-2.0-flash",
                    gcp.vertex.agent.invocation_id = "inv-123",
                    gcp.vertex.agent.session_id = "sess-9",
                    gcp.vertex.agent.event_id = "ev-1",
                    gcp.vertex.agent.llm_request =
                        r#"{"contents":[{"role":"user","parts":[{"text":"Weather?"}]}]}"#,
                    gcp.vertex.agent.llm_response = tracing::field::Empty,
                );
                let _call = call.enter();
                let generate = tracing::info_span!(
                    "gen_ai.generate",
                    gen_ai.system = %"gemini",
                    gen_ai.request.model = %"gemini-2.0-flash",
                    gen_ai.request.stream = false,
                    gen_ai.usage.input_tokens = tracing::field::Empty,
                    gen_ai.usage.output_tokens = tracing::field::Empty,
                    gen_ai.usage.total_tokens = tracing::field::Empty,
                    gen_ai.usage.cache_read_tokens = tracing::field::Empty,
                    gen_ai.usage.cache_creation_tokens = tracing::field::Empty,
                    gen_ai.usage.thinking_tokens = tracing::field::Empty,
                    gen_ai.usage.audio_input_tokens = tracing::field::Empty,
                    gen_ai.usage.audio_output_tokens = tracing::field::Empty,
                    otel.kind = "client",
                );
                {
                    let _generate = generate.enter();
                    generate.record("gen_ai.usage.input_tokens", 107_i64);
                    generate.record("gen_ai.usage.output_tokens", 6_i64);
                    generate.record("gen_ai.usage.total_tokens", 113_i64);
                    generate.record("gen_ai.usage.cache_read_tokens", 32_i64);
                    generate.record("gen_ai.usage.thinking_tokens", 4_i64);
                }
                call.record(
                    "gcp.vertex.agent.llm_response",
                    r#"{"content":{"role":"model","parts":[{"text":"Sunny."}]}}"#,
                );
            }
            {
                let tool = tracing::info_span!(
                    "execute_tool get_weather",
                    gen_ai.operation.name = "execute_tool",
                    gen_ai.tool.name = "get_weather",
                    gen_ai.tool.type = "FunctionTool",
                    gen_ai.tool.call.id = "adk-call-1",
                    gcp.vertex.agent.tool_call_args = r#"{"city":"Berlin"}"#,
                    gcp.vertex.agent.tool_response = r#"{"report":"sunny"}"#,
                );
                let _tool = tool.enter();
            }
            {
                // The `adk-telemetry` helper's shape.
                let execute = tracing::info_span!(
                    "tool.execute",
                    tool.name = "get_time",
                    otel.kind = "internal"
                );
                let _execute = execute.enter();
            }
            {
                let model = tracing::info_span!(
                    "model.call",
                    model.name = "gemini-2.0-flash",
                    otel.kind = "client"
                );
                let _model = model.enter();
            }
        });
        harness.flush();
        let entries = harness.entries();

        let agent = only(&entries, EventType::AgentEnd, "weather_agent");
        assert_eq!(agent.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(
            agent.session_id, None,
            "ADK names the session on model calls"
        );

        let call = only(&entries, EventType::LlmEnd, "call_llm");
        assert_eq!(call.session_id.as_deref(), Some("sess-9"));
        assert_eq!(call.provider.as_deref(), Some("gcp.vertex.agent"));
        assert_eq!(call.model.as_deref(), Some("gemini-2.0-flash"));
        assert_eq!(call.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(
            call.output.as_ref().unwrap().to_value()["content"]["parts"][0]["text"],
            "Sunny."
        );
        let call_start = only(&entries, EventType::LlmStart, "call_llm");
        assert_eq!(
            call_start.input.as_ref().unwrap().to_value()["contents"][0]["role"],
            "user"
        );

        let generate = only(&entries, EventType::LlmEnd, "gen_ai.generate");
        assert_eq!(generate.session_id.as_deref(), Some("sess-9"), "inherited");
        assert_eq!(generate.provider.as_deref(), Some("gemini"));
        assert_eq!(
            (generate.input_tokens, generate.output_tokens),
            (Some(107), Some(6))
        );
        assert_eq!(
            (generate.cache_read_input_tokens, generate.reasoning_tokens),
            (Some(32), Some(4))
        );
        assert_eq!(
            generate.parent_span_id.as_deref(),
            Some(call.span_id.as_str())
        );

        let tool = only(&entries, EventType::ToolEnd, "get_weather");
        assert_eq!(tool.tool_call_id.as_deref(), Some("adk-call-1"));
        assert_eq!(tool.input, None, "sent with the start entry, not repeated");
        let tool_start = only(&entries, EventType::ToolStart, "get_weather");
        assert_eq!(
            tool_start.input,
            Some(serde_json::json!({"city": "Berlin"}).into())
        );
        assert_eq!(
            tool.output,
            Some(serde_json::json!({"report": "sunny"}).into())
        );
        assert_eq!(
            (tool.status, tool.agent_name.as_deref()),
            (EntryStatus::Ok, Some("weather_agent"))
        );
        let execute = only(&entries, EventType::ToolEnd, "get_time");
        assert_eq!(execute.tool_name.as_deref(), Some("get_time"));
        assert_eq!(execute.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(entries.len(), 12, "{entries:#?}");

        let model = only(&entries, EventType::LlmEnd, "model.call");
        assert_eq!(model.model.as_deref(), Some("gemini-2.0-flash"));
    }
}
