//! rig, out of the box: the spans exactly as rig opens and records them.
//!
//! Mirrors `0xPlaygrounds/rig`:
//! - `crates/rig-agent/src/agent/telemetry.rs` @ 0ec055c41fde76d78ba11f10c31aeb786a2301e0
//!   (`acquire_agent_span`: bare `invoke_agent`; `build_chat_span!`; `new_execute_tool_span`);
//! - `crates/rig-core/src/telemetry/mod.rs` @ 4b4dbf2b8e637575aaf609c739249d1f2af048ce
//!   (`completion_parent_span!` / `__rig_canonical_completion_span!`: the `chat`
//!   span's declared fields, provider and model recorded on adoption, usage
//!   and messages recorded after the response).
//!
//! Nesting: `invoke_agent` (root) → `chat` (per turn) and `execute_tool` (per
//! tool call). Fields declared `Empty` are recorded later, so they reach only
//! the end entries; token counts are `u64`, which `tracing-opentelemetry`
//! records as strings.

use crate::support::{only, Harness};
use reagentic_protocol::{EntryStatus, EventType};

fn record_rig_run(harness: &Harness) {
    harness.in_scope(|| {
        // acquire_agent_span: created only when there is no ambient span.
        let agent = tracing::info_span!(
            parent: None,
            "invoke_agent",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = "weather_agent",
            gen_ai.system_instructions = Some(r#"[{"type":"text","content":"Be brief."}]"#),
            gen_ai.prompt = tracing::field::Empty,
            gen_ai.completion = tracing::field::Empty,
            gen_ai.usage.input_tokens = tracing::field::Empty,
            gen_ai.usage.output_tokens = tracing::field::Empty,
            gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
            gen_ai.usage.cache_creation.input_tokens = tracing::field::Empty,
            gen_ai.usage.tool_use_prompt_tokens = tracing::field::Empty,
            gen_ai.usage.reasoning_tokens = tracing::field::Empty,
        );
        let _agent = agent.enter();
        agent.record("gen_ai.prompt", "Weather in Berlin?");

        {
            // build_chat_span! → completion_parent_span! (marker + canonical fields).
            let chat = tracing::info_span!(
                target: "rig::agent_chat",
                "chat",
                rig.completion_parent = true,
                gen_ai.operation.name = "chat",
                gen_ai.system_instructions = Option::<&str>::None,
                gen_ai.provider.name = tracing::field::Empty,
                gen_ai.request.model = tracing::field::Empty,
                gen_ai.response.id = tracing::field::Empty,
                gen_ai.response.model = tracing::field::Empty,
                rig.provider_request_id = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
                gen_ai.usage.cache_creation.input_tokens = tracing::field::Empty,
                gen_ai.usage.tool_use_prompt_tokens = tracing::field::Empty,
                gen_ai.usage.reasoning_tokens = tracing::field::Empty,
                gen_ai.input.messages = tracing::field::Empty,
                gen_ai.output.messages = tracing::field::Empty,
                gen_ai.agent.name = "weather_agent",
            );
            let _chat = chat.enter();
            // Adoption records provider and model; the response the rest.
            chat.record("gen_ai.provider.name", "openai");
            chat.record("gen_ai.request.model", "gpt-4o");
            chat.record(
                "gen_ai.input.messages",
                r#"[{"role":"user","parts":[{"type":"text","content":"Weather in Berlin?"}]}]"#,
            );
            chat.record("gen_ai.response.id", "resp_1");
            chat.record("gen_ai.response.model", "gpt-4o-2024-08-06");
            chat.record("gen_ai.usage.input_tokens", 120_u64);
            chat.record("gen_ai.usage.output_tokens", 18_u64);
            chat.record("gen_ai.usage.cache_read.input_tokens", 64_u64);
            chat.record("gen_ai.usage.cache_creation.input_tokens", 0_u64);
            chat.record("gen_ai.usage.tool_use_prompt_tokens", 0_u64);
            chat.record("gen_ai.usage.reasoning_tokens", 7_u64);
            chat.record(
                "gen_ai.output.messages",
                r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"get_weather"}]}]"#,
            );
        }
        {
            let tool = tracing::info_span!(
                "execute_tool",
                gen_ai.operation.name = "execute_tool",
                gen_ai.tool.type = "function",
                gen_ai.tool.name = tracing::field::Empty,
                gen_ai.tool.call.id = tracing::field::Empty,
                gen_ai.tool.call.arguments = tracing::field::Empty,
                gen_ai.tool.call.result = tracing::field::Empty,
                gen_ai.tool.call.outcome = tracing::field::Empty,
                gen_ai.tool.error.type = tracing::field::Empty
            );
            let _tool = tool.enter();
            tool.record("gen_ai.tool.name", "get_weather");
            tool.record("gen_ai.tool.call.id", "call_1");
            tool.record("gen_ai.tool.call.arguments", r#"{"city":"Berlin"}"#);
            // record_tool_result: outcome, then the error kind on failure.
            tool.record("gen_ai.tool.call.outcome", "error");
            tool.record("gen_ai.tool.error.type", "tool_call_error");
        }
        agent.record("gen_ai.completion", "I could not reach the weather service.");
        agent.record("gen_ai.usage.input_tokens", 120_u64);
        agent.record("gen_ai.usage.output_tokens", 18_u64);
        agent.record("gen_ai.usage.reasoning_tokens", 7_u64);
    });
    harness.flush();
}

#[test]
fn rig_agent_model_call_and_failed_tool_are_recorded_without_configuration() {
    for format in crate::support::Format::BOTH {
        let harness = Harness::new(format, |b| b);
        record_rig_run(&harness);
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "{entries:#?}");

        let start = only(&entries, EventType::AgentStart, "weather_agent");
        assert_eq!(start.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(start.operation.as_deref(), Some("invoke_agent"));
        assert_eq!(start.input, None, "the prompt is recorded after the start");
        let agent = only(&entries, EventType::AgentEnd, "weather_agent");
        assert_eq!(
            agent.input,
            Some(serde_json::json!("Weather in Berlin?").into())
        );
        assert_eq!(
            agent.output,
            Some(serde_json::json!("I could not reach the weather service.").into())
        );
        assert_eq!(
            (
                agent.input_tokens,
                agent.output_tokens,
                agent.reasoning_tokens
            ),
            (Some(120), Some(18), Some(7))
        );
        assert_eq!(
            (agent.status, agent.session_id.clone()),
            (EntryStatus::Ok, None)
        );
        assert_eq!(agent.service_name.as_deref(), Some("test-agent"));
        assert_eq!(agent.parent_span_id, None);

        let chat = only(&entries, EventType::LlmEnd, "chat");
        assert_eq!(chat.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(chat.model.as_deref(), Some("gpt-4o-2024-08-06"));
        assert_eq!(chat.provider.as_deref(), Some("openai"));
        assert_eq!(chat.operation.as_deref(), Some("chat"));
        assert_eq!(
            (chat.input_tokens, chat.output_tokens),
            (Some(120), Some(18))
        );
        assert_eq!(
            (
                chat.cache_read_input_tokens,
                chat.cache_creation_input_tokens,
                chat.reasoning_tokens
            ),
            (Some(64), Some(0), Some(7))
        );
        assert_eq!(chat.input.as_ref().unwrap().to_value()[0]["role"], "user");
        assert_eq!(
            chat.output.as_ref().unwrap().to_value()[0]["parts"][0]["name"],
            "get_weather"
        );
        assert_eq!(chat.parent_span_id.as_deref(), Some(agent.span_id.as_str()));
        assert_eq!((chat.status, chat.error.clone()), (EntryStatus::Ok, None));
        assert!(chat.duration_ms.is_some());
        let chat_start = only(&entries, EventType::LlmStart, "chat");
        assert_eq!(chat_start.model, None, "the model is recorded on adoption");

        let tool = only(&entries, EventType::ToolEnd, "get_weather");
        assert_eq!(tool.tool_name.as_deref(), Some("get_weather"));
        assert_eq!(tool.tool_call_id.as_deref(), Some("call_1"));
        assert_eq!(
            tool.input,
            Some(serde_json::json!({"city": "Berlin"}).into())
        );
        assert_eq!(tool.output, None);
        assert_eq!(tool.agent_name.as_deref(), Some("weather_agent"));
        assert_eq!(
            tool.status,
            EntryStatus::Error,
            "outcome `error` fails the step"
        );
        let error = tool.error.clone().unwrap();
        assert_eq!(error.error_type.as_deref(), Some("tool_call_error"));
        // Bare `execute_tool` start: the name is recorded later.
        let tool_start = entries
            .iter()
            .find(|e| e.event_type == EventType::ToolStart)
            .unwrap();
        assert_eq!(tool_start.name, "execute_tool");
    }
}
