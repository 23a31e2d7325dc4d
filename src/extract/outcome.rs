//! How a finished span ended: its status and, when it failed, what went wrong.
//!
//! Sources, as the OpenTelemetry conventions and `tracing-opentelemetry` 0.34
//! produce them:
//! - the span status `Error` (also set by `otel.status_code`/`otel.status_description`
//!   fields and by any ERROR-level `tracing` event in the span);
//! - an `error.type` span attribute;
//! - an `exception` span event (`tracing-opentelemetry` renames an unnamed
//!   event with an `error` field to it, with `exception.message`);
//! - `exception.message`/`exception.stacktrace` attributes, which
//!   `tracing-opentelemetry` writes when an `error = &err as &dyn Error` field
//!   is recorded: on the event itself (which keeps its own name) and on the
//!   span. The "stacktrace" there is the error's source chain, an array.

use std::borrow::Cow;

use opentelemetry::trace::{Event, Status};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;

use crate::entry::{EntryError, EntryStatus};

use super::aliases::{Aliases, Fixed};
use super::attributes::Attributes;
use super::content::bound_text_of_total;
use super::keys;
use super::redact::Redactor;
use super::truncate::Limit;

/// The end status of a span, and its error (redacted and bounded by `limit`).
pub(crate) fn outcome(
    span: &SpanData,
    attrs: &Attributes<'_>,
    limit: Limit,
    redactor: &Redactor,
) -> (EntryStatus, Option<EntryError>) {
    let fixed = Fixed::get();
    // The last exception is the one the span ended with.
    let exception = span.events.iter().rev().find(|e| is_exception(e));
    let exception_attrs = exception.map(|e| Attributes::new(&e.attributes));
    let status_description = match &span.status {
        Status::Error { description } => Some(description.as_ref()),
        _ => None,
    };
    let failed_outcome = keys::FAILED_OUTCOMES.iter().find_map(|(key, failing)| {
        let value = attrs.get(key)?.as_str();
        let value = value.trim();
        failing
            .iter()
            .any(|f| f.eq_ignore_ascii_case(value))
            .then(|| value.to_owned())
    });
    let failed = status_description.is_some()
        || exception.is_some()
        || failed_outcome.is_some()
        || [
            &fixed.error_type,
            &fixed.exception_type,
            &fixed.exception_message,
        ]
        .iter()
        .any(|table| attrs.first_of(*table).is_some());
    if !failed {
        return (EntryStatus::Ok, None);
    }

    // Event attributes first: they describe this exception; the span's own
    // exception attributes are the same data recorded a second way.
    let from_event_then_span = |table: &Aliases| {
        exception_attrs
            .as_ref()
            .and_then(|e| e.first_of(table))
            .or_else(|| attrs.first_of(table))
            .map(|found| found.value)
    };
    // Owned: the event's attributes and the span's borrow different data.
    let error_type = attrs
        .ident(&fixed.error_type)
        .map(|found| found.value.into_owned())
        .or_else(|| {
            let found = exception_attrs.as_ref()?.ident(&fixed.exception_type)?;
            Some(found.value.into_owned())
        })
        .or_else(|| Some(attrs.ident(&fixed.exception_type)?.value.into_owned()))
        // A source that only reports a failing outcome (`error`) names no
        // type; the outcome is the best the protocol can say.
        .or(failed_outcome);
    let message = from_event_then_span(&fixed.exception_message)
        .and_then(|v| text_of(&v, limit, redactor))
        .or_else(|| {
            let description = status_description?;
            bounded(description, description.len(), limit, redactor)
        })
        .or_else(|| error_event_message(span, limit, redactor));
    let stacktrace = from_event_then_span(&fixed.exception_stacktrace)
        .and_then(|v| text_of(&v, limit, redactor));

    let error =
        (error_type.is_some() || message.is_some() || stacktrace.is_some()).then_some(EntryError {
            error_type,
            message,
            stacktrace,
        });
    (EntryStatus::Error, error)
}

/// The message of the last ERROR-level `tracing` event (its `error` field,
/// else its message), for sources that log a failure instead of recording an
/// exception (swiftide's `error!(error = %e, "Failed tool call")`).
fn error_event_message(span: &SpanData, limit: Limit, redactor: &Redactor) -> Option<String> {
    let (level_key, level) = keys::ERROR_EVENT_LEVEL;
    let event = span.events.iter().rev().find(|e| {
        // The last value recorded under the key, without indexing the event
        // for one look-up.
        e.attributes
            .iter()
            .rev()
            .find(|kv| kv.key.as_str() == level_key)
            .is_some_and(|kv| kv.value.as_str().eq_ignore_ascii_case(level))
    })?;
    let attrs = Attributes::new(&event.attributes);
    match attrs.first_of(&Fixed::get().error_event_message) {
        Some(found) => text_of(&found.value, limit, redactor),
        None => bounded(&event.name, event.name.len(), limit, redactor),
    }
}

/// Whether an event records an exception: named so, or carrying the
/// exception attributes `tracing-opentelemetry` writes on a named event.
fn is_exception(event: &Event) -> bool {
    event.name == keys::EXCEPTION_EVENT
        || event.attributes.iter().any(|kv| {
            let key = kv.key.as_str();
            keys::EXCEPTION_MESSAGE.contains(&key) || keys::EXCEPTION_TYPE.contains(&key)
        })
}

/// A message or stack trace as bounded, redacted text; empty means absent.
fn text_of(value: &Value, limit: Limit, redactor: &Redactor) -> Option<String> {
    match value {
        Value::String(s) => bounded(s.as_str(), s.as_str().len(), limit, redactor),
        // A source chain: one cause per line.
        Value::Array(Array::String(lines)) => {
            let window = limit.with_redaction_margin().max_bytes();
            let total = lines.iter().map(|l| l.as_str().len() + 1).sum::<usize>();
            let mut text = String::new();
            for line in lines {
                if text.len() > window {
                    break;
                }
                if !text.is_empty() {
                    text.push('\n');
                }
                text.push_str(line.as_str());
            }
            bounded(&text, total.saturating_sub(1), limit, redactor)
        }
        other => {
            let text = other.as_str();
            bounded(&text, text.len(), limit, redactor)
        }
    }
}

fn bounded(text: &str, total: usize, limit: Limit, redactor: &Redactor) -> Option<String> {
    if text.trim().is_empty() {
        return None;
    }
    let whole = total <= text.len();
    let text = unquote(text, limit);
    let total = if whole { text.len() } else { total };
    Some(bound_text_of_total(&text, total, limit, redactor).text)
}

/// `tracing-opentelemetry` formats `error = "text"` fields and status
/// descriptions with `{:?}`, which wraps plain strings in quotes and escapes;
/// such a text is shown as the string it was.
fn unquote(text: &str, limit: Limit) -> Cow<'_, str> {
    let quoted = text.len() >= 2 && text.starts_with('"') && text.ends_with('"');
    // Beyond the limit the text is cut anyway; not worth a parse.
    if quoted && text.len() <= limit.max_bytes() {
        if let Ok(plain) = serde_json::from_str::<String>(text) {
            return Cow::Owned(plain);
        }
    }
    Cow::Borrowed(text)
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use opentelemetry::KeyValue;

    use super::*;
    use crate::config::ProtocolConfig;
    use crate::extract::test_support::span;

    fn run(span: &SpanData) -> (EntryStatus, Option<EntryError>) {
        let redactor = Redactor::new(&ProtocolConfig::default()).unwrap();
        outcome(
            span,
            &Attributes::new(&span.attributes),
            Limit::Chars(100),
            &redactor,
        )
    }

    fn event(name: &'static str, attrs: Vec<KeyValue>) -> Event {
        Event::new(name, SystemTime::UNIX_EPOCH, attrs, 0)
    }

    #[test]
    fn a_clean_span_is_ok_without_error() {
        assert_eq!(run(&span("x", vec![])), (EntryStatus::Ok, None));
        let mut s = span("x", vec![]);
        s.status = Status::Ok;
        assert_eq!(run(&s), (EntryStatus::Ok, None));
    }

    #[test]
    fn error_status_gives_its_description_as_message() {
        let mut s = span("x", vec![]);
        s.status = Status::error("upstream timed out");
        let (status, error) = run(&s);
        assert_eq!(status, EntryStatus::Error);
        assert_eq!(
            error.unwrap().message.as_deref(),
            Some("upstream timed out")
        );
    }

    #[test]
    fn error_status_without_description_has_no_error_details() {
        let mut s = span("x", vec![]);
        s.status = Status::error("");
        assert_eq!(run(&s), (EntryStatus::Error, None));
    }

    #[test]
    fn error_type_attribute_alone_marks_an_error() {
        let s = span("x", vec![KeyValue::new("error.type", "RateLimited")]);
        let (status, error) = run(&s);
        assert_eq!(status, EntryStatus::Error);
        assert_eq!(error.unwrap().error_type.as_deref(), Some("RateLimited"));
    }

    #[test]
    fn exception_event_gives_type_message_and_stacktrace() {
        let mut s = span("x", vec![]);
        s.events.events.push(event(
            "exception",
            vec![
                KeyValue::new("exception.type", "ValueError"),
                KeyValue::new("exception.message", "bad input"),
                KeyValue::new("exception.stacktrace", "at main.rs:1"),
            ],
        ));
        let (status, error) = run(&s);
        assert_eq!(status, EntryStatus::Error);
        assert_eq!(
            error.unwrap(),
            EntryError {
                error_type: Some("ValueError".into()),
                message: Some("bad input".into()),
                stacktrace: Some("at main.rs:1".into()),
            }
        );
    }

    #[test]
    fn error_type_attribute_wins_over_exception_type_and_ok_status_is_overridden() {
        let mut s = span("x", vec![KeyValue::new("error.type", "Timeout")]);
        s.status = Status::Ok;
        s.events.events.push(event(
            "exception",
            vec![KeyValue::new("exception.type", "IoError")],
        ));
        let (status, error) = run(&s);
        assert_eq!(status, EntryStatus::Error);
        assert_eq!(error.unwrap().error_type.as_deref(), Some("Timeout"));
    }

    #[test]
    fn tracing_opentelemetry_error_events_and_fields_are_understood() {
        // `tracing::error!(error = "boom")` → exception event, Debug-quoted,
        // plus an error status with the same quoted text.
        let mut s = span("x", vec![]);
        s.status = Status::error("\"boom\"");
        s.events.events.push(event(
            "exception",
            vec![
                KeyValue::new("level", "ERROR"),
                KeyValue::new("exception.message", "\"boom\""),
            ],
        ));
        assert_eq!(run(&s).1.unwrap().message.as_deref(), Some("boom"));

        // `tracing::warn!(error = &e as &dyn Error, "retrying")`: the event
        // keeps its name; the source chain lands in exception.stacktrace.
        let mut s = span(
            "x",
            vec![
                KeyValue::new("exception.message", "connect failed"),
                KeyValue::new(
                    "exception.stacktrace",
                    Value::Array(Array::String(vec!["io error".into(), "refused".into()])),
                ),
            ],
        );
        s.events.events.push(event(
            "retrying",
            vec![
                KeyValue::new("exception.message", "connect failed"),
                KeyValue::new(
                    "exception.stacktrace",
                    Value::Array(Array::String(vec!["io error".into(), "refused".into()])),
                ),
            ],
        ));
        let (status, error) = run(&s);
        assert_eq!(status, EntryStatus::Error);
        let error = error.unwrap();
        assert_eq!(error.message.as_deref(), Some("connect failed"));
        assert_eq!(error.stacktrace.as_deref(), Some("io error\nrefused"));
    }

    #[test]
    fn an_empty_source_chain_is_no_stacktrace() {
        let s = span(
            "x",
            vec![
                KeyValue::new("exception.message", "failed"),
                KeyValue::new("exception.stacktrace", Value::Array(Array::String(vec![]))),
            ],
        );
        let error = run(&s).1.unwrap();
        assert_eq!(error.message.as_deref(), Some("failed"));
        assert_eq!(error.stacktrace, None);
    }

    #[test]
    fn the_last_exception_event_is_reported() {
        let mut s = span("x", vec![]);
        for msg in ["first", "last"] {
            s.events.events.push(event(
                "exception",
                vec![KeyValue::new("exception.message", msg)],
            ));
        }
        s.events.events.push(event("done", vec![]));
        assert_eq!(run(&s).1.unwrap().message.as_deref(), Some("last"));
    }

    #[test]
    fn error_messages_are_redacted_and_bounded() {
        let mut s = span("x", vec![]);
        let long = format!("key sk-abcdefghijklmnopqrstuvwx {}", "y".repeat(1000));
        s.status = Status::error(long);
        let message = run(&s).1.unwrap().message.unwrap();
        assert!(message.starts_with("key [REDACTED] yyy"), "{message}");
        assert!(message.contains("…[truncated,"));
        assert!(message.chars().count() < 140);
    }

    #[test]
    fn unquoting_leaves_other_text_alone() {
        assert_eq!(unquote("\"a\\nb\"", Limit::Chars(50)), "a\nb");
        assert_eq!(unquote("\"half", Limit::Chars(50)), "\"half");
        assert_eq!(unquote("\"", Limit::Chars(50)), "\"");
        assert_eq!(
            unquote("\"a\" and \"b\"", Limit::Chars(50)),
            "\"a\" and \"b\""
        );
    }
}
