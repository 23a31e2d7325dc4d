//! Bad input gets a one-line error naming the problem and exit code 2, never
//! a panic; broken JSON Lines lines are warned about and skipped; reading
//! never changes the file.

use std::io::Write;
use std::process::Output;

use crate::support::{json, run, run_on, stderr, travel_protocol, Format, TRAVEL};

/// Exit 2, one `error:` line on stderr mentioning every needle, nothing on stdout.
fn assert_fails(output: &Output, needles: &[&str]) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(
        output.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn missing_unknown_and_corrupt_files_are_named_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.db");
    for command in [
        "sessions", "show", "query", "stats", "tail", "check", "diff", "ui",
    ] {
        let mut args = vec![command, missing.to_str().unwrap()];
        match command {
            "show" => args.push("conv-1"),
            "diff" => args.extend(["conv-1", "conv-2"]),
            "ui" => args.extend(["--listen", "127.0.0.1:0"]),
            _ => {}
        }
        assert_fails(&run(&args), &["missing.db", "No such file"]);
    }
    assert!(!missing.exists(), "reading never creates the file");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "hello").unwrap();
    assert_fails(&run_on("sessions", &text, &[]), &["notes.txt", ".jsonl"]);

    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, vec![0x5a; 8192]).unwrap();
    assert_fails(&run_on("sessions", &corrupt, &[]), &["corrupt.db", "not"]);
    assert_fails(&run_on("check", &corrupt, &[]), &["corrupt.db"]);
    assert_eq!(std::fs::read(&corrupt).unwrap(), vec![0x5a; 8192]);

    let binary = dir.path().join("binary.jsonl");
    std::fs::write(&binary, b"SQLite format 3\0garbage").unwrap();
    assert_fails(&run_on("query", &binary, &[]), &["binary.jsonl"]);
}

#[test]
fn unknown_session_and_invalid_filters_say_what_is_wrong() {
    let protocol = travel_protocol(Format::Sqlite);
    let path = &protocol.path;
    assert_fails(
        &run_on("show", path, &["conv-nope"]),
        &["conv-nope", "no session or trace"],
    );
    assert_fails(
        &run_on("query", path, &["--since", "yesterday"]),
        &["invalid time", "yesterday"],
    );
    assert_fails(
        &run_on("sessions", path, &["--since", "5y"]),
        &["invalid time"],
    );
    assert_fails(
        &run_on("query", path, &["--type", "tool"]),
        &["unknown event type"],
    );
    assert_fails(
        &run_on("query", path, &["--limit", "lots"]),
        &["--limit", "lots"],
    );
    assert_fails(&run_on("stats", path, &["--by", "color"]), &["color"]);
    assert_fails(
        &run_on("query", path, &["--since", "1h", "--until", "2h"]),
        &["--since", "--until"],
    );
    assert_fails(
        &run(&["frobnicate", path.to_str().unwrap()]),
        &["frobnicate"],
    );
}

#[test]
fn broken_jsonl_lines_are_warned_about_and_the_rest_is_read() {
    let protocol = travel_protocol(Format::Jsonl);
    protocol.shut_down();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&protocol.path)
        .unwrap();
    writeln!(file, "{{\"schema\":1,\"entry_id\":").unwrap();
    write!(file, "{{\"torn").unwrap();
    drop(file);
    let before = std::fs::read(&protocol.path).unwrap();
    let out = run_on("sessions", &protocol.path, &["--json"]);
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let warning = stderr(&out);
    assert!(
        warning.starts_with("warning: skipped 2 unreadable line(s)"),
        "{warning}"
    );
    assert!(warning.contains("line 22"), "{warning}");
    let show = run_on("show", &protocol.path, &[TRAVEL]);
    assert!(show.status.success());
    assert_eq!(
        std::fs::read(&protocol.path).unwrap(),
        before,
        "reading changed the file"
    );
}
