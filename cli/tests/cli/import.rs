//! `import` of OTLP files as the Collector's file exporter writes them:
//! OTLP/JSON lines and length-prefixed protobuf, a run split across records
//! (children first), a damaged record skipped, and importing twice storing
//! nothing twice.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::otlp::{self, text};
use crate::support::{ok, read_all, run, stderr};

fn request(spans: Vec<Span>) -> ExportTraceServiceRequest {
    otlp::request("imported", spans)
}

fn span(id: u64, parent: u64, name: &str, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: vec![7; 16],
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: if parent == 0 {
            Vec::new()
        } else {
            parent.to_be_bytes().to_vec()
        },
        name: name.into(),
        start_time_unix_nano: 1_764_558_000_000_000_000 + id,
        end_time_unix_nano: 1_764_558_001_000_000_000 + id,
        attributes,
        ..Default::default()
    }
}

/// A run in two records: the model and tool calls first, their agent (with
/// the session) after.
fn records() -> [ExportTraceServiceRequest; 2] {
    [
        request(vec![
            span(
                2,
                1,
                "chat gpt-4o",
                vec![text("gen_ai.operation.name", "chat")],
            ),
            span(
                3,
                1,
                "execute_tool search",
                vec![text("gen_ai.operation.name", "execute_tool")],
            ),
        ]),
        request(vec![span(
            1,
            0,
            "invoke_agent planner",
            vec![
                text("gen_ai.operation.name", "invoke_agent"),
                text("gen_ai.conversation.id", "conv-imported"),
            ],
        )]),
    ]
}

fn assert_whole_run(path: &std::path::Path) {
    let entries = read_all(path);
    assert_eq!(entries.len(), 6, "{entries:#?}");
    for entry in &entries {
        assert_eq!(
            entry.session_id.as_deref(),
            Some("conv-imported"),
            "{entry:?}"
        );
        assert_eq!(entry.agent_name.as_deref(), Some("planner"), "{entry:?}");
        assert_eq!(entry.service_name.as_deref(), Some("imported"));
    }
}

#[test]
fn collector_json_lines_import_whole_runs_once() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("traces.jsonl");
    let [first, second] = records();
    let lines = format!(
        "{}\n{{\"resourceSpans\": oops\n{}\n",
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&second).unwrap()
    );
    std::fs::write(&input, lines).unwrap();
    let output = dir.path().join("p.db");
    let args = ["import", input.to_str().unwrap(), output.to_str().unwrap()];
    let out = run(&args);
    ok(&out);
    assert!(stderr(&out).contains("skipped line 2"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("imported 3 span(s)"),
        "{}",
        stderr(&out)
    );
    assert_whole_run(&output);
    ok(&run(&args));
    assert_whole_run(&output);
}

#[test]
fn collector_protobuf_files_import_into_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("traces.pb");
    let mut bytes = Vec::new();
    for record in records() {
        let message = record.encode_to_vec();
        bytes.extend_from_slice(&(message.len() as u32).to_be_bytes());
        bytes.extend_from_slice(&message);
    }
    // A cut-off last message, as a Collector killed mid-write leaves it.
    bytes.extend_from_slice(&100u32.to_be_bytes());
    bytes.extend_from_slice(b"short");
    std::fs::write(&input, bytes).unwrap();
    let output = dir.path().join("p.jsonl");
    let out = run(&["import", input.to_str().unwrap(), output.to_str().unwrap()]);
    ok(&out);
    assert!(
        stderr(&out).contains("message 3: cut off"),
        "{}",
        stderr(&out)
    );
    assert_whole_run(&output);
}
