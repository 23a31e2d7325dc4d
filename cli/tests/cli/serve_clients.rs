//! `serve` with the OpenTelemetry SDK's own OTLP exporter, as a Rust agent
//! uses it: HTTP/protobuf (gzip), HTTP/JSON and gRPC (gzip), one span per
//! request (the simple processor: children arrive before their agent), into
//! one server; the file is read through a second connection while the
//! server writes, and again after it stopped.

use std::time::Duration;

use opentelemetry::trace::{Span, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use reagentic_protocol::{EntryStatus, EventType, ProtocolEntry};

use crate::serve_support::{provider, Serve};
use crate::support::read_all;

/// An agent run as GenAI instrumentation writes it: the agent (with the
/// conversation), a model call with tokens, and a tool call that fails.
fn agent_run(provider: &SdkTracerProvider, conversation: &str) {
    let tracer = provider.tracer("agent-test");
    let mut agent = tracer
        .span_builder("invoke_agent planner")
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "invoke_agent"),
            KeyValue::new("gen_ai.agent.name", "planner"),
            KeyValue::new("gen_ai.conversation.id", conversation.to_owned()),
        ])
        .start(&tracer);
    agent.set_attribute(KeyValue::new("gen_ai.input.messages", "plan a trip"));
    let cx = Context::current_with_span(agent);
    let mut chat = tracer
        .span_builder("chat gpt-4o")
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "chat"),
            KeyValue::new("gen_ai.request.model", "gpt-4o"),
            KeyValue::new("gen_ai.usage.input_tokens", 12),
            KeyValue::new("gen_ai.usage.output_tokens", 5),
        ])
        .start_with_context(&tracer, &cx);
    chat.end();
    let mut tool = tracer
        .span_builder("execute_tool search_flights")
        .with_attributes([
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", "search_flights"),
            KeyValue::new("error.type", "TimeoutError"),
        ])
        .start_with_context(&tracer, &cx);
    tool.set_status(Status::error("no flights found"));
    tool.end();
    cx.span().end();
}

/// The run of `conversation` as read back: agent, model call and failed
/// tool, each with the session, the agent and the service.
fn assert_run(entries: &[ProtocolEntry], conversation: &str, service: &str) {
    let run: Vec<&ProtocolEntry> = entries
        .iter()
        .filter(|e| e.session_id.as_deref() == Some(conversation))
        .collect();
    let of = |event: EventType| {
        run.iter()
            .find(|e| e.event_type == event)
            .unwrap_or_else(|| panic!("no {event:?} in the run of {conversation}: {run:#?}"))
    };
    assert_eq!(run.len(), 6, "{run:#?}");
    for entry in &run {
        assert_eq!(entry.agent_name.as_deref(), Some("planner"), "{entry:?}");
        assert_eq!(entry.service_name.as_deref(), Some(service), "{entry:?}");
    }
    let llm = of(EventType::LlmEnd);
    assert_eq!(llm.model.as_deref(), Some("gpt-4o"));
    assert_eq!((llm.input_tokens, llm.output_tokens), (Some(12), Some(5)));
    let tool = of(EventType::ToolEnd);
    assert_eq!(tool.tool_name.as_deref(), Some("search_flights"));
    assert_eq!(tool.status, EntryStatus::Error);
    of(EventType::AgentStart);
    of(EventType::AgentEnd);
}

#[test]
fn the_sdk_exporter_over_http_protobuf_http_json_and_grpc_writes_whole_runs() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocol.db");
    let mut server = Serve::start(&file, &[]);

    let http_protobuf = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .with_endpoint(format!("http://{}/v1/traces", server.http))
        .build()
        .unwrap();
    let provider_a = provider(http_protobuf, "svc-protobuf");
    agent_run(&provider_a, "conv-protobuf");
    provider_a.shutdown().unwrap();

    let http_json = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpJson)
        .with_endpoint(format!("http://{}/v1/traces", server.http))
        .build()
        .unwrap();
    let provider_b = provider(http_json, "svc-json");
    agent_run(&provider_b, "conv-json");
    provider_b.shutdown().unwrap();

    // tonic needs a runtime to drive its connection while the simple
    // processor blocks this thread on each export.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let guard = runtime.enter();
    let grpc = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_compression(opentelemetry_otlp::Compression::Gzip)
        .with_endpoint(format!("http://{}", server.grpc))
        .with_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let provider_c = provider(grpc, "svc-grpc");
    agent_run(&provider_c, "conv-grpc");
    provider_c.shutdown().unwrap();
    drop(guard);

    // Every export was answered after its commit: a second connection sees
    // all of it while the server is still running.
    let entries = read_all(&file);
    assert_run(&entries, "conv-protobuf", "svc-protobuf");
    assert_run(&entries, "conv-json", "svc-json");
    assert_run(&entries, "conv-grpc", "svc-grpc");
    assert_eq!(entries.len(), 18, "nothing else, nothing twice");

    // The run pages are served on the same port, from the same file.
    let listed = server.request("GET", "/api/sessions", &[], b"");
    assert_eq!(listed.status, 200, "{}", listed.text());
    for conversation in ["conv-protobuf", "conv-json", "conv-grpc"] {
        assert!(listed.text().contains(conversation), "{}", listed.text());
    }
    let page = server.request("GET", "/run/conv-grpc", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page.text().contains("<html"), "{}", page.text());

    let (status, took) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status:?}\n{}", server.log());
    assert!(took < Duration::from_secs(10));
    let log = server.log();
    assert!(log.contains("stopped: 9 spans committed"), "{log}");
    // The last line says what the recorder's threads cost (Linux reports
    // a thread's CPU time): seconds, and no more than the test has run.
    #[cfg(target_os = "linux")]
    for thread in ["extraction ", "writer "] {
        let seconds: f64 = log
            .split("; CPU: ")
            .nth(1)
            .and_then(|cpu| cpu.split(thread).nth(1))
            .and_then(|rest| rest.split(" s").next())
            .and_then(|seconds| seconds.parse().ok())
            .unwrap_or_else(|| panic!("no {thread}CPU time in the last line: {log}"));
        assert!(
            (0.0..=started.elapsed().as_secs_f64()).contains(&seconds),
            "{log}"
        );
    }
    assert_eq!(read_all(&file).len(), 18);
}

#[test]
fn serve_writes_into_postgresql_and_never_prints_the_password() {
    const PASSWORD: &str = "pw-Serve-SECRET-2718";
    // The test server does not check the password; it must still appear
    // nowhere the server writes.
    let url = crate::postgres_server::database("serve_into_postgres").replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    let mut server = Serve::start(std::path::Path::new(&url), &[]);
    let provider = server.http_provider("svc-postgres");
    // One span per request, children before their agent: the fill rule
    // completes them in the database.
    agent_run(&provider, "conv-postgres");
    provider.shutdown().unwrap();

    let entries = read_all(std::path::Path::new(&url));
    assert_run(&entries, "conv-postgres", "svc-postgres");
    let (status, _) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status}");
    let log = server.log();
    assert!(log.contains("postgres://postgres@"), "{log}");
    assert!(!log.contains(PASSWORD), "{log}");
}

#[test]
fn retention_prunes_old_runs_while_serving_and_keeps_recent_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocol.db");
    let mut server = Serve::start(&file, &["--retention", "1d"]);
    let provider = server.http_provider("svc-retention");
    let tracer = provider.tracer("retention-test");
    // A run that ended three days ago (a backfill), then one of today.
    let old = std::time::SystemTime::now() - Duration::from_secs(3 * 86_400);
    for (conversation, at) in [("conv-old", Some(old)), ("conv-new", None)] {
        let mut builder = tracer
            .span_builder("invoke_agent planner")
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                KeyValue::new("gen_ai.agent.name", "planner"),
                KeyValue::new("gen_ai.conversation.id", conversation),
            ]);
        if let Some(at) = at {
            builder = builder.with_start_time(at);
        }
        let mut span = builder.start(&tracer);
        match at {
            Some(at) => span.end_with_timestamp(at + Duration::from_secs(2)),
            None => span.end(),
        }
    }
    provider.shutdown().unwrap();

    // The writer prunes while it has nothing to write: the old run goes
    // within seconds, the recent one stays.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let sessions = |entries: &[ProtocolEntry], id: &str| {
        entries
            .iter()
            .filter(|e| e.session_id.as_deref() == Some(id))
            .count()
    };
    loop {
        let entries = read_all(&file);
        assert_eq!(sessions(&entries, "conv-new"), 2, "{entries:#?}");
        if sessions(&entries, "conv-old") == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the old run is still there: {entries:#?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, _) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status}");
    // Both runs were received and committed: the old one was pruned, not
    // refused.
    let log = server.log();
    assert!(log.contains("stopped: 2 spans committed"), "{log}");
}
