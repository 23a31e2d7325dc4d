//! `query` filters entries by session, trace, type, agent, tool, model, time
//! and failure, prints them as a table, JSON or JSON Lines, and treats filter
//! values as data: SQL in them neither matches nor changes anything.

use crate::support::{json, ok, run_on, stdout, travel_protocol, Format, SMALL_TALK, TRAVEL};

fn names(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["event_type"].as_str().unwrap(),
                e["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn every_filter_narrows_the_entries_on_both_formats() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let path = &protocol.path;
        let q = |args: &[&str]| {
            let mut all = vec!["--json"];
            all.extend_from_slice(args);
            json(&run_on("query", path, &all))
        };
        let everything = q(&[]);
        let total = everything.as_array().unwrap().len();
        assert_eq!(total, 2 * 10 + 1, "{format:?}"); // 10 spans × start/end, one handoff
        let session = q(&["--session", SMALL_TALK]);
        assert_eq!(
            names(&session),
            [
                "agent_start:chatter",
                "llm_start:chat gpt-4o",
                "llm_end:chat gpt-4o",
                "agent_end:chatter"
            ]
        );
        let tool_ends = q(&["--session", TRAVEL, "--type", "tool_end"]);
        assert_eq!(tool_ends.as_array().unwrap().len(), 4);
        let both_types = q(&["--type", "handoff,agent_end"]);
        assert_eq!(both_types.as_array().unwrap().len(), 4);
        let failed = q(&["--tool", "get_weather", "--errors"]);
        assert_eq!(names(&failed), ["tool_end:get_weather"]);
        assert_eq!(
            failed[0]["error"]["message"],
            "weather service answered 503"
        );
        let agent = q(&["--agent", "travel_specialist", "--type", "tool_start"]);
        assert_eq!(agent.as_array().unwrap().len(), 4);
        let model = q(&["--model", "gpt-4o", "--type", "llm_end"]);
        assert_eq!(model.as_array().unwrap().len(), 3);
        let trace = everything[0]["trace_id"].as_str().unwrap();
        let by_trace = q(&["--trace", trace]);
        assert!(by_trace
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["trace_id"] == trace));
        assert!(!by_trace.as_array().unwrap().is_empty());
        // Times: relative and absolute.
        assert_eq!(q(&["--since", "1h"]).as_array().unwrap().len(), total);
        assert!(q(&["--until", "1h"]).as_array().unwrap().is_empty());
        let newest = q(&["--limit", "1", "--newest-first"]);
        assert_eq!(names(&newest), ["agent_end:chatter"]);
        let cut = everything[5]["timestamp"].as_str().unwrap();
        let since = q(&["--since", cut]);
        assert!(since
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["timestamp"].as_str().unwrap() >= cut));
    }
}

#[test]
fn table_and_jsonl_formats_carry_the_same_entries() {
    let protocol = travel_protocol(Format::Sqlite);
    let lines = ok(&run_on(
        "query",
        &protocol.path,
        &["--errors", "--format", "jsonl"],
    ));
    let entries: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).expect("one entry per line"))
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["tool_name"], "get_weather");
    let table = ok(&run_on("query", &protocol.path, &["--errors"]));
    let rows: Vec<&str> = table.lines().collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].starts_with("TIME"));
    assert!(
        rows[1].contains("tool_end")
            && rows[1].contains("ServiceDown: weather service answered 503")
    );
}

#[test]
fn sql_in_filter_values_matches_nothing_and_leaves_the_file_unchanged() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        protocol.shut_down();
        let before = std::fs::read(&protocol.path).unwrap();
        let hostile = [
            "'; DROP TABLE protocol_entries; --",
            "x' OR '1'='1",
            "\") OR (\"1\"=\"1",
            "%",
            "*",
        ];
        for value in hostile {
            for flag in ["--session", "--trace", "--agent", "--tool", "--model"] {
                let out = run_on("query", &protocol.path, &[flag, value, "--json"]);
                assert_eq!(json(&out), serde_json::json!([]), "{flag} {value}");
            }
            let show = run_on("show", &protocol.path, &[value]);
            assert_eq!(show.status.code(), Some(2), "{}", stdout(&show));
        }
        assert_eq!(std::fs::read(&protocol.path).unwrap(), before, "{format:?}");
        let all = json(&run_on("query", &protocol.path, &["--json"]));
        assert_eq!(all.as_array().unwrap().len(), 21);
    }
}
