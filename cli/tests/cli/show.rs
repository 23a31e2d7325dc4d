//! `show` prints one run as a tree: agents with their model calls, tool
//! calls and handoffs under them, durations, tokens, and why a step failed.

use crate::support::{json, ok, run_on, travel_protocol, Format, TRAVEL};

/// The line of the tree that contains `needle`, and its indentation.
fn line_with<'a>(tree: &'a str, needle: &str) -> (&'a str, usize) {
    let line = tree
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{tree}"));
    let depth = line.find(|c: char| c.is_alphabetic()).unwrap_or(0);
    (line, depth)
}

#[test]
fn the_run_is_a_tree_with_the_failed_tool_and_its_error() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let tree = ok(&run_on("show", &protocol.path, &[TRAVEL]));
        assert!(tree.starts_with(&format!("session {TRAVEL}")), "{tree}");
        assert!(tree.contains("1 failed"), "{tree}");
        let (_, triage) = line_with(&tree, "agent triage");
        let (handoff, handoff_depth) = line_with(&tree, "handoff triage → travel_specialist");
        let (_, specialist) = line_with(&tree, "agent travel_specialist");
        let (failed, tool_depth) = line_with(&tree, "tool get_weather (call_2)");
        let (llm, _) = line_with(&tree, "llm gpt-4o");
        assert!(handoff_depth > triage && specialist > triage, "{tree}");
        assert!(
            tool_depth > specialist,
            "tools nest under their agent:\n{tree}"
        );
        assert!(!handoff.contains("FAILED"));
        assert!(
            failed.contains("FAILED") && failed.contains("weather service answered 503"),
            "{failed}"
        );
        assert!(failed.contains(" ms"), "duration shown: {failed}");
        assert!(llm.contains("tokens 11/9"), "{llm}");
        let (retry, _) = line_with(&tree, "tool get_weather (call_3)");
        assert!(retry.ends_with("ok"), "{retry}");
        // Time order: the failed call before its retry, search before both.
        let pos = |s: &str| tree.find(s).unwrap();
        assert!(pos("search_flights") < pos("call_2") && pos("call_2") < pos("call_3"));
        // Content is there, shortened by default.
        assert!(tree.contains(r#"in  {"city":"Lisbon"}"#), "{tree}");
    }
}

#[test]
fn content_is_shortened_unless_asked_for_in_full() {
    let protocol = travel_protocol(Format::Sqlite);
    let narrow = crate::support::bin()
        .args(["show", protocol.arg(), TRAVEL])
        .env("COLUMNS", "50")
        .output()
        .unwrap();
    let narrow = ok(&narrow);
    assert!(narrow.contains('…'), "{narrow}");
    assert!(
        !narrow.contains("book me a flight from Berlin to Lisbon"),
        "{narrow}"
    );
    let full = ok(&run_on("show", &protocol.path, &[TRAVEL, "--content"]));
    assert!(
        full.contains("triage: book me a flight from Berlin to Lisbon"),
        "{full}"
    );
}

#[test]
fn json_output_nests_steps_and_a_trace_id_works_too() {
    let protocol = travel_protocol(Format::Jsonl);
    let run = json(&run_on("show", &protocol.path, &[TRAVEL, "--json"]));
    assert_eq!(run["kind"], "session");
    assert_eq!(run["errors"], 1);
    assert!(run["first"].as_str().unwrap() < run["last"].as_str().unwrap());
    assert!(run["wall_ms"].as_f64().unwrap() > 0.0, "{run}");
    let roots = run["steps"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    assert_eq!(roots[0]["name"], "triage");
    let specialist = roots[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "travel_specialist" && s["event_type"] == "agent_end")
        .expect("specialist under triage");
    let failed: Vec<_> = specialist["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["error"] == true)
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["end"]["tool_name"], "get_weather");
    assert_eq!(
        failed[0]["end"]["error"]["message"],
        "weather service answered 503"
    );

    let trace = roots[0]["start"]["trace_id"].as_str().unwrap().to_owned();
    let by_trace = json(&run_on("show", &protocol.path, &[&trace, "--json"]));
    assert_eq!(by_trace["kind"], "trace");
    assert_eq!(by_trace["steps"][0]["name"], "triage");
}
