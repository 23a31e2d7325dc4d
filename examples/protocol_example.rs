//! A multi-agent run recorded into `protocol.db`, then read back.
//!
//! A triage agent asks a (deterministic, local) model what to do, hands off to
//! a travel specialist, which calls the model and several tools — one of them
//! fails once and is retried. Everything lands in the protocol through the
//! real `tracing` → `tracing-opentelemetry` → `SdkTracerProvider` pipeline.
//!
//! ```text
//! cargo run --example protocol_example            # writes ./protocol.db
//! cargo run --example protocol_example -- p.jsonl # or JSON Lines
//! ```

use std::collections::BTreeMap;
use std::error::Error;
use std::path::PathBuf;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use reagentic_protocol::{
    EntryFilter, JsonlStorage, ProtocolProcessor, ProtocolProcessorBuilder, ProtocolReader,
    SqliteStorage,
};
use tracing::field::Empty;
use tracing_subscriber::layer::SubscriberExt;

/// A stand-in for a chat model: answers from a script, counts tokens by words.
struct ScriptedModel;

impl ScriptedModel {
    fn answer(&self, prompt: &str) -> String {
        if prompt.contains("triage") {
            "This is a travel request: hand off to travel_specialist.".into()
        } else if prompt.contains("plan") {
            "Call search_flights, then get_weather, then book_flight.".into()
        } else {
            "Booked BER→LIS on 12 Dec, 18°C and sunny. Have a good trip!".into()
        }
    }
}

fn words(text: &str) -> u64 {
    text.split_whitespace().count() as u64
}

/// One model call as a GenAI `chat` span, with usage recorded when known.
fn chat(model: &ScriptedModel, prompt: &str) -> String {
    let span = tracing::info_span!(
        "chat",
        otel.name = "chat scripted-model-1",
        gen_ai.operation.name = "chat",
        gen_ai.provider.name = "local",
        gen_ai.request.model = "scripted-model-1",
        gen_ai.input.messages =
            format!(r#"[{{"role":"user","parts":[{{"type":"text","content":"{prompt}"}}]}}]"#),
        gen_ai.output.messages = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
    );
    let _entered = span.enter();
    let answer = model.answer(prompt);
    span.record("gen_ai.usage.input_tokens", words(prompt));
    span.record("gen_ai.usage.output_tokens", words(&answer));
    span.record(
        "gen_ai.output.messages",
        format!(r#"[{{"role":"assistant","parts":[{{"type":"text","content":"{answer}"}}]}}]"#),
    );
    answer
}

#[derive(Debug)]
struct WeatherServiceDown;

impl std::fmt::Display for WeatherServiceDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("weather service answered 503 Service Unavailable")
    }
}

impl Error for WeatherServiceDown {}

/// One tool call as a GenAI `execute_tool` span; a failure is recorded on it.
fn tool(
    name: &str,
    call_id: &str,
    arguments: &str,
    run: impl FnOnce() -> Result<String, WeatherServiceDown>,
) -> Result<String, WeatherServiceDown> {
    let span = tracing::info_span!(
        "execute_tool",
        otel.name = format!("execute_tool {name}"),
        gen_ai.operation.name = "execute_tool",
        gen_ai.tool.name = name,
        gen_ai.tool.call.id = call_id,
        gen_ai.tool.call.arguments = arguments,
        gen_ai.tool.call.result = Empty,
        error.type = Empty,
    );
    let _entered = span.enter();
    let outcome = run();
    match &outcome {
        Ok(result) => {
            span.record("gen_ai.tool.call.result", result.as_str());
        }
        Err(err) => {
            span.record("error.type", "WeatherServiceDown");
            tracing::error!(error = err as &(dyn Error + 'static), "tool call failed");
        }
    }
    outcome
}

fn agent_run(session: &str) -> Result<(), Box<dyn Error>> {
    let model = ScriptedModel;
    let triage = tracing::info_span!(
        "invoke_agent",
        otel.name = "invoke_agent triage",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "triage",
        gen_ai.conversation.id = session,
        input.value = "Book me a flight from Berlin to Lisbon next Friday",
    );
    let _triage = triage.enter();
    chat(
        &model,
        "triage: Book me a flight from Berlin to Lisbon next Friday",
    );
    tracing::info_span!(
        "handoff",
        handoff.from_agent = "triage",
        handoff.to_agent = "travel_specialist"
    )
    .in_scope(|| {});

    let specialist = tracing::info_span!(
        "invoke_agent",
        otel.name = "invoke_agent travel_specialist",
        gen_ai.operation.name = "invoke_agent",
        gen_ai.agent.name = "travel_specialist",
    );
    let _specialist = specialist.enter();
    chat(&model, "plan the booking BER to LIS");
    tool(
        "search_flights",
        "call_1",
        r#"{"from":"BER","to":"LIS"}"#,
        || Ok(r#"[{"flight":"TP 537","price_eur":129}]"#.into()),
    )?;
    let mut attempts = 0;
    let weather = loop {
        attempts += 1;
        let call_id = format!("call_2_{attempts}");
        match tool("get_weather", &call_id, r#"{"city":"Lisbon"}"#, || {
            if attempts == 1 {
                Err(WeatherServiceDown)
            } else {
                Ok("18°C, sunny".into())
            }
        }) {
            Ok(weather) => break weather,
            Err(_) if attempts < 3 => continue,
            Err(err) => return Err(err.into()),
        }
    };
    tool("book_flight", "call_3", r#"{"flight":"TP 537"}"#, || {
        Ok("confirmation LX-42".into())
    })?;
    chat(
        &model,
        &format!("summarize: booked TP 537, weather {weather}"),
    );
    Ok(())
}

fn builder_for(path: &PathBuf) -> Result<ProtocolProcessorBuilder, Box<dyn Error>> {
    let is_jsonl = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("jsonl" | "ndjson")
    );
    Ok(if is_jsonl {
        ProtocolProcessor::builder(JsonlStorage::open(path)?)
    } else {
        ProtocolProcessor::builder(SqliteStorage::open(path)?)
    })
}

fn main() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "protocol.db".into()),
    );
    let processor = builder_for(&path)?.build()?;
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name("travel-agent")
                .build(),
        )
        .with_span_processor(processor)
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("protocol_example")));

    let session = format!("conv-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"));
    let run = tracing::subscriber::with_default(subscriber, || agent_run(&session));
    // Close everything even when the run failed: shutdown flushes first.
    provider.shutdown()?;
    run?;

    print_summary(&path, &session)
}

fn print_summary(path: &PathBuf, session: &str) -> Result<(), Box<dyn Error>> {
    let reader = ProtocolReader::open(path)?;
    let all = reader.query(&EntryFilter::default())?;
    let sessions: std::collections::BTreeSet<_> =
        all.iter().filter_map(|e| e.session_id.as_deref()).collect();
    let this_run = reader.query(&EntryFilter::default().with_session(session))?;

    println!(
        "protocol {} holds {} entries in {} sessions",
        path.display(),
        all.len(),
        sessions.len()
    );
    println!("\nthis run ({session}):");
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for entry in &this_run {
        *by_type.entry(entry.event_type.as_str()).or_default() += 1;
    }
    for (event_type, count) in &by_type {
        println!("  {event_type:<16} {count}");
    }
    let input: u64 = this_run
        .iter()
        .filter(|e| e.event_type.is_end())
        .filter_map(|e| e.input_tokens)
        .sum();
    let output: u64 = this_run
        .iter()
        .filter(|e| e.event_type.is_end())
        .filter_map(|e| e.output_tokens)
        .sum();
    println!("  tokens           {input} in / {output} out");
    for entry in this_run.iter().filter(|e| e.is_error()) {
        let message = entry
            .error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .unwrap_or("");
        println!(
            "  error            {} in {} ({}): {message}",
            entry.name,
            entry.agent_name.as_deref().unwrap_or("?"),
            entry.tool_call_id.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
