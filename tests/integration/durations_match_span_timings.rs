//! `duration_ms` on every end entry is the span's own end − start, and the
//! start/end timestamps are the span's.

use std::time::{Duration, Instant};

use crate::support::{only, Harness};
use reagentic_protocol::EventType;

#[test]
fn durations_match_how_long_spans_were_open() {
    let harness = Harness::sqlite();
    let mut outer_wall = Duration::ZERO;
    harness.in_scope(|| {
        let started = Instant::now();
        let agent = agent_span!("sleeper");
        let _a = agent.enter();
        {
            let tool = tool_span!("nap");
            let _t = tool.enter();
            std::thread::sleep(Duration::from_millis(60));
        }
        std::thread::sleep(Duration::from_millis(20));
        drop(_a);
        drop(agent);
        outer_wall = started.elapsed();
    });
    harness.flush();
    let entries = harness.entries();

    let tool_start = only(&entries, EventType::ToolStart, "nap");
    let tool_end = only(&entries, EventType::ToolEnd, "nap");
    let agent_end = only(&entries, EventType::AgentEnd, "sleeper");

    let tool_ms = tool_end.duration_ms.expect("tool duration");
    assert!(tool_ms >= 60.0, "slept 60 ms, recorded {tool_ms}");
    let agent_ms = agent_end.duration_ms.expect("agent duration");
    assert!(
        agent_ms >= tool_ms + 20.0,
        "agent {agent_ms} ⊇ tool {tool_ms} + 20"
    );
    assert!(agent_ms <= outer_wall.as_secs_f64() * 1000.0 + 1.0);

    // The duration is exactly the distance between the two timestamps
    // (which are stored with microsecond precision).
    let between = (tool_end.timestamp - tool_start.timestamp)
        .num_microseconds()
        .unwrap() as f64
        / 1000.0;
    assert!((between - tool_ms).abs() < 0.002, "{between} vs {tool_ms}");
    for e in &entries {
        assert_eq!(e.event_type.is_end(), e.duration_ms.is_some(), "{e:?}");
    }
}
