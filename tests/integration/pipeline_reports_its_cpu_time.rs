//! The pipeline's threads report the CPU time they used, read after a flush
//! from a real `tracing` + SDK pipeline: what the protocol costs the machine,
//! whatever the wall clock says about a busy one.

use std::time::{Duration, Instant};

use crate::support::{Format, Harness};

fn tool_spans(harness: &Harness, spans: usize) {
    harness.in_scope(|| {
        for i in 0..spans {
            let _tool = tracing::info_span!(
                "execute_tool",
                gen_ai.operation.name = "execute_tool",
                gen_ai.tool.name = "get_weather",
                gen_ai.tool.call.arguments = format!(r#"{{"city":"Lisbon","day":{i}}}"#).as_str(),
            )
            .entered();
        }
    });
}

fn reports_cpu_time(format: Format) {
    let started = Instant::now();
    let harness = Harness::new(format, |b| b);
    tool_spans(&harness, 2_000);
    harness.handle.force_flush().expect("flush");
    let first = harness.handle.stats();
    assert_eq!(first.entries_written, 4_000);
    assert!(first.extraction_cpu > Duration::ZERO, "{first:?}");
    assert!(first.writer_cpu > Duration::ZERO, "{first:?}");

    tool_spans(&harness, 20_000);
    harness.handle.force_flush().expect("flush");
    let second = harness.handle.stats();
    assert_eq!(second.entries_written, 44_000);
    // Ten times the spans: each thread's total grows, and neither thread can
    // have run for longer than the pipeline has existed.
    assert!(second.extraction_cpu > first.extraction_cpu, "{second:?}");
    assert!(second.writer_cpu > first.writer_cpu, "{second:?}");
    let lived = started.elapsed();
    assert!(second.extraction_cpu <= lived, "{second:?} in {lived:?}");
    assert!(second.writer_cpu <= lived, "{second:?} in {lived:?}");
}

#[test]
fn sqlite_pipeline_reports_its_cpu_time() {
    reports_cpu_time(Format::Sqlite);
}

#[test]
fn jsonl_pipeline_reports_its_cpu_time() {
    reports_cpu_time(Format::Jsonl);
}
