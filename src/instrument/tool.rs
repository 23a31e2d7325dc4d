//! The tool span: `execute_tool {tool}`, one tool call.

use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, GEN_AI_OPERATION_NAME, GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_ID,
    GEN_AI_TOOL_CALL_RESULT, GEN_AI_TOOL_DESCRIPTION, GEN_AI_TOOL_NAME, GEN_AI_TOOL_TYPE,
};
use tracing::field::Empty;

use super::message::Content;
use super::{started_span_methods, TARGET};

/// A tool call about to start; finish with [`start`](Self::start).
///
/// ```
/// use reagentic_protocol::instrument::ToolSpan;
/// let call = ToolSpan::new("get_weather")
///     .call_id("call_2")
///     .arguments(r#"{"city":"Lisbon"}"#)
///     .start();
/// match Ok::<_, std::io::Error>("18°C, sunny") {
///     Ok(result) => call.record_result(result),
///     Err(err) => call.record_error(&err),
/// }
/// ```
#[derive(Clone, Debug)]
#[must_use = "the span opens only when `start()` is called"]
pub struct ToolSpan {
    name: String,
    call_id: Option<String>,
    description: Option<String>,
    tool_type: Option<String>,
    arguments: Option<Content>,
}

impl ToolSpan {
    /// A call of the tool `name` (`gen_ai.tool.name`; the span is
    /// `execute_tool {name}`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            call_id: None,
            description: None,
            tool_type: None,
            arguments: None,
        }
    }

    /// The tool call's id, as the model gave it (`gen_ai.tool.call.id`).
    pub fn call_id(mut self, id: impl Into<String>) -> Self {
        self.call_id = Some(id.into());
        self
    }

    /// What the tool does (`gen_ai.tool.description`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Where the tool runs (`gen_ai.tool.type`: `function`, `extension`,
    /// `datastore`).
    pub fn tool_type(mut self, tool_type: impl Into<String>) -> Self {
        self.tool_type = Some(tool_type.into());
        self
    }

    /// The arguments (`gen_ai.tool.call.arguments`): JSON text or a JSON value.
    pub fn arguments(mut self, arguments: impl Into<Content>) -> Self {
        self.arguments = Some(arguments.into());
        self
    }

    /// Opens the span as a child of the current span.
    pub fn start(self) -> ToolCall {
        let span = tracing::info_span!(
            target: TARGET,
            "execute_tool",
            otel.name = format!("execute_tool {}", self.name),
            otel.status_code = Empty,
            otel.status_description = Empty,
            { GEN_AI_OPERATION_NAME } = "execute_tool",
            { GEN_AI_TOOL_NAME } = self.name.as_str(),
            { GEN_AI_TOOL_CALL_ID } = self.call_id.as_deref(),
            { GEN_AI_TOOL_DESCRIPTION } = self.description.as_deref(),
            { GEN_AI_TOOL_TYPE } = self.tool_type.as_deref(),
            { GEN_AI_TOOL_CALL_ARGUMENTS } = self.arguments.as_ref().map(Content::as_str),
            { GEN_AI_TOOL_CALL_RESULT } = Empty,
            { ERROR_TYPE } = Empty,
        );
        ToolCall {
            span: super::begin(span),
        }
    }
}

/// A running tool span; it ends when this value (and every clone of its
/// span) is dropped.
#[derive(Clone, Debug)]
pub struct ToolCall {
    span: tracing::Span,
}

started_span_methods!(ToolCall);

impl ToolCall {
    /// What the tool returned (`gen_ai.tool.call.result`): text or JSON.
    pub fn record_result(&self, result: impl Into<Content>) {
        self.span
            .record(GEN_AI_TOOL_CALL_RESULT, result.into().as_str());
    }
}
