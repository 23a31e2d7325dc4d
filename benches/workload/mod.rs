//! The agent run both benches record: four GenAI spans (agent, model call,
//! two tools) with realistic attributes and content, made through `tracing`
//! the way agent code makes them. One file, so the PostgreSQL figures and
//! the SQLite and JSON Lines figures rest on the same spans.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, Span, SpanData, SpanProcessor};
use reagentic_protocol::unstable::Extractor;
use reagentic_protocol::ProtocolEntry;
use tracing::field::Empty;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;

/// The model call's input: a system and a user message, as GenAI JSON.
pub const INPUT_MESSAGES: &str = r#"[{"role":"system","parts":[{"type":"text","content":"You are a travel planner. Answer briefly and call tools when you need facts."}]},{"role":"user","parts":[{"type":"text","content":"Find me a flight from Berlin to Lisbon next Friday, morning departure, and tell me the weather there."}]}]"#;
/// The model call's output: a tool call.
pub const OUTPUT_MESSAGES: &str = r#"[{"role":"assistant","parts":[{"type":"tool_call","id":"call_1","name":"search_flights","arguments":{"from":"BER","to":"LIS","date":"2026-12-04"}}],"finish_reason":"tool_call"}]"#;

/// One agent run, made the way agent code makes it: `tracing` spans with
/// GenAI fields, some recorded after the span started.
pub fn agent_run(i: u64) {
    let session = format!("sess-{}", i % 1_000);
    let agent = tracing::info_span!(
        "invoke_agent",
        otel.name = "invoke_agent planner",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "planner",
        gen_ai.conversation.id = session.as_str(),
    );
    let _a = agent.enter();
    {
        let llm = tracing::info_span!(
            "chat",
            otel.name = "chat gpt-4o",
            gen_ai.operation.name = "chat",
            gen_ai.provider.name = "openai",
            gen_ai.request.model = "gpt-4o",
            gen_ai.input.messages = INPUT_MESSAGES,
            gen_ai.output.messages = Empty,
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
        );
        let _l = llm.enter();
        llm.record("gen_ai.usage.input_tokens", 412_u64);
        llm.record("gen_ai.usage.output_tokens", 37_u64);
        llm.record("gen_ai.output.messages", OUTPUT_MESSAGES);
    }
    for (tool, args, result) in [
        (
            "search_flights",
            r#"{"from":"BER","to":"LIS","date":"2026-12-04"}"#,
            r#"[{"flight":"TP 537","dep":"07:10","price_eur":129},{"flight":"FR 1234","dep":"09:45","price_eur":64}]"#,
        ),
        (
            "get_weather",
            r#"{"city":"Lisbon","date":"2026-12-04"}"#,
            "18°C, sunny, light wind from the north-west",
        ),
    ] {
        let span = tracing::info_span!(
            "execute_tool",
            otel.name = format!("execute_tool {tool}"),
            gen_ai.operation.name = "execute_tool",
            gen_ai.tool.name = tool,
            gen_ai.tool.call.id = "call_1",
            gen_ai.tool.call.arguments = args,
            gen_ai.tool.call.result = Empty,
        );
        let _t = span.enter();
        span.record("gen_ai.tool.call.result", result);
    }
}

/// A `tracing` dispatch that records into `provider` through
/// `tracing-opentelemetry`, as an application would.
pub fn dispatch_for(provider: &SdkTracerProvider) -> Dispatch {
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("bench"));
    Dispatch::new(tracing_subscriber::registry().with(layer))
}

/// Extracts on the application thread into memory: how the storage-limit
/// scenario gets the very rows the pipeline would write.
#[derive(Debug)]
pub struct CollectingProcessor {
    /// The extractor and the entries it made so far.
    pub state: Arc<Mutex<(Extractor, Vec<ProtocolEntry>)>>,
}

impl SpanProcessor for CollectingProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        if let (Some(data), Ok(mut state)) = (span.exported_data(), self.state.lock()) {
            let (extractor, entries) = &mut *state;
            extractor.on_start(&data, entries);
        }
    }
    fn on_end(&self, span: SpanData) {
        if let Ok(mut state) = self.state.lock() {
            let (extractor, entries) = &mut *state;
            extractor.on_end(&span, entries);
        }
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
