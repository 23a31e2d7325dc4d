//! `stats` gives count, error rate, p50/p95/max latency and tokens per
//! agent, model and tool.

use crate::support::{json, ok, run_on, travel_protocol, Format};

#[test]
fn per_tool_model_and_agent_figures_from_both_formats() {
    for format in Format::BOTH {
        let protocol = travel_protocol(format);
        let all = json(&run_on("stats", &protocol.path, &["--json"]));
        let tools = all["tool"].as_array().unwrap();
        let weather = tools.iter().find(|t| t["name"] == "get_weather").unwrap();
        assert_eq!(weather["count"], 2, "{format:?}");
        assert_eq!(weather["errors"], 1);
        assert_eq!(weather["error_rate"], 0.5);
        let (p50, p95, max) = (
            weather["p50_ms"].as_f64().unwrap(),
            weather["p95_ms"].as_f64().unwrap(),
            weather["max_ms"].as_f64().unwrap(),
        );
        assert!(p50 >= 2.0 && p50 <= p95 && p95 <= max, "{weather}");
        assert_eq!(tools[0]["name"], "get_weather", "busiest first");
        assert_eq!(tools.len(), 3);
        let nothing_yet = json(&run_on(
            "stats",
            &protocol.path,
            &["--json", "--by", "tool", "--until", "2000-01-01"],
        ));
        assert_eq!(nothing_yet["tool"], serde_json::json!([]), "{format:?}");
        let all_until_later = json(&run_on(
            "stats",
            &protocol.path,
            &["--json", "--by", "tool", "--until", "2999-01-01"],
        ));
        assert_eq!(all_until_later["tool"].as_array().unwrap().len(), 3);

        let models = all["model"].as_array().unwrap();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0]["name"], "gpt-4o");
        assert_eq!(models[0]["count"], 3);
        assert_eq!(models[0]["input_tokens"], 20);
        assert_eq!(models[0]["output_tokens"], 19);

        let agents = all["agent"].as_array().unwrap();
        let triage = agents.iter().find(|a| a["name"] == "triage").unwrap();
        assert_eq!(triage["count"], 1);
        assert_eq!(triage["input_tokens"], 11, "its own model calls only");
        let specialist = agents
            .iter()
            .find(|a| a["name"] == "travel_specialist")
            .unwrap();
        assert_eq!(specialist["input_tokens"], 6);
    }
}

#[test]
fn by_selects_the_tables_and_since_the_window() {
    let protocol = travel_protocol(Format::Sqlite);
    let text = ok(&run_on("stats", &protocol.path, &["--by", "tool"]));
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("TOOL") && lines[0].contains("P95"),
        "{text}"
    );
    let weather = lines.iter().find(|l| l.starts_with("get_weather")).unwrap();
    assert!(weather.contains("50.0%"), "{weather}");
    assert!(!text.contains("MODEL") && !text.contains("AGENT"), "{text}");

    let only_models = json(&run_on(
        "stats",
        &protocol.path,
        &["--by", "model", "--json"],
    ));
    assert!(only_models.get("tool").is_none());

    let in_order = json(&run_on(
        "stats",
        &protocol.path,
        &["--by", "tool,model,tool", "--json"],
    ));
    let keys: Vec<&String> = in_order.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["tool", "model"], "as asked, each once");
    assert_eq!(only_models["model"][0]["count"], 3);

    let none = json(&run_on(
        "stats",
        &protocol.path,
        &["--since", "2999-01-01", "--json"],
    ));
    assert_eq!(none["tool"], serde_json::json!([]));
}
