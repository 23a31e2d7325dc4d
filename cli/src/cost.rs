//! What runs and steps cost, as the pages and `diff` show it — in one place,
//! so that prices computed from tokens can be added here later.
//!
//! Today a cost is known only when the framework reported one (`cost_usd`).
//! A model call with tokens but no cost is *unknown*, never $0: a total that
//! leaves such calls out says so.

use reagentic_protocol::read::RunStep;
use reagentic_protocol::{EventType, ProtocolEntry};
use serde::Serialize;

/// A run's cost: the sum of its model calls' reported costs, and how many
/// model calls used tokens without a reported cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct CostTotal {
    /// Sum of the reported costs, in US dollars (null when none was reported).
    pub usd: Option<f64>,
    /// Model calls with a reported cost.
    pub priced_calls: u64,
    /// Model calls that used tokens but reported no cost.
    pub unpriced_calls: u64,
}

impl CostTotal {
    /// Counts one step (only model calls add to the total, so an agent's own
    /// reported total is not counted twice).
    pub fn add_step(&mut self, step: &RunStep) {
        if is_model_call(step.entry()) {
            self.add_model_call(step_usd(step), has_tokens(step));
        }
    }

    /// Counts one model call's end entry (for totals read without the tree).
    pub fn add_model_call_end(&mut self, end: &ProtocolEntry) {
        let has_tokens = end.input_tokens.is_some() || end.output_tokens.is_some();
        self.add_model_call(end.cost_usd.filter(|usd| usd.is_finite()), has_tokens);
    }

    fn add_model_call(&mut self, usd: Option<f64>, has_tokens: bool) {
        match usd {
            Some(usd) => {
                self.usd = Some(self.usd.unwrap_or(0.0) + usd);
                self.priced_calls += 1;
            }
            None if has_tokens => self.unpriced_calls += 1,
            None => {}
        }
    }

    /// `$0.0123`, `unknown`, `$0.0123 + unknown (2 calls)`, or `–` when no
    /// model call used tokens.
    pub fn label(&self) -> String {
        match (self.usd, self.unpriced_calls) {
            (Some(usd), 0) => usd_text(usd),
            (Some(usd), n) => format!("{} + unknown ({n} call{})", usd_text(usd), plural(n)),
            (None, 0) => "–".into(),
            (None, _) => "unknown".into(),
        }
    }
}

/// The cost shown on one step: its reported cost, or `unknown` for a model
/// call that used tokens without one; nothing for other steps.
pub fn step_label(step: &RunStep) -> Option<String> {
    match step_usd(step) {
        Some(usd) => Some(usd_text(usd)),
        None if is_model_call(step.entry()) && has_tokens(step) => Some("unknown".into()),
        None => None,
    }
}

/// The reported cost of a step, in US dollars.
pub fn step_usd(step: &RunStep) -> Option<f64> {
    let end = step.end.as_ref().and_then(|e| e.cost_usd);
    end.or_else(|| step.start.as_ref().and_then(|e| e.cost_usd))
        .filter(|usd| usd.is_finite())
}

/// `$1.23`, or four significant places below a cent (`$0.0012`).
pub fn usd_text(usd: f64) -> String {
    let magnitude = usd.abs();
    if magnitude == 0.0 || magnitude >= 0.01 {
        format!("${usd:.2}")
    } else {
        let places = (-magnitude.log10()).ceil() as usize + 3;
        format!("${usd:.places$}")
    }
}

fn is_model_call(entry: &ProtocolEntry) -> bool {
    matches!(entry.event_type, EventType::LlmStart | EventType::LlmEnd)
}

fn has_tokens(step: &RunStep) -> bool {
    [&step.start, &step.end]
        .into_iter()
        .flatten()
        .any(|e| e.input_tokens.is_some() || e.output_tokens.is_some())
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_read_naturally() {
        assert_eq!(usd_text(1.234), "$1.23");
        assert_eq!(usd_text(0.0), "$0.00");
        assert_eq!(usd_text(0.001234), "$0.001234");
        assert_eq!(usd_text(0.0123), "$0.01");
    }

    #[test]
    fn tokens_without_a_price_are_unknown_not_free() {
        let mut total = CostTotal::default();
        assert_eq!(total.label(), "–");
        total.unpriced_calls = 1;
        assert_eq!(total.label(), "unknown");
        total.usd = Some(0.5);
        total.priced_calls = 1;
        total.unpriced_calls = 2;
        assert_eq!(total.label(), "$0.50 + unknown (2 calls)");
    }
}
