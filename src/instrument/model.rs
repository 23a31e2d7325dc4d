//! The model-call span: `{operation} {model}` (`chat gpt-4o`), one inference.

use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MAX_TOKENS, GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_TEMPERATURE, GEN_AI_REQUEST_TOP_P, GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_ID, GEN_AI_RESPONSE_MODEL, GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_USAGE_INPUT_TOKENS, GEN_AI_USAGE_OUTPUT_TOKENS,
};
use tracing::field::Empty;

use super::message::{messages_json, Message};
use super::{count, started_span_methods, Usage, TARGET};

/// What kind of model call (`gen_ai.operation.name`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ModelOperation {
    /// A chat completion (default).
    #[default]
    Chat,
    /// A legacy text completion.
    TextCompletion,
    /// Multimodal content generation (Gemini-style).
    GenerateContent,
    /// An embeddings request.
    Embeddings,
}

impl ModelOperation {
    /// The conventions' name: `chat`, `text_completion`, `generate_content`,
    /// `embeddings`.
    pub fn as_str(self) -> &'static str {
        match self {
            ModelOperation::Chat => "chat",
            ModelOperation::TextCompletion => "text_completion",
            ModelOperation::GenerateContent => "generate_content",
            ModelOperation::Embeddings => "embeddings",
        }
    }
}

/// A model call about to start; finish with [`start`](Self::start).
///
/// ```
/// use reagentic_protocol::instrument::{Message, ModelCallSpan, Usage};
/// let call = ModelCallSpan::new("anthropic", "claude-sonnet-4")
///     .max_tokens(1024)
///     .input_messages([Message::system("Be brief"), Message::user("Hi")])
///     .start();
/// call.record_output_messages([Message::assistant("Hello!").with_finish_reason("stop")]);
/// call.record_usage(Usage::new(12, 3));
/// call.record_finish_reasons(["stop"]);
/// ```
#[derive(Clone, Debug)]
#[must_use = "the span opens only when `start()` is called"]
pub struct ModelCallSpan {
    provider: String,
    model: String,
    operation: ModelOperation,
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<i64>,
    system_instructions: Option<String>,
    input: Option<String>,
}

impl ModelCallSpan {
    /// A chat call to `model` (`gen_ai.request.model`) at `provider`
    /// (`gen_ai.provider.name`: `openai`, `anthropic`, `aws.bedrock`, …).
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            provider: provider.into(),
            model: model.into(),
            operation: ModelOperation::Chat,
            temperature: None,
            top_p: None,
            max_tokens: None,
            system_instructions: None,
            input: None,
        }
    }

    /// Another kind of call than chat; the span is named `{operation} {model}`.
    pub fn operation(mut self, operation: ModelOperation) -> Self {
        self.operation = operation;
        self
    }

    /// The sampling temperature asked for (`gen_ai.request.temperature`).
    pub fn temperature(mut self, temperature: f64) -> Self {
        self.temperature = Some(temperature);
        self
    }

    /// The nucleus-sampling bound asked for (`gen_ai.request.top_p`).
    pub fn top_p(mut self, top_p: f64) -> Self {
        self.top_p = Some(top_p);
        self
    }

    /// The most tokens the model may write (`gen_ai.request.max_tokens`).
    pub fn max_tokens(mut self, max_tokens: u64) -> Self {
        self.max_tokens = Some(count(max_tokens));
        self
    }

    /// The system prompt, when sent apart from the messages
    /// (`gen_ai.system_instructions`).
    pub fn system_instructions(mut self, text: impl Into<String>) -> Self {
        let parts = [super::message::Part::Text {
            content: text.into(),
        }];
        self.system_instructions =
            Some(serde_json::to_string(&parts).unwrap_or_else(|_| String::from("[]")));
        self
    }

    /// The messages sent to the model (`gen_ai.input.messages`).
    pub fn input_messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.input = Some(messages_json(messages));
        self
    }

    /// Opens the span as a child of the current span.
    pub fn start(self) -> ModelCall {
        let operation = self.operation.as_str();
        let span = tracing::info_span!(
            target: TARGET,
            "chat",
            otel.name = format!("{operation} {}", self.model),
            otel.kind = "client",
            otel.status_code = Empty,
            otel.status_description = Empty,
            { GEN_AI_OPERATION_NAME } = operation,
            { GEN_AI_PROVIDER_NAME } = self.provider.as_str(),
            { GEN_AI_REQUEST_MODEL } = self.model.as_str(),
            { GEN_AI_REQUEST_TEMPERATURE } = self.temperature,
            { GEN_AI_REQUEST_TOP_P } = self.top_p,
            { GEN_AI_REQUEST_MAX_TOKENS } = self.max_tokens,
            { GEN_AI_SYSTEM_INSTRUCTIONS } = self.system_instructions.as_deref(),
            { GEN_AI_INPUT_MESSAGES } = self.input.as_deref(),
            { GEN_AI_OUTPUT_MESSAGES } = Empty,
            { GEN_AI_RESPONSE_MODEL } = Empty,
            { GEN_AI_RESPONSE_ID } = Empty,
            { GEN_AI_USAGE_INPUT_TOKENS } = Empty,
            { GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
            { ERROR_TYPE } = Empty,
        );
        ModelCall {
            span: super::begin(span),
        }
    }
}

/// A running model-call span; it ends when this value (and every clone of
/// its span) is dropped.
#[derive(Clone, Debug)]
pub struct ModelCall {
    span: tracing::Span,
}

started_span_methods!(ModelCall);

impl ModelCall {
    /// The model's answer as one assistant message (`gen_ai.output.messages`).
    pub fn record_output(&self, text: impl Into<String>) {
        self.record_output_messages([Message::assistant(text)]);
    }

    /// The model's output messages (`gen_ai.output.messages`).
    pub fn record_output_messages(&self, messages: impl IntoIterator<Item = Message>) {
        self.span
            .record(GEN_AI_OUTPUT_MESSAGES, messages_json(messages).as_str());
    }

    /// Tokens read and written (`gen_ai.usage.input_tokens` / `output_tokens`).
    pub fn record_usage(&self, usage: Usage) {
        self.span
            .record(GEN_AI_USAGE_INPUT_TOKENS, count(usage.input_tokens));
        self.span
            .record(GEN_AI_USAGE_OUTPUT_TOKENS, count(usage.output_tokens));
    }

    /// Why the model stopped, one reason per choice
    /// (`gen_ai.response.finish_reasons`, a string array).
    pub fn record_finish_reasons<I>(&self, reasons: I)
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        use opentelemetry::{Array, StringValue, Value};
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        let reasons: Vec<StringValue> = reasons
            .into_iter()
            .map(|reason| StringValue::from(reason.into()))
            .collect();
        // A `tracing` field cannot hold an array: set the typed attribute on
        // the OpenTelemetry span directly.
        self.span.set_attribute(
            GEN_AI_RESPONSE_FINISH_REASONS,
            Value::Array(Array::String(reasons)),
        );
    }

    /// The model that actually answered (`gen_ai.response.model`); the
    /// protocol prefers it over the requested one.
    pub fn record_response_model(&self, model: &str) {
        self.span.record(GEN_AI_RESPONSE_MODEL, model);
    }

    /// The provider's id for the response (`gen_ai.response.id`).
    pub fn record_response_id(&self, id: &str) {
        self.span.record(GEN_AI_RESPONSE_ID, id);
    }
}
