//! AutoAgents, out of the box: the spans its telemetry runner opens for
//! protocol events, attributes set through `OpenTelemetrySpanExt`.
//!
//! Mirrors `liquidos-ai/AutoAgents`
//! `crates/autoagents-telemetry/src/runner/mapper.rs`
//! @ 25cac5453ffa723e16722d372569b16df02ec9b3: `TaskStarted` →
//! `info_span!("autoagents.task", submission_id, actor_id, actor_name)` then
//! `set_attribute("task.description", …)`; `TurnStarted` →
//! `info_span!(parent: task, "autoagents.turn", …, turn_number, turn_max)`;
//! `ToolCallRequested` → `info_span!(parent: task, "autoagents.tool_call",
//! submission_id, actor_id, tool_call_id, tool_name)` then
//! `set_attribute("tool.arguments", …)`; completion sets `tool.result` /
//! `task.result` and `Status::Ok`; failure sets `Status::error(e)` and
//! `error.message`. Spans are held in maps and dropped, never entered.

use crate::support::{only, Format, Harness};
use opentelemetry::trace::Status;
use reagentic_protocol::{EntryStatus, EventType};
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[test]
fn autoagents_task_turn_and_tools_are_recorded_without_configuration() {
    for format in Format::BOTH {
        let harness = Harness::new(format, |b| b);
        harness.in_scope(|| {
            let task = tracing::info_span!(
                "autoagents.task",
                submission_id = %"sub-1",
                actor_id = %"actor-7",
                actor_name = %"math_agent",
            );
            task.set_attribute("task.description", "What is 2 + 3 * 4?".to_owned());
            let turn = tracing::info_span!(
                parent: &task,
                "autoagents.turn",
                submission_id = %"sub-1",
                actor_id = %"actor-7",
                turn_number = 0_i64,
                turn_max = 5_i64
            );
            let ok_tool = tracing::info_span!(
                parent: &task,
                "autoagents.tool_call",
                submission_id = %"sub-1",
                actor_id = %"actor-7",
                tool_call_id = %"call_a",
                tool_name = %"multiply"
            );
            ok_tool.set_attribute("tool.arguments", r#"{"a":3,"b":4}"#.to_owned());
            ok_tool.set_attribute("tool.name", "multiply".to_owned());
            ok_tool.set_attribute("tool.result", "12".to_owned());
            ok_tool.set_status(Status::Ok);
            drop(ok_tool);
            let bad_tool = tracing::info_span!(
                parent: &task,
                "autoagents.tool_call",
                submission_id = %"sub-1",
                actor_id = %"actor-7",
                tool_call_id = %"call_b",
                tool_name = %"divide"
            );
            bad_tool.set_attribute("tool.arguments", r#"{"a":1,"b":0}"#.to_owned());
            bad_tool.set_attribute("tool.name", "divide".to_owned());
            bad_tool.set_status(Status::error("division by zero"));
            bad_tool.set_attribute("error.message", "division by zero".to_owned());
            drop(bad_tool);
            turn.set_attribute("turn.final", true);
            turn.set_status(Status::Ok);
            drop(turn);
            task.set_attribute("actor_name", "math_agent".to_owned());
            task.set_attribute("task.result", "14".to_owned());
            task.set_status(Status::Ok);
        });
        harness.flush();
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "the turn is left out: {entries:#?}");

        let task = only(&entries, EventType::AgentEnd, "math_agent");
        // `tracing-opentelemetry` starts a span lazily (here, when its first
        // child needs it), so attributes set before that reach the start entry.
        let start = only(&entries, EventType::AgentStart, "math_agent");
        assert_eq!(
            start.input,
            Some(serde_json::json!("What is 2 + 3 * 4?").into())
        );
        assert_eq!(task.input, None, "not repeated");
        assert_eq!(task.output, Some(serde_json::json!("14").into()));
        assert_eq!(
            (task.status, task.session_id.clone()),
            (EntryStatus::Ok, None)
        );

        let multiply = only(&entries, EventType::ToolEnd, "multiply");
        assert_eq!(multiply.tool_call_id.as_deref(), Some("call_a"));
        let multiply_start = only(&entries, EventType::ToolStart, "multiply");
        assert_eq!(
            multiply_start.input,
            Some(serde_json::json!({"a": 3, "b": 4}).into())
        );
        assert_eq!(multiply.output, Some(serde_json::json!("12").into()));
        assert_eq!(multiply.agent_name.as_deref(), Some("math_agent"));
        assert_eq!(
            multiply.parent_span_id.as_deref(),
            Some(task.span_id.as_str())
        );

        let divide = only(&entries, EventType::ToolEnd, "divide");
        assert_eq!(divide.status, EntryStatus::Error);
        assert_eq!(
            divide.error.clone().unwrap().message.as_deref(),
            Some("division by zero")
        );
    }
}
