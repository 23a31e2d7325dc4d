//! A real file system that fills up: a 4 MiB tmpfs, filled with a ballast
//! file after the first entries. SQLite gets a real SQLITE_FULL, JSON Lines a
//! real ENOSPC; `force_flush` returns the error, nothing panics, and when the
//! ballast is deleted (space returns) every waiting entry is written.
//!
//! Mounting needs root (CAP_SYS_ADMIN) and the `mount` command, as the test
//! machines and CI have. Where mounting fails the test fails, saying so —
//! it never passes without running. (Unprivileged, the file-size-limit test,
//! `write_errors_are_reported_and_recovered`, covers the same recovery path.)

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{count_calls, pipeline_at, read_all, record_tool_spans};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use reagentic_protocol::ProtocolError;

/// A mounted tmpfs, unmounted on drop (also when an assertion fails).
struct Tmpfs {
    mount_point: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or fails the test naming what it needs.
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mount_point = dir.path().join("fs");
        std::fs::create_dir(&mount_point).unwrap();
        let needs = "this test needs to mount a tmpfs: run it as root (CAP_SYS_ADMIN), \
                     with the `mount` command on the PATH";
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&mount_point)
            .output()
            .unwrap_or_else(|e| panic!("cannot run `mount` ({e}): {needs}"));
        assert!(
            mounted.status.success(),
            "`mount -t tmpfs` failed ({}: {}): {needs}",
            mounted.status,
            String::from_utf8_lossy(&mounted.stderr).trim()
        );
        Self {
            mount_point,
            _dir: dir,
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(&self.mount_point)
            .status();
    }
}

/// Fills the file system with one file until the disk says no.
fn fill(path: &Path) {
    let mut ballast = std::fs::File::create(path).unwrap();
    let block = vec![0u8; 64 * 1024];
    loop {
        if let Err(e) = ballast.write_all(&block).and_then(|()| ballast.sync_all()) {
            assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
            break;
        }
    }
    // The last partial block may have taken the final pages: top up byte-wise.
    while ballast.write_all(&[0u8; 512]).is_ok() {}
}

fn check(file_name: &str) {
    let fs = Tmpfs::mount("4m");
    let path = fs.mount_point.join(file_name);
    let (provider, handle) = pipeline_at(&path, |b| b.with_flush_timeout(Duration::from_secs(10)));
    record_tool_spans(&provider, "before", 0, 50);
    handle.force_flush().expect("flush before the disk fills");

    let ballast = fs.mount_point.join("ballast");
    fill(&ballast);
    let tracer = provider.tracer("disk-full");
    for n in 0..100 {
        let mut span = tracer
            .span_builder("execute_tool during")
            .with_attributes([
                KeyValue::new("gen_ai.tool.call.id", format!("during-{n}")),
                KeyValue::new("gen_ai.tool.call.arguments", "a".repeat(4_000)),
            ])
            .start(&tracer);
        span.end();
    }
    let error = handle.force_flush().expect_err("the disk is full");
    assert!(
        matches!(error, ProtocolError::Storage { .. }) && error.is_storage_full(),
        "{file_name}: {error:?}"
    );

    std::fs::remove_file(&ballast).unwrap();
    record_tool_spans(&provider, "after", 0, 10);
    handle.force_flush().expect("flush once space returned");
    provider.shutdown().expect("shutdown");
    let entries = read_all(&path);
    assert_eq!(count_calls(&entries, "before-"), 100);
    assert_eq!(count_calls(&entries, "during-"), 200);
    assert_eq!(count_calls(&entries, "after-"), 20);
    let stats = handle.stats();
    assert_eq!(
        stats.dropped_queue_full + stats.dropped_unwritable,
        0,
        "{stats:?}"
    );
}

#[test]
fn sqlite_on_a_full_filesystem_reports_and_recovers() {
    check("protocol.db");
}

#[test]
fn jsonl_on_a_full_filesystem_reports_and_recovers() {
    check("protocol.jsonl");
}
