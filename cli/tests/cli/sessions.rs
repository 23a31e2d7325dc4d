//! `sessions` lists one row per session, newest first, with what each did,
//! in a table that fits the terminal or as JSON.

use crate::support::{json, ok, run_on, travel_protocol, Format, SMALL_TALK, TRAVEL};

#[test]
fn sessions_are_summarised_newest_first_from_both_formats() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let list = json(&run_on("sessions", &protocol.path, &["--json"]));
        let list = list.as_array().expect("array");
        assert_eq!(list.len(), 2, "{format:?}: {list:#?}");
        assert_eq!(list[0]["id"], SMALL_TALK, "newest first");
        let travel = &list[1];
        assert_eq!(travel["id"], TRAVEL);
        assert_eq!(travel["kind"], "session");
        assert_eq!(
            travel["agents"],
            serde_json::json!(["travel_specialist", "triage"])
        );
        assert_eq!(travel["model_calls"], 2);
        assert_eq!(travel["tool_calls"], 4);
        assert_eq!(travel["input_tokens"], 17);
        assert_eq!(travel["output_tokens"], 15);
        assert_eq!(travel["errors"], 1);
        assert!(travel["wall_ms"].as_f64().unwrap() > 0.0);
        assert!(travel["first"].as_str().unwrap() < travel["last"].as_str().unwrap());

        let limited = json(&run_on(
            "sessions",
            &protocol.path,
            &["--json", "--limit", "1"],
        ));
        assert_eq!(limited.as_array().unwrap().len(), 1);
        assert_eq!(limited[0]["id"], SMALL_TALK);

        let future = json(&run_on(
            "sessions",
            &protocol.path,
            &["--json", "--since", "2999-01-01"],
        ));
        assert_eq!(future, serde_json::json!([]));

        // Active before a time: the travel session began before the small
        // talk's last entry, so a window ending there keeps only it.
        let before_small_talk = list[0]["last"].as_str().unwrap();
        let earlier = json(&run_on(
            "sessions",
            &protocol.path,
            &["--json", "--until", travel["first"].as_str().unwrap()],
        ));
        assert_eq!(
            earlier,
            serde_json::json!([]),
            "nothing before the first entry"
        );
        let until = json(&run_on(
            "sessions",
            &protocol.path,
            &["--json", "--until", before_small_talk],
        ));
        let ids: Vec<&str> = until
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&TRAVEL), "{until:#?}");
    }
}

#[test]
fn the_table_fits_the_terminal_width_and_has_no_colour_when_piped() {
    let protocol = travel_protocol(Format::Sqlite);
    let wide = ok(&run_on("sessions", &protocol.path, &[]));
    let lines: Vec<&str> = wide.lines().collect();
    assert_eq!(lines.len(), 3, "{wide}");
    assert!(lines[0].starts_with("LAST"), "{wide}");
    assert!(lines[1].contains(SMALL_TALK), "{wide}");
    assert!(lines[2].contains(TRAVEL), "{wide}");
    assert!(lines[2].contains("travel_specialist, triage"), "{wide}");
    assert!(lines[2].contains("17/15"), "{wide}");
    assert!(!wide.contains('\x1b'), "no colour when not a terminal");

    let narrow = crate::support::bin()
        .args(["sessions", protocol.arg()])
        .env("COLUMNS", "60")
        .output()
        .unwrap();
    let narrow = ok(&narrow);
    for line in narrow.lines() {
        assert!(line.chars().count() <= 60, "{line:?} is wider than 60");
    }
    assert!(narrow.contains('…'), "cut columns are marked: {narrow}");
}
