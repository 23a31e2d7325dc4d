//! OpenInference, in full: every span kind, flattened messages reassembled,
//! token details, cost, tool calls and agent-graph nodes — the shapes the
//! OpenAI Agents SDK and most Python stacks emit.
//!
//! Mirrors `Arize-ai/openinference` `spec/semantic_conventions.md`
//! @ e3030b7686863edc70fb5222e6aa7a8243fcf004 (`openinference.span.kind`
//! values; `input.value`/`output.value`; `llm.model_name`, `llm.provider`,
//! `llm.system`; `llm.input_messages.<i>.message.role|content`,
//! `….message.tool_calls.<j>.tool_call.function.name|arguments`;
//! `llm.token_count.prompt|completion|total`,
//! `llm.token_count.prompt_details.cache_read|cache_write`,
//! `llm.token_count.completion_details.reasoning`; `llm.cost.prompt|completion|total`;
//! `tool.name`, `tool_call.id`; `session.id`; `graph.node.id|name|parent_id`).
//! Flattened keys are dynamic, so they are set with
//! `OpenTelemetrySpanExt::set_attribute`, as OpenInference's Rust users must.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{DetailLevel, EntryStatus, EventType, ProtocolConfig};
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn set(span: &tracing::Span, key: &str, value: impl Into<opentelemetry::Value>) {
    span.set_attribute(key.to_owned(), value);
}

fn record_openinference_run(harness: &Harness) {
    harness.in_scope(|| {
        let agent = tracing::info_span!(
            "Triage Agent",
            openinference.span.kind = "AGENT",
            session.id = "oi-session",
            graph.node.id = "triage",
            graph.node.name = "Triage Agent",
            input.value = "Refund my order 42",
            output.value = tracing::field::Empty,
        );
        let _agent = agent.enter();
        {
            let chain = tracing::info_span!(
                "router",
                openinference.span.kind = "CHAIN",
                graph.node.id = "router",
                graph.node.parent_id = "triage"
            );
            let _chain = chain.enter();
        }
        {
            let llm = tracing::info_span!(
                "ChatCompletion",
                openinference.span.kind = "LLM",
                llm.model_name = "gpt-4o-mini",
                llm.provider = "openai",
                llm.system = "openai"
            );
            set(&llm, "llm.input_messages.0.message.role", "system");
            set(
                &llm,
                "llm.input_messages.0.message.content",
                "You route refunds.",
            );
            set(&llm, "llm.input_messages.1.message.role", "user");
            set(
                &llm,
                "llm.input_messages.1.message.content",
                "Refund my order 42",
            );
            set(&llm, "input.value", r#"{"messages":"raw request"}"#);
            let _llm = llm.enter();
            set(&llm, "llm.output_messages.0.message.role", "assistant");
            set(
                &llm,
                "llm.output_messages.0.message.tool_calls.0.tool_call.id",
                "call_r",
            );
            set(
                &llm,
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name",
                "refund",
            );
            set(
                &llm,
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.arguments",
                r#"{"order":42}"#,
            );
            set(&llm, "llm.token_count.prompt", 412_i64);
            set(&llm, "llm.token_count.completion", 27_i64);
            set(&llm, "llm.token_count.total", 439_i64);
            set(&llm, "llm.token_count.prompt_details.cache_read", 256_i64);
            set(&llm, "llm.token_count.prompt_details.cache_write", 12_i64);
            set(&llm, "llm.token_count.completion_details.reasoning", 8_i64);
            set(&llm, "llm.cost.prompt", 0.0004);
            set(&llm, "llm.cost.completion", 0.0002);
            set(&llm, "llm.cost.total", 0.0006);
        }
        {
            let tool = tracing::info_span!(
                "refund",
                openinference.span.kind = "TOOL",
                tool.name = "refund",
                tool_call.id = "call_r",
                input.value = r#"{"order":42}"#
            );
            let _tool = tool.enter();
            set(&tool, "output.value", "refund issued");
        }
        {
            let retriever = tracing::info_span!(
                "retrieve",
                openinference.span.kind = "RETRIEVER",
                input.value = "refund policy"
            );
            let _retriever = retriever.enter();
            set(
                &retriever,
                "retrieval.documents.0.document.content",
                "Refunds within 30 days.",
            );
        }
        {
            let embedding = tracing::info_span!(
                "embed",
                openinference.span.kind = "EMBEDDING",
                embedding.model_name = "text-embedding-3-small"
            );
            let _embedding = embedding.enter();
        }
        {
            let rerank = tracing::info_span!(
                "rerank",
                openinference.span.kind = "RERANKER",
                reranker.model_name = "rerank-v3"
            );
            let _rerank = rerank.enter();
        }
        {
            let guard = tracing::info_span!(
                "pii_guard",
                openinference.span.kind = "GUARDRAIL",
                input.value = "Refund my order 42"
            );
            let _guard = guard.enter();
            set(&guard, "output.value", r#"{"passed":true}"#);
        }
        {
            let eval = tracing::info_span!("relevance_eval", openinference.span.kind = "EVALUATOR");
            let _eval = eval.enter();
        }
        agent.record("output.value", "Your refund is on its way.");
    });
    harness.flush();
}

#[test]
fn every_openinference_kind_maps_and_messages_are_reassembled() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        record_openinference_run(&harness);
        let entries = harness.entries();
        // Agent, LLM, TOOL, RETRIEVER, EMBEDDING, RERANKER, GUARDRAIL: a pair
        // each; CHAIN and EVALUATOR are other spans, left out by default.
        assert_eq!(entries.len(), 14, "{entries:#?}");

        let agent = only(&entries, EventType::AgentEnd, "Triage Agent");
        assert_eq!(agent.session_id.as_deref(), Some("oi-session"));
        assert_eq!(agent.operation.as_deref(), Some("AGENT"));
        assert_eq!(
            agent.output,
            Some(serde_json::json!("Your refund is on its way.").into())
        );
        let agent_start = only(&entries, EventType::AgentStart, "Triage Agent");
        assert_eq!(
            agent_start.input,
            Some(serde_json::json!("Refund my order 42").into())
        );

        let llm_start = only(&entries, EventType::LlmStart, "ChatCompletion");
        assert_eq!(
            llm_start.input,
            Some(
                serde_json::json!([
                    {"role": "system", "content": "You route refunds."},
                    {"role": "user", "content": "Refund my order 42"}
                ])
                .into()
            ),
            "flattened messages win over the raw input.value"
        );
        let llm = only(&entries, EventType::LlmEnd, "ChatCompletion");
        assert_eq!(
            llm.output,
            Some(serde_json::json!([{
                "role": "assistant",
                "tool_calls": [{"id": "call_r", "function": {"name": "refund", "arguments": "{\"order\":42}"}}]
            }]).into())
        );
        assert_eq!(
            (llm.model.as_deref(), llm.provider.as_deref()),
            (Some("gpt-4o-mini"), Some("openai"))
        );
        assert_eq!((llm.input_tokens, llm.output_tokens), (Some(412), Some(27)));
        assert_eq!(
            (
                llm.cache_read_input_tokens,
                llm.cache_creation_input_tokens,
                llm.reasoning_tokens
            ),
            (Some(256), Some(12), Some(8))
        );
        assert_eq!(llm.cost_usd, Some(0.0006));
        assert_eq!(
            (llm.session_id.as_deref(), llm.agent_name.as_deref()),
            (Some("oi-session"), Some("Triage Agent"))
        );

        let tool = only(&entries, EventType::ToolEnd, "refund");
        assert_eq!(tool.tool_call_id.as_deref(), Some("call_r"));
        assert_eq!(tool.output, Some(serde_json::json!("refund issued").into()));
        assert_eq!(
            only(&entries, EventType::ToolStart, "refund").input,
            Some(serde_json::json!({"order": 42}).into())
        );

        let retriever = only(&entries, EventType::ToolEnd, "retrieve");
        assert_eq!(retriever.operation.as_deref(), Some("RETRIEVER"));
        only(&entries, EventType::LlmEnd, "embed");
        only(&entries, EventType::LlmEnd, "rerank");

        let guard = only(&entries, EventType::GuardrailEnd, "pii_guard");
        assert_eq!(
            guard.output,
            Some(serde_json::json!({"passed": true}).into())
        );
        assert_eq!(
            (guard.status, guard.agent_name.as_deref()),
            (EntryStatus::Ok, Some("Triage Agent"))
        );
        assert!(entries
            .iter()
            .all(|e| e.name != "router" && e.name != "relevance_eval"));
    }
}

#[test]
fn chains_and_evaluators_are_kept_as_other_spans_with_their_kind_when_asked() {
    let config = ProtocolConfig::default()
        .with_keep_other_spans(true)
        .with_detail(DetailLevel::Full);
    let harness = Harness::with_config(Format::Sqlite, config);
    record_openinference_run(&harness);
    let entries = harness.entries();
    let chain = only(&entries, EventType::SpanEnd, "router");
    assert_eq!(chain.operation.as_deref(), Some("CHAIN"));
    let attributes = chain.attributes.clone().unwrap();
    assert_eq!(attributes["graph.node.parent_id"], "triage");
    let eval = only(&entries, EventType::SpanEnd, "relevance_eval");
    assert_eq!(eval.operation.as_deref(), Some("EVALUATOR"));
    // Reassembled content is not repeated key by key at Full.
    let llm = only(&entries, EventType::LlmEnd, "ChatCompletion");
    let attributes = llm.attributes.clone().unwrap();
    assert!(
        attributes
            .keys()
            .all(|k| !k.starts_with("llm.output_messages.")),
        "{attributes:?}"
    );
    assert_eq!(attributes["llm.token_count.total"], 439);
    assert_eq!(attributes["llm.cost.prompt"], 0.0004);
}

/// The OpenAI Agents SDK through OpenInference: a tripped input guardrail's
/// own span ends OK (the tripwire is not exported); the SDK marks the trip on
/// the turn it stopped, a `CHAIN` span, with the guardrail's name in the
/// status message. That span is recorded as the guardrail's failure.
#[test]
fn a_guardrail_trip_marked_on_the_agents_sdk_turn_is_the_guardrails_failure() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        harness.in_scope(|| {
            let agent = tracing::info_span!(
                "triage_agent",
                openinference.span.kind = "AGENT",
                session.id = "tripped"
            );
            let _agent = agent.enter();
            let turn = tracing::info_span!(
                "turn",
                openinference.span.kind = "CHAIN",
                otel.status_code = tracing::field::Empty,
                otel.status_description = tracing::field::Empty,
            );
            let _turn = turn.enter();
            {
                let guard =
                    tracing::info_span!("no_secrets", openinference.span.kind = "GUARDRAIL");
                let _guard = guard.enter();
            }
            turn.record("otel.status_code", "ERROR");
            turn.record(
                "otel.status_description",
                "Guardrail tripwire triggered: {'guardrail': 'no_secrets'}",
            );
        });
        harness.flush();
        let entries = harness.entries();
        // The check itself, as exported (it ran and ended OK), then its trip.
        let ends: Vec<_> = entries
            .iter()
            .filter(|e| e.event_type == EventType::GuardrailEnd && e.name == "no_secrets")
            .collect();
        assert_eq!(
            ends.iter().map(|e| e.status).collect::<Vec<_>>(),
            [EntryStatus::Ok, EntryStatus::Error],
            "{entries:#?}"
        );
        let trip = ends[1];
        assert!(
            trip.error
                .as_ref()
                .and_then(|e| e.message.as_deref())
                .is_some_and(|m| m.starts_with("Guardrail tripwire triggered")),
            "{trip:#?}"
        );
        assert_eq!(
            (trip.session_id.as_deref(), trip.agent_name.as_deref()),
            (Some("tripped"), Some("triage_agent"))
        );
        assert_eq!(trip.operation.as_deref(), Some("CHAIN"));
        // A turn that did not fail stays left out, as other spans are.
        assert!(entries.iter().all(|e| e.name != "turn"), "{entries:#?}");
        assert_eq!(entries.len(), 5, "agent, check, trip: {entries:#?}");
    }
}
