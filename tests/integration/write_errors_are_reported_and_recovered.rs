//! Writes that fail at the operating system: the child process lowers its
//! file-size limit (`RLIMIT_FSIZE`, with SIGXFSZ ignored), so every write past
//! it fails with EFBIG, as on a full disk. `force_flush` returns the error,
//! the application keeps running, and once the limit is lifted (space
//! returns) every entry that was waiting is written — nothing lost, nothing
//! dropped.

use std::time::Duration;

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use reagentic_protocol::ProtocolError;

const BEFORE: u64 = 100;
const DURING: u64 = 200;
const AFTER: u64 = 10;

fn file_size_limit(soft: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a valid, owned struct; ignoring SIGXFSZ
    // turns the kernel's signal into an EFBIG error from write().
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = soft.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// The largest file the pipeline writes so far (the database or its WAL).
fn largest_file(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .max()
        .unwrap_or(0)
}

fn fail_then_recover() {
    let path = child::target_path();
    let (provider, handle) = pipeline_at(&path, |b| b.with_flush_timeout(Duration::from_secs(10)));
    record_tool_spans(&provider, "before", 0, BEFORE);
    handle.force_flush().expect("flush before the fault");

    file_size_limit(largest_file(path.parent().unwrap()) + 16 * 1024);
    // Big arguments, so the next batch cannot fit under the limit.
    let tracer = provider.tracer("fault");
    let arguments = "a".repeat(4_000);
    for n in 0..DURING {
        let mut span = tracer
            .span_builder("execute_tool during")
            .with_attributes([
                KeyValue::new("gen_ai.tool.call.id", format!("during-{n}")),
                KeyValue::new("gen_ai.tool.call.arguments", arguments.clone()),
            ])
            .start(&tracer);
        span.end();
    }
    for _ in 0..2 {
        // The storage's own error, as it saw the EFBIG: SQLite reports a
        // failed write (SQLITE_IOERR_WRITE), JSON Lines the OS error itself.
        match handle.force_flush() {
            Err(error @ ProtocolError::Storage { .. }) => match error.root() {
                ProtocolError::Sqlite { source, .. } => assert_eq!(
                    source.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::SystemIoFailure),
                    "{error:?}"
                ),
                ProtocolError::Io { source, .. } => {
                    assert_eq!(source.raw_os_error(), Some(libc::EFBIG), "{error:?}")
                }
                other => panic!("expected the storage's own error, got {other:?}"),
            },
            other => panic!("expected the storage's own error, got {other:?}"),
        }
    }
    assert!(handle.stats().write_failures >= 1);

    file_size_limit(libc::RLIM_INFINITY);
    record_tool_spans(&provider, "after", 0, AFTER);
    handle.force_flush().expect("flush after the fault cleared");
    provider.shutdown().expect("shutdown");
    let stats = handle.stats();
    assert_eq!(
        stats.dropped_queue_full + stats.dropped_unwritable,
        0,
        "{stats:?}"
    );
    child::report("recovered");
}

fn check(file_name: &str, test_name: &str) {
    if child::role().is_some() {
        return fail_then_recover();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(file_name);
    let mut process = child::spawn(test_name, "fsize", &path);
    process.expect("recovered");
    assert!(process.wait(Duration::from_secs(60)).success());
    let entries = read_all(&path);
    assert_eq!(count_calls(&entries, "before-") as u64, 2 * BEFORE);
    assert_eq!(count_calls(&entries, "during-") as u64, 2 * DURING);
    assert_eq!(count_calls(&entries, "after-") as u64, 2 * AFTER);
    assert_eq!(entries.len() as u64, 2 * (BEFORE + DURING + AFTER));
}

#[test]
fn sqlite_write_errors_are_reported_and_recovered() {
    check(
        "protocol.db",
        &test_path!(sqlite_write_errors_are_reported_and_recovered),
    );
}

#[test]
fn jsonl_write_errors_are_reported_and_recovered() {
    check(
        "protocol.jsonl",
        &test_path!(jsonl_write_errors_are_reported_and_recovered),
    );
}
