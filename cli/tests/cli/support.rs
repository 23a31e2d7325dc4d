//! Protocol files written by the library's real pipeline (through its public
//! installer and instrumentation helpers), and the built binary run on them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reagentic_protocol::install::ProtocolGuard;
use reagentic_protocol::instrument::{handoff, AgentSpan, Message, ModelCallSpan, ToolSpan, Usage};
use reagentic_protocol::{EntryFilter, ProtocolEntry, ProtocolReader};
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt as _;

/// The session whose weather lookup fails once.
pub const TRAVEL: &str = "conv-travel";
/// A quick session without failures, recorded after the travel one.
pub const SMALL_TALK: &str = "conv-small-talk";

/// The two storage forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Sqlite,
    Jsonl,
}

impl Format {
    pub const BOTH: [Format; 2] = [Format::Sqlite, Format::Jsonl];

    fn file_name(self) -> &'static str {
        match self {
            Format::Sqlite => "protocol.db",
            Format::Jsonl => "protocol.jsonl",
        }
    }
}

/// A running pipeline writing a protocol file in a temporary folder.
pub struct Protocol {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    guard: ProtocolGuard,
    dispatch: Dispatch,
}

impl Protocol {
    /// An empty protocol of this format, its pipeline running.
    pub fn new(format: Format) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(format.file_name());
        Self::at(dir, path)
    }

    /// An empty protocol at `path` (a file in `dir`, or a database URL),
    /// its pipeline running.
    pub fn at(dir: tempfile::TempDir, path: PathBuf) -> Self {
        let (layer, guard) = reagentic_protocol::install::builder(&path)
            .with_service_name("test-agent")
            .with_fmt_layer(false)
            .build()
            .expect("build the pipeline");
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
        Protocol {
            dir,
            path,
            guard,
            dispatch,
        }
    }

    /// Runs `f` with this pipeline recording its spans (on this thread only).
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        tracing::dispatcher::with_default(&self.dispatch, f)
    }

    /// Everything recorded so far is in the file.
    pub fn flush(&self) {
        self.guard.flush().expect("flush");
    }

    /// Flushes and closes the file: nothing writes to it afterwards.
    pub fn shut_down(&self) {
        self.guard.shutdown().expect("shut down");
    }

    /// The path as a string, for arguments.
    pub fn arg(&self) -> &str {
        self.path.to_str().expect("UTF-8 path")
    }
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
    let tool = ToolSpan::new(name)
        .call_id(call_id)
        .arguments(arguments)
        .start();
    tool.in_scope(|| std::thread::sleep(std::time::Duration::from_millis(2)));
    if fail {
        tool.record_error(&ServiceDown);
    } else {
        tool.record_result(format!("{name} result"));
    }
}

fn model_call(prompt: &str, tokens_in: u64, tokens_out: u64) {
    let call = ModelCallSpan::new("openai", "gpt-4o")
        .input_messages([Message::user(prompt)])
        .start();
    call.record_usage(Usage::new(tokens_in, tokens_out));
}

/// Records the travel run: triage → handoff → travel_specialist, with model
/// calls, a failing then retried `get_weather`, and `book_flight`.
pub fn record_travel_run(protocol: &Protocol) {
    protocol.in_scope(|| {
        let triage = AgentSpan::new("triage").conversation_id(TRAVEL).start();
        triage.in_scope(|| {
            model_call("triage: book me a flight from Berlin to Lisbon", 11, 9);
            handoff("triage", "travel_specialist");
            let specialist = AgentSpan::new("travel_specialist").start();
            specialist.in_scope(|| {
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
        });
    });
}

/// Records a short session with one model call and no tools.
pub fn record_small_talk(protocol: &Protocol) {
    protocol.in_scope(|| {
        let agent = AgentSpan::new("chatter")
            .conversation_id(SMALL_TALK)
            .start();
        agent.in_scope(|| model_call("hello there", 3, 4));
    });
}

/// A protocol file with the travel run, then the small-talk session, flushed:
/// 21 entries (10 spans × start and end, one handoff).
pub fn travel_protocol(format: Format) -> Protocol {
    let protocol = Protocol::new(format);
    record_travel_run(&protocol);
    std::thread::sleep(std::time::Duration::from_millis(5));
    record_small_talk(&protocol);
    protocol.flush();
    protocol
}

/// Every entry in a protocol file, through the library's reader.
pub fn read_all(path: &Path) -> Vec<ProtocolEntry> {
    ProtocolReader::open(path)
        .expect("open reader")
        .query(&EntryFilter::default())
        .expect("query")
}

/// The binary under test, with the environment that changes its output
/// (colour, width) cleared.
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_reagentic-protocol"));
    for variable in ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "COLUMNS"] {
        command.env_remove(variable);
    }
    command
}

/// Starts `command` with its stdout read line by line on a thread: the
/// lines arrive on the receiver as the command prints them (for commands
/// that run until stopped, such as `tail -f`).
pub fn spawn_with_lines(
    mut command: Command,
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::BufRead;
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start reagentic-protocol");
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, lines)
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

/// Asserts success and parses stdout as JSON.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_str(&ok(output)).expect("JSON on stdout")
}
