//! Every command's `--help` has examples and describes its JSON: each field
//! the command prints is named there.

use serde_json::Value;

use crate::support::{json, ok, run, run_on, travel_protocol, Format, SMALL_TALK, TRAVEL};

/// The fields of `object`, which must be a JSON object.
fn fields(object: &Value) -> Vec<&str> {
    object
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {object}"))
        .keys()
        .map(String::as_str)
        .collect()
}

/// Whether `help` has the section describing the JSON.
fn json_section(help: &str) -> bool {
    help.lines().any(|line| line.starts_with("JSON"))
}

/// Asserts that `command --help` names every field of each object.
fn described(command: &str, objects: &[&Value]) {
    let help = ok(&run(&[command, "--help"]));
    assert!(help.contains("Examples:"), "{command}: {help}");
    assert!(json_section(&help), "{command}: {help}");
    for object in objects {
        for field in fields(object) {
            let named = help
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .any(|word| word == field);
            assert!(
                named,
                "`{command} --help` does not describe {field:?}:\n{help}"
            );
        }
    }
}

#[test]
fn each_command_describes_the_fields_of_its_json() {
    let protocol = travel_protocol(Format::Sqlite);
    let path = &protocol.path;

    let sessions = json(&run_on("sessions", path, &["--json"]));
    described("sessions", &[&sessions[0]]);

    let shown = json(&run_on("show", path, &[TRAVEL, "--json"]));
    described("show", &[&shown, &shown["steps"][0]]);

    let entries = json(&run_on("query", path, &["--json"]));
    described("query", &[&entries[0]]);
    described("tail", &[&entries[0]]);

    let stats = json(&run_on("stats", path, &["--json"]));
    described("stats", &[&stats, &stats["tool"][0]]);

    let report = json(&run_on("check", path, &["--json"]));
    described("check", &[&report]);

    let copy = protocol.dir.path().join("copy.jsonl");
    let converted = json(&run(&[
        "convert",
        protocol.arg(),
        copy.to_str().unwrap(),
        "--json",
    ]));
    described("convert", &[&converted]);

    let diff = json(&run_on("diff", path, &[TRAVEL, SMALL_TALK, "--json"]));
    described(
        "diff",
        &[
            &diff,
            &diff["a"],
            &diff["delta"],
            &diff["first_divergence"],
            &diff["rows"][0],
            &diff["rows"][0]["a"],
        ],
    );
}

#[test]
fn short_help_keeps_to_the_examples() {
    for command in [
        "sessions", "show", "query", "stats", "tail", "convert", "check", "diff", "ui", "serve",
        "import", "export",
    ] {
        let help = ok(&run(&[command, "-h"]));
        assert!(help.contains("Examples:"), "{command}: {help}");
        assert!(!json_section(&help), "{command}: {help}");
    }
}
