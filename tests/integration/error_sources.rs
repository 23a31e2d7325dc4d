//! Errors come from the span status, from `error.type`, and from `exception`
//! events — which is what `tracing-opentelemetry` makes of `error = &err`.

use crate::support::{only, Harness};
use reagentic_protocol::{EntryStatus, EventType};

#[derive(Debug)]
struct FlightApiDown;
impl std::fmt::Display for FlightApiDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flight API returned 503")
    }
}
impl std::error::Error for FlightApiDown {}

#[test]
fn every_error_source_marks_the_end_entry() {
    let harness = Harness::sqlite();
    harness.in_scope(|| {
        {
            let s = tool_span!(
                "by_status",
                otel.status_code = tracing::field::Empty,
                otel.status_description = tracing::field::Empty
            );
            let _g = s.enter();
            s.record("otel.status_code", "ERROR");
            s.record("otel.status_description", "quota exhausted");
        }
        {
            let s = tool_span!("by_error_type", error.type = tracing::field::Empty);
            let _g = s.enter();
            s.record("error.type", "RateLimited");
        }
        {
            let s = tool_span!("by_error_field", error = tracing::field::Empty);
            let _g = s.enter();
            let err = FlightApiDown;
            s.record("error", &err as &(dyn std::error::Error + 'static));
        }
        {
            let s = tool_span!("by_error_event");
            let _g = s.enter();
            let err = FlightApiDown;
            tracing::error!(
                error = &err as &(dyn std::error::Error + 'static),
                "call failed"
            );
        }
        {
            let s = tool_span!("fine");
            let _g = s.enter();
        }
    });
    harness.flush();
    let entries = harness.entries();

    let status = only(&entries, EventType::ToolEnd, "by_status");
    assert_eq!(status.status, EntryStatus::Error);
    assert_eq!(
        status.error.as_ref().unwrap().message.as_deref(),
        Some("quota exhausted")
    );

    let typed = only(&entries, EventType::ToolEnd, "by_error_type");
    assert_eq!(typed.status, EntryStatus::Error);
    assert_eq!(
        typed.error.as_ref().unwrap().error_type.as_deref(),
        Some("RateLimited")
    );

    for name in ["by_error_field", "by_error_event"] {
        let e = only(&entries, EventType::ToolEnd, name);
        assert_eq!(e.status, EntryStatus::Error, "{name}: {e:?}");
        let message = e
            .error
            .as_ref()
            .and_then(|x| x.message.clone())
            .unwrap_or_default();
        assert!(
            message.contains("flight API returned 503"),
            "{name}: {message:?}"
        );
    }

    let fine = only(&entries, EventType::ToolEnd, "fine");
    assert_eq!(fine.status, EntryStatus::Ok);
    assert_eq!(fine.error, None);
    // Start entries never claim an outcome.
    assert!(entries
        .iter()
        .filter(|e| e.event_type.is_start())
        .all(|e| e.status == EntryStatus::Unset));
}
