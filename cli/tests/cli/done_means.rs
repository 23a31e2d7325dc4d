//! The "done means": with a protocol from an agent run, a user lists
//! the sessions, opens the failing run, sees which tool failed and why, and
//! gets per-tool latency — each in one command.

use crate::support::{json, ok, run_on, travel_protocol, Format, TRAVEL};

#[test]
fn find_the_failing_run_see_why_and_get_tool_latency() {
    let protocol = travel_protocol(Format::Sqlite);
    let path = &protocol.path;

    // 1. Which sessions are there, and which one failed?
    let sessions = json(&run_on("sessions", path, &["--json"]));
    let failing: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["errors"].as_u64() > Some(0))
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(failing, [TRAVEL]);

    // 2. Open it: which tool failed, and why.
    let tree = ok(&run_on("show", path, &[failing[0]]));
    let failed: Vec<&str> = tree.lines().filter(|l| l.contains("FAILED")).collect();
    assert_eq!(failed.len(), 1, "{tree}");
    assert!(failed[0].contains("tool get_weather"), "{tree}");
    assert!(
        failed[0].contains("ServiceDown: weather service answered 503"),
        "{tree}"
    );

    // 3. Per-tool latency.
    let stats = ok(&run_on("stats", path, &["--by", "tool"]));
    let header = stats.lines().next().unwrap();
    for column in ["TOOL", "COUNT", "ERR%", "P50", "P95", "MAX"] {
        assert!(header.contains(column), "{header}");
    }
    for tool in ["get_weather", "search_flights", "book_flight"] {
        let row = stats.lines().find(|l| l.starts_with(tool)).unwrap();
        assert!(row.contains(" ms"), "{row}");
    }
}
