//! Content shaped to break parsers and C strings: JSON nested deeper than
//! any parser's recursion limit, at every depth around the limit, NUL bytes
//! and control characters. Written, readable back through both forms, no panic.

use crate::support::{pipeline_at, read_all, Format};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use reagentic_protocol::{DetailLevel, EventType, ProtocolConfig};

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn check(format: Format, detail: DetailLevel) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format.file_name());
    let config = ProtocolConfig::default()
        .with_detail(detail)
        .with_max_content_chars(1 << 20);
    let (provider, handle) = pipeline_at(&path, |b| b.with_config(config));
    let tracer = provider.tracer("nested");
    // Every depth around serde_json's limit of 128, then far past it.
    let depths: Vec<usize> = (100..140).chain([1_000, 100_000]).collect();
    for &depth in &depths {
        let mut span = tracer
            .span_builder(format!("execute_tool depth{depth}"))
            .with_attributes([
                KeyValue::new("gen_ai.tool.call.arguments", nested(depth)),
                KeyValue::new(
                    "gen_ai.tool.call.result",
                    format!("nul\0byte {depth}\u{1}\u{1f}"),
                ),
                KeyValue::new("extra.nested", nested(depth)),
            ])
            .start(&tracer);
        span.end();
    }
    handle.force_flush().expect("flush");
    let reader = reagentic_protocol::ProtocolReader::open(&path).unwrap();
    let entries = reader.query(&Default::default()).unwrap();
    assert_eq!(reader.skipped_lines(), vec![], "{format:?} {detail:?}");
    let ends: Vec<_> = entries
        .iter()
        .filter(|e| e.event_type == EventType::ToolEnd)
        .collect();
    assert_eq!(ends.len(), depths.len(), "{format:?} {detail:?}");
    for end in ends {
        if detail != DetailLevel::Minimal {
            let output = end.output.as_ref().and_then(|o| o.as_text()).unwrap();
            assert!(output.starts_with("nul\0byte"), "{output:?}");
        }
    }
    provider.shutdown().unwrap();
    assert_eq!(read_all(&path).len(), 2 * depths.len());
}

#[test]
fn sqlite_keeps_hostile_content_readable() {
    for detail in [
        DetailLevel::Minimal,
        DetailLevel::Standard,
        DetailLevel::Full,
    ] {
        check(Format::Sqlite, detail);
    }
}

#[test]
fn jsonl_keeps_hostile_content_readable() {
    for detail in [
        DetailLevel::Minimal,
        DetailLevel::Standard,
        DetailLevel::Full,
    ] {
        check(Format::Jsonl, detail);
    }
}
