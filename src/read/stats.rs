//! Latency, failure and token figures per agent, model or tool.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conditions::{Conditions, TimeWindow};
use super::reader::ProtocolReader;
use super::scan::{Order, Scan};
use crate::entry::{CostSource, EventType, ProtocolEntry};
use crate::error::Result;
use crate::pricing::{totals, CostTotal};

/// What [`ProtocolReader::stats`] groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StatsBy {
    /// Agent runs (`agent_end`), by agent name; tokens are those of the
    /// agent's model calls.
    Agent,
    /// Model calls (`llm_end`), by model.
    Model,
    /// Tool calls (`tool_end`), by tool name.
    Tool,
    /// Model calls (`llm_end`), by session (or trace, for entries without
    /// a session); the cost adds the tools' own costs.
    Session,
}

impl StatsBy {
    /// The end entries whose duration and status are measured.
    fn measured(self) -> EventType {
        match self {
            StatsBy::Agent => EventType::AgentEnd,
            StatsBy::Model | StatsBy::Session => EventType::LlmEnd,
            StatsBy::Tool => EventType::ToolEnd,
        }
    }

    /// Whether a counted cost of `entry` (see [`CostTotal::add`]) belongs
    /// to a group: model calls' to their model, tools' to their tool, both
    /// to their agent and session.
    fn takes_cost_of(self, entry: &ProtocolEntry) -> bool {
        match self {
            StatsBy::Model => entry.event_type == EventType::LlmEnd,
            StatsBy::Tool => entry.event_type == EventType::ToolEnd,
            StatsBy::Agent | StatsBy::Session => true,
        }
    }
}

/// Which entries [`ProtocolReader::stats`] measures.
///
/// ```
/// use chrono::{TimeDelta, Utc};
/// use reagentic_protocol::read::{StatsBy, StatsFilter};
///
/// let tools_today = StatsFilter::new(StatsBy::Tool).with_since(Utc::now() - TimeDelta::days(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsFilter {
    by: StatsBy,
    window: TimeWindow,
}

impl StatsFilter {
    /// Measures every entry, grouped `by`.
    ///
    /// ```
    /// use reagentic_protocol::read::{StatsBy, StatsFilter};
    /// let filter = StatsFilter::new(StatsBy::Model);
    /// ```
    pub fn new(by: StatsBy) -> Self {
        StatsFilter {
            by,
            window: TimeWindow::default(),
        }
    }

    /// Measures only entries at or after `since`.
    ///
    /// ```
    /// use reagentic_protocol::read::{StatsBy, StatsFilter};
    /// let filter = StatsFilter::new(StatsBy::Agent).with_since(chrono::Utc::now());
    /// ```
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.window.set_since(since);
        self
    }

    /// Measures only entries before `until`.
    ///
    /// ```
    /// use reagentic_protocol::read::{StatsBy, StatsFilter};
    /// let filter = StatsFilter::new(StatsBy::Agent).with_until(chrono::Utc::now());
    /// ```
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.window.set_until(until);
        self
    }
}

/// The figures of one agent, model or tool.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GroupStats {
    /// The agent, model or tool name (`"(none)"` when entries lack it).
    pub name: String,
    /// Finished runs or calls.
    pub count: u64,
    /// How many of them failed.
    pub errors: u64,
    /// The median duration in milliseconds, when any run recorded one.
    pub p50_ms: Option<f64>,
    /// The 95th percentile duration (nearest rank) in milliseconds.
    pub p95_ms: Option<f64>,
    /// The longest duration in milliseconds.
    pub max_ms: Option<f64>,
    /// Tokens read.
    pub input_tokens: u64,
    /// Tokens written.
    pub output_tokens: u64,
    /// What the group cost, and what could not be priced.
    pub cost: CostTotal,
}

impl GroupStats {
    /// Failed / finished, from 0 to 1 (0 when nothing finished).
    ///
    /// ```no_run
    /// # fn show(g: &reagentic_protocol::read::GroupStats) {
    /// println!("{:.0}% failed", g.error_rate() * 100.0);
    /// # }
    /// ```
    pub fn error_rate(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.errors as f64 / self.count as f64
        }
    }
}

impl ProtocolReader {
    /// Count, failures, p50/p95/max duration and tokens per agent, model or
    /// tool, busiest first.
    ///
    /// Reads only the end entries it measures, without their content (in
    /// SQLite, a window's through the identity index, which holds their
    /// type too; all of them, by a scan of the table).
    ///
    /// ```no_run
    /// use reagentic_protocol::read::{StatsBy, StatsFilter};
    /// use reagentic_protocol::ProtocolReader;
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// for tool in ProtocolReader::open("protocol.db")?.stats(&StatsFilter::new(StatsBy::Tool))? {
    ///     println!("{}: p95 {:?} ms", tool.name, tool.p95_ms);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stats(&self, filter: &StatsFilter) -> Result<Vec<GroupStats>> {
        let mut measured = Conditions {
            window: filter.window,
            ..Conditions::default()
        };
        measured.event_types.insert(filter.by.measured());
        if filter.by == StatsBy::Agent {
            // An agent's tokens are spent by its model calls.
            measured.event_types.insert(EventType::LlmEnd);
        }
        if matches!(filter.by, StatsBy::Agent | StatsBy::Session) {
            // Their tools and guardrails may cost something of their own.
            measured.event_types.insert(EventType::ToolEnd);
            measured.event_types.insert(EventType::GuardrailEnd);
        }
        let mut groups = Groups::default();
        let skips = self.scan(
            Scan::new(&measured).ordered(Order::Any).without_content(),
            |record| {
                groups.add(filter.by, &record.entry);
                ControlFlow::Continue(())
            },
        )?;
        self.report(skips);
        Ok(groups.finish())
    }
}

/// How the model calls of one model were priced, for
/// [`ProtocolReader::explain_cost`].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CostExplanation {
    /// The model as the calls named it (`"(none)"` when they did not).
    pub model: String,
    /// The provider the calls named.
    pub provider: Option<String>,
    /// How their cost was obtained.
    pub source: Option<CostSource>,
    /// The price table's name for the model (`price_model`).
    pub price_model: Option<String>,
    /// The rule that matched it (`price_rule`).
    pub price_rule: Option<String>,
    /// Model calls.
    pub calls: u64,
    /// Their input tokens.
    pub input_tokens: u64,
    /// Their output tokens.
    pub output_tokens: u64,
    /// Their cost, and what could not be priced.
    pub cost: CostTotal,
}

impl ProtocolReader {
    /// One line per model, provider and way of pricing: which price each
    /// model's calls got, by which rule, or that they reported their own
    /// cost or could not be priced — most expensive first, unpriced last.
    ///
    /// ```no_run
    /// use reagentic_protocol::read::{StatsBy, StatsFilter};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let reader = reagentic_protocol::ProtocolReader::open("protocol.db")?;
    /// for line in reader.explain_cost(&StatsFilter::new(StatsBy::Model))? {
    ///     println!("{} → {:?} ({:?})", line.model, line.price_model, line.price_rule);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn explain_cost(&self, filter: &StatsFilter) -> Result<Vec<CostExplanation>> {
        let mut calls = Conditions {
            window: filter.window,
            ..Conditions::default()
        };
        calls.event_types.insert(EventType::LlmEnd);
        type Key = (
            String,
            Option<String>,
            Option<CostSource>,
            Option<String>,
            Option<String>,
        );
        let mut lines: HashMap<Key, CostExplanation> = HashMap::new();
        let skips = self.scan(
            Scan::new(&calls).ordered(Order::Any).without_content(),
            |record| {
                let e = record.entry;
                let model = e.model.clone().unwrap_or_else(|| "(none)".into());
                let key = (
                    model,
                    e.provider.clone(),
                    e.cost_source,
                    e.price_model.clone(),
                    e.price_rule.clone(),
                );
                let line = lines.entry(key).or_insert_with_key(|k| CostExplanation {
                    model: k.0.clone(),
                    provider: k.1.clone(),
                    source: k.2,
                    price_model: k.3.clone(),
                    price_rule: k.4.clone(),
                    calls: 0,
                    input_tokens: 0,
                    output_tokens: 0,
                    cost: CostTotal::default(),
                });
                line.calls += 1;
                line.input_tokens += e.input_tokens.unwrap_or(0);
                line.output_tokens += e.output_tokens.unwrap_or(0);
                line.cost.add(&e);
                ControlFlow::Continue(())
            },
        )?;
        self.report(skips);
        let mut list: Vec<CostExplanation> = lines.into_values().collect();
        list.sort_by(|a, b| {
            let usd = |l: &CostExplanation| l.cost.usd().unwrap_or(-1.0);
            usd(b)
                .total_cmp(&usd(a))
                .then_with(|| b.cost.unpriced_tokens().cmp(&a.cost.unpriced_tokens()))
                .then_with(|| a.model.cmp(&b.model))
        });
        Ok(list)
    }
}

#[derive(Default)]
struct Group {
    count: u64,
    errors: u64,
    durations: Vec<f64>,
    input_tokens: u64,
    output_tokens: u64,
    cost: CostTotal,
}

#[derive(Default)]
struct Groups(HashMap<String, Group>);

impl Groups {
    fn add(&mut self, by: StatsBy, m: &ProtocolEntry) {
        let measured = m.event_type == by.measured();
        // An agent's tokens are spent by its model calls.
        let agent_tokens = by == StatsBy::Agent && m.event_type == EventType::LlmEnd;
        let costs = by.takes_cost_of(m) && totals::role(m) != totals::Role::None;
        if !measured && !agent_tokens && !costs {
            return;
        }
        let key = match by {
            StatsBy::Agent if measured => m.agent_name.as_deref().unwrap_or(&m.name),
            StatsBy::Agent => m.agent_name.as_deref().unwrap_or("(none)"),
            StatsBy::Model => m.model.as_deref().unwrap_or("(none)"),
            StatsBy::Tool => m.tool_name.as_deref().unwrap_or(&m.name),
            StatsBy::Session => m.session_id.as_deref().unwrap_or(&m.trace_id),
        };
        let group = self.0.entry(key.to_owned()).or_default();
        if costs {
            group.cost.add(m);
        }
        if measured {
            group.count += 1;
            group.errors += u64::from(m.is_error());
            group
                .durations
                .extend(m.duration_ms.filter(|d| d.is_finite()));
        }
        let takes_tokens = if by == StatsBy::Agent {
            agent_tokens
        } else {
            measured
        };
        if takes_tokens {
            group.input_tokens += m.input_tokens.unwrap_or(0);
            group.output_tokens += m.output_tokens.unwrap_or(0);
        }
    }

    fn finish(self) -> Vec<GroupStats> {
        let mut list: Vec<GroupStats> = self
            .0
            .into_iter()
            // A name that only shows up through tokens ran no measured step.
            .filter(|(_, g)| g.count > 0)
            .map(|(name, mut g)| {
                g.durations.sort_by(f64::total_cmp);
                GroupStats {
                    name,
                    count: g.count,
                    errors: g.errors,
                    p50_ms: percentile(&g.durations, 0.50),
                    p95_ms: percentile(&g.durations, 0.95),
                    max_ms: g.durations.last().copied(),
                    input_tokens: g.input_tokens,
                    output_tokens: g.output_tokens,
                    cost: g.cost,
                }
            })
            .collect();
        list.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.name.cmp(&b.name)));
        list
    }
}

/// Nearest-rank percentile of sorted values: a duration some run really took.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied()
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(10.0));
        assert_eq!(percentile(&values, 0.95), Some(19.0));
        assert_eq!(percentile(&[7.0], 0.95), Some(7.0));
        assert_eq!(percentile(&[], 0.5), None);
    }
}
