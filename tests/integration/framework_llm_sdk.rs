//! llm-sdk, out of the box: agent runs, model calls and tool calls as its
//! OpenTelemetry helpers open them (attributes set through
//! `OpenTelemetrySpanExt::set_attribute`).
//!
//! Mirrors `hoangvvo/llm-sdk`:
//! - `agent-rust/src/opentelemetry.rs` @ 240086b848102777b6f11453ecc5979699593209:
//!   `AgentSpan::new` → `info_span!("llm_agent.run")` + `gen_ai.operation.name
//!   = "invoke_agent"`, `gen_ai.agent.name`, `llm_agent.method`; `on_end` →
//!   `gen_ai.model.input_tokens`/`output_tokens`, `llm_agent.cost`;
//!   `on_error` → `exception.message` + error status; `start_tool_span` →
//!   `info_span!("llm_agent.tool")` + `gen_ai.operation.name = "execute_tool"`,
//!   `gen_ai.tool.call.id`, `gen_ai.tool.name`, `gen_ai.tool.description`,
//!   `gen_ai.tool.type`;
//! - `sdk-rust/src/opentelemetry.rs` @ 0f6ebec6d5b5e45516881fef46316770c5affc02:
//!   `LmSpan::new` → `info_span!("llm_sdk.generate")` + `gen_ai.operation.name
//!   = "generate_content"`, `gen_ai.provider.name`, `gen_ai.request.model`,
//!   `llm_sdk.method`; `on_end` (called again on drop) →
//!   `gen_ai.usage.input_tokens`/`output_tokens`, `llm_sdk.cost`,
//!   `gen_ai.server.time_to_first_token` (seconds), request parameters.

use crate::support::{only, Format, Harness};
use opentelemetry::trace::Status;
use reagentic_protocol::{EntryStatus, EventType};
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn lm_span_end(span: &tracing::Span) {
    span.set_attribute("gen_ai.usage.input_tokens", 52_i64);
    span.set_attribute("gen_ai.usage.output_tokens", 9_i64);
    span.set_attribute("llm_sdk.cost", 0.00031);
    span.set_attribute("gen_ai.server.time_to_first_token", 0.25);
    span.set_attribute("gen_ai.request.temperature", 0.2);
}

#[test]
fn llm_sdk_agent_model_and_tool_spans_are_recorded_without_configuration() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        harness.in_scope(|| {
            let agent = tracing::info_span!("llm_agent.run");
            agent.set_attribute("gen_ai.operation.name", "invoke_agent");
            agent.set_attribute("gen_ai.agent.name", "travel".to_owned());
            agent.set_attribute("llm_agent.method", "run");
            let _agent = agent.enter();
            {
                let model = tracing::info_span!("llm_sdk.stream");
                model.set_attribute("gen_ai.operation.name", "generate_content");
                model.set_attribute("gen_ai.provider.name", "openai".to_owned());
                model.set_attribute("gen_ai.request.model", "gpt-4o-mini".to_owned());
                model.set_attribute("llm_sdk.method", "stream".to_owned());
                let _model = model.enter();
                lm_span_end(&model);
                // `Drop` calls `on_end` again: the keys repeat, the last wins.
                lm_span_end(&model);
            }
            {
                let tool = tracing::info_span!("llm_agent.tool");
                tool.set_attribute("gen_ai.operation.name", "execute_tool");
                tool.set_attribute("gen_ai.tool.call.id", "call_9".to_owned());
                tool.set_attribute("gen_ai.tool.name", "book_flight".to_owned());
                tool.set_attribute("gen_ai.tool.description", "Books a flight".to_owned());
                tool.set_attribute("gen_ai.tool.type", "function");
                let _tool = tool.enter();
                tool.set_attribute("exception.message", "payment declined".to_owned());
                tool.set_status(Status::error("payment declined"));
            }
            agent.set_attribute("gen_ai.model.input_tokens", 52_i64);
            agent.set_attribute("gen_ai.model.output_tokens", 9_i64);
            agent.set_attribute("llm_agent.cost", 0.00031);
        });
        harness.flush();
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "{entries:#?}");

        let agent = only(&entries, EventType::AgentEnd, "travel");
        assert_eq!(
            (agent.input_tokens, agent.output_tokens),
            (Some(52), Some(9))
        );
        assert_eq!(agent.cost_usd, Some(0.00031));
        assert_eq!(agent.operation.as_deref(), Some("invoke_agent"));
        only(&entries, EventType::AgentStart, "travel");

        let model = only(&entries, EventType::LlmEnd, "llm_sdk.stream");
        assert_eq!(model.model.as_deref(), Some("gpt-4o-mini"));
        assert_eq!(model.provider.as_deref(), Some("openai"));
        assert_eq!(model.operation.as_deref(), Some("generate_content"));
        assert_eq!(
            (model.input_tokens, model.output_tokens),
            (Some(52), Some(9))
        );
        assert_eq!(model.cost_usd, Some(0.00031));
        assert_eq!(model.time_to_first_chunk_ms, Some(250.0));
        assert_eq!(model.agent_name.as_deref(), Some("travel"));

        let tool = only(&entries, EventType::ToolEnd, "book_flight");
        assert_eq!(tool.tool_call_id.as_deref(), Some("call_9"));
        assert_eq!(tool.status, EntryStatus::Error);
        assert_eq!(
            tool.error.clone().unwrap().message.as_deref(),
            Some("payment declined")
        );
    }
}
