//! `check` validates a protocol file and says so in its exit code: clean
//! files pass; unreadable lines (with numbers), steps without an end and
//! duplicate ids are reported and fail it.

use std::io::Write;

use reagentic_protocol::instrument::AgentSpan;
use reagentic_protocol::SCHEMA_VERSION;

use crate::support::{json, ok, run_on, stdout, travel_protocol, Format, Protocol};

#[test]
fn a_clean_protocol_passes_in_both_formats() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let text = ok(&run_on("check", &protocol.path, &[]));
        assert!(
            text.contains(&format!("schema version {SCHEMA_VERSION}, 21 entries")),
            "{text}"
        );
        assert!(text.trim_end().ends_with("clean"), "{text}");
        let report = json(&run_on("check", &protocol.path, &["--json"]));
        assert_eq!(report["clean"], true);
        assert_eq!(report["entries"], 21);
    }
}

#[test]
fn broken_lines_unfinished_steps_and_duplicates_are_reported() {
    let protocol = Protocol::new(Format::Jsonl);
    // A run still going: its agent started, nothing ended yet.
    // Never entered: starting it is enough for its start entry.
    let agent = protocol.in_scope(|| AgentSpan::new("still_running").start());
    protocol.flush();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&protocol.path)
        .unwrap();
    let first_line = std::fs::read_to_string(&protocol.path).unwrap();
    let first_line = first_line.lines().next().unwrap().to_owned();
    // Line 2: garbage. Line 3: the first entry again.
    writeln!(file, "this is not an entry").unwrap();
    writeln!(file, "{first_line}").unwrap();
    drop(file);

    let out = run_on("check", &protocol.path, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("1 unreadable record(s)"), "{text}");
    assert!(text.contains("line 2: not a protocol entry"), "{text}");
    assert!(text.contains("started without an end"), "{text}");
    assert!(text.contains("agent_start still_running"), "{text}");
    assert!(text.contains("on lines 1, 3"), "{text}");
    assert!(text.contains("problems found"), "{text}");

    let report = run_on("check", &protocol.path, &["--json"]);
    assert_eq!(report.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["clean"], false);
    assert_eq!(report["unreadable"][0]["line"], 2);
    assert_eq!(report["duplicates"][0]["lines"], serde_json::json!([1, 3]));
    assert_eq!(report["unfinished_total"], 1);
    drop(agent);
}
