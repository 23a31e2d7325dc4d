//! `tail` shows the newest entries; `tail -f` keeps printing entries as the
//! pipeline writes them, on SQLite and JSON Lines, until interrupted.

use std::time::Duration;

use crate::support::{
    bin, ok, record_small_talk, run_on, spawn_with_lines, travel_protocol, Format, SMALL_TALK,
    TRAVEL,
};

#[test]
fn tail_shows_the_newest_entries_oldest_first() {
    let protocol = travel_protocol(Format::Sqlite);
    let text = ok(&run_on("tail", &protocol.path, &["-n", "2"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].contains("llm_end"), "{text}");
    assert!(
        lines[2].contains("agent_end") && lines[2].contains("chatter"),
        "{text}"
    );
}

#[test]
fn follow_prints_new_entries_as_they_are_written_until_interrupted() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let mut command = bin();
        command
            .args(["tail", "-f", "--json", "-n", "1", "--interval-ms", "50"])
            .arg(&protocol.path);
        let (mut child, lines) = spawn_with_lines(command);
        let next = |what: &str| -> serde_json::Value {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("{format:?}: no line for {what}"));
            serde_json::from_str(&line).expect("a JSON entry per line")
        };
        let first = next("the newest entry");
        assert_eq!(first["event_type"], "agent_end");
        assert_eq!(first["name"], "chatter");

        // A new session, written while tail follows.
        record_small_talk(&protocol);
        protocol.flush();
        let new: Vec<_> = (0..4).map(|_| next("a new entry")).collect();
        let kinds: Vec<&str> = new
            .iter()
            .map(|e| e["event_type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["agent_start", "llm_start", "llm_end", "agent_end"],
            "{format:?}"
        );
        assert!(new.iter().all(|e| e["entry_id"] != first["entry_id"]));

        // Ctrl-C: a clean stop with exit code 0.
        let status = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = child.wait().unwrap();
        assert!(exit.success(), "{format:?}: tail -f ended with {exit:?}");
        assert!(
            lines.recv_timeout(Duration::from_millis(200)).is_err(),
            "nothing printed twice"
        );
    }
}

#[test]
fn filters_select_what_tail_shows_and_what_it_follows() {
    let protocol = travel_protocol(Format::Jsonl);
    let failed = ok(&run_on("tail", &protocol.path, &["--errors", "--json"]));
    let failed: Vec<serde_json::Value> = failed
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON entry per line"))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["tool_name"], "get_weather");

    let mut command = bin();
    command
        .args(["tail", "-f", "--type", "llm_end", "--format", "jsonl"])
        .args(["-n", "5", "--interval-ms", "50"])
        .arg(&protocol.path);
    let (mut child, lines) = spawn_with_lines(command);
    let next = || -> serde_json::Value {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .expect("a model call's end");
        serde_json::from_str(&line).expect("a JSON entry per line")
    };
    // The three model calls so far, then the one written while following.
    let sessions: Vec<serde_json::Value> = (0..3).map(|_| next()["session_id"].clone()).collect();
    assert_eq!(sessions, [TRAVEL, TRAVEL, SMALL_TALK]);
    record_small_talk(&protocol);
    protocol.flush();
    let new = next();
    assert_eq!(
        (new["event_type"].as_str(), new["session_id"].as_str()),
        (Some("llm_end"), Some(SMALL_TALK))
    );
    assert!(
        lines.recv_timeout(Duration::from_millis(300)).is_err(),
        "the agent's entries are not followed"
    );
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

/// `tail -f` on a protocol with nothing in it yet prints the table's
/// heading once, with the first entries.
#[test]
fn following_an_empty_protocol_prints_the_heading_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.jsonl");
    let mut storage = reagentic_protocol::JsonlStorage::open(&path).unwrap();
    let mut command = bin();
    command
        .args(["tail", "-f", "--interval-ms", "50"])
        .arg(&path)
        .env("COLUMNS", "200");
    let (mut child, lines) = spawn_with_lines(command);
    // Give it time to look at the empty file first.
    std::thread::sleep(Duration::from_millis(300));
    let entry = reagentic_protocol::ProtocolEntry::new(
        reagentic_protocol::EventType::ToolEnd,
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "get_weather",
        chrono::Utc::now(),
    );
    reagentic_protocol::Storage::write_batch(&mut storage, &[entry]).unwrap();
    let heading = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    let row = lines.recv_timeout(Duration::from_secs(20)).unwrap();
    assert!(heading.starts_with("TIME"), "{heading:?}");
    assert!(row.contains("get_weather"), "{row:?}");
    // The heading is laid out for the row under it.
    assert_eq!(
        heading.find("TYPE"),
        row.find("tool_end"),
        "{heading}\n{row}"
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(
        lines.recv_timeout(Duration::from_millis(200)).is_err(),
        "one heading, one row"
    );
}
