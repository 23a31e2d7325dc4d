//! `serve` with Python agents traced the way their users trace them: the
//! OpenAI Agents SDK through OpenInference's instrumentor
//! (`tests/python/agents_run.py`), and the OpenAI client through the
//! official OpenTelemetry instrumentation with the app's own agent and tool
//! spans (`tests/python/openai_instrumentation_run.py`), exported by the
//! OpenTelemetry SDK over HTTP and gRPC with batch and simple span
//! processors, against a scripted fake OpenAI-compatible server. The stack is installed from PyPI into a
//! virtualenv under the target directory, reused while its pinned
//! requirements stay the same; without python3 and its venv module the test
//! fails, saying what to install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use reagentic_protocol::{EntryStatus, EventType, ProtocolEntry};

use crate::serve_support::Serve;
use crate::support::read_all;

const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// The virtualenv's python, made (or reused) with the pinned requirements;
/// once per test process, so tests running at once never install into it
/// together.
fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(make_venv).clone()
}

fn make_venv() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("serve-python-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.installed");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == REQUIREMENTS) && python.exists() {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed for this test (Debian: apt-get install python3 python3-venv): {e}"));
    assert!(
        made.status.success(),
        "python3 -m venv failed (Debian: apt-get install python3-venv): {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let requirements = venv.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).unwrap();
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(&requirements)
        .output()
        .expect("run pip");
    assert!(
        installed.status.success(),
        "pip install failed (this test needs PyPI): {}",
        String::from_utf8_lossy(&installed.stderr)
    );
    std::fs::write(&stamp, REQUIREMENTS).unwrap();
    python
}

/// The entries of one session.
fn session<'e>(entries: &'e [ProtocolEntry], id: &str) -> Vec<&'e ProtocolEntry> {
    entries
        .iter()
        .filter(|e| e.session_id.as_deref() == Some(id))
        .collect()
}

fn find<'e>(run: &[&'e ProtocolEntry], event: EventType, name: &str) -> Vec<&'e ProtocolEntry> {
    run.iter()
        .copied()
        .filter(|e| e.event_type == event && e.name == name)
        .collect()
}

/// What a user sees in the three runs of one client.
fn assert_runs(entries: &[ProtocolEntry], prefix: &str) {
    let service = format!("py-{prefix}");
    let ok = session(entries, &format!("{prefix}-ok"));
    assert!(!ok.is_empty(), "no run {prefix}-ok in {entries:#?}");
    for entry in &ok {
        assert_eq!(
            entry.service_name.as_deref(),
            Some(service.as_str()),
            "{entry:?}"
        );
    }
    for agent in ["triage_agent", "travel_agent"] {
        assert_eq!(
            find(&ok, EventType::AgentStart, agent).len(),
            1,
            "{agent}: {ok:#?}"
        );
        assert_eq!(
            find(&ok, EventType::AgentEnd, agent).len(),
            1,
            "{agent}: {ok:#?}"
        );
    }
    let guardrail = find(&ok, EventType::GuardrailEnd, "no_secrets");
    assert_eq!(guardrail.len(), 1, "{ok:#?}");
    assert_eq!(guardrail[0].agent_name.as_deref(), Some("triage_agent"));
    let handoff = find(&ok, EventType::Handoff, "travel_agent");
    assert_eq!(handoff.len(), 1, "{ok:#?}");
    assert_eq!(handoff[0].agent_name.as_deref(), Some("triage_agent"));
    let calls: Vec<_> = ok
        .iter()
        .filter(|e| e.event_type == EventType::LlmEnd)
        .collect();
    assert_eq!(calls.len(), 3, "{ok:#?}");
    for call in calls {
        assert_eq!(call.model.as_deref(), Some("gpt-4o-mini"), "{call:?}");
        assert_eq!((call.input_tokens, call.output_tokens), (Some(21), Some(7)));
    }
    let search = find(&ok, EventType::ToolEnd, "search_flights");
    assert_eq!(search.len(), 1, "{ok:#?}");
    assert_eq!(search[0].status, EntryStatus::Ok);
    assert_eq!(search[0].agent_name.as_deref(), Some("travel_agent"));

    let failure = session(entries, &format!("{prefix}-failure"));
    let booked = find(&failure, EventType::ToolEnd, "book_flight");
    assert_eq!(booked.len(), 1, "{failure:#?}");
    assert_eq!(booked[0].status, EntryStatus::Error);
    assert!(booked[0].error.is_some(), "{:?}", booked[0]);

    // The guardrail's own span ends OK (the instrumentor does not export the
    // tripwire); the trip, marked on the turn it stopped, is the guardrail's
    // failure.
    let tripped = session(entries, &format!("{prefix}-guardrail"));
    let checks = find(&tripped, EventType::GuardrailEnd, "no_secrets");
    assert_eq!(
        checks.iter().map(|e| e.status).collect::<Vec<_>>(),
        [EntryStatus::Ok, EntryStatus::Error],
        "{tripped:#?}"
    );
    assert!(
        checks[1]
            .error
            .as_ref()
            .and_then(|e| e.message.as_deref())
            .is_some_and(|m| m.contains("tripwire")),
        "{:?}",
        checks[1]
    );
    assert_eq!(checks[1].agent_name.as_deref(), Some("triage_agent"));
    assert!(
        tripped.iter().all(|e| e.event_type != EventType::LlmEnd),
        "the guardrail stopped the run before any model call: {tripped:#?}"
    );
}

/// Every transport and processor: (transport, processor, endpoint).
fn clients(server: &Serve) -> [(&'static str, &'static str, String); 4] {
    [
        ("http", "simple", format!("http://{}", server.http)),
        ("http", "batch", format!("http://{}", server.http)),
        ("grpc", "simple", format!("http://{}", server.grpc)),
        ("grpc", "batch", format!("http://{}", server.grpc)),
    ]
}

/// Runs the Python agent `script_name` once per client into a new `serve`,
/// and returns the entries and the prefixes the runs were given.
fn run_agents(script_name: &str) -> (Vec<ProtocolEntry>, Vec<String>) {
    let python = python();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocol.db");
    let server = Serve::start(&file, &[]);
    let mut prefixes = Vec::new();
    for (transport, processor, endpoint) in clients(&server) {
        let prefix = format!("{transport}-{processor}");
        let out = Command::new(&python)
            .arg(script(script_name))
            .args([transport, processor, endpoint.as_str(), prefix.as_str()])
            // The exporters must not pick up endpoints from the environment.
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .output()
            .expect("run the Python agent");
        assert!(
            out.status.success(),
            "{prefix}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            server.log()
        );
        prefixes.push(prefix);
    }
    (read_all(&file), prefixes)
}

#[test]
fn openai_agents_through_openinference_over_http_and_grpc_batch_and_simple() {
    let (entries, prefixes) = run_agents("agents_run.py");
    for prefix in &prefixes {
        assert_runs(&entries, prefix);
    }
}

/// The official OpenTelemetry OpenAI instrumentation writes model calls
/// only; the agent and tool spans are the app's. The protocol joins them
/// into one run: the calls get the agent and the conversation, their tokens
/// and messages, and a refused call is a failure.
#[test]
fn the_official_openai_instrumentation_over_http_and_grpc_batch_and_simple() {
    let (entries, prefixes) = run_agents("openai_instrumentation_run.py");
    for prefix in &prefixes {
        let service = format!("py-{prefix}");
        let ok = session(&entries, &format!("{prefix}-ok"));
        assert_eq!(
            find(&ok, EventType::AgentEnd, "planner").len(),
            1,
            "{ok:#?}"
        );
        let calls: Vec<_> = ok
            .iter()
            .filter(|e| e.event_type == EventType::LlmEnd)
            .collect();
        assert_eq!(calls.len(), 2, "{ok:#?}");
        for call in &calls {
            assert_eq!(call.model.as_deref(), Some("gpt-4o-mini"), "{call:?}");
            assert_eq!(call.provider.as_deref(), Some("openai"), "{call:?}");
            assert_eq!((call.input_tokens, call.output_tokens), (Some(21), Some(7)));
            assert_eq!(call.agent_name.as_deref(), Some("planner"), "{call:?}");
            assert_eq!(call.service_name.as_deref(), Some(service.as_str()));
            assert_eq!(call.status, EntryStatus::Ok);
        }
        let content = |c: &Option<reagentic_protocol::Content>| {
            c.as_ref().map(|c| c.to_string()).unwrap_or_default()
        };
        // The messages sent are on the call's start, the answer on its end.
        let asked = find(&ok, EventType::LlmStart, "chat gpt-4o-mini");
        assert_eq!(asked.len(), 2, "{ok:#?}");
        assert!(
            content(&asked[0].input).contains("where should I fly"),
            "{:?}",
            asked[0]
        );
        assert!(
            content(&calls[0].output).contains("Berlin, 21 degrees"),
            "{:?}",
            calls[0]
        );
        let tool = find(&ok, EventType::ToolEnd, "get_weather");
        assert_eq!(tool.len(), 1, "{ok:#?}");
        assert_eq!(tool[0].agent_name.as_deref(), Some("planner"));

        let failure = session(&entries, &format!("{prefix}-failure"));
        let refused: Vec<_> = failure
            .iter()
            .filter(|e| e.event_type == EventType::LlmEnd)
            .collect();
        assert_eq!(refused.len(), 1, "{failure:#?}");
        assert_eq!(refused[0].status, EntryStatus::Error, "{:?}", refused[0]);
        let error = refused[0].error.as_ref().expect("the refusal's error");
        assert!(
            format!("{error:?}").contains("model overloaded"),
            "{error:?}"
        );
        let agent = find(&failure, EventType::AgentEnd, "planner");
        assert_eq!(agent[0].status, EntryStatus::Error, "{failure:#?}");
    }
}
