//! `force_flush` and `shutdown` work — without deadlock, within bounds — from
//! plain code, a multi-thread runtime, a `current_thread` runtime, a spawned
//! task and `spawn_blocking`, and what they acknowledge is readable.

use std::time::{Duration, Instant};

use crate::support::Harness;

fn record_one(harness: &Harness, tool: &str) {
    harness.in_scope(|| {
        let span = tool_span!(tool);
        let _g = span.enter();
    });
}

fn assert_flushed(harness: &Harness, tool: &str) {
    let started = Instant::now();
    harness.handle.force_flush().expect("flush");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        harness.entries().iter().any(|e| e.name == tool),
        "{tool} readable after flush"
    );
}

#[test]
fn flush_from_plain_code() {
    let harness = Harness::sqlite();
    record_one(&harness, "plain");
    assert_flushed(&harness, "plain");
}

#[test]
fn flush_inside_current_thread_runtime() {
    let harness = Harness::sqlite();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        record_one(&harness, "current_thread");
        // Blocking here must not starve the writer: it is an OS thread.
        harness.provider.force_flush().expect("flush via provider");
        assert!(harness.entries().iter().any(|e| e.name == "current_thread"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_inside_multi_thread_runtime() {
    let harness = Harness::jsonl();
    record_one(&harness, "multi_thread");
    assert_flushed(&harness, "multi_thread");
}

#[tokio::test(flavor = "current_thread")]
async fn flush_inside_spawned_task_and_spawn_blocking() {
    let harness = std::sync::Arc::new(Harness::sqlite());
    record_one(&harness, "spawned");
    let h = harness.clone();
    tokio::spawn(async move { assert_flushed(&h, "spawned") })
        .await
        .unwrap();
    record_one(&harness, "blocking");
    let h = harness.clone();
    tokio::task::spawn_blocking(move || assert_flushed(&h, "blocking"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn shutdown_inside_current_thread_runtime_writes_everything() {
    let harness = Harness::sqlite();
    record_one(&harness, "before_shutdown");
    let started = Instant::now();
    harness.provider.shutdown().expect("shutdown");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(harness
        .entries()
        .iter()
        .any(|e| e.name == "before_shutdown"));
}
