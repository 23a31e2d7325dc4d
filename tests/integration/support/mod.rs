//! Shared harness: a real `tracing` → `tracing-opentelemetry` →
//! `SdkTracerProvider` → protocol pipeline writing a real file in a temp dir,
//! read back through a second connection.

#[macro_use]
pub mod child;
/// The library's own test log capture, compiled in here too: an integration
/// test cannot reach the crate's `#[cfg(test)]` code. Only the PostgreSQL
/// tests read logs here; without that feature it would be unused.
#[cfg(feature = "postgres")]
#[path = "../../../src/test_logs.rs"]
mod test_logs;
#[cfg(feature = "postgres")]
pub(crate) use test_logs::{logs_of, LogBuffer};
#[cfg(feature = "postgres")]
pub mod postgres;

use std::path::{Path, PathBuf};

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use reagentic_protocol::pipeline::ProtocolProcessorBuilder;
use reagentic_protocol::{
    EntryFilter, EventType, JsonlStorage, ProtocolConfig, ProtocolEntry, ProtocolHandle,
    ProtocolProcessor, ProtocolReader, SqliteStorage,
};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// The two storage forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    Jsonl,
}

impl Format {
    pub const BOTH: [Format; 2] = [Format::Sqlite, Format::Jsonl];

    pub fn file_name(self) -> &'static str {
        match self {
            Format::Sqlite => "protocol.db",
            Format::Jsonl => "protocol.jsonl",
        }
    }
}

/// A running pipeline and the file it writes.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub provider: SdkTracerProvider,
    pub handle: ProtocolHandle,
    pub dispatch: Dispatch,
}

impl Harness {
    /// SQLite at default settings.
    pub fn sqlite() -> Self {
        Self::new(Format::Sqlite, |b| b)
    }

    /// JSON Lines at default settings.
    pub fn jsonl() -> Self {
        Self::new(Format::Jsonl, |b| b)
    }

    /// Default settings but the given extraction config.
    pub fn with_config(format: Format, config: ProtocolConfig) -> Self {
        Self::new(format, |b| b.with_config(config))
    }

    /// A pipeline whose processor builder the caller may adjust.
    pub fn new(
        format: Format,
        configure: impl FnOnce(ProtocolProcessorBuilder) -> ProtocolProcessorBuilder,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(format.file_name());
        let builder = match format {
            Format::Sqlite => ProtocolProcessor::builder(SqliteStorage::open(&path).expect("open")),
            Format::Jsonl => ProtocolProcessor::builder(JsonlStorage::open(&path).expect("open")),
        };
        let processor = configure(builder).build().expect("build processor");
        let handle = processor.handle();
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().with_service_name("test-agent").build())
            .with_span_processor(processor)
            .build();
        let dispatch = dispatch_for(&provider);
        Self {
            dir,
            path,
            provider,
            handle,
            dispatch,
        }
    }

    /// Runs `f` with this pipeline as the thread's subscriber.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// `force_flush` through the provider, as an application would.
    pub fn flush(&self) {
        self.provider.force_flush().expect("force_flush");
    }

    /// Every entry in the file, read through a separate reader.
    pub fn entries(&self) -> Vec<ProtocolEntry> {
        read_all(&self.path)
    }
}

/// A `tracing` dispatcher that sends spans into `provider`.
pub fn dispatch_for(provider: &SdkTracerProvider) -> Dispatch {
    let tracer = provider.tracer("reagentic-protocol-tests");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    Dispatch::new(subscriber)
}

/// Reads a protocol file through a fresh reader (a second connection).
pub fn read_all(path: &std::path::Path) -> Vec<ProtocolEntry> {
    ProtocolReader::open(path)
        .expect("open reader")
        .query(&EntryFilter::default())
        .expect("query")
}

/// The one entry matching `event_type` and `name`; panics with the list otherwise.
pub fn only<'a>(
    entries: &'a [ProtocolEntry],
    event_type: EventType,
    name: &str,
) -> &'a ProtocolEntry {
    let found: Vec<_> = entries
        .iter()
        .filter(|e| e.event_type == event_type && e.name == name)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {event_type} named {name:?}, got {}: {:#?}",
        found.len(),
        entries
            .iter()
            .map(|e| (e.event_type, e.name.clone()))
            .collect::<Vec<_>>()
    );
    found[0]
}

/// Opens a GenAI agent span the way agent code does with `tracing`.
#[macro_export]
macro_rules! agent_span {
    ($name:expr $(, $($field:tt)*)?) => {
        tracing::info_span!(
            "invoke_agent",
            otel.name = format!("invoke_agent {}", $name),
            gen_ai.operation.name = "invoke_agent",
            gen_ai.agent.name = $name
            $(, $($field)*)?
        )
    };
}

/// Opens a GenAI model-call span.
#[macro_export]
macro_rules! llm_span {
    ($model:expr $(, $($field:tt)*)?) => {
        tracing::info_span!(
            "chat",
            otel.name = format!("chat {}", $model),
            gen_ai.operation.name = "chat",
            gen_ai.request.model = $model,
            gen_ai.provider.name = "openai"
            $(, $($field)*)?
        )
    };
}

/// Opens a GenAI tool span.
#[macro_export]
macro_rules! tool_span {
    ($tool:expr $(, $($field:tt)*)?) => {
        tracing::info_span!(
            "execute_tool",
            otel.name = format!("execute_tool {}", $tool),
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = $tool
            $(, $($field)*)?
        )
    };
}

/// A real OTLP/gRPC endpoint for the `otlp` tests.
#[cfg(feature = "otlp")]
pub mod collector;

/// A small multi-agent run through the `instrument` helpers: triage asks the
/// model and hands off; the specialist asks the model and calls a tool, then
/// a second tool that fails once and is retried. 8 spans, 15 entries.
pub fn instrumented_run(session: &str) {
    use reagentic_protocol::instrument::{handoff, AgentSpan, ModelCallSpan, ToolSpan, Usage};

    #[derive(Debug)]
    struct Unavailable;
    impl std::fmt::Display for Unavailable {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("service unavailable")
        }
    }
    impl std::error::Error for Unavailable {}

    let triage = AgentSpan::new("triage")
        .conversation_id(session)
        .input("Book a flight")
        .start();
    triage.in_scope(|| {
        let call = ModelCallSpan::new("local", "scripted-1").start();
        call.in_scope(|| {});
        call.record_output("hand off");
        call.record_usage(Usage::new(10, 4));
        call.record_finish_reasons(["stop"]);
        drop(call);
        handoff("triage", "specialist");
    });
    drop(triage);
    let specialist = AgentSpan::new("specialist")
        .conversation_id(session)
        .start();
    specialist.in_scope(|| {
        let call = ModelCallSpan::new("local", "scripted-1").start();
        call.in_scope(|| {});
        call.record_usage(Usage::new(20, 8));
        drop(call);
        let search = ToolSpan::new("search")
            .call_id("call_1")
            .arguments(r#"{"q":"BER-LIS"}"#)
            .start();
        search.in_scope(|| {});
        search.record_result("TP 537");
        drop(search);
        for attempt in 1..=2 {
            let weather = ToolSpan::new("weather")
                .call_id(format!("call_2_{attempt}"))
                .start();
            weather.in_scope(|| {});
            if attempt == 1 {
                weather.record_error(&Unavailable);
            } else {
                weather.record_result("sunny");
            }
        }
    });
}

/// A pipeline writing `path` (SQLite or JSON Lines by extension, or a
/// `postgres://` URL), inside a tracer provider, for code that records spans
/// through the OTel API.
pub fn pipeline_at(
    path: &Path,
    configure: impl FnOnce(ProtocolProcessorBuilder) -> ProtocolProcessorBuilder,
) -> (SdkTracerProvider, ProtocolHandle) {
    #[cfg(feature = "postgres")]
    if path.to_string_lossy().starts_with("postgres://") {
        let storage = reagentic_protocol::PostgresStorage::connect(&path.to_string_lossy())
            .expect("connect postgres");
        return provider_for(configure(ProtocolProcessor::builder(storage)));
    }
    let builder = if path.extension().is_some_and(|e| e == "jsonl") {
        ProtocolProcessor::builder(JsonlStorage::open(path).expect("open jsonl"))
    } else {
        ProtocolProcessor::builder(SqliteStorage::open(path).expect("open sqlite"))
    };
    provider_for(configure(builder))
}

/// Builds the processor and puts it inside a tracer provider.
pub fn provider_for(builder: ProtocolProcessorBuilder) -> (SdkTracerProvider, ProtocolHandle) {
    let processor = builder.build().expect("build processor");
    let handle = processor.handle();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    (provider, handle)
}

/// Records `count` tool spans named `execute_tool {tool}` (two entries each),
/// with call ids `{tool}-{first}` … so a test can tell exactly which landed.
pub fn record_tool_spans(provider: &SdkTracerProvider, tool: &str, first: u64, count: u64) {
    let tracer = provider.tracer("reagentic-protocol-tests");
    for n in first..first + count {
        let mut span = tracer
            .span_builder(format!("execute_tool {tool}"))
            .with_attributes([opentelemetry::KeyValue::new(
                "gen_ai.tool.call.id",
                format!("{tool}-{n}"),
            )])
            .start(&tracer);
        span.end();
    }
}

/// How many entries have a `tool_call_id` starting with `prefix`.
pub fn count_calls(entries: &[ProtocolEntry], prefix: &str) -> usize {
    entries
        .iter()
        .filter(|e| {
            e.tool_call_id
                .as_deref()
                .is_some_and(|c| c.starts_with(prefix))
        })
        .count()
}

/// A complete entry (every field set) for storage-level tests, numbered `n`.
pub fn sample_entry(n: u32) -> ProtocolEntry {
    serde_json::from_value(serde_json::json!({
        "schema": reagentic_protocol::SCHEMA_VERSION,
        "entry_id": format!("4bf92f3577b34da6a3ce929d0e0e4736:{n:016x}:end"),
        "timestamp": format!("2026-11-27T03:00:{:02}.123456Z", n % 60),
        "event_type": "tool_end",
        "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "span_id": format!("{n:016x}"),
        "parent_span_id": "53995c3f42cd8ad8",
        "session_id": format!("conv-{}", n % 3),
        "service_name": "travel-agent",
        "agent_name": "planner",
        "name": "search_flights",
        "model": "gpt-4o",
        "provider": "openai",
        "tool_name": "search_flights",
        "tool_call_id": format!("call_{n}"),
        "input": {"from": "BER", "n": n},
        "output": "3 flights",
        "input_tokens": 10,
        "output_tokens": 7,
        "duration_ms": 182.4,
        "status": "error",
        "error": {"type": "Timeout", "message": "took too long", "stacktrace": null},
        "attributes": {"retry": true}
    }))
    .expect("valid sample entry")
}
