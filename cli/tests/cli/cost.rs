//! What runs cost: `stats`, `sessions` and `query` with costs reported,
//! priced from the built-in table (prefixed, dated, tiered, cached and
//! reasoning tokens), unpriced, and priced again with `--prices` — every
//! total checked against numbers computed by hand in the comments.

use std::path::{Path, PathBuf};

use chrono::{DateTime, TimeDelta, Utc};
use reagentic_protocol::{
    EntryStatus, EventType, JsonlStorage, ProtocolEntry, SqliteStorage, Storage,
};
use serde_json::Value;

use crate::support::{json, ok, run, run_on, stderr};

/// One end entry of session `session`, by agent `agent`.
fn end(event_type: EventType, session: &str, agent: &str, name: &str, n: i64) -> ProtocolEntry {
    let t0: DateTime<Utc> = "2026-11-27T03:00:00Z".parse().unwrap();
    let trace = format!("{:0>32}", session.len());
    let mut e = ProtocolEntry::new(
        event_type,
        trace,
        format!("{n:016x}"),
        name,
        t0 + TimeDelta::seconds(n),
    );
    e.session_id = Some(session.into());
    e.agent_name = Some(agent.into());
    e.status = EntryStatus::Ok;
    e.duration_ms = Some(10.0);
    e
}

fn call(session: &str, agent: &str, model: &str, provider: Option<&str>, n: i64) -> ProtocolEntry {
    let mut e = end(EventType::LlmEnd, session, agent, "chat", n);
    e.model = Some(model.into());
    e.provider = provider.map(str::to_owned);
    e
}

/// Written the way a recording without prices wrote them (no
/// `cost_source`): the reader prices the model calls as it reads them.
fn dataset() -> Vec<ProtocolEntry> {
    // Session s-a, agent planner:
    // gpt-4o-2024-08-06 → gpt-4o (without_version), 10 000 in of which
    // 4 000 cache reads, 2 000 out:
    //   6 000 × 2.5e-6 + 4 000 × 1.25e-6 + 2 000 × 1e-5 = 0.015 + 0.005 + 0.02 = 0.04
    let mut a1 = call("s-a", "planner", "gpt-4o-2024-08-06", Some("openai"), 1);
    (a1.input_tokens, a1.output_tokens) = (Some(10_000), Some(2_000));
    a1.cache_read_input_tokens = Some(4_000);
    // openai/o3 → o3 (without_provider), 1 000 in, 3 000 out of which 2 500
    // reasoning (no reasoning rate: the output rate):
    //   1 000 × 2e-6 + 3 000 × 8e-6 = 0.002 + 0.024 = 0.026
    let mut a2 = call("s-a", "planner", "openai/o3", None, 2);
    (a2.input_tokens, a2.output_tokens) = (Some(1_000), Some(3_000));
    a2.reasoning_tokens = Some(2_500);
    // No price: 1 500 unpriced tokens.
    let mut a3 = call("s-a", "planner", "acme-llm-9", Some("acme"), 3);
    (a3.input_tokens, a3.output_tokens) = (Some(1_000), Some(500));
    // A paid search tool: $0.01, reported.
    let mut a4 = end(EventType::ToolEnd, "s-a", "planner", "web_search", 4);
    a4.tool_name = Some("web_search".into());
    a4.cost_usd = Some(0.01);
    // The agent re-reports a total of its own: never added.
    let mut a5 = end(EventType::AgentEnd, "s-a", "planner", "planner", 5);
    a5.cost_usd = Some(9.99);
    // s-a: 0.04 + 0.026 + 0.01 = 0.076, plus 1 500 unpriced tokens.

    // Session s-b, agent writer:
    // A reported cost is kept: 0.5.
    let mut b1 = call(
        "s-b",
        "writer",
        "claude-sonnet-4-5-20250929",
        Some("anthropic"),
        6,
    );
    (b1.input_tokens, b1.output_tokens) = (Some(2_000), Some(1_000));
    b1.cost_usd = Some(0.5);
    // gemini-2.5-pro above its 200k tier: the tier prices the whole call.
    //   250 000 × 2.5e-6 + 1 000 × 1.5e-5 = 0.625 + 0.015 = 0.64
    let mut b2 = call("s-b", "writer", "gemini-2.5-pro", None, 7);
    (b2.input_tokens, b2.output_tokens) = (Some(250_000), Some(1_000));
    let b3 = end(EventType::AgentEnd, "s-b", "writer", "writer", 8);
    // s-b: 0.5 + 0.64 = 1.14.
    vec![a1, a2, a3, a4, a5, b1, b2, b3]
}

fn files() -> (tempfile::TempDir, [PathBuf; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("costs.db");
    let jsonl = dir.path().join("costs.jsonl");
    let mut sqlite = SqliteStorage::open(&db).unwrap();
    sqlite.write_batch(&dataset()).unwrap();
    sqlite.close().unwrap();
    let mut lines = JsonlStorage::open(&jsonl).unwrap();
    lines.write_batch(&dataset()).unwrap();
    lines.close().unwrap();
    (dir, [db, jsonl])
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() < 1e-9)
}

fn group<'a>(stats: &'a Value, by: &str, name: &str) -> &'a Value {
    stats[by]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == name)
        .unwrap_or_else(|| panic!("no {by} {name} in {stats}"))
}

#[test]
fn stats_totals_match_the_hand_computed_costs_in_both_forms() {
    let (_dir, paths) = files();
    for path in &paths {
        let stats = json(&run_on(
            "stats",
            path,
            &["--by", "model,agent,session,tool", "--json"],
        ));
        let cases = [
            ("model", "gpt-4o-2024-08-06", 0.04),
            ("model", "openai/o3", 0.026),
            ("model", "claude-sonnet-4-5-20250929", 0.5),
            ("model", "gemini-2.5-pro", 0.64),
            ("agent", "planner", 0.076),
            ("agent", "writer", 1.14),
            ("session", "s-a", 0.076),
            ("session", "s-b", 1.14),
            ("tool", "web_search", 0.01),
        ];
        for (by, name, usd) in cases {
            let cost = &group(&stats, by, name)["cost"];
            assert!(close(&cost["known_usd"], usd), "{by} {name}: {cost}");
        }
        let unpriced = &group(&stats, "model", "acme-llm-9")["cost"];
        assert_eq!(unpriced["known_usd"], 0.0);
        assert_eq!(unpriced["unpriced_calls"], 1);
        assert_eq!(unpriced["unpriced_input_tokens"], 1_000);
        assert_eq!(unpriced["unpriced_output_tokens"], 500);
        let planner = &group(&stats, "agent", "planner")["cost"];
        assert_eq!(
            (&planner["reported"], &planner["priced"]),
            (&1.into(), &2.into())
        );
        assert_eq!(planner["unpriced_calls"], 1, "unpriced is counted, not $0");

        // The table says the same, unpriced tokens beside the cost.
        let table = ok(&run_on("stats", path, &["--by", "session"]));
        let s_a = table.lines().find(|l| l.starts_with("s-a")).unwrap();
        assert!(s_a.contains("$0.08") && s_a.ends_with("1,500"), "{table}");
    }
}

#[test]
fn sessions_show_cost_and_unpriced_tokens_and_sort_by_cost() {
    let (_dir, paths) = files();
    for path in &paths {
        let list = json(&run_on("sessions", path, &["--json"]));
        let ids: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["s-b", "s-a"], "newest first");
        assert!(close(&list[1]["cost"]["usd"], 0.076));
        assert_eq!(list[1]["cost"]["unpriced_tokens"], 1_500);
        assert_eq!(
            list[1]["cost"]["label"],
            "$0.08 + unpriced (1 call, 1,500 tokens)"
        );
        assert!(close(&list[0]["cost"]["usd"], 1.14));
        assert_eq!(list[0]["cost"]["label"], "$1.14");

        let cheapest_last = json(&run_on(
            "sessions",
            path,
            &["--sort", "cost", "--limit", "1", "--json"],
        ));
        assert_eq!(cheapest_last.as_array().unwrap().len(), 1);
        assert_eq!(cheapest_last[0]["id"], "s-b");
        let table = ok(&run_on("sessions", path, &[]));
        assert!(table.contains("1,500 tokens"), "{table}");
    }
}

#[test]
fn query_min_cost_finds_the_expensive_calls() {
    let (_dir, paths) = files();
    for path in &paths {
        let found = json(&run_on(
            "query",
            path,
            &["--type", "llm_end", "--min-cost", "0.03", "--json"],
        ));
        let models: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["model"].as_str().unwrap())
            .collect();
        assert_eq!(
            models,
            [
                "gpt-4o-2024-08-06",
                "claude-sonnet-4-5-20250929",
                "gemini-2.5-pro"
            ]
        );
        assert_eq!(found[0]["cost_source"], "priced");
        assert_eq!(found[0]["price_model"], "gpt-4o");
        assert_eq!(found[0]["price_rule"], "without_version");
        assert_eq!(found[1]["cost_source"], "reported");
        // The limit counts what passed the cost test.
        let one = json(&run_on(
            "query",
            path,
            &[
                "--type",
                "llm_end",
                "--min-cost",
                "$0.6",
                "--limit",
                "1",
                "--json",
            ],
        ));
        assert_eq!(one.as_array().unwrap().len(), 1);
        assert_eq!(one[0]["model"], "gemini-2.5-pro");
    }
    let bad = run_on("query", &paths[0], &["--min-cost=-1"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not an amount of US dollars"));
}

#[test]
fn explain_cost_names_the_price_and_the_rule_of_every_model() {
    let (_dir, paths) = files();
    let lines = json(&run_on("stats", &paths[0], &["--explain-cost", "--json"]));
    let by_model = |model: &str| {
        lines["cost_by_price"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["model"] == model)
            .cloned()
            .unwrap()
    };
    let expected = [
        ("gpt-4o-2024-08-06", "priced", "gpt-4o", "without_version"),
        ("openai/o3", "priced", "o3", "without_provider"),
        ("gemini-2.5-pro", "priced", "gemini-2.5-pro", "exact"),
    ];
    for (model, source, key, rule) in expected {
        let line = by_model(model);
        assert_eq!(
            (&line["source"], &line["price_model"], &line["price_rule"]),
            (&source.into(), &key.into(), &rule.into()),
            "{line}"
        );
    }
    assert_eq!(by_model("claude-sonnet-4-5-20250929")["source"], "reported");
    let unknown = by_model("acme-llm-9");
    assert_eq!(unknown["source"], "unpriced");
    assert_eq!(unknown["cost"]["unpriced_input_tokens"], 1_000);
    // Most expensive first.
    assert_eq!(lines["cost_by_price"][0]["model"], "gemini-2.5-pro");
    let table = ok(&run_on("stats", &paths[0], &["--explain-cost"]));
    assert!(table.contains("without_version"), "{table}");
}

fn price_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_user_price_file_overrides_the_built_in_prices_and_prices_the_unknown() {
    let (dir, paths) = files();
    let mine = price_file(
        dir.path(),
        "mine.json",
        r#"{"gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06,
                       "cache_read_input_token_cost": 5e-07},
            "acme-*": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#,
    );
    for path in &paths {
        let stats = json(&run_on(
            "stats",
            path,
            &[
                "--by",
                "model,session",
                "--prices",
                mine.to_str().unwrap(),
                "--json",
            ],
        ));
        // gpt-4o at my prices: 6 000 × 1e-6 + 4 000 × 5e-7 + 2 000 × 1e-6 = 0.01
        let gpt = &group(&stats, "model", "gpt-4o-2024-08-06")["cost"];
        assert!(close(&gpt["known_usd"], 0.01), "{gpt}");
        // acme by my pattern: 1 000 × 1e-6 + 500 × 2e-6 = 0.002
        let acme = &group(&stats, "model", "acme-llm-9")["cost"];
        assert!(close(&acme["known_usd"], 0.002), "{acme}");
        assert_eq!(acme["unpriced_calls"], 0);
        // s-a: 0.01 + 0.026 + 0.002 + 0.01 (the tool) = 0.048, nothing unpriced;
        // the reported claude cost stays.
        let s_a = &group(&stats, "session", "s-a")["cost"];
        assert!(close(&s_a["known_usd"], 0.048), "{s_a}");
        let s_b = &group(&stats, "session", "s-b")["cost"];
        assert!(close(&s_b["known_usd"], 1.14), "{s_b}");
    }
    let rule = json(&run_on(
        "query",
        &paths[0],
        &[
            "--model",
            "acme-llm-9",
            "--prices",
            mine.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(rule[0]["price_rule"], "pattern:acme-*");
}

#[test]
fn a_bad_price_file_is_named_before_anything_is_read() {
    let (dir, paths) = files();
    let cases = [
        ("broken.json", "{not json", "is not valid JSON"),
        (
            "negative.json",
            r#"{"my-model": {"input_cost_per_token": -1e-06}}"#,
            "model \"my-model\"",
        ),
        (
            "text.json",
            r#"{"my-model": {"output_cost_per_token": "cheap"}}"#,
            "not a number",
        ),
    ];
    for (name, text, says) in cases {
        let file = price_file(dir.path(), name, text);
        let missing_protocol = dir.path().join("nowhere.db");
        for protocol in [&paths[0], &missing_protocol] {
            let out = run(&[
                "stats",
                protocol.to_str().unwrap(),
                "--prices",
                file.to_str().unwrap(),
            ]);
            assert_eq!(out.status.code(), Some(2));
            let err = stderr(&out);
            assert!(err.contains(name) && err.contains(says), "{err}");
        }
    }
}
