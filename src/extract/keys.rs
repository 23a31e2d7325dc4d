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

/// The session or conversation a span belongs to.
pub(crate) const SESSION_ID: &[&str] = &[
    semconv::GEN_AI_CONVERSATION_ID,
    semconv::SESSION_ID,
    "session_id",
    "conversation.id",
    "conversation_id",
    "thread_id",
    "run_id",
];

/// The agent's name.
pub(crate) const AGENT_NAME: &[&str] = &[semconv::GEN_AI_AGENT_NAME, "agent.name", "agent_name"];

/// The model; the one that answered is preferred over the one asked for.
pub(crate) const MODEL: &[&str] = &[
    semconv::GEN_AI_RESPONSE_MODEL,
    semconv::GEN_AI_REQUEST_MODEL,
    "llm.model_name",
];

/// The model provider.
pub(crate) const PROVIDER: &[&str] = &[
    semconv::GEN_AI_PROVIDER_NAME,
    semconv::GEN_AI_SYSTEM,
    "llm.provider",
    "llm.system",
];

/// The tool's name.
pub(crate) const TOOL_NAME: &[&str] = &[semconv::GEN_AI_TOOL_NAME, "tool.name"];

/// The tool call's id.
pub(crate) const TOOL_CALL_ID: &[&str] = &[semconv::GEN_AI_TOOL_CALL_ID, "tool_call.id"];

/// Tokens read by the model.
pub(crate) const INPUT_TOKENS: &[&str] = &[
    semconv::GEN_AI_USAGE_INPUT_TOKENS,
    semconv::GEN_AI_USAGE_PROMPT_TOKENS,
    "llm.token_count.prompt",
];

/// Tokens written by the model.
pub(crate) const OUTPUT_TOKENS: &[&str] = &[
    semconv::GEN_AI_USAGE_OUTPUT_TOKENS,
    semconv::GEN_AI_USAGE_COMPLETION_TOKENS,
    "llm.token_count.completion",
];

/// Input content: messages, prompt, tool arguments.
pub(crate) const INPUT_CONTENT: &[&str] = &[
    semconv::GEN_AI_INPUT_MESSAGES,
    semconv::GEN_AI_PROMPT,
    semconv::GEN_AI_TOOL_CALL_ARGUMENTS,
    "input.value",
];

/// Output content: messages, completion, tool result.
pub(crate) const OUTPUT_CONTENT: &[&str] = &[
    semconv::GEN_AI_OUTPUT_MESSAGES,
    semconv::GEN_AI_COMPLETION,
    semconv::GEN_AI_TOOL_CALL_RESULT,
    "output.value",
];

/// The agent handing off, on a handoff span.
pub(crate) const HANDOFF_FROM: &[&str] = &["handoff.from_agent", "from_agent"];

/// The agent taking over, on a handoff span.
pub(crate) const HANDOFF_TO: &[&str] = &["handoff.to_agent", "to_agent"];

/// The error's class, as a span attribute.
pub(crate) const ERROR_TYPE: &[&str] = &[semconv::ERROR_TYPE];

/// The exception's class, on an exception event (or, from
/// `tracing-opentelemetry`'s error recording, on the span itself).
pub(crate) const EXCEPTION_TYPE: &[&str] = &[semconv::EXCEPTION_TYPE];

/// The exception's message.
pub(crate) const EXCEPTION_MESSAGE: &[&str] = &[semconv::EXCEPTION_MESSAGE];

/// The exception's stack trace (`tracing-opentelemetry` records the error's
/// source chain here, as an array of strings).
pub(crate) const EXCEPTION_STACKTRACE: &[&str] = &[semconv::EXCEPTION_STACKTRACE];

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

/// Whether `key` is always represented by a content or error field.
pub(crate) fn is_always_mapped(key: &str) -> bool {
    ALWAYS_MAPPED.iter().any(|table| table.contains(&key))
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
    }

    #[test]
    fn no_alias_appears_in_two_tables() {
        let tables: &[&[&str]] = &[
            SESSION_ID,
            AGENT_NAME,
            MODEL,
            PROVIDER,
            TOOL_NAME,
            TOOL_CALL_ID,
            INPUT_TOKENS,
            OUTPUT_TOKENS,
            INPUT_CONTENT,
            OUTPUT_CONTENT,
            HANDOFF_FROM,
            HANDOFF_TO,
            ERROR_TYPE,
            EXCEPTION_TYPE,
            EXCEPTION_MESSAGE,
            EXCEPTION_STACKTRACE,
        ];
        let mut seen = std::collections::HashSet::new();
        for key in tables.iter().flat_map(|t| t.iter()) {
            assert!(seen.insert(*key), "{key} appears twice");
        }
    }
}
