//! A process that dies in the middle of appending a JSON Lines batch leaves a
//! torn last line. Readers report it (line number, "torn") and skip it, every
//! earlier entry is intact, and the next run starts on a fresh line.
//!
//! To make the death land mid-line every time, the child lowers its file-size
//! limit (`RLIMIT_FSIZE`) to 10 bytes past the end of the file: the kernel
//! writes those 10 bytes of the next batch, then kills the process with
//! SIGXFSZ on the following write — a real process death during a real write.

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use crate::support::{child, count_calls, pipeline_at, read_all, record_tool_spans};
use reagentic_protocol::ProtocolReader;

const FLUSHED: u64 = 200;
const TORN_BYTES: u64 = 10;

fn set_limit(resource: libc::__rlimit_resource_t, soft: u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain system calls on a valid, owned struct.
    unsafe {
        assert_eq!(libc::getrlimit(resource, &mut limit), 0);
        limit.rlim_cur = soft;
        assert_eq!(libc::setrlimit(resource, &limit), 0);
    }
}

fn record_then_die_mid_write() {
    let path = child::target_path();
    let (provider, handle) = pipeline_at(&path, |b| b);
    record_tool_spans(&provider, "flushed", 0, FLUSHED);
    handle.force_flush().expect("flush");
    let len = std::fs::metadata(&path).unwrap().len();
    // No core file for the intended death.
    set_limit(libc::RLIMIT_CORE, 0);
    set_limit(libc::RLIMIT_FSIZE, len + TORN_BYTES);
    child::report(&format!("limited {len}"));
    record_tool_spans(&provider, "torn", 0, 1);
    let _ = handle.force_flush();
    panic!("the write past the file-size limit should have killed this process");
}

#[test]
fn a_death_mid_line_leaves_a_torn_tail_that_readers_skip() {
    if child::role().is_some() {
        return record_then_die_mid_write();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    let mut process = child::spawn(
        &test_path!(a_death_mid_line_leaves_a_torn_tail_that_readers_skip),
        "torn",
        &path,
    );
    let len: u64 = process.expect("limited").parse().unwrap();
    let status = process.wait(Duration::from_secs(30));
    assert_eq!(status.signal(), Some(libc::SIGXFSZ), "{status}");

    let content = std::fs::read(&path).unwrap();
    assert_eq!(content.len() as u64, len + TORN_BYTES);
    assert_ne!(content.last(), Some(&b'\n'), "the tail is torn");
    let flushed_lines = 2 * FLUSHED;

    let reader = ProtocolReader::open(&path).expect("opens despite the torn tail");
    let entries = reader.query(&Default::default()).unwrap();
    assert_eq!(entries.len() as u64, flushed_lines);
    assert_eq!(count_calls(&entries, "flushed-") as u64, flushed_lines);
    let skipped = reader.skipped_lines();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].line_number, flushed_lines + 1);
    assert!(skipped[0].reason.contains("torn"), "{:?}", skipped[0]);

    // The next run ends the torn line before appending its own.
    let (provider, _handle) = pipeline_at(&path, |b| b);
    record_tool_spans(&provider, "next-run", 0, 5);
    provider.shutdown().unwrap();
    let entries = read_all(&path);
    assert_eq!(entries.len() as u64, flushed_lines + 10);
    assert_eq!(count_calls(&entries, "next-run-"), 10);
}
