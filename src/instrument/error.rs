//! Recording a failed step the way OpenTelemetry's "recording errors"
//! convention asks: status `Error`, `error.type`, and an `exception` event.

use std::error::Error;

use opentelemetry_semantic_conventions::attribute::{
    ERROR_TYPE, EXCEPTION_STACKTRACE, EXCEPTION_TYPE,
};
use tracing::Span;

use super::TARGET;

/// Anything [`record_error`](super::AgentRun::record_error) accepts: every
/// `E: std::error::Error + 'static`, and `dyn Error` itself (so `&*boxed`
/// works for a `Box<dyn Error>`).
///
/// Sealed: the blanket implementations cover every error type.
pub trait AsDynError: sealed::Sealed {
    /// The error as a trait object.
    fn as_dyn_error(&self) -> &(dyn Error + 'static);

    /// The `error.type` to record: the error's type name, or `_OTHER` (the
    /// conventions' fallback) when only a `dyn Error` is known.
    fn error_type(&self) -> &'static str;
}

mod sealed {
    pub trait Sealed {}
    impl<E: std::error::Error + 'static> Sealed for E {}
    impl Sealed for dyn std::error::Error + 'static {}
    impl Sealed for dyn std::error::Error + Send + 'static {}
    impl Sealed for dyn std::error::Error + Send + Sync + 'static {}
}

/// The conventions' `error.type` when the instrumentation knows no better.
const OTHER: &str = "_OTHER";

impl<E: Error + 'static> AsDynError for E {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }

    fn error_type(&self) -> &'static str {
        std::any::type_name::<E>()
    }
}

impl AsDynError for dyn Error + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }

    fn error_type(&self) -> &'static str {
        OTHER
    }
}

impl AsDynError for dyn Error + Send + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }

    fn error_type(&self) -> &'static str {
        OTHER
    }
}

impl AsDynError for dyn Error + Send + Sync + 'static {
    fn as_dyn_error(&self) -> &(dyn Error + 'static) {
        self
    }

    fn error_type(&self) -> &'static str {
        OTHER
    }
}

/// Marks `span` failed with `error`. The span must have declared
/// `error.type`, `otel.status_code` and `otel.status_description` (every
/// helper span does).
pub(crate) fn record_error<E: AsDynError + ?Sized>(span: &Span, error: &E) {
    let error_type = error.error_type();
    let error = error.as_dyn_error();
    let message = error.to_string();
    span.record(ERROR_TYPE, error_type);
    span.record("otel.status_code", "error");
    span.record("otel.status_description", message.as_str());
    // The source chain, one cause per line: the closest thing to a stack
    // trace a Rust error carries.
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let stacktrace = (!causes.is_empty()).then(|| causes.join("\n"));
    // An unnamed event whose first field is `error` becomes an `exception`
    // span event in tracing-opentelemetry, with `exception.message`.
    tracing::event!(
        target: TARGET,
        parent: span,
        tracing::Level::ERROR,
        error = %message,
        { EXCEPTION_TYPE } = error_type,
        { EXCEPTION_STACKTRACE } = stacktrace.as_deref(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outage;

    impl std::fmt::Display for Outage {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service unavailable")
        }
    }

    impl Error for Outage {}

    #[test]
    fn concrete_errors_name_their_type_and_dyn_errors_fall_back() {
        assert!(
            Outage.error_type().ends_with("::Outage"),
            "{}",
            Outage.error_type()
        );
        let boxed: Box<dyn Error + Send + Sync> = Box::new(Outage);
        assert_eq!((*boxed).error_type(), "_OTHER");
        assert_eq!((*boxed).as_dyn_error().to_string(), "service unavailable");
        let plain: &(dyn Error + 'static) = &Outage;
        assert_eq!(plain.error_type(), "_OTHER");
    }
}
