//! Eight application threads record 50 000 spans each (SQLite, the default
//! storage; 5 000 each on JSON Lines, to keep the debug suite quick) while
//! sixteen threads call `force_flush` over and over. No flush fails or hangs, and every entry
//! is accounted for: written + counted-dropped = emitted, exactly.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crate::support::{pipeline_at, read_all, record_tool_spans};

const PRODUCERS: u64 = 8;
const FLUSHERS: usize = 16;

fn storm(file_name: &str, spans_per_producer: u64) {
    // On a RAM file system where there is one: this test is about counting
    // under contention, and on a VM disk the WAL checkpoints' fsyncs would
    // triple its run time without testing anything the crash tests do not.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let path = dir.path().join(file_name);
    let (provider, handle) = pipeline_at(&path, |b| b.with_flush_timeout(Duration::from_secs(60)));
    let producing = AtomicBool::new(true);
    let flushes = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..FLUSHERS {
            scope.spawn(|| {
                while producing.load(Ordering::Relaxed) {
                    handle.force_flush().expect("a flush in the storm");
                    flushes.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let provider = &provider;
                scope.spawn(move || {
                    record_tool_spans(provider, &format!("p{p}"), 0, spans_per_producer)
                })
            })
            .collect();
        for producer in producers {
            producer.join().unwrap();
        }
        producing.store(false, Ordering::Relaxed);
    });
    handle.force_flush().expect("final flush");
    provider.shutdown().expect("shutdown");

    let emitted = 2 * PRODUCERS * spans_per_producer;
    let entries = read_all(&path);
    let distinct: HashSet<_> = entries.iter().map(|e| e.entry_id.as_str()).collect();
    assert_eq!(distinct.len(), entries.len(), "each entry once");
    let stats = handle.stats();
    assert_eq!(
        entries.len() as u64 + stats.dropped_queue_full,
        emitted,
        "{stats:?}"
    );
    assert_eq!(stats.entries_written, entries.len() as u64, "{stats:?}");
    assert!(flushes.load(Ordering::Relaxed) >= FLUSHERS as u64);
}

#[test]
fn sqlite_flush_storm_accounts_exactly() {
    storm("protocol.db", 50_000);
}

#[test]
fn jsonl_flush_storm_accounts_exactly() {
    storm("protocol.jsonl", 5_000);
}
