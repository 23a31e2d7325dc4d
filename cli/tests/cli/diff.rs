//! `diff` compares two runs: steps aligned by kind and name, the first
//! divergence, and deltas — as text, JSON, and a page in the browser.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reagentic_protocol::{
    EntryError, EntryStatus, EventType, JsonlStorage, ProtocolEntry, SqliteStorage, Storage,
};
use serde_json::json;

use crate::browser::Browser;
use crate::support::{json as json_of, ok, run, stderr};

/// A step of a made-up run: kind, name, fails, tokens in and out.
type Step<'a> = (&'a str, &'a str, bool, Option<(u64, u64)>);

/// One agent `planner` with these steps inside, each 10 ms (+ `slower` ms).
fn made_up_run(session: &str, steps: &[Step], slower: i64) -> Vec<ProtocolEntry> {
    let trace = format!("{:0>32}", session.len());
    let t0: DateTime<Utc> = "2026-11-27T03:00:00Z".parse().unwrap();
    let at = |ms: i64| t0 + TimeDelta::milliseconds(ms);
    let mut out = Vec::new();
    let total = steps.len() as i64 * (12 + slower) + 2;
    let mut root_start = ProtocolEntry::new(
        EventType::AgentStart,
        &trace,
        "1000000000000000",
        "planner",
        at(0),
    );
    root_start.session_id = Some(session.into());
    let mut root_end = root_start.clone();
    root_end.event_type = EventType::AgentEnd;
    root_end.entry_id = ProtocolEntry::make_id(&trace, "1000000000000000", "end");
    root_end.timestamp = at(total);
    root_end.duration_ms = Some(total as f64);
    root_end.status = EntryStatus::Ok;
    out.push(root_start);
    for (i, (kind, name, fails, tokens)) in steps.iter().enumerate() {
        let (start_type, end_type) = match *kind {
            "llm" => (EventType::LlmStart, EventType::LlmEnd),
            _ => (EventType::ToolStart, EventType::ToolEnd),
        };
        let span = format!("{:016x}", i + 2);
        let from = 1 + i as i64 * (12 + slower);
        let to = from + 10 + slower;
        let mut start = ProtocolEntry::new(start_type, &trace, &span, *name, at(from));
        start.parent_span_id = Some("1000000000000000".into());
        start.session_id = Some(session.into());
        if *kind == "llm" {
            start.model = Some((*name).into());
        } else {
            start.tool_name = Some((*name).into());
        }
        let mut end = start.clone();
        end.event_type = end_type;
        end.entry_id = ProtocolEntry::make_id(&trace, &span, "end");
        end.timestamp = at(to);
        end.duration_ms = Some((to - from) as f64);
        end.status = EntryStatus::Ok;
        if let Some((i, o)) = tokens {
            end.input_tokens = Some(*i);
            end.output_tokens = Some(*o);
        }
        if *fails {
            end.status = EntryStatus::Error;
            end.error = Some(EntryError::new(
                Some("Timeout".into()),
                Some("took too long".into()),
            ));
        }
        out.push(start);
        out.push(end);
    }
    out.push(root_end);
    out
}

const BEFORE: &[Step] = &[
    ("llm", "gpt-4o", false, Some((100, 20))),
    ("tool", "search", false, None),
    ("tool", "fetch", true, None),
    ("llm", "gpt-4o", false, Some((150, 30))),
];
const AFTER: &[Step] = &[
    ("llm", "gpt-4o", false, Some((100, 20))),
    ("tool", "search", false, None),
    ("tool", "fetch", false, None),
    ("tool", "summarise", false, None),
    ("llm", "gpt-4o", false, Some((180, 40))),
];

fn write(path: &Path, entries: &[ProtocolEntry]) {
    let mut storage: Box<dyn Storage> = if path.extension().unwrap() == "db" {
        Box::new(SqliteStorage::open(path).unwrap())
    } else {
        Box::new(JsonlStorage::open(path).unwrap())
    };
    storage.write_batch(entries).unwrap();
}

fn one_file() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.db");
    let mut entries = made_up_run("before", BEFORE, 0);
    entries.extend(made_up_run("after-the-fix", AFTER, 5));
    write(&path, &entries);
    (dir, path)
}

#[test]
fn steps_are_aligned_with_the_first_divergence_and_the_deltas() {
    let (_dir, path) = one_file();
    let file = path.to_str().unwrap();
    let text = ok(&run(&["diff", file, "before", "after-the-fix"]));
    assert!(
        text.contains(
            "First divergence: step 4 of A and 4 of B: tool fetch (failed) in A, tool fetch in B"
        ),
        "{text}"
    );
    let tool_calls = text.lines().find(|l| l.starts_with("tool calls")).unwrap();
    assert!(tool_calls.ends_with("+1"), "{tool_calls}");

    let c = json_of(&run(&["diff", file, "before", "after-the-fix", "--json"]));
    let ops: Vec<&str> = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["op"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["same", "same", "same", "same", "only_b", "same"]);
    assert_eq!(c["rows"][3]["outcome_changed"], true);
    assert_eq!(c["rows"][4]["b"]["name"], "summarise");
    assert_eq!(c["first_divergence"]["row"], 3);
    assert_eq!(c["delta"]["tool_calls"], 1);
    assert_eq!(c["delta"]["errors"], -1);
    assert_eq!(c["delta"]["input_tokens"], 30);
    assert_eq!(c["delta"]["output_tokens"], 10);
    assert_eq!(c["rows"][5]["tokens_delta"], 40);
    assert_eq!(c["rows"][1]["duration_delta_ms"], 5.0);
    // Priced as read (gpt-4o: $2.50 / $10 per million tokens):
    // A: 250 × 2.5e-6 + 50 × 1e-5 = 0.001125; B: 280 × 2.5e-6 + 60 × 1e-5 = 0.0013.
    assert_eq!(c["a"]["cost"], "$0.001125");
    assert_eq!(c["b"]["cost"], "$0.001300");
    let delta = c["delta"]["cost_usd"].as_f64().unwrap();
    assert!((delta - 0.000175).abs() < 1e-12, "{delta}");

    // The same run against itself: no divergence.
    let same = json_of(&run(&["diff", file, "before", "before", "--json"]));
    assert_eq!(same["first_divergence"], json!(null));
}

#[test]
fn the_runs_may_come_from_two_files_of_either_form() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.db");
    let b = dir.path().join("b.jsonl");
    write(&a, &made_up_run("run", BEFORE, 0));
    write(&b, &made_up_run("run", AFTER, 0));
    let c = json_of(&run(&[
        "diff",
        a.to_str().unwrap(),
        "run",
        b.to_str().unwrap(),
        "run",
        "--json",
    ]));
    assert!(c["a"]["file"].as_str().unwrap().ends_with("a.db"));
    assert!(c["b"]["file"].as_str().unwrap().ends_with("b.jsonl"));
    assert_eq!(c["delta"]["steps"], 1);

    let missing = run(&["diff", a.to_str().unwrap(), "run", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
    let message = stderr(&missing);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("no session or trace \"nope\""),
        "{message}"
    );
}

#[test]
fn the_diff_page_shows_the_alignment_and_the_divergence() {
    let (dir, path) = one_file();
    let page = dir.path().join("diff.html");
    let out = ok(&run(&[
        "diff",
        path.to_str().unwrap(),
        "before",
        "after-the-fix",
        "--html",
        page.to_str().unwrap(),
    ]));
    assert!(out.starts_with("wrote "), "{out}");
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for(
        "window.__runView && window.__runView.ready",
        Duration::from_secs(10)
    ));
    assert_eq!(browser.eval("return document.querySelectorAll('#steps tr.op-same, #steps tr.op-insert, #steps tr.op-delete').length"), json!(6));
    assert_eq!(
        browser.eval("return document.querySelectorAll('#steps tr.op-insert').length"),
        json!(1)
    );
    assert_eq!(
        browser.eval("return document.querySelector('#first-divergence').rowIndex"),
        json!(4),
        "the heading row, then the fourth step"
    );
    let note = browser.eval("return document.querySelector('#divergence').textContent");
    assert!(
        note.as_str().unwrap().contains("tool fetch (failed) in A"),
        "{note}"
    );
    assert_eq!(
        browser.eval("return performance.getEntriesByType('resource').length"),
        json!(0)
    );
    browser.screenshot("diff-view.png");
}

#[test]
fn markup_in_step_names_stays_text_on_the_diff_page() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs.jsonl");
    let payload =
        r#"<img src=x onerror="window.__pwned=1"></script><script>window.__pwned=2</script>"#;
    let mut entries = made_up_run("before", BEFORE, 0);
    entries.extend(made_up_run(payload, &[("tool", payload, true, None)], 0));
    write(&path, &entries);
    let page = dir.path().join("diff.html");
    ok(&run(&[
        "diff",
        path.to_str().unwrap(),
        "before",
        payload,
        "--html",
        page.to_str().unwrap(),
    ]));
    let browser = Browser::start();
    browser.open_file(&page);
    assert!(browser.wait_for(
        "window.__runView && window.__runView.ready",
        Duration::from_secs(10)
    ));
    assert_eq!(
        browser.eval(
            "return [window.__pwned === undefined, document.querySelectorAll('img').length, document.scripts.length]"
        ),
        json!([true, 0, 2])
    );
    let names = browser.eval(
        "return [...document.querySelectorAll('#steps td span.bad')].map(s => s.textContent)",
    );
    assert!(
        names.as_array().unwrap().iter().any(|n| n == payload),
        "{names}"
    );
}
