//! With `Durability::Full`, a batch the writer has committed survives a
//! SIGKILL even though the application never called `force_flush`.
//!
//! (A process kill cannot cut power: that `Full` also survives power loss
//! rests on its `fsync`/`synchronous=FULL`, which this test cannot observe.)

use std::time::{Duration, Instant};

use crate::support::{child, count_calls, read_all, record_tool_spans};
use reagentic_protocol::{Durability, JsonlStorage, ProtocolProcessor, SqliteStorage, Storage};

const SPANS: u64 = 300;

fn record_and_wait_for_commit() {
    let path = child::target_path();
    let storage: Box<dyn FnOnce() -> ProtocolProcessor> = if path.extension().unwrap() == "db" {
        Box::new(|| {
            build(
                SqliteStorage::builder(&path)
                    .with_durability(Durability::Full)
                    .open()
                    .unwrap(),
            )
        })
    } else {
        Box::new(|| {
            build(
                JsonlStorage::builder(&path)
                    .with_durability(Durability::Full)
                    .open()
                    .unwrap(),
            )
        })
    };
    let processor = storage();
    let handle = processor.handle();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    record_tool_spans(&provider, "committed", 0, SPANS);
    // No flush: watch the writer's own commit counter instead.
    let deadline = Instant::now() + Duration::from_secs(30);
    while handle.stats().entries_written < 2 * SPANS {
        assert!(Instant::now() < deadline, "{:?}", handle.stats());
        std::thread::sleep(Duration::from_millis(1));
    }
    child::report("committed");
    child::wait_for_parent();
}

fn build(storage: impl Storage) -> ProtocolProcessor {
    ProtocolProcessor::builder(storage).build().unwrap()
}

fn crash_and_check(file_name: &str, test_name: &str) {
    if child::role().is_some() {
        return record_and_wait_for_commit();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    let mut process = child::spawn(test_name, "full", &path);
    process.expect("committed");
    process.kill();
    let entries = read_all(&path);
    assert_eq!(count_calls(&entries, "committed-") as u64, 2 * SPANS);
}

#[test]
fn sqlite_full_durability_keeps_commits_without_flush() {
    crash_and_check(
        "protocol.db",
        &test_path!(sqlite_full_durability_keeps_commits_without_flush),
    );
}

#[test]
fn jsonl_full_durability_keeps_commits_without_flush() {
    crash_and_check(
        "protocol.jsonl",
        &test_path!(jsonl_full_durability_keeps_commits_without_flush),
    );
}
