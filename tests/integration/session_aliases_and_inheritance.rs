//! Every session alias is read, and descendants inherit the nearest
//! ancestor's session — also through spans the protocol leaves out.

use crate::support::{only, Harness};
use reagentic_protocol::EventType;

#[test]
fn each_session_alias_is_recognised() {
    let harness = Harness::sqlite();
    harness.in_scope(|| {
        {
            let s = agent_span!("a1", gen_ai.conversation.id = "s-conv");
            let _g = s.enter();
        }
        {
            let s = agent_span!("a2", session.id = "s-oi");
            let _g = s.enter();
        }
        {
            let s = agent_span!("a3", session_id = "s-plain");
            let _g = s.enter();
        }
        {
            let s = agent_span!("a4", run_id = "s-run");
            let _g = s.enter();
        }
        {
            let s = agent_span!("a5");
            let _g = s.enter();
        }
    });
    harness.flush();
    let entries = harness.entries();
    for (agent, session) in [
        ("a1", Some("s-conv")),
        ("a2", Some("s-oi")),
        ("a3", Some("s-plain")),
        ("a4", Some("s-run")),
        ("a5", None),
    ] {
        for t in [EventType::AgentStart, EventType::AgentEnd] {
            assert_eq!(
                only(&entries, t, agent).session_id.as_deref(),
                session,
                "{agent} {t}"
            );
        }
    }
}

#[test]
fn descendants_inherit_the_nearest_session_and_agent() {
    let harness = Harness::jsonl();
    harness.in_scope(|| {
        let outer = agent_span!("triage", gen_ai.conversation.id = "conv-outer");
        let _o = outer.enter();
        {
            // An unclassified span in between is left out but still links.
            let step = tracing::info_span!("prepare_context");
            let _s = step.enter();
            let llm = llm_span!("small-model");
            let _l = llm.enter();
        }
        {
            let inner = agent_span!("specialist", session.id = "conv-inner");
            let _i = inner.enter();
            let tool = tool_span!("lookup");
            let _t = tool.enter();
        }
        let tool = tool_span!("summarize");
        let _t = tool.enter();
    });
    harness.flush();
    let entries = harness.entries();
    assert!(
        entries.iter().all(|e| e.name != "prepare_context"),
        "other spans are left out by default"
    );

    let llm = only(&entries, EventType::LlmStart, "chat small-model");
    assert_eq!(llm.session_id.as_deref(), Some("conv-outer"));
    assert_eq!(llm.agent_name.as_deref(), Some("triage"));

    let lookup = only(&entries, EventType::ToolEnd, "lookup");
    assert_eq!(lookup.session_id.as_deref(), Some("conv-inner"));
    assert_eq!(lookup.agent_name.as_deref(), Some("specialist"));

    let summarize = only(&entries, EventType::ToolStart, "summarize");
    assert_eq!(summarize.session_id.as_deref(), Some("conv-outer"));
    assert_eq!(summarize.agent_name.as_deref(), Some("triage"));
}
