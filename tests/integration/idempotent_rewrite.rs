//! Writing the same spans twice stores each entry once (deterministic ids).

use std::time::{Duration, SystemTime};

use crate::support::{read_all, Format};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use reagentic_protocol::{JsonlStorage, ProtocolExporter, SqliteStorage};

fn finished_tool_span(i: u64) -> SpanData {
    let start = SystemTime::now();
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
            SpanId::from(i + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: format!("execute_tool t{i}").into(),
        start_time: start,
        end_time: start + Duration::from_millis(5),
        attributes: vec![
            KeyValue::new("gen_ai.operation.name", "execute_tool"),
            KeyValue::new("gen_ai.tool.name", format!("t{i}")),
        ],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Ok,
        instrumentation_scope: Default::default(),
    }
}

fn export_twice(format: Format) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format.file_name());
    let exporter = match format {
        Format::Sqlite => ProtocolExporter::builder(SqliteStorage::open(&path).unwrap()),
        Format::Jsonl => ProtocolExporter::builder(JsonlStorage::open(&path).unwrap()),
    }
    .build()
    .unwrap();
    let batch: Vec<_> = (0..10).map(finished_tool_span).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(exporter.export(batch.clone())).unwrap();
    runtime.block_on(exporter.export(batch)).unwrap();
    exporter.shutdown().unwrap();

    let entries = read_all(&path);
    assert_eq!(
        entries.len(),
        20,
        "{format:?}: 10 spans × start+end, once each"
    );
    let ids: std::collections::HashSet<_> = entries.iter().map(|e| &e.entry_id).collect();
    assert_eq!(ids.len(), 20);
}

#[test]
fn sqlite_stores_a_rewritten_entry_once() {
    export_twice(Format::Sqlite);
}

#[test]
fn jsonl_readers_see_a_rewritten_entry_once() {
    export_twice(Format::Jsonl);
}
