//! What runs and steps cost, as the tables, pages and `diff` show it — in
//! one place.
//!
//! A cost is known when the framework reported one or the model's price gave
//! one (the reader prices model calls as it reads them). A model call
//! without a cost is *unpriced*, never $0: a total that leaves such calls
//! out says so, with the tokens it could not price.

use reagentic_protocol::pricing::CostTotal as Total;
use reagentic_protocol::read::RunStep;
use serde::Serialize;

/// A run's cost: the library's total (model calls and steps with a cost of
/// their own, never an agent's re-reported total), and how to show it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CostTotal {
    total: Total,
}

impl From<Total> for CostTotal {
    fn from(total: Total) -> Self {
        CostTotal { total }
    }
}

impl CostTotal {
    /// Counts one step (its end entry: start entries carry no cost).
    pub fn add_step(&mut self, step: &RunStep) {
        if let Some(end) = &step.end {
            self.total.add(end);
        }
    }

    /// The known part, in US dollars (`None` when nothing is known).
    pub fn usd(&self) -> Option<f64> {
        self.total.usd()
    }

    /// The known part, only when every model call has a cost: a partial
    /// sum would mislead a comparison.
    pub fn complete_usd(&self) -> Option<f64> {
        self.usd().filter(|_| self.total.is_complete())
    }

    /// Model calls without a cost.
    pub fn unpriced_calls(&self) -> u64 {
        self.total.unpriced_calls
    }

    /// Tokens of the model calls without a cost.
    pub fn unpriced_tokens(&self) -> u64 {
        self.total.unpriced_tokens()
    }

    /// `$0.0123`, `unpriced (1,200 tokens)`, `$0.0123 + unpriced (2 calls,
    /// 1,200 tokens)`, or `–` when nothing was counted.
    pub fn label(&self) -> String {
        let unpriced = || {
            let calls = self.unpriced_calls();
            format!(
                "{calls} call{}, {} tokens",
                plural(calls),
                thousands(self.unpriced_tokens())
            )
        };
        match (self.usd(), self.unpriced_calls()) {
            (Some(usd), 0) => usd_text(usd),
            (Some(usd), _) => format!("{} + unpriced ({})", usd_text(usd), unpriced()),
            (None, 0) => "–".into(),
            (None, _) => format!("unpriced ({})", unpriced()),
        }
    }
}

/// A cost as the pages and `--json` show it.
#[derive(Debug, Default, Serialize)]
pub struct CostView {
    /// The known part, in US dollars.
    pub usd: Option<f64>,
    /// Model calls without a cost.
    pub unpriced_calls: u64,
    /// Their tokens.
    pub unpriced_tokens: u64,
    /// The text shown (see [`CostTotal::label`]).
    pub label: String,
}

impl From<CostTotal> for CostView {
    fn from(total: CostTotal) -> Self {
        CostView {
            usd: total.usd(),
            unpriced_calls: total.unpriced_calls(),
            unpriced_tokens: total.unpriced_tokens(),
            label: total.label(),
        }
    }
}

/// The cost shown on one step: its cost, or `unpriced` for a model call
/// without one; nothing for other steps.
pub fn step_label(step: &RunStep) -> Option<String> {
    let mut total = CostTotal::default();
    total.add_step(step);
    (total.usd().is_some() || total.unpriced_calls() > 0).then(|| match total.usd() {
        Some(usd) => usd_text(usd),
        None => match step.end.as_ref().and_then(|e| e.unpriced_tokens) {
            Some(tokens) => format!("unpriced ({} tokens)", thousands(tokens)),
            None => "unpriced".into(),
        },
    })
}

/// The cost of a step, in US dollars, when it has one.
pub fn step_usd(step: &RunStep) -> Option<f64> {
    step.end
        .as_ref()
        .and_then(|e| e.cost_usd)
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

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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
    use reagentic_protocol::entry::CostSource;
    use reagentic_protocol::{EventType, ProtocolEntry};

    #[test]
    fn dollars_and_counts_read_naturally() {
        assert_eq!(usd_text(1.234), "$1.23");
        assert_eq!(usd_text(0.0), "$0.00");
        assert_eq!(usd_text(0.001234), "$0.001234");
        assert_eq!(usd_text(0.0123), "$0.01");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1_200), "1,200");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    fn call(cost: Option<f64>, tokens: u64) -> ProtocolEntry {
        let mut e = ProtocolEntry::new(EventType::LlmEnd, "t", "s", "chat", chrono::Utc::now());
        e.cost_usd = cost;
        e.cost_source = Some(match cost {
            Some(_) => CostSource::Priced,
            None => CostSource::Unpriced,
        });
        e.input_tokens = Some(tokens);
        e.unpriced_tokens = cost.is_none().then_some(tokens);
        e
    }

    #[test]
    fn tokens_without_a_price_are_unpriced_not_free() {
        let label = |calls: &[ProtocolEntry]| {
            let mut total = Total::default();
            calls.iter().for_each(|c| {
                total.add(c);
            });
            let total = CostTotal::from(total);
            (total.label(), total.complete_usd())
        };
        assert_eq!(label(&[]), ("–".into(), None));
        assert_eq!(
            label(&[call(None, 1_200)]),
            ("unpriced (1 call, 1,200 tokens)".into(), None)
        );
        assert_eq!(
            label(&[call(None, 1_200), call(Some(0.5), 10), call(None, 300)]),
            // A partial sum is not the cost.
            ("$0.50 + unpriced (2 calls, 1,500 tokens)".into(), None)
        );
        assert_eq!(label(&[call(Some(0.5), 10)]), ("$0.50".into(), Some(0.5)));
    }
}
