//! swiftide, out of the box: agent runs and tool calls exactly as swiftide
//! opens them.
//!
//! Mirrors `bosun-ai/swiftide` `swiftide-agents/src/agent.rs`
//! @ 4959ddfe00e0424215dd9bd3e8a6acb579cc056c: `#[tracing::instrument(skip_all,
//! name = "agent.query")]` on `Agent::query`; per tool call
//! `info_span!("tool", "otel.name" = format!("tool.{}", tool.name()))`, the
//! tool run inside it logging `tracing::error!(error = %e, "Failed tool
//! call")` on failure; `#[tracing::instrument(skip_all, fields(message = …))]`
//! on `add_message`. Model calls are `#[tracing::instrument(skip_all)]` on
//! `complete` (`swiftide-integrations/src/openai/chat_completion.rs`
//! @ efe126ee9059d407435fd87beb90015aa7bc407d), whose request and response go
//! to `debug!` events, not span fields: `complete` is too generic a name to
//! claim by default, so the README shows the one rule that makes it a model
//! call, exercised here.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{EntryStatus, EventType, ProtocolConfig, SpanMatch, StepKind};

fn record_swiftide_query(harness: &Harness) {
    harness.in_scope(|| {
        let query = tracing::info_span!("agent.query");
        let _query = query.enter();
        {
            let complete = tracing::info_span!("complete");
            let _complete = complete.enter();
            tracing::debug!(model = "gpt-4o-mini", request = "{}", "Sending request to OpenAI");
        }
        {
            let add = tracing::info_span!("add_message", message = "assistant: calling tools");
            let _add = add.enter();
        }
        for (tool, fails) in [("search_code", false), ("run_tests", true)] {
            let span = tracing::info_span!("tool", "otel.name" = format!("tool.{tool}"));
            let _span = span.enter();
            if fails {
                tracing::error!(error = %"exit status 101", "Failed tool call");
            } else {
                tracing::debug!(output = "3 matches", args = ?Some("{}"), tool_name = tool, "Completed tool call");
            }
        }
    });
    harness.flush();
}

#[test]
fn swiftide_agent_and_tools_are_recorded_without_configuration() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        record_swiftide_query(&harness);
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "{entries:#?}");

        let agent = only(&entries, EventType::AgentEnd, "agent.query");
        assert_eq!(agent.agent_name.as_deref(), Some("agent.query"));
        assert_eq!(
            (agent.status, agent.session_id.clone()),
            (EntryStatus::Ok, None)
        );
        only(&entries, EventType::AgentStart, "agent.query");

        let search = only(&entries, EventType::ToolEnd, "search_code");
        assert_eq!(search.tool_name.as_deref(), Some("search_code"));
        assert_eq!(search.agent_name.as_deref(), Some("agent.query"));
        assert_eq!(
            search.parent_span_id.as_deref(),
            Some(agent.span_id.as_str())
        );
        assert_eq!(search.status, EntryStatus::Ok);
        only(&entries, EventType::ToolStart, "search_code");

        let failed = only(&entries, EventType::ToolEnd, "run_tests");
        assert_eq!(failed.status, EntryStatus::Error);
        let message = failed.error.clone().unwrap().message.unwrap_or_default();
        assert!(message.contains("exit status 101"), "{message}");

        assert!(
            entries.iter().all(|e| e.event_type != EventType::LlmEnd),
            "`complete` is not claimed without a rule"
        );
    }
}

#[test]
fn one_rule_makes_swiftide_completions_model_calls() {
    let config =
        ProtocolConfig::default().with_span_rule(SpanMatch::name("complete"), StepKind::Llm);
    let harness = Harness::with_config(Format::Sqlite, config);
    record_swiftide_query(&harness);
    let entries = harness.entries();
    let llm = only(&entries, EventType::LlmEnd, "complete");
    assert_eq!(llm.agent_name.as_deref(), Some("agent.query"));
    assert_eq!(llm.status, EntryStatus::Ok);
    only(&entries, EventType::LlmStart, "complete");
}
