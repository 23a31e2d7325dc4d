//! Shared by the command-line tests: protocol files written by the real
//! pipeline, and running the real binary on them.
#![allow(dead_code)] // each test file uses a different part

use std::path::Path;
use std::process::{Command, Output};

use tracing::field::Empty;

use crate::support::{Format, Harness};
use crate::{agent_span, llm_span, tool_span};

/// The session whose weather lookup fails once.
pub const TRAVEL: &str = "conv-travel";
/// A quick session without failures, recorded after the travel one.
pub const SMALL_TALK: &str = "conv-small-talk";

/// The binary under test.
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reagentic-protocol"));
    command.env_remove("NO_COLOR").env_remove("COLUMNS");
    command
}

/// Runs the binary with `args`.
pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run reagentic-protocol")
}

/// Runs it on `path` with the subcommand first and the file second.
pub fn run_on(command: &str, path: &Path, rest: &[&str]) -> Output {
    let mut args = vec![command, path.to_str().expect("UTF-8 path")];
    args.extend_from_slice(rest);
    run(&args)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

/// Asserts success and returns stdout.
pub fn ok(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
    stdout(output)
}

/// Parses stdout as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).expect("JSON on stdout")
}

#[derive(Debug)]
struct ServiceDown;

impl std::fmt::Display for ServiceDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("weather service answered 503")
    }
}

impl std::error::Error for ServiceDown {}

/// One tool call; `fail` records the error the way instrumented code does.
fn tool_call(name: &str, call_id: &str, arguments: &str, fail: bool) {
    let span = tool_span!(
        name,
        gen_ai.tool.call.id = call_id,
        gen_ai.tool.call.arguments = arguments,
        gen_ai.tool.call.result = Empty,
        error.type = Empty
    );
    let _entered = span.enter();
    std::thread::sleep(std::time::Duration::from_millis(2));
    if fail {
        span.record("error.type", "ServiceDown");
        let err = ServiceDown;
        tracing::error!(
            error = &err as &(dyn std::error::Error + 'static),
            "tool failed"
        );
    } else {
        span.record("gen_ai.tool.call.result", format!("{name} result").as_str());
    }
}

fn model_call(prompt: &str, tokens_in: u64, tokens_out: u64) {
    let span = llm_span!(
        "gpt-4o",
        gen_ai.input.messages = prompt,
        gen_ai.usage.input_tokens = tokens_in,
        gen_ai.usage.output_tokens = tokens_out
    );
    let _entered = span.enter();
}

/// Records the travel run: triage → handoff → travel_specialist, with model
/// calls, a failing then retried `get_weather`, and `book_flight`.
pub fn record_travel_run(harness: &Harness) {
    harness.in_scope(|| {
        let triage = agent_span!("triage", gen_ai.conversation.id = TRAVEL);
        let _triage = triage.enter();
        model_call("triage: book me a flight from Berlin to Lisbon", 11, 9);
        tracing::info_span!(
            "handoff",
            handoff.from_agent = "triage",
            handoff.to_agent = "travel_specialist"
        )
        .in_scope(|| {});
        let specialist = agent_span!("travel_specialist");
        let _specialist = specialist.enter();
        model_call("plan the booking", 6, 6);
        tool_call(
            "search_flights",
            "call_1",
            r#"{"from":"BER","to":"LIS"}"#,
            false,
        );
        tool_call("get_weather", "call_2", r#"{"city":"Lisbon"}"#, true);
        tool_call("get_weather", "call_3", r#"{"city":"Lisbon"}"#, false);
        tool_call("book_flight", "call_4", r#"{"flight":"TP 537"}"#, false);
    });
}

/// Records a short session with one model call and no tools.
pub fn record_small_talk(harness: &Harness) {
    harness.in_scope(|| {
        let agent = agent_span!("chatter", gen_ai.conversation.id = SMALL_TALK);
        let _agent = agent.enter();
        model_call("hello there", 3, 4);
    });
}

/// A protocol file with the travel run, then the small-talk session, flushed.
pub fn travel_protocol(format: Format) -> Harness {
    let harness = Harness::new(format, |b| b);
    record_travel_run(&harness);
    std::thread::sleep(std::time::Duration::from_millis(5));
    record_small_talk(&harness);
    harness.flush();
    harness
}
