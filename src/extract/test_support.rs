//! Hand-built spans for the extractor's tests.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanEvents, SpanLinks, SpanProcessor};

/// The trace every test span belongs to unless it says otherwise.
pub(crate) const TRACE: u128 = 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736;

/// When test spans start: 2023-11-14T22:13:20Z.
pub(crate) fn start_time() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

/// A root span in [`TRACE`] with span id 1, lasting 1.5 s.
pub(crate) fn span(name: &str, attributes: Vec<KeyValue>) -> SpanData {
    span_at(TRACE, 1, 0, name, attributes)
}

/// A span with the given ids (parent 0: a root), lasting 1.5 s.
pub(crate) fn span_at(
    trace: u128,
    id: u64,
    parent: u64,
    name: &str,
    attributes: Vec<KeyValue>,
) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(name.to_owned()),
        start_time: start_time(),
        end_time: start_time() + Duration::from_millis(1_500),
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

/// The spans `emit` produces through a real `tracing` →
/// `tracing-opentelemetry` → SDK pipeline, in the order they ended.
pub(crate) fn spans_from_tracing(emit: impl FnOnce()) -> Vec<SpanData> {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;

    let collector = Collector::default();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(collector.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, emit);
    let spans = collector.0.lock().map(|v| v.clone()).unwrap_or_default();
    let _ = provider.shutdown();
    spans
}

#[derive(Debug, Clone, Default)]
struct Collector(Arc<Mutex<Vec<SpanData>>>);

impl SpanProcessor for Collector {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, span: SpanData) {
        if let Ok(mut spans) = self.0.lock() {
            spans.push(span);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The built-in vocabulary (no user aliases or rules), for reading facts.
pub(crate) fn builtin() -> &'static super::vocabulary::Vocabulary {
    static BUILTIN: std::sync::OnceLock<super::vocabulary::Vocabulary> = std::sync::OnceLock::new();
    BUILTIN.get_or_init(|| super::vocabulary::Vocabulary::new(&crate::ProtocolConfig::default()))
}
