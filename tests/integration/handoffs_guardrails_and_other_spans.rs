//! A handoff is one entry (from → to); guardrails get their own pair; other
//! spans are left out unless the config keeps them.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{EventType, ProtocolConfig};

fn record(harness: &Harness) {
    harness.in_scope(|| {
        let agent = agent_span!("triage", gen_ai.conversation.id = "c1");
        let _a = agent.enter();
        {
            let g = tracing::info_span!("check_input", openinference.span.kind = "GUARDRAIL");
            let _g = g.enter();
        }
        {
            let h = tracing::info_span!(
                "handoff",
                handoff.from_agent = "triage",
                handoff.to_agent = "billing"
            );
            let _h = h.enter();
        }
        let other = tracing::info_span!("load_config");
        let _o = other.enter();
    });
    harness.flush();
}

#[test]
fn handoff_and_guardrail_entries() {
    let harness = Harness::sqlite();
    record(&harness);
    let entries = harness.entries();
    let handoff = only(&entries, EventType::Handoff, "billing");
    assert_eq!(handoff.agent_name.as_deref(), Some("triage"));
    assert_eq!(handoff.session_id.as_deref(), Some("c1"));
    assert_eq!(
        entries
            .iter()
            .filter(|e| e.event_type == EventType::Handoff)
            .count(),
        1
    );
    only(&entries, EventType::GuardrailStart, "check_input");
    only(&entries, EventType::GuardrailEnd, "check_input");
    assert!(entries.iter().all(|e| e.name != "load_config"));
}

#[test]
fn other_spans_are_kept_when_asked() {
    let harness = Harness::with_config(
        Format::Jsonl,
        ProtocolConfig::default().with_keep_other_spans(true),
    );
    record(&harness);
    let entries = harness.entries();
    let start = only(&entries, EventType::SpanStart, "load_config");
    assert_eq!(start.session_id.as_deref(), Some("c1"));
    assert_eq!(start.agent_name.as_deref(), Some("triage"));
    only(&entries, EventType::SpanEnd, "load_config");
}
