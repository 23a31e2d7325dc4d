//! OTLP alongside: a real OTLP/gRPC endpoint in the test process receives
//! every span the protocol recorded, with its GenAI attributes and the
//! service name — and the guard's drop alone delivers to both sinks.

use std::time::Duration;

use crate::support::collector::Collector;
use crate::support::{instrumented_run, read_all};
use reagentic_protocol::install::{OtlpExport, OtlpProtocol};
use reagentic_protocol::EventType;
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn every_recorded_span_also_arrives_over_otlp_grpc() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    let (layer, guard) = reagentic_protocol::install::builder(&path)
        .with_service_name("otlp-alongside")
        .with_fmt_layer(false)
        .with_otlp_export(
            OtlpExport::from_env()
                .with_protocol(OtlpProtocol::Grpc)
                .with_endpoint(collector.endpoint()),
        )
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || instrumented_run("conv-otlp"));
    // No flush: the batch processor's schedule (5 s) has not come round, so
    // only the drop can deliver the OTLP side in time.
    drop(guard);

    let entries = read_all(&path);
    assert_eq!(entries.len(), 15);
    let spans = collector.wait_for(8, Duration::from_secs(5));
    assert_eq!(spans.len(), 8, "{spans:#?}");

    for entry in &entries {
        let span = spans
            .iter()
            .find(|s| s.span_id == entry.span_id && s.trace_id == entry.trace_id)
            .unwrap_or_else(|| panic!("no OTLP span for {entry:?}"));
        assert_eq!(span.service_name.as_deref(), Some("otlp-alongside"));
        assert_eq!(entry.service_name.as_deref(), Some("otlp-alongside"));
        match entry.event_type {
            EventType::AgentStart | EventType::AgentEnd => {
                assert_eq!(span.attr_str("gen_ai.operation.name"), Some("invoke_agent"));
                assert_eq!(
                    span.attr_str("gen_ai.agent.name"),
                    entry.agent_name.as_deref()
                );
                assert_eq!(span.attr_str("gen_ai.conversation.id"), Some("conv-otlp"));
                assert_eq!(span.name, format!("invoke_agent {}", entry.name));
            }
            EventType::LlmStart | EventType::LlmEnd => {
                assert_eq!(span.attr_str("gen_ai.operation.name"), Some("chat"));
                assert_eq!(span.attr_str("gen_ai.provider.name"), Some("local"));
                assert_eq!(
                    span.attr_str("gen_ai.request.model"),
                    entry.model.as_deref()
                );
                assert_eq!(span.name, "chat scripted-1");
                if let Some(tokens) = entry.input_tokens {
                    assert_eq!(
                        span.attr("gen_ai.usage.input_tokens"),
                        Some(&serde_json::json!(tokens)),
                        "token counts are integers over OTLP"
                    );
                }
            }
            EventType::ToolStart | EventType::ToolEnd => {
                assert_eq!(span.attr_str("gen_ai.operation.name"), Some("execute_tool"));
                assert_eq!(
                    span.attr_str("gen_ai.tool.name"),
                    entry.tool_name.as_deref()
                );
                assert_eq!(
                    span.attr_str("gen_ai.tool.call.id"),
                    entry.tool_call_id.as_deref()
                );
                assert_eq!(span.name, format!("execute_tool {}", entry.name));
                if entry.is_error() {
                    assert_eq!(
                        span.attr_str("error.type"),
                        entry.error.as_ref().and_then(|e| e.error_type.as_deref())
                    );
                }
            }
            EventType::Handoff => {
                assert_eq!(span.name, "handoff");
                assert_eq!(span.attr_str("handoff.from_agent"), Some("triage"));
                assert_eq!(span.attr_str("handoff.to_agent"), Some(entry.name.as_str()));
            }
            other => panic!("unexpected entry type {other}"),
        }
    }
    // And the other way round: nothing reached the collector that the
    // protocol does not hold.
    for span in &spans {
        assert!(
            entries.iter().any(|e| e.span_id == span.span_id),
            "OTLP span {} is not in the protocol",
            span.name
        );
    }
    let finish_reasons = spans
        .iter()
        .find_map(|s| s.attr("gen_ai.response.finish_reasons"))
        .expect("finish reasons on a model span");
    assert_eq!(
        finish_reasons,
        &serde_json::json!(["stop"]),
        "a string array"
    );
}

#[test]
fn the_guard_closes_cleanly_inside_an_async_runtime() {
    use reagentic_protocol::instrument::{AgentSpan, ToolSpan};
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    // A `current_thread` runtime, as under `#[tokio::main(flavor = "current_thread")]`:
    // building, recording and dropping the guard all happen inside it.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (layer, guard) = reagentic_protocol::install::builder(&path)
            .with_fmt_layer(false)
            .with_otlp_export(
                OtlpExport::from_env()
                    .with_protocol(OtlpProtocol::Grpc)
                    .with_endpoint(collector.endpoint()),
            )
            .build()
            .expect("build");
        let subscriber = tracing_subscriber::registry().with(layer);
        let _default = tracing::subscriber::set_default(subscriber);
        let agent = AgentSpan::new("async")
            .conversation_id("conv-async")
            .start();
        agent
            .instrument(async {
                let tool = ToolSpan::new("sleep").start();
                tool.instrument(tokio::time::sleep(Duration::from_millis(2)))
                    .await;
                tool.record_result("slept");
            })
            .await;
        drop(agent);
        guard.flush().expect("flush inside the runtime");
        drop(guard);
    });
    assert_eq!(read_all(&path).len(), 4);
    assert_eq!(collector.wait_for(2, Duration::from_secs(5)).len(), 2);
}
