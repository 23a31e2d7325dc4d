//! The travel-agent run shared by the examples: a deterministic stand-in for
//! the model (no network, no key), GenAI spans through
//! `reagentic_protocol::instrument`, and a summary read back from the file.

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::Path;

use reagentic_protocol::instrument::{handoff, AgentSpan, Message, ModelCallSpan, ToolSpan, Usage};
use reagentic_protocol::{EntryFilter, ProtocolReader};
use serde_json::json;

const PROVIDER: &str = "local";
const MODEL: &str = "scripted-model-1";

/// A stand-in for a chat model: answers from a script, counts tokens by words.
struct ScriptedModel;

impl ScriptedModel {
    fn answer(&self, prompt: &str) -> String {
        if prompt.starts_with("triage") {
            "This is a travel request: hand off to travel_specialist.".into()
        } else if prompt.starts_with("plan") {
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
    let call = ModelCallSpan::new(PROVIDER, MODEL)
        .temperature(0.0)
        .max_tokens(256)
        .input_messages([Message::user(prompt)])
        .start();
    let answer = call.in_scope(|| model.answer(prompt));
    call.record_output_messages([Message::assistant(answer.as_str()).with_finish_reason("stop")]);
    call.record_usage(Usage::new(words(prompt), words(&answer)));
    call.record_finish_reasons(["stop"]);
    answer
}

/// The weather service's outage, as a tool sees it.
#[derive(Debug)]
pub struct WeatherServiceDown;

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
    arguments: serde_json::Value,
    run: impl FnOnce() -> Result<String, WeatherServiceDown>,
) -> Result<String, WeatherServiceDown> {
    let call = ToolSpan::new(name)
        .call_id(call_id)
        .tool_type("function")
        .arguments(arguments)
        .start();
    let outcome = call.in_scope(run);
    match &outcome {
        Ok(result) => call.record_result(result.as_str()),
        Err(err) => call.record_error(err),
    }
    outcome
}

/// Triage hands off to a travel specialist, which plans with the model and
/// calls three tools; `get_weather` fails once and is retried.
pub fn agent_run(session: &str) -> Result<(), Box<dyn Error>> {
    let model = ScriptedModel;
    let request = "Book me a flight from Berlin to Lisbon next Friday";
    let triage = AgentSpan::new("triage")
        .conversation_id(session)
        .provider(PROVIDER)
        .model(MODEL)
        .input(request)
        .start();
    let outcome = triage.in_scope(|| {
        let decision = chat(&model, &format!("triage: {request}"));
        handoff("triage", "travel_specialist");
        let specialist = AgentSpan::new("travel_specialist")
            .description("Books flights and checks the weather")
            .provider(PROVIDER)
            .model(MODEL)
            .input(request)
            .start();
        let booked = specialist.in_scope(|| specialist_work(&model));
        match &booked {
            Ok(summary) => specialist.record_output(summary.as_str()),
            Err(err) => specialist.record_error(&**err),
        }
        booked.map(|summary| format!("{decision} {summary}"))
    });
    match &outcome {
        Ok(answer) => triage.record_output(answer.as_str()),
        Err(err) => triage.record_error(&**err),
    }
    outcome.map(|_| ())
}

fn specialist_work(model: &ScriptedModel) -> Result<String, Box<dyn Error>> {
    chat(model, "plan the booking BER to LIS");
    tool(
        "search_flights",
        "call_1",
        json!({"from": "BER", "to": "LIS"}),
        || Ok(r#"[{"flight":"TP 537","price_eur":129}]"#.into()),
    )?;
    let mut attempt = 0;
    let weather = loop {
        attempt += 1;
        let call_id = format!("call_2_{attempt}");
        match tool("get_weather", &call_id, json!({"city": "Lisbon"}), || {
            if attempt == 1 {
                Err(WeatherServiceDown)
            } else {
                Ok("18°C, sunny".into())
            }
        }) {
            Ok(weather) => break weather,
            Err(_) if attempt < 3 => continue,
            Err(err) => return Err(err.into()),
        }
    };
    tool("book_flight", "call_3", json!({"flight": "TP 537"}), || {
        Ok("confirmation LX-42".into())
    })?;
    Ok(chat(
        model,
        &format!("summarize: booked TP 537, weather {weather}"),
    ))
}

/// A session id unique to this run.
pub fn new_session() -> String {
    format!("conv-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3f"))
}

/// What the protocol now holds, read back through a separate reader.
pub fn print_summary(path: &Path, session: &str) -> Result<(), Box<dyn Error>> {
    let reader = ProtocolReader::open(path)?;
    let all = reader.query(&EntryFilter::default())?;
    let sessions: BTreeSet<_> = all.iter().filter_map(|e| e.session_id.as_deref()).collect();
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
    let llm_ends = this_run.iter().filter(|e| e.event_type.is_end());
    let (input, output) = llm_ends.fold((0, 0), |(i, o), e| {
        (
            i + e.input_tokens.unwrap_or(0),
            o + e.output_tokens.unwrap_or(0),
        )
    });
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
