//! Latency, failure and token figures per agent, model or tool.

use std::collections::HashMap;
use std::ops::ControlFlow;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::conditions::{Conditions, TimeWindow};
use super::reader::ProtocolReader;
use super::scan::Scan;
use crate::entry::{EventType, ProtocolEntry};
use crate::error::Result;

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
}

impl StatsBy {
    /// The end entries whose duration and status are measured.
    fn measured(self) -> EventType {
        match self {
            StatsBy::Agent => EventType::AgentEnd,
            StatsBy::Model => EventType::LlmEnd,
            StatsBy::Tool => EventType::ToolEnd,
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
    /// Reads only the end entries it measures (through the event-type index
    /// in SQLite), without their content.
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
        let mut groups = Groups::default();
        let skips = self.scan(Scan::new(&measured).without_content(), |record| {
            groups.add(filter.by, &record.entry);
            ControlFlow::Continue(())
        })?;
        self.report(skips);
        Ok(groups.finish())
    }
}

#[derive(Default)]
struct Group {
    count: u64,
    errors: u64,
    durations: Vec<f64>,
    input_tokens: u64,
    output_tokens: u64,
}

#[derive(Default)]
struct Groups(HashMap<String, Group>);

impl Groups {
    fn add(&mut self, by: StatsBy, m: &ProtocolEntry) {
        let measured = m.event_type == by.measured();
        // An agent's tokens are spent by its model calls.
        let agent_tokens = by == StatsBy::Agent && m.event_type == EventType::LlmEnd;
        if !measured && !agent_tokens {
            return;
        }
        let key = match by {
            StatsBy::Agent if measured => m.agent_name.as_deref().unwrap_or(&m.name),
            StatsBy::Agent => m.agent_name.as_deref().unwrap_or("(none)"),
            StatsBy::Model => m.model.as_deref().unwrap_or("(none)"),
            StatsBy::Tool => m.tool_name.as_deref().unwrap_or(&m.name),
        };
        let group = self.0.entry(key.to_owned()).or_default();
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
