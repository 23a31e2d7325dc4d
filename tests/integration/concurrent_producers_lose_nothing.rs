//! Eight application threads recording at once lose no entry, on both forms.

use std::collections::HashSet;

use crate::support::{Format, Harness};
use reagentic_protocol::EventType;

const THREADS: usize = 8;
const SPANS_PER_THREAD: usize = 5_000;

fn check(format: Format) {
    // A small queue forces producers to wait on the writer: back-pressure,
    // not loss, is the default.
    let harness = Harness::new(format, |b| b.with_queue_capacity(256));
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let dispatch = harness.dispatch.clone();
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for i in 0..SPANS_PER_THREAD {
                        let call_id = format!("t{thread}-{i}");
                        let span = tool_span!("lookup", gen_ai.tool.call.id = call_id.as_str());
                        let _g = span.enter();
                    }
                });
            });
        }
    });
    harness.flush();

    let entries = harness.entries();
    let expected = THREADS * SPANS_PER_THREAD * 2;
    assert_eq!(entries.len(), expected);
    let ids: HashSet<_> = entries.iter().map(|e| e.entry_id.as_str()).collect();
    assert_eq!(ids.len(), expected, "every entry is distinct");
    let ends = entries
        .iter()
        .filter(|e| e.event_type == EventType::ToolEnd)
        .count();
    assert_eq!(ends, THREADS * SPANS_PER_THREAD);
    let stats = harness.handle.stats();
    assert_eq!(stats.dropped_queue_full, 0);
    assert_eq!(stats.entries_written, expected as u64);
}

#[test]
fn sqlite_loses_nothing_under_eight_producers() {
    check(Format::Sqlite);
}

#[test]
fn jsonl_loses_nothing_under_eight_producers() {
    check(Format::Jsonl);
}
