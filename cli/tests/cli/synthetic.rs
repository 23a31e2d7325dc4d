//! Large runs made up entry by entry (no pipeline), for the tests and the
//! benchmark of the run page: an orchestrator agent with worker agents that
//! each make model calls and tool calls; every 97th tool call fails.

use chrono::{DateTime, TimeDelta, Utc};
use reagentic_protocol::{EntryError, EntryStatus, EventType, ProtocolEntry};
use serde_json::json;

/// The session id of a synthetic run.
pub const SESSION: &str = "big-run";

/// A run of exactly `steps` steps (start and end entry each). With
/// `megabyte`, the first model call's prompt is a 1 MB message.
pub fn big_run(steps: usize, megabyte: bool) -> Vec<ProtocolEntry> {
    let trace = "5b8aa5a2d2c872e8321cf37308d69df2";
    let t0: DateTime<Utc> = "2026-11-27T03:00:00Z".parse().expect("time");
    let at = |ms: i64| t0 + TimeDelta::milliseconds(ms);
    let mut entries = Vec::with_capacity(steps * 2);
    let mut span = 0u64;
    let mut next_span = || {
        span += 1;
        format!("{span:016x}")
    };
    let total_ms = steps as i64 * 11;
    let root = next_span();
    let mut push = |kind: (EventType, EventType),
                    id: &str,
                    parent: Option<&str>,
                    name: &str,
                    start: i64,
                    end: i64,
                    fill: &dyn Fn(&mut ProtocolEntry, bool)| {
        for (event, ms, is_start) in [(kind.0, start, true), (kind.1, end, false)] {
            let mut e = ProtocolEntry::new(event, trace, id, name, at(ms));
            e.parent_span_id = parent.map(str::to_owned);
            e.session_id = Some(SESSION.into());
            e.service_name = Some("synthetic".into());
            if !is_start {
                e.duration_ms = Some((end - start) as f64);
                e.status = EntryStatus::Ok;
            }
            fill(&mut e, is_start);
            entries.push(e);
        }
    };
    push(
        (EventType::AgentStart, EventType::AgentEnd),
        &root,
        None,
        "orchestrator",
        0,
        total_ms,
        &|e, _| e.agent_name = Some("orchestrator".into()),
    );
    let mut made = 1;
    let mut clock = 1i64;
    let mut group = 0;
    let mut first_llm = true;
    while made < steps {
        group += 1;
        let worker = next_span();
        let worker_name = format!("worker-{}", group % 7);
        let children = (steps - made - 1).min(4);
        let worker_end = clock + 10 * (children as i64 + 1);
        push(
            (EventType::AgentStart, EventType::AgentEnd),
            &worker,
            Some(&root),
            &worker_name,
            clock,
            worker_end,
            &|e, _| e.agent_name = Some(worker_name.clone()),
        );
        made += 1;
        for child in 0..children {
            let id = next_span();
            let start = clock + 1 + 10 * child as i64;
            let end = start + 8;
            if child % 3 == 0 {
                let prompt = if first_llm && megabyte {
                    "a long document line\n".repeat(1_000_000 / 21 + 1)
                } else {
                    format!("Step {made}: what should worker {group} do next?")
                };
                first_llm = false;
                push(
                    (EventType::LlmStart, EventType::LlmEnd),
                    &id,
                    Some(&worker),
                    "chat gpt-4o",
                    start,
                    end,
                    &|e, is_start| {
                        e.agent_name = Some(worker_name.clone());
                        e.model = Some("gpt-4o".into());
                        e.provider = Some("openai".into());
                        if is_start {
                            e.input = Some(json!([
                                {"role": "system", "parts": [{"type": "text", "content": "You are a careful worker agent."}]},
                                {"role": "user", "parts": [{"type": "text", "content": prompt}]},
                            ]).into());
                        } else {
                            e.input_tokens = Some(120);
                            e.output_tokens = Some(30);
                            e.output = Some(json!([
                                {"role": "assistant", "parts": [{"type": "text", "content": "Call the lookup tool, then summarise."}], "finish_reason": "stop"}
                            ]).into());
                        }
                    },
                );
            } else {
                let fails = made % 97 == 0;
                push(
                    (EventType::ToolStart, EventType::ToolEnd),
                    &id,
                    Some(&worker),
                    "lookup",
                    start,
                    end,
                    &|e, is_start| {
                        e.agent_name = Some(worker_name.clone());
                        e.tool_name = Some("lookup".into());
                        e.tool_call_id = Some(format!("call_{made}"));
                        if is_start {
                            e.input =
                                Some(json!({"query": format!("record {made}"), "limit": 5}).into());
                        } else if fails {
                            e.status = EntryStatus::Error;
                            e.error = Some(EntryError::new(
                                Some("Timeout".into()),
                                Some("lookup took longer than 5 s".into()),
                            ));
                        } else {
                            e.output =
                                Some(json!(format!("5 records found for record {made}")).into());
                        }
                    },
                );
            }
            made += 1;
        }
        clock = worker_end + 1;
    }
    entries
}
