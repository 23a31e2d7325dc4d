//! Attribute names the extractor reads, as alias tables: the first alias
//! present on a span wins, so supporting another framework is one more row.

// `opentelemetry-semantic-conventions` 0.33 marks every `gen_ai.*` constant
// deprecated because their definitions moved to a separate GenAI conventions
// repository; the names themselves are unchanged and are what frameworks emit.
#![allow(deprecated)]

use opentelemetry_semantic_conventions::attribute as semconv;

/// The GenAI operation (`invoke_agent`, `chat`, `execute_tool`, …).
pub(crate) const OPERATION_NAME: &str = semconv::GEN_AI_OPERATION_NAME;

/// OpenInference's span kind (`AGENT`, `LLM`, `TOOL`, …); the semantic
/// conventions crate has no OpenInference names.
pub(crate) const OPENINFERENCE_SPAN_KIND: &str = "openinference.span.kind";

/// Langfuse's observation type (`generation`, `agent`, `tool`, …), as its
/// OpenTelemetry integration reads it.
pub(crate) const LANGFUSE_OBSERVATION_TYPE: &str = "langfuse.observation.type";

/// goose's observation type on its `provider_generation` span (`GENERATION`).
pub(crate) const GOOSE_OBSERVATION_TYPE: &str = "observation_type";

// The alias tables below are read first alias first. An alias is a key, a
// `key#member` of a JSON attribute, or a flattened `prefix.*` (see
// `attributes.rs`). Each alias names the source that emits it; a user's
// aliases (`ProtocolConfig::with_alias`) go ahead of these.

/// The session or conversation a span belongs to.
pub(crate) const SESSION_ID: &[&str] = &[
    semconv::GEN_AI_CONVERSATION_ID, // GenAI
    semconv::SESSION_ID,             // OpenInference, adk-rust, goose
    "session_id",
    "conversation.id",
    "conversation_id",
    "thread_id",
    "run_id",
    "gcp.vertex.agent.session_id", // ADK (Python, Go, adk-rust) `call_llm`
    "langfuse.session.id",         // Langfuse
];

/// The agent's name.
pub(crate) const AGENT_NAME: &[&str] = &[
    semconv::GEN_AI_AGENT_NAME, // GenAI, rig
    "agent.name",               // adk-rust `agent.run`
    "agent_name",               // rig's `#[instrument]` on prompt requests
    "actor_name",               // AutoAgents `autoagents.task`
    "graph.node.name",          // OpenInference agent graphs
];

/// The model; the one that answered is preferred over the one asked for.
pub(crate) const MODEL: &[&str] = &[
    semconv::GEN_AI_RESPONSE_MODEL,
    semconv::GEN_AI_REQUEST_MODEL,
    "llm.model_name",                  // OpenInference
    "model.name",                      // adk-rust `model.call`
    "langfuse.observation.model.name", // Langfuse
    "model",                           // goose `provider_generation`
];

/// The model provider.
pub(crate) const PROVIDER: &[&str] = &[
    semconv::GEN_AI_PROVIDER_NAME,
    semconv::GEN_AI_SYSTEM, // older GenAI, adk-rust `gen_ai.generate`
    "llm.provider",         // OpenInference
    "llm.system",
    "provider", // goose
];

/// The tool's name.
pub(crate) const TOOL_NAME: &[&str] = &[
    semconv::GEN_AI_TOOL_NAME,
    "tool.name",               // OpenInference, adk-rust `tool.execute`
    "tool_name",               // AutoAgents
    "tool_call.function.name", // OpenInference
];

/// The tool call's id.
pub(crate) const TOOL_CALL_ID: &[&str] = &[
    semconv::GEN_AI_TOOL_CALL_ID,
    "tool_call.id", // OpenInference
    "tool_call_id", // AutoAgents
];

/// Tokens read by the model.
pub(crate) const INPUT_TOKENS: &[&str] = &[
    semconv::GEN_AI_USAGE_INPUT_TOKENS,
    semconv::GEN_AI_USAGE_PROMPT_TOKENS,
    "llm.token_count.prompt",                   // OpenInference
    "langfuse.observation.usage_details#input", // Langfuse
    "usage_details_json#input",                 // goose
    "gen_ai.model.input_tokens",                // llm-sdk `llm_agent.run`
];

/// Tokens written by the model.
pub(crate) const OUTPUT_TOKENS: &[&str] = &[
    semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv::GEN_AI_USAGE_COMPLETION_TOKENS,
    "llm.token_count.completion",
    "langfuse.observation.usage_details#output",
    "usage_details_json#output",
    "gen_ai.model.output_tokens", // llm-sdk
];

/// Input tokens read from the provider's prompt cache.
pub(crate) const CACHE_READ_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_read.input_tokens", // GenAI, rig
    "gen_ai.usage.cache_read_input_tokens",
    "gen_ai.usage.cache_read_tokens", // adk-rust `gen_ai.generate`
    "llm.token_count.prompt_details.cache_read", // OpenInference
    "usage_details_json#cache_read_input_tokens", // goose
];

/// Input tokens written to the provider's prompt cache.
pub(crate) const CACHE_CREATION_TOKENS: &[&str] = &[
    "gen_ai.usage.cache_creation.input_tokens", // GenAI, rig
    "gen_ai.usage.cache_creation_input_tokens",
    "gen_ai.usage.cache_creation_tokens",          // adk-rust
    "llm.token_count.prompt_details.cache_write",  // OpenInference
    "usage_details_json#cache_write_input_tokens", // goose
];

/// Output tokens spent reasoning.
pub(crate) const REASONING_TOKENS: &[&str] = &[
    "gen_ai.usage.reasoning_tokens", // rig
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.thinking_tokens",                 // adk-rust
    "llm.token_count.completion_details.reasoning", // OpenInference
];

/// The call's cost in US dollars.
pub(crate) const COST_USD: &[&str] = &[
    "llm.cost.total", // OpenInference
    "gen_ai.usage.cost",
    "langfuse.observation.cost_details#total", // Langfuse
    "cost_details_json#total",                 // goose
    "llm_sdk.cost",                            // llm-sdk model call
    "llm_agent.cost",                          // llm-sdk agent run
];

/// Why the model stopped: a list of strings, or one string.
pub(crate) const FINISH_REASONS: &[&str] = &[
    semconv::GEN_AI_RESPONSE_FINISH_REASONS,
    "gen_ai.response.finish_reason",
];

/// Seconds from the request to the first streamed chunk (GenAI).
pub(crate) const TIME_TO_FIRST_CHUNK_S: &[&str] = &[
    "gen_ai.response.time_to_first_chunk",
    "gen_ai.server.time_to_first_token", // llm-sdk
];

/// The operation the source named, for the entry's `operation`.
pub(crate) const OPERATION: &[&str] = &[
    OPERATION_NAME,
    OPENINFERENCE_SPAN_KIND,
    LANGFUSE_OBSERVATION_TYPE,
    GOOSE_OBSERVATION_TYPE,
];

/// Input content: messages, prompt, tool arguments.
pub(crate) const INPUT_CONTENT: &[&str] = &[
    semconv::GEN_AI_INPUT_MESSAGES,
    semconv::GEN_AI_PROMPT, // older GenAI, rig
    semconv::GEN_AI_TOOL_CALL_ARGUMENTS,
    "llm.input_messages.*",         // OpenInference, reassembled
    "input.value",                  // OpenInference
    "tool_call.function.arguments", // OpenInference
    "langfuse.observation.input",
    "langfuse.input",
    "gcp.vertex.agent.llm_request",    // ADK
    "gcp.vertex.agent.tool_call_args", // ADK
    "tool.arguments",                  // AutoAgents
    "task.description",                // AutoAgents
    "input_json",                      // goose
    "trace_input",                     // goose `reply`
    "gen_ai.memory.query",             // GenAI `search_memory`
    "gen_ai.memory.content",           // GenAI `update_memory`
];

/// Output content: messages, completion, tool result.
pub(crate) const OUTPUT_CONTENT: &[&str] = &[
    semconv::GEN_AI_OUTPUT_MESSAGES,
    semconv::GEN_AI_COMPLETION,
    semconv::GEN_AI_TOOL_CALL_RESULT,
    "llm.output_messages.*",
    "output.value",
    "langfuse.observation.output",
    "langfuse.output",
    "gcp.vertex.agent.llm_response",
    "gcp.vertex.agent.tool_response",
    "tool.result",
    "task.result",
    "output_json",
    "trace_output",
];

/// The agent handing off, on a handoff span.
pub(crate) const HANDOFF_FROM: &[&str] = &["handoff.from_agent", "from_agent"];

/// The agent taking over, on a handoff span.
pub(crate) const HANDOFF_TO: &[&str] = &["handoff.to_agent", "to_agent"];

/// The error's class, as a span attribute.
pub(crate) const ERROR_TYPE: &[&str] = &[
    semconv::ERROR_TYPE,
    "gen_ai.tool.error.type", // rig `execute_tool`
];

/// Attribute values that mean the step failed even without an error status:
/// (key, failing values, compared ignoring ASCII case).
pub(crate) const FAILED_OUTCOMES: &[(&str, &[&str])] = &[
    (
        "gen_ai.tool.call.outcome",
        &["error", "failure", "failed", "timeout"],
    ), // rig
    ("langfuse.observation.level", &["ERROR"]),
];

/// The exception's class, on an exception event (or, from
/// `tracing-opentelemetry`'s error recording, on the span itself).
pub(crate) const EXCEPTION_TYPE: &[&str] = &[semconv::EXCEPTION_TYPE];

/// The exception's message (on a failed span, a plain error message).
pub(crate) const EXCEPTION_MESSAGE: &[&str] = &[
    semconv::EXCEPTION_MESSAGE,
    "error.message",  // AutoAgents
    "status_message", // goose
];

/// The exception's stack trace (`tracing-opentelemetry` records the error's
/// source chain here, as an array of strings).
pub(crate) const EXCEPTION_STACKTRACE: &[&str] = &[semconv::EXCEPTION_STACKTRACE];

/// The level attribute `tracing-opentelemetry` puts on events, and the
/// value of a failure logged with `tracing::error!`.
pub(crate) const ERROR_EVENT_LEVEL: (&str, &str) = ("level", "ERROR");

/// Where an ERROR-level event keeps what went wrong.
pub(crate) const ERROR_EVENT_MESSAGE: &[&str] = &["error", "error.message"];

/// The name of an exception span event.
pub(crate) const EXCEPTION_EVENT: &str = "exception";

/// Where `DetailLevel::Full` puts the span's events in `attributes`.
pub(crate) const EVENTS_KEY: &str = "otel.events";

/// How many attributes `DetailLevel::Full` left out to stay within its bound.
pub(crate) const OMITTED_ATTRIBUTES_KEY: &str = "otel.omitted_attributes";

/// How many span events `DetailLevel::Full` left out to stay within its bound.
pub(crate) const OMITTED_EVENTS_KEY: &str = "otel.omitted_events";

/// How many attributes the SDK itself dropped (its attribute limit).
pub(crate) const DROPPED_ATTRIBUTES_KEY: &str = "otel.dropped_attributes_count";

/// How many events the SDK itself dropped (its event limit).
pub(crate) const DROPPED_EVENTS_KEY: &str = "otel.dropped_events_count";

/// Every alias table above, so their keys are numbered once (`aliases.rs`).
pub(crate) const ALL_TABLES: &[&[&str]] = &[
    SESSION_ID,
    AGENT_NAME,
    MODEL,
    PROVIDER,
    TOOL_NAME,
    TOOL_CALL_ID,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_CREATION_TOKENS,
    REASONING_TOKENS,
    COST_USD,
    FINISH_REASONS,
    TIME_TO_FIRST_CHUNK_S,
    OPERATION,
    INPUT_CONTENT,
    OUTPUT_CONTENT,
    HANDOFF_FROM,
    HANDOFF_TO,
    ERROR_TYPE,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
    ERROR_EVENT_MESSAGE,
];

/// Tables whose keys are represented by the entry's content and error fields
/// whichever alias supplied them, so `DetailLevel::Full` never repeats them in
/// `attributes` (content would otherwise be stored twice, once untruncated).
/// Scalar fields (model, session, …) are left out only for the alias that
/// actually supplied the value; the other aliases stay visible.
pub(crate) const ALWAYS_MAPPED: &[&[&str]] = &[
    INPUT_CONTENT,
    OUTPUT_CONTENT,
    ERROR_TYPE,
    EXCEPTION_TYPE,
    EXCEPTION_MESSAGE,
    EXCEPTION_STACKTRACE,
];

/// Whether `key` is always represented by a content or error field (also as
/// part of a flattened `prefix.*` alias).
pub(crate) fn is_always_mapped(key: &str) -> bool {
    ALWAYS_MAPPED
        .iter()
        .flat_map(|table| table.iter())
        .any(
            |alias| match alias.strip_suffix(super::attributes::FLATTENED_SUFFIX) {
                Some(prefix) => key.starts_with(prefix),
                None => *alias == key,
            },
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semconv_constants_have_the_names_frameworks_emit() {
        assert_eq!(SESSION_ID[0], "gen_ai.conversation.id");
        assert_eq!(SESSION_ID[1], "session.id");
        assert_eq!(OPERATION_NAME, "gen_ai.operation.name");
        assert_eq!(MODEL[0], "gen_ai.response.model");
        assert_eq!(INPUT_TOKENS[1], "gen_ai.usage.prompt_tokens");
        assert_eq!(INPUT_CONTENT[2], "gen_ai.tool.call.arguments");
        assert_eq!(FINISH_REASONS[0], "gen_ai.response.finish_reasons");
        assert_eq!(EXCEPTION_STACKTRACE[0], "exception.stacktrace");
    }

    #[test]
    fn content_and_error_keys_are_always_mapped_and_others_are_not() {
        assert!(is_always_mapped("input.value"));
        assert!(is_always_mapped("gen_ai.tool.call.result"));
        assert!(is_always_mapped("exception.message"));
        assert!(!is_always_mapped("gen_ai.request.model"));
        assert!(!is_always_mapped(OPERATION_NAME));
        assert!(!is_always_mapped("http.method"));
        assert!(is_always_mapped("llm.input_messages.0.message.content"));
        assert!(!is_always_mapped("llm.input_messages"));
    }

    #[test]
    fn no_alias_appears_in_two_tables() {
        // Error-event message keys are read from an event's own attributes,
        // where `error` may mean what it means on a span; every other table
        // reads span attributes and must not claim another table's key.
        let span_tables = ALL_TABLES
            .iter()
            .filter(|table| **table != ERROR_EVENT_MESSAGE);
        assert_eq!(span_tables.clone().count(), ALL_TABLES.len() - 1);
        let mut seen = std::collections::HashSet::new();
        for key in span_tables.flat_map(|t| t.iter()) {
            assert!(seen.insert(*key), "{key} appears twice");
        }
    }
}
