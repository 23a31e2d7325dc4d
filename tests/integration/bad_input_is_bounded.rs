//! Hostile spans — 10 MB attributes, thousands of attributes, invalid JSON
//! content, empty names, end before start — are written, bounded, no panic.

use std::time::{Duration, SystemTime};

use crate::support::read_all;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::trace::SdkTracerProvider;
use reagentic_protocol::{
    DetailLevel, EventType, ProtocolConfig, ProtocolProcessor, SqliteStorage,
};

fn pipeline(detail: DetailLevel) -> (tempfile::TempDir, std::path::PathBuf, SdkTracerProvider) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.db");
    let processor = ProtocolProcessor::builder(SqliteStorage::open(&path).unwrap())
        .with_config(
            ProtocolConfig::default()
                .with_detail(detail)
                .with_full_content_cap(64 * 1024),
        )
        .build()
        .unwrap();
    let provider = SdkTracerProvider::builder()
        .with_max_attributes_per_span(20_000)
        .with_span_processor(processor)
        .build();
    (dir, path, provider)
}

#[test]
fn hostile_spans_are_written_within_caps() {
    for detail in [
        DetailLevel::Minimal,
        DetailLevel::Standard,
        DetailLevel::Full,
    ] {
        let (_dir, path, provider) = pipeline(detail);
        let tracer = provider.tracer("hostile");
        let huge = "x".repeat(10 * 1024 * 1024);

        let mut span = tracer.start("execute_tool huge");
        span.set_attribute(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        span.set_attribute(KeyValue::new("gen_ai.tool.call.arguments", huge.clone()));
        span.set_attribute(KeyValue::new("gen_ai.tool.call.result", "{not json"));
        span.end();

        let mut span = tracer.start("chat many");
        span.set_attribute(KeyValue::new("gen_ai.operation.name", "chat"));
        for i in 0..10_000 {
            span.set_attribute(KeyValue::new(format!("junk.{i}"), huge[..1024].to_owned()));
        }
        span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", "not a number"));
        span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", -5_i64));
        span.end();

        // No name at all: classified by its attributes, known at start.
        let mut span = tracer
            .span_builder("")
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                KeyValue::new("gen_ai.agent.name", "nul\0agent"),
            ])
            .start(&tracer);
        span.end();

        // Clock skew: the span ends before it started.
        let start = SystemTime::now();
        let mut span = tracer
            .span_builder("execute_tool skewed")
            .with_start_time(start)
            .start(&tracer);
        span.set_attribute(KeyValue::new("gen_ai.operation.name", "execute_tool"));
        span.end_with_timestamp(start - Duration::from_secs(3));

        provider.force_flush().unwrap();
        let entries = read_all(&path);
        assert_eq!(
            entries.len(),
            8,
            "{detail:?}: {:?}",
            entries
                .iter()
                .map(|e| (e.event_type, e.name.clone()))
                .collect::<Vec<_>>()
        );
        for entry in &entries {
            let bytes = entry.to_json_line().unwrap().len();
            assert!(
                bytes < 4 * 64 * 1024 + 16 * 1024,
                "{detail:?}: {} is {bytes} bytes",
                entry.name
            );
        }
        let many = entries
            .iter()
            .find(|e| e.event_type == EventType::LlmEnd)
            .unwrap();
        assert_eq!((many.input_tokens, many.output_tokens), (None, None));
        let skewed = entries
            .iter()
            .find(|e| e.event_type == EventType::ToolEnd && e.name == "skewed")
            .unwrap();
        assert_eq!(skewed.duration_ms, Some(0.0));
        let agent = entries
            .iter()
            .find(|e| e.event_type == EventType::AgentEnd)
            .unwrap();
        assert!(!agent.name.is_empty());
        if detail != DetailLevel::Minimal {
            let tool = entries
                .iter()
                .find(|e| {
                    e.event_type == EventType::ToolEnd && e.tool_name.as_deref() == Some("huge")
                })
                .unwrap();
            assert_eq!(
                tool.output,
                Some(serde_json::json!("{not json").into()),
                "invalid JSON kept as text"
            );
        }
        provider.shutdown().unwrap();
    }
}
