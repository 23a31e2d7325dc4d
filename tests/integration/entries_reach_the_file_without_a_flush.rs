//! Without any flush, an entry reaches the file shortly after its span event:
//! the extraction thread lets a burst gather for a few milliseconds, but a
//! lone span, a quiet spell and then a burst, and spans from several threads
//! that keep pausing, all still arrive on their own.

use std::time::{Duration, Instant};

use crate::support::{Format, Harness};
use reagentic_protocol::EventType;

/// Polls the file (through a second reader) until it holds `expected`
/// entries. Ten seconds is only a bound for a broken pipeline, not a speed
/// target: a missed wake-up would leave the entries in memory for good.
fn wait_for_entries(harness: &Harness, expected: usize) {
    let started = Instant::now();
    loop {
        let found = harness.entries().len();
        if found >= expected {
            assert_eq!(found, expected);
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{found} of {expected} entries after 10 s without a flush"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn lone_quiet_and_burst(format: Format) {
    let harness = Harness::new(format, |b| b);
    // A lone start, with the span still open: the entry that shows what began.
    let open_span = harness.in_scope(|| {
        tracing::info_span!("invoke_agent", gen_ai.operation.name = "invoke_agent").entered()
    });
    wait_for_entries(&harness, 1);
    assert_eq!(harness.entries()[0].event_type, EventType::AgentStart);
    drop(open_span);
    wait_for_entries(&harness, 2);

    // A quiet spell, long enough for the thread to go back to sleep.
    std::thread::sleep(Duration::from_millis(50));
    harness.in_scope(|| {
        for _ in 0..5_000 {
            let _tool = tracing::info_span!("execute_tool", gen_ai.operation.name = "execute_tool")
                .entered();
        }
    });
    wait_for_entries(&harness, 2 + 10_000);
    assert_eq!(harness.handle.stats().dropped_queue_full, 0);
}

#[test]
fn sqlite_entries_arrive_on_their_own() {
    lone_quiet_and_burst(Format::Sqlite);
}

#[test]
fn jsonl_entries_arrive_on_their_own() {
    lone_quiet_and_burst(Format::Jsonl);
}

/// Producers on several threads, each pausing between spans so the
/// extraction thread keeps falling asleep and being woken, from any of them.
fn sporadic_producers(format: Format) {
    let harness = Harness::new(format, |b| b);
    std::thread::scope(|scope| {
        for thread in 0..4u64 {
            let harness = &harness;
            scope.spawn(move || {
                harness.in_scope(|| {
                    for span in 0..150u64 {
                        let _tool = tracing::info_span!(
                            "execute_tool",
                            gen_ai.operation.name = "execute_tool"
                        )
                        .entered();
                        // 0 to 3 ms, different on every thread.
                        let pause = (thread * 7 + span * 13) % 4;
                        std::thread::sleep(Duration::from_millis(pause));
                    }
                });
            });
        }
    });
    wait_for_entries(&harness, 4 * 150 * 2);
}

#[test]
fn sqlite_sporadic_producers_are_all_written() {
    sporadic_producers(Format::Sqlite);
}

#[test]
fn jsonl_sporadic_producers_are_all_written() {
    sporadic_producers(Format::Jsonl);
}
