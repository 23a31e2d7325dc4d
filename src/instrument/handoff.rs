//! A handoff: one agent passes the conversation to another.

use super::TARGET;

/// The agent handing off, on a handoff span (OpenAI Agents SDK style; the
/// GenAI conventions have no handoff attributes yet).
const HANDOFF_FROM: &str = "handoff.from_agent";

/// The agent taking over, on a handoff span.
const HANDOFF_TO: &str = "handoff.to_agent";

/// Records that agent `from` hands the conversation to agent `to`, as a
/// short `handoff` span under the current span (usually `from`'s agent span).
/// The protocol keeps it as one `handoff` entry: `agent_name` is `from`,
/// `name` is `to`.
///
/// ```
/// use reagentic_protocol::instrument::{handoff, AgentSpan};
/// let triage = AgentSpan::new("triage").conversation_id("conv-42").start();
/// triage.in_scope(|| handoff("triage", "billing"));
/// ```
pub fn handoff(from: &str, to: &str) {
    tracing::info_span!(
        target: TARGET,
        "handoff",
        otel.name = "handoff",
        { HANDOFF_FROM } = from,
        { HANDOFF_TO } = to,
    )
    .in_scope(|| {});
}
