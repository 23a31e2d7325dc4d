//! The current OpenTelemetry GenAI conventions beyond the basics: workflows,
//! guardrails, retrieval, memory, planning, cache and reasoning tokens,
//! finish reasons, system instructions, tool definitions, time to first chunk.
//!
//! Mirrors `open-telemetry/semantic-conventions`:
//! - `docs/gen-ai/gen-ai-spans.md` @ a064dcca28053f4406d5dc65895e89c523171ca4
//!   (inference spans `{gen_ai.operation.name} {gen_ai.request.model}`;
//!   `gen_ai.response.finish_reasons`, `gen_ai.usage.cache_read.input_tokens`,
//!   `gen_ai.usage.cache_creation.input_tokens`,
//!   `gen_ai.usage.reasoning.output_tokens`,
//!   `gen_ai.response.time_to_first_chunk` (s), `gen_ai.system_instructions`,
//!   `gen_ai.tool.definitions`);
//! - `docs/gen-ai/gen-ai-agent-spans.md` @ 71d61835732a3738fb6d904c942c3770a77a3318
//!   (`invoke_agent`, `invoke_workflow`, `execute_tool`, `apply_guardrail`);
//! - `docs/gen-ai/non-normative/memory_implementation_gen_ai_spec.md`
//!   @ 45c0428c6130efba1c9caab34fbb1cd81d836961 (`search_memory`,
//!   `update_memory`, …, `gen_ai.memory.query`/`content`).
//!
//! The `plan` and `retrieval` operation names follow the issue's list.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{DetailLevel, EntryStatus, EventType, ProtocolConfig};

fn record_workflow(harness: &Harness) {
    harness.in_scope(|| {
        let workflow = tracing::info_span!(
            "invoke_workflow",
            otel.name = "invoke_workflow support_flow",
            gen_ai.operation.name = "invoke_workflow",
            gen_ai.conversation.id = "conv-7",
        );
        let _workflow = workflow.enter();
        let agent = tracing::info_span!(
            "invoke_agent",
            otel.name = "invoke_agent helper",
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = "helper",
            gen_ai.system_instructions = r#"[{"type":"text","content":"Be kind."}]"#,
        );
        let _agent = agent.enter();
        {
            let guard = tracing::info_span!(
                "apply_guardrail",
                otel.name = "apply_guardrail jailbreak",
                gen_ai.operation.name = "apply_guardrail",
                error.type = tracing::field::Empty,
            );
            let _guard = guard.enter();
            guard.record("error.type", "GuardrailTripped");
        }
        {
            let plan = tracing::info_span!("plan", gen_ai.operation.name = "plan");
            let _plan = plan.enter();
        }
        {
            let retrieval = tracing::info_span!(
                "retrieval",
                otel.name = "retrieval kb-main",
                gen_ai.operation.name = "retrieval",
                gen_ai.data_source.id = "kb-main",
            );
            let _retrieval = retrieval.enter();
        }
        {
            let memory = tracing::info_span!(
                "search_memory",
                otel.name = "search_memory user-preferences",
                gen_ai.operation.name = "search_memory",
                gen_ai.memory.store.name = "user-preferences",
                gen_ai.memory.query = "dietary preferences",
            );
            let _memory = memory.enter();
        }
        {
            let chat = tracing::info_span!(
                "chat",
                otel.name = "chat claude-sonnet-4",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "anthropic",
                gen_ai.request.model = "claude-sonnet-4",
                gen_ai.tool.definitions = r#"[{"type":"function","name":"lookup"}]"#,
                gen_ai.response.finish_reasons = tracing::field::Empty,
                gen_ai.response.time_to_first_chunk = tracing::field::Empty,
                gen_ai.usage.input_tokens = tracing::field::Empty,
                gen_ai.usage.output_tokens = tracing::field::Empty,
                gen_ai.usage.cache_read.input_tokens = tracing::field::Empty,
                gen_ai.usage.cache_creation.input_tokens = tracing::field::Empty,
                gen_ai.usage.reasoning.output_tokens = tracing::field::Empty,
            );
            let _chat = chat.enter();
            chat.record("gen_ai.response.finish_reasons", r#"["stop","length"]"#);
            chat.record("gen_ai.response.time_to_first_chunk", 0.42_f64);
            chat.record("gen_ai.usage.input_tokens", 900_u64);
            chat.record("gen_ai.usage.output_tokens", 120_u64);
            chat.record("gen_ai.usage.cache_read.input_tokens", 800_u64);
            chat.record("gen_ai.usage.cache_creation.input_tokens", 100_u64);
            chat.record("gen_ai.usage.reasoning.output_tokens", 64_u64);
        }
    });
    harness.flush();
}

#[test]
fn current_genai_operations_and_usage_details_are_recorded() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        record_workflow(&harness);
        let entries = harness.entries();
        assert_eq!(entries.len(), 12, "`plan` is other: {entries:#?}");

        let workflow = only(&entries, EventType::AgentEnd, "support_flow");
        assert_eq!(workflow.operation.as_deref(), Some("invoke_workflow"));
        assert_eq!(workflow.session_id.as_deref(), Some("conv-7"));

        let helper = only(&entries, EventType::AgentEnd, "helper");
        assert_eq!(
            helper.parent_span_id.as_deref(),
            Some(workflow.span_id.as_str())
        );
        assert_eq!(helper.session_id.as_deref(), Some("conv-7"));

        let guard = only(&entries, EventType::GuardrailEnd, "jailbreak");
        assert_eq!(guard.status, EntryStatus::Error);
        assert_eq!(
            guard.error.clone().unwrap().error_type.as_deref(),
            Some("GuardrailTripped")
        );
        assert_eq!(guard.agent_name.as_deref(), Some("helper"));
        only(&entries, EventType::GuardrailStart, "jailbreak");

        let retrieval = only(&entries, EventType::ToolEnd, "kb-main");
        assert_eq!(retrieval.operation.as_deref(), Some("retrieval"));
        let memory = only(&entries, EventType::ToolEnd, "user-preferences");
        assert_eq!(memory.operation.as_deref(), Some("search_memory"));
        let memory_start = only(&entries, EventType::ToolStart, "user-preferences");
        assert_eq!(
            memory_start.input,
            Some(serde_json::json!("dietary preferences").into())
        );

        let chat = only(&entries, EventType::LlmEnd, "chat claude-sonnet-4");
        assert_eq!(
            chat.finish_reasons,
            Some(vec!["stop".to_owned(), "length".to_owned()])
        );
        assert_eq!(chat.time_to_first_chunk_ms, Some(420.0));
        assert_eq!(
            (chat.input_tokens, chat.output_tokens),
            (Some(900), Some(120))
        );
        assert_eq!(
            (
                chat.cache_read_input_tokens,
                chat.cache_creation_input_tokens,
                chat.reasoning_tokens
            ),
            (Some(800), Some(100), Some(64))
        );
        assert_eq!(chat.cost_usd, None, "GenAI reports no cost");
        assert_eq!(
            (chat.agent_name.as_deref(), chat.session_id.as_deref()),
            (Some("helper"), Some("conv-7"))
        );
    }
}

#[test]
fn instructions_and_tool_definitions_are_kept_at_full_detail() {
    let config = ProtocolConfig::default()
        .with_detail(DetailLevel::Full)
        .with_keep_other_spans(true);
    let harness = Harness::with_config(Format::Jsonl, config);
    record_workflow(&harness);
    let entries = harness.entries();
    let helper = only(&entries, EventType::AgentStart, "helper");
    let attributes = helper.attributes.clone().unwrap();
    assert_eq!(
        attributes["gen_ai.system_instructions"],
        r#"[{"type":"text","content":"Be kind."}]"#
    );
    let chat = only(&entries, EventType::LlmStart, "chat claude-sonnet-4");
    assert!(chat
        .attributes
        .clone()
        .unwrap()
        .contains_key("gen_ai.tool.definitions"));
    let plan = only(&entries, EventType::SpanEnd, "plan");
    assert_eq!(plan.operation.as_deref(), Some("plan"));
}
