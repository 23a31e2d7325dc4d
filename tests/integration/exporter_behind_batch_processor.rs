//! `ProtocolExporter` behind the SDK's own `BatchSpanProcessor`: the
//! provider's flush makes the entries durable, with sessions inherited.

use crate::support::{dispatch_for, only, read_all};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
use reagentic_protocol::{EventType, JsonlStorage, ProtocolExporter};

#[test]
fn batch_processor_with_protocol_exporter_writes_start_and_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.jsonl");
    let exporter = ProtocolExporter::builder(JsonlStorage::open(&path).unwrap())
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .build();
    tracing::dispatcher::with_default(&dispatch_for(&provider), || {
        let agent = agent_span!("planner", gen_ai.conversation.id = "conv-exp");
        let _a = agent.enter();
        let tool = tool_span!("search");
        let _t = tool.enter();
    });
    provider.force_flush().unwrap();
    let entries = read_all(&path);
    assert_eq!(entries.len(), 4);
    // The child finished (and was exported) before its parent; it still
    // inherits the parent's session and agent.
    let tool = only(&entries, EventType::ToolStart, "search");
    assert_eq!(tool.session_id.as_deref(), Some("conv-exp"));
    assert_eq!(tool.agent_name.as_deref(), Some("planner"));
    assert!(only(&entries, EventType::ToolEnd, "search")
        .duration_ms
        .is_some());
    provider.shutdown().unwrap();
}
