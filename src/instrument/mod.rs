//! Helpers that open `tracing` spans following the OpenTelemetry GenAI
//! semantic conventions, so agent code produces spans that the protocol
//! records and that any OTLP backend reads as GenAI spans.
//!
//! | helper | span name | `gen_ai.operation.name` | protocol entries |
//! |---|---|---|---|
//! | [`AgentSpan`] | `invoke_agent {agent}` | `invoke_agent` | `agent_start` / `agent_end` |
//! | [`ModelCallSpan`] | `chat {model}` (or another [`ModelOperation`]) | `chat`, … | `llm_start` / `llm_end` |
//! | [`ToolSpan`] | `execute_tool {tool}` | `execute_tool` | `tool_start` / `tool_end` |
//! | [`handoff`] | `handoff` | — | `handoff` |
//!
//! Everything known when the step begins is given to the builder, so it is in
//! the start entry; what is known later (output, token usage, finish reasons,
//! errors) is recorded on the started span and lands in the end entry. (The
//! OpenTelemetry span starts when it is first entered — `in_scope`, `enter`,
//! `instrument` — so what is recorded before that also reaches the start
//! entry.) The span ends when the started value (and every clone of its
//! span) is dropped.
//!
//! ```
//! use reagentic_protocol::instrument::{AgentSpan, Message, ModelCallSpan, ToolSpan, Usage};
//!
//! let agent = AgentSpan::new("planner")
//!     .conversation_id("conv-42")
//!     .input("Find me a flight to Lisbon")
//!     .start();
//! agent.in_scope(|| {
//!     let call = ModelCallSpan::new("openai", "gpt-4o")
//!         .temperature(0.2)
//!         .input_messages([Message::user("Find me a flight to Lisbon")])
//!         .start();
//!     call.record_output_messages([Message::assistant("Calling search_flights").with_finish_reason("tool_call")]);
//!     call.record_usage(Usage::new(120, 12));
//!
//!     let tool = ToolSpan::new("search_flights")
//!         .call_id("call_1")
//!         .arguments(serde_json::json!({"to": "LIS"}))
//!         .start();
//!     tool.record_result("3 flights");
//! });
//! agent.record_output("Booked TP 537");
//! ```
//!
//! In async code, wrap the future: `agent.instrument(async { … }).await`.
//! The spans are `INFO`-level with the target [`TARGET`] (`gen_ai`), so a
//! global `EnvFilter` that should keep them needs `gen_ai=info`.

// `opentelemetry-semantic-conventions` 0.33 marks the `gen_ai.*` constants
// deprecated because their definitions moved to a separate GenAI conventions
// repository; the names are unchanged and are what backends expect.
#![allow(deprecated)]

mod agent;
mod error;
mod handoff;
mod message;
mod model;
mod tool;

pub use agent::{AgentRun, AgentSpan};
pub use error::AsDynError;
pub use handoff::handoff;
pub use message::{Content, Message, Part};
pub use model::{ModelCall, ModelCallSpan, ModelOperation};
pub use tool::{ToolCall, ToolSpan};

/// The `tracing` target of every span these helpers open.
pub const TARGET: &str = "gen_ai";

/// Token usage of a model call or a whole agent run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens the model read (`gen_ai.usage.input_tokens`).
    pub input_tokens: u64,
    /// Tokens the model wrote (`gen_ai.usage.output_tokens`).
    pub output_tokens: u64,
}

impl Usage {
    /// Usage of `input_tokens` read and `output_tokens` written.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Self {
            input_tokens,
            output_tokens,
        }
    }
}

/// OpenTelemetry attributes are signed: a count beyond `i64::MAX` is clamped
/// rather than wrapped to a negative number.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The methods every started GenAI span has: access to the `tracing` span,
/// running code inside it, and recording an error.
macro_rules! started_span_methods {
    ($ty:ident) => {
        impl $ty {
            /// The underlying `tracing` span, e.g. to pass as an explicit parent.
            pub fn span(&self) -> &tracing::Span {
                &self.span
            }

            /// Runs `f` inside this span: spans opened in `f` are its children.
            pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
                self.span.in_scope(f)
            }

            /// Enters this span until the returned guard is dropped. Do not
            /// hold the guard across an `.await`; use
            /// [`instrument`](Self::instrument) there.
            pub fn enter(&self) -> tracing::span::Entered<'_> {
                self.span.enter()
            }

            /// Makes `future` run inside this span each time it is polled, so
            /// async agent code gets the same parent/child structure as sync code.
            pub fn instrument<F: std::future::Future>(
                &self,
                future: F,
            ) -> tracing::instrument::Instrumented<F> {
                tracing::Instrument::instrument(future, self.span.clone())
            }

            /// Records that the step failed with `error`: the span status
            /// becomes `Error` with the error's message, `error.type` is set
            /// (the error's type name, `_OTHER` for a `dyn Error`), and an
            /// `exception` event carries the message and the source chain.
            pub fn record_error<E: $crate::instrument::AsDynError + ?Sized>(&self, error: &E) {
                $crate::instrument::error::record_error(&self.span, error);
            }
        }

        impl From<$ty> for tracing::Span {
            fn from(started: $ty) -> tracing::Span {
                started.span
            }
        }
    };
}
pub(crate) use started_span_methods;

/// Starts the OpenTelemetry span behind `span` now. `tracing-opentelemetry`
/// starts it only when the span is first entered or closes; a step that was
/// started but is still waiting (or whose process dies) before anything
/// enters it would otherwise have no start entry. Found by the command-line
/// tool's `check` test, whose unfinished agent was never entered.
pub(crate) fn begin(span: tracing::Span) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    // Asking for the span's context starts it; the context itself is not needed.
    drop(span.context());
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_beyond_i64_are_clamped_not_wrapped() {
        assert_eq!(count(42), 42);
        assert_eq!(count(u64::MAX), i64::MAX);
    }
}
