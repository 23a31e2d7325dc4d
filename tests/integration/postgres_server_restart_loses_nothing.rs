//! The PostgreSQL server goes away while the pipeline writes: crashed and
//! restarted mid-writing (nothing lost, nothing twice), and down for a while
//! (`force_flush` returns the error, naming the server and database, within
//! its bound; entries are kept up to the pending bound, drops beyond it are
//! counted; everything kept is written once the server is back). Each test
//! runs a cluster of its own, which it stops and starts.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reagentic_protocol::pipeline::QueueFullPolicy;
use reagentic_protocol::{ProtocolError, ProtocolReader};

use crate::support::postgres::{connect, Cluster, ClusterOptions};
use crate::support::{count_calls, pipeline_at, read_all, record_tool_spans};

fn own_cluster() -> Cluster {
    Cluster::start(ClusterOptions::durable())
        .unwrap_or_else(|reason| panic!("no PostgreSQL cluster for this test: {reason}"))
}

fn rows(url: &str) -> i64 {
    connect(url)
        .query_one("SELECT count(*) FROM protocol_entries", &[])
        .unwrap()
        .get(0)
}

/// Flushes until it succeeds, within `bound`.
fn flush_until_written(provider: &opentelemetry_sdk::trace::SdkTracerProvider, bound: Duration) {
    let deadline = Instant::now() + bound;
    loop {
        match provider.force_flush() {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("still not written after {bound:?}: {e}"),
        }
    }
}

#[test]
fn a_crash_and_restart_mid_writing_loses_and_doubles_nothing() {
    const SPANS: u64 = 6_000;
    let cluster = own_cluster();
    let url = cluster.database("restart");
    let (provider, handle) = pipeline_at(Path::new(&url), |b| b.with_max_batch_entries(64));
    let emitted = Arc::new(AtomicU64::new(0));
    let writer = {
        let (provider, emitted) = (provider.clone(), emitted.clone());
        std::thread::spawn(move || {
            for round in 0..SPANS / 100 {
                record_tool_spans(&provider, "restart", round * 100, 100);
                emitted.fetch_add(100, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    // Crash the server once a good part is written, with more on the way.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rows(&url) < 2_000 {
        assert!(Instant::now() < deadline, "nothing is being written");
        std::thread::sleep(Duration::from_millis(20));
    }
    cluster
        .crash_and_restart(Duration::from_millis(500))
        .expect("restart");
    writer.join().unwrap();
    assert_eq!(emitted.load(Ordering::Relaxed), SPANS);
    flush_until_written(&provider, Duration::from_secs(60));
    provider.shutdown().unwrap();

    let stats = handle.stats();
    assert!(stats.write_failures > 0, "the crash was felt: {stats:?}");
    let entries = read_all(Path::new(&url));
    assert_eq!(
        count_calls(&entries, "restart-") as u64 + stats.dropped_queue_full,
        2 * SPANS,
        "{stats:?}"
    );
    assert_eq!(
        stats.dropped_queue_full, 0,
        "the pending bound was not reached"
    );
    let distinct: i64 = connect(&url)
        .query_one("SELECT count(DISTINCT entry_id) FROM protocol_entries", &[])
        .unwrap()
        .get(0);
    assert_eq!(distinct as usize, entries.len(), "nothing twice");
}

#[test]
fn a_server_that_is_down_fails_flushes_keeps_entries_and_counts_drops() {
    const SPANS: u64 = 2_000;
    let cluster = own_cluster();
    let url = cluster.database("down");
    let (provider, handle) = pipeline_at(Path::new(&url), |b| {
        b.with_max_batch_entries(64)
            .with_max_pending_entries(512)
            .with_queue_capacity(64)
            .with_queue_full_policy(QueueFullPolicy::Drop)
            .with_flush_timeout(Duration::from_secs(10))
    });
    record_tool_spans(&provider, "before", 0, 10);
    provider.force_flush().expect("flush while up");

    cluster.stop("fast").expect("stop");
    record_tool_spans(&provider, "while-down", 0, 5);
    let started = Instant::now();
    let err = handle.force_flush().expect_err("the server is down");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    match err.root() {
        ProtocolError::Postgres { target, .. } => {
            assert!(
                url.ends_with(target.rsplit('/').next().unwrap()),
                "{target}"
            );
            assert!(target.contains("127.0.0.1:"), "{target}");
        }
        other => panic!("expected the PostgreSQL error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(message.contains("/down"), "names the database: {message}");

    // Far more than the pending bound while down: the rest is dropped, counted.
    record_tool_spans(&provider, "while-down", 5, SPANS - 5);
    cluster.start_again().expect("start again");
    flush_until_written(&provider, Duration::from_secs(60));
    provider.shutdown().unwrap();

    let stats = handle.stats();
    let entries = read_all(Path::new(&url));
    assert_eq!(count_calls(&entries, "before-"), 20);
    assert!(stats.dropped_queue_full > 0, "{stats:?}");
    // The spans recorded before the failed flush were kept, and written.
    let kept: Vec<_> = entries
        .iter()
        .filter_map(|e| e.tool_call_id.as_deref())
        .filter(|id| ["while-down-0", "while-down-4"].contains(id))
        .collect();
    assert_eq!(kept.len(), 4, "{stats:?}");
    assert_eq!(
        count_calls(&entries, "while-down-") as u64 + stats.dropped_queue_full,
        2 * SPANS,
        "{stats:?}"
    );
    let meta = ProtocolReader::open(&url).unwrap().meta().unwrap();
    assert_eq!(meta.dropped_entries, stats.dropped_queue_full);
}
