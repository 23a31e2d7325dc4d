//! Summing costs up without counting anything twice, the same way for a
//! run, an agent, a model, a tool and the whole file.
//!
//! What a total counts:
//!
//! - every model call's end entry (`llm_end`): its cost (reported or priced),
//!   or, when it has none, the call and its tokens as *unpriced* — never $0;
//! - tool and guardrail end entries that carry a cost of their own (a paid
//!   search API, a moderation call).
//!
//! Agent end entries are never added: an agent that reports a cost
//! (`llm_agent.cost`) or tokens re-reports its model calls', which are
//! already counted. Other spans (`span_end`: chains, workflows) are left out
//! for the same reason.

use serde::Serialize;

use crate::entry::{CostSource, EventType, ProtocolEntry};

/// A sum of costs, with what it could not price beside it.
///
/// ```
/// use reagentic_protocol::pricing::CostTotal;
/// let total = CostTotal::default();
/// assert_eq!(total.usd(), None, "nothing known is not $0");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CostTotal {
    /// The sum of the known costs, in US dollars.
    pub known_usd: f64,
    /// Steps whose cost the source reported.
    pub reported: u64,
    /// Model calls priced from their tokens.
    pub priced: u64,
    /// Model calls without a cost (their model has no price, or no tokens
    /// were recorded).
    pub unpriced_calls: u64,
    /// Input tokens of the unpriced calls.
    pub unpriced_input_tokens: u64,
    /// Output tokens of the unpriced calls.
    pub unpriced_output_tokens: u64,
}

/// How an entry takes part in a cost total.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A model call: its cost, or unpriced.
    ModelCall,
    /// A step with a cost of its own.
    OwnCost,
    /// Not counted (start entries, agent totals, other spans).
    None,
}

/// The rule above, for one entry.
pub(crate) fn role(entry: &ProtocolEntry) -> Role {
    match entry.event_type {
        EventType::LlmEnd => Role::ModelCall,
        EventType::ToolEnd | EventType::GuardrailEnd if known(entry).is_some() => Role::OwnCost,
        _ => Role::None,
    }
}

/// The entry's cost, when it is a usable number.
fn known(entry: &ProtocolEntry) -> Option<f64> {
    entry.cost_usd.filter(|usd| usd.is_finite() && *usd >= 0.0)
}

impl CostTotal {
    /// Adds one entry by the rule above; returns whether it counted.
    ///
    /// ```
    /// use reagentic_protocol::pricing::CostTotal;
    /// use reagentic_protocol::{EventType, ProtocolEntry};
    /// let mut call = ProtocolEntry::new(EventType::LlmEnd, "t", "s", "chat", chrono::Utc::now());
    /// call.input_tokens = Some(100);
    /// let mut total = CostTotal::default();
    /// total.add(&call);
    /// assert_eq!((total.usd(), total.unpriced_calls, total.unpriced_tokens()), (None, 1, 100));
    /// ```
    pub fn add(&mut self, entry: &ProtocolEntry) -> bool {
        match role(entry) {
            Role::None => false,
            role => {
                match known(entry) {
                    Some(usd) => {
                        self.known_usd += usd;
                        if entry.cost_source == Some(CostSource::Priced) {
                            self.priced += 1;
                        } else {
                            self.reported += 1;
                        }
                    }
                    None if role == Role::ModelCall => {
                        self.unpriced_calls += 1;
                        self.unpriced_input_tokens += entry.input_tokens.unwrap_or(0);
                        self.unpriced_output_tokens += entry.output_tokens.unwrap_or(0);
                    }
                    None => {}
                }
                true
            }
        }
    }

    /// Adds another total.
    ///
    /// ```
    /// use reagentic_protocol::pricing::CostTotal;
    /// let mut a = CostTotal::default();
    /// a.merge(&CostTotal::default());
    /// assert_eq!(a, CostTotal::default());
    /// ```
    pub fn merge(&mut self, other: &CostTotal) {
        self.known_usd += other.known_usd;
        self.reported += other.reported;
        self.priced += other.priced;
        self.unpriced_calls += other.unpriced_calls;
        self.unpriced_input_tokens += other.unpriced_input_tokens;
        self.unpriced_output_tokens += other.unpriced_output_tokens;
    }

    /// The known part in US dollars; `None` when no cost is known at all
    /// (never a silent $0).
    ///
    /// ```
    /// assert_eq!(reagentic_protocol::pricing::CostTotal::default().usd(), None);
    /// ```
    pub fn usd(&self) -> Option<f64> {
        (self.reported + self.priced > 0).then_some(self.known_usd)
    }

    /// Tokens of model calls without a cost.
    ///
    /// ```
    /// assert_eq!(reagentic_protocol::pricing::CostTotal::default().unpriced_tokens(), 0);
    /// ```
    pub fn unpriced_tokens(&self) -> u64 {
        self.unpriced_input_tokens
            .saturating_add(self.unpriced_output_tokens)
    }

    /// Whether every counted step has a cost.
    ///
    /// ```
    /// assert!(reagentic_protocol::pricing::CostTotal::default().is_complete());
    /// ```
    pub fn is_complete(&self) -> bool {
        self.unpriced_calls == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entries::at;

    fn entry(
        event_type: EventType,
        cost: Option<f64>,
        source: Option<CostSource>,
    ) -> ProtocolEntry {
        let mut e = ProtocolEntry::new(event_type, "t", "s", "x", at(0, 0));
        e.cost_usd = cost;
        e.cost_source = source;
        e.input_tokens = Some(1_000);
        e.output_tokens = Some(50);
        e
    }

    #[test]
    fn a_run_counts_model_calls_and_own_costs_never_agent_totals() {
        let run = [
            entry(EventType::LlmEnd, Some(0.01), Some(CostSource::Reported)),
            entry(EventType::LlmEnd, Some(0.02), Some(CostSource::Priced)),
            entry(EventType::LlmEnd, None, Some(CostSource::Unpriced)),
            // A legacy entry: a cost without a source was reported.
            entry(EventType::LlmEnd, Some(0.004), None),
            entry(EventType::ToolEnd, Some(0.5), Some(CostSource::Reported)),
            entry(EventType::ToolEnd, None, None),
            // The agent re-reports its calls: never added.
            entry(EventType::AgentEnd, Some(0.034), Some(CostSource::Reported)),
            entry(EventType::SpanEnd, Some(0.034), Some(CostSource::Reported)),
            entry(EventType::LlmStart, Some(9.0), None),
            // Not a usable number.
            entry(EventType::LlmEnd, Some(f64::NAN), None),
        ];
        let mut total = CostTotal::default();
        let counted = run.iter().filter(|e| total.add(e)).count();
        assert_eq!(counted, 6);
        assert!((total.usd().unwrap() - 0.534).abs() < 1e-12, "{total:?}");
        assert_eq!((total.reported, total.priced), (3, 1));
        assert_eq!(total.unpriced_calls, 2);
        assert_eq!(total.unpriced_tokens(), 2 * 1_050);
        assert!(!total.is_complete());
    }

    #[test]
    fn unpriced_calls_alone_are_unknown_not_free() {
        let mut total = CostTotal::default();
        total.add(&entry(EventType::LlmEnd, None, None));
        assert_eq!(total.usd(), None);
        let mut free = CostTotal::default();
        free.add(&entry(
            EventType::LlmEnd,
            Some(0.0),
            Some(CostSource::Priced),
        ));
        assert_eq!(free.usd(), Some(0.0), "a real $0 is known");
    }
}
