//! A process that ends without calling `shutdown` — the provider simply
//! dropped at the end of `main`, or a panic unwinding through it — still
//! writes everything it recorded: dropping the provider shuts the pipeline
//! down, which flushes.
//!
//! The child is a test function: when it panics, the panic unwinds through
//! it (dropping the provider on the way, as it would through `main`) and the
//! process exits with status 101, as a panicking `main` does.

use std::time::Duration;

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};

const SPANS: u64 = 2_000;

fn record_then_end(how: &str) {
    let (provider, handle) = pipeline_at(&child::target_path(), |b| b);
    record_tool_spans(&provider, "recorded", 0, SPANS);
    // Only the provider owns the processor; the handle must not keep the
    // pipeline alive past it.
    drop(handle);
    match how {
        "drop" => drop(provider),
        "panic" => panic!("intentional panic with {} spans unflushed", SPANS),
        other => unreachable!("unknown role {other}"),
    }
}

fn exit_and_check(file_name: &str, how: &str, test_name: &str) {
    if let Some(role) = child::role() {
        return record_then_end(&role);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    // The intended panic needs no backtrace in the test output.
    let mut process = child::spawn_with(test_name, how, &path, |command| {
        command.env("RUST_BACKTRACE", "0");
    });
    let status = process.wait(Duration::from_secs(60));
    match how {
        "drop" => assert!(status.success(), "{status}"),
        _ => assert_eq!(status.code(), Some(101), "{status}"),
    }
    let entries = read_all(&path);
    assert_eq!(count_calls(&entries, "recorded-") as u64, 2 * SPANS);
}

#[test]
fn sqlite_provider_dropped_without_shutdown() {
    exit_and_check(
        "p.db",
        "drop",
        &test_path!(sqlite_provider_dropped_without_shutdown),
    );
}

#[test]
fn jsonl_provider_dropped_without_shutdown() {
    exit_and_check(
        "p.jsonl",
        "drop",
        &test_path!(jsonl_provider_dropped_without_shutdown),
    );
}

#[test]
fn sqlite_panic_unwinding_through_main() {
    exit_and_check(
        "p.db",
        "panic",
        &test_path!(sqlite_panic_unwinding_through_main),
    );
}

#[test]
fn jsonl_panic_unwinding_through_main() {
    exit_and_check(
        "p.jsonl",
        "panic",
        &test_path!(jsonl_panic_unwinding_through_main),
    );
}
