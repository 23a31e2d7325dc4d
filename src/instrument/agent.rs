//! The agent span: `invoke_agent {agent}`, one agent run.

use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, GEN_AI_AGENT_DESCRIPTION, GEN_AI_AGENT_ID, GEN_AI_AGENT_NAME,
    GEN_AI_CONVERSATION_ID, GEN_AI_INPUT_MESSAGES, GEN_AI_OPERATION_NAME, GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_PROVIDER_NAME, GEN_AI_REQUEST_MODEL, GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
};
use tracing::field::Empty;

use super::message::{messages_json, Message};
use super::{count, started_span_methods, Usage, TARGET};

/// An agent run about to start; finish with [`start`](Self::start).
///
/// ```
/// use reagentic_protocol::instrument::AgentSpan;
/// let run = AgentSpan::new("triage")
///     .id("agent-7")
///     .conversation_id("conv-42")
///     .input("Book me a flight")
///     .start();
/// run.in_scope(|| { /* model and tool calls here are the run's children */ });
/// run.record_output("Handed off to travel_specialist");
/// ```
#[derive(Clone, Debug)]
#[must_use = "the span opens only when `start()` is called"]
pub struct AgentSpan {
    name: String,
    id: Option<String>,
    description: Option<String>,
    conversation_id: Option<String>,
    provider: Option<String>,
    model: Option<String>,
    input: Option<String>,
}

impl AgentSpan {
    /// An agent named `name` (`gen_ai.agent.name`; the span is
    /// `invoke_agent {name}`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            id: None,
            description: None,
            conversation_id: None,
            provider: None,
            model: None,
            input: None,
        }
    }

    /// The agent's unique id (`gen_ai.agent.id`).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// What the agent does (`gen_ai.agent.description`).
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// The conversation or session this run belongs to
    /// (`gen_ai.conversation.id`): the protocol's `session_id`, inherited by
    /// every span inside the run.
    pub fn conversation_id(mut self, id: impl Into<String>) -> Self {
        self.conversation_id = Some(id.into());
        self
    }

    /// The model provider the agent runs on (`gen_ai.provider.name`).
    pub fn provider(mut self, provider: impl Into<String>) -> Self {
        self.provider = Some(provider.into());
        self
    }

    /// The model the agent runs on (`gen_ai.request.model`).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The user's request, recorded as one user message
    /// (`gen_ai.input.messages`).
    pub fn input(self, text: impl Into<String>) -> Self {
        self.input_messages([Message::user(text)])
    }

    /// The messages the run starts from (`gen_ai.input.messages`).
    pub fn input_messages(mut self, messages: impl IntoIterator<Item = Message>) -> Self {
        self.input = Some(messages_json(messages));
        self
    }

    /// Opens the span as a child of the current span.
    pub fn start(self) -> AgentRun {
        let span = tracing::info_span!(
            target: TARGET,
            "invoke_agent",
            otel.name = format!("invoke_agent {}", self.name),
            otel.status_code = Empty,
            otel.status_description = Empty,
            { GEN_AI_OPERATION_NAME } = "invoke_agent",
            { GEN_AI_AGENT_NAME } = self.name.as_str(),
            { GEN_AI_AGENT_ID } = self.id.as_deref(),
            { GEN_AI_AGENT_DESCRIPTION } = self.description.as_deref(),
            { GEN_AI_CONVERSATION_ID } = self.conversation_id.as_deref(),
            { GEN_AI_PROVIDER_NAME } = self.provider.as_deref(),
            { GEN_AI_REQUEST_MODEL } = self.model.as_deref(),
            { GEN_AI_INPUT_MESSAGES } = self.input.as_deref(),
            { GEN_AI_OUTPUT_MESSAGES } = Empty,
            { GEN_AI_USAGE_INPUT_TOKENS } = Empty,
            { GEN_AI_USAGE_OUTPUT_TOKENS } = Empty,
            { ERROR_TYPE } = Empty,
        );
        AgentRun {
            span: super::begin(span),
        }
    }
}

/// A running agent span; it ends when this value (and every clone of its
/// span) is dropped.
#[derive(Clone, Debug)]
pub struct AgentRun {
    span: tracing::Span,
}

started_span_methods!(AgentRun);

impl AgentRun {
    /// The run's final answer, recorded as one assistant message
    /// (`gen_ai.output.messages`).
    pub fn record_output(&self, text: impl Into<String>) {
        self.record_output_messages([Message::assistant(text)]);
    }

    /// The run's output messages (`gen_ai.output.messages`).
    pub fn record_output_messages(&self, messages: impl IntoIterator<Item = Message>) {
        self.span
            .record(GEN_AI_OUTPUT_MESSAGES, messages_json(messages).as_str());
    }

    /// The tokens the whole run used (`gen_ai.usage.*`). The protocol counts
    /// tokens per model call too: record them on the run only when its model
    /// calls are not instrumented, or totals will count them twice.
    pub fn record_usage(&self, usage: Usage) {
        self.span
            .record(GEN_AI_USAGE_INPUT_TOKENS, count(usage.input_tokens));
        self.span
            .record(GEN_AI_USAGE_OUTPUT_TOKENS, count(usage.output_tokens));
    }
}
