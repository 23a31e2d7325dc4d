//! Flags shared by the commands read and behave the same everywhere: the
//! global `--json` before or after the command, and `--format json`.

use crate::support::{json, run, travel_protocol, Format, TRAVEL};

#[test]
fn json_before_or_after_the_command_or_as_format_is_the_same() {
    let protocol = travel_protocol(Format::Sqlite);
    let path = protocol.arg();
    let commands: [&[&str]; 5] = [
        &["sessions", path],
        &["show", path, TRAVEL],
        &["query", path, "--errors"],
        &["stats", path],
        &["check", path],
    ];
    for command in commands {
        let after = json(&run(&[command, &["--json"]].concat()));
        let before = json(&run(&[&["--json"], command].concat()));
        let format = json(&run(&[command, &["--format", "json"]].concat()));
        assert_eq!(before, after, "{command:?}");
        assert_eq!(format, after, "{command:?}");
    }
}

#[test]
fn json_wins_over_a_table_format() {
    let protocol = travel_protocol(Format::Jsonl);
    let out = json(&run(&[
        "sessions",
        protocol.arg(),
        "--format",
        "table",
        "--json",
    ]));
    assert_eq!(out.as_array().map(Vec::len), Some(2), "{out}");
}
