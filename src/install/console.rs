//! The console (`fmt`) layer's field formatting: everything but content.
//!
//! GenAI spans carry whole conversations; on every console line they would
//! bury the event. The protocol keeps that content, so the console shows the
//! names, ids, models, tokens and errors, and leaves out messages, tool
//! arguments and tool results.

#![allow(deprecated)] // the `gen_ai.*` constants: see `instrument`.

use std::fmt;

use opentelemetry_semantic_conventions::attribute::{
    GEN_AI_INPUT_MESSAGES, GEN_AI_OUTPUT_MESSAGES, GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT,
};
use tracing::field::{Field, Visit};
use tracing::span::Record;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

/// Fields the console leaves out: content, and the span-naming fields
/// `tracing-opentelemetry` reads (the span's own name already shows).
const HIDDEN_FIELDS: [&str; 10] = [
    GEN_AI_INPUT_MESSAGES,
    GEN_AI_OUTPUT_MESSAGES,
    GEN_AI_SYSTEM_INSTRUCTIONS,
    GEN_AI_TOOL_CALL_ARGUMENTS,
    GEN_AI_TOOL_CALL_RESULT,
    "input.value",
    "output.value",
    "otel.name",
    "otel.kind",
    "otel.status_code",
];

/// `key=value` pairs separated by spaces, the event's message bare, hidden
/// fields left out.
#[derive(Debug, Default)]
pub(crate) struct WithoutContent;

impl<'writer> FormatFields<'writer> for WithoutContent {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    /// Fields recorded on a span later are appended with a separator only
    /// when something is shown, so a hidden field leaves no stray space.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        if !added.is_empty() {
            if !current.fields.is_empty() {
                current.fields.push(' ');
            }
            current.fields.push_str(&added);
        }
        Ok(())
    }
}

struct Visitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings print as `Debug` (quoted) like the default formatter,
        // except the message, which prints bare.
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() || HIDDEN_FIELDS.contains(&field.name()) {
            return;
        }
        let separator = if self.first { "" } else { " " };
        self.first = false;
        self.result = match field.name() {
            "message" => write!(self.writer, "{separator}{value:?}"),
            name => write!(self.writer, "{separator}{name}={value:?}"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn content_is_left_out_and_the_rest_is_kept() {
        let buffer = crate::test_logs::LogBuffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .fmt_fields(WithoutContent)
            .with_ansi(false)
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "execute_tool",
                { GEN_AI_TOOL_CALL_ARGUMENTS } = r#"{"card":"4111"}"#,
                gen_ai.tool.name = "pay",
                { GEN_AI_TOOL_CALL_RESULT } = tracing::field::Empty,
            );
            span.record("gen_ai.tool.call.result", "ok");
            span.in_scope(|| tracing::info!(attempt = 2, "paying"));
        });
        let text = buffer.text();
        assert!(
            text.contains(r#"execute_tool{gen_ai.tool.name="pay"}"#),
            "{text}"
        );
        assert!(text.contains("paying attempt=2"), "{text}");
        assert!(!text.contains("4111"), "{text}");
    }
}
