//! Latency, failure and token figures per agent, model or tool.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::types::Value;
use rusqlite::Connection;
use serde::Serialize;

use crate::entry::{EntryStatus, EventType, ProtocolEntry};
use crate::error::Result;
use crate::query::{scan_jsonl, Backend, ProtocolReader};
use crate::storage::sqlite_error;

/// What [`ProtocolReader::stats`] groups by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
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
/// use reagentic_protocol::{StatsBy, StatsFilter};
///
/// let tools_today = StatsFilter::new(StatsBy::Tool).with_since(Utc::now() - TimeDelta::days(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatsFilter {
    by: StatsBy,
    since: Option<DateTime<Utc>>,
}

impl StatsFilter {
    /// Measures every entry, grouped `by`.
    ///
    /// ```
    /// let filter = reagentic_protocol::StatsFilter::new(reagentic_protocol::StatsBy::Model);
    /// ```
    pub fn new(by: StatsBy) -> Self {
        StatsFilter { by, since: None }
    }

    /// Measures only entries at or after `since`.
    ///
    /// ```
    /// use reagentic_protocol::{StatsBy, StatsFilter};
    /// let filter = StatsFilter::new(StatsBy::Agent).with_since(chrono::Utc::now());
    /// ```
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.since = Some(since);
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
    /// # fn show(g: &reagentic_protocol::GroupStats) {
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
    /// ```no_run
    /// use reagentic_protocol::{ProtocolReader, StatsBy, StatsFilter};
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// for tool in ProtocolReader::open("protocol.db")?.stats(&StatsFilter::new(StatsBy::Tool))? {
    ///     println!("{}: p95 {:?} ms", tool.name, tool.p95_ms);
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stats(&self, filter: &StatsFilter) -> Result<Vec<GroupStats>> {
        let mut groups = Groups::default();
        self.recording_skips(|skips| match self.backend() {
            Backend::Sqlite(conn) => sqlite_rows(conn, self.path(), filter, &mut groups),
            Backend::Jsonl { max_line_bytes } => {
                let mut seen = HashSet::new();
                scan_jsonl(self.path(), *max_line_bytes, skips, |_, entry| {
                    let in_window = filter.since.is_none_or(|t| entry.timestamp >= t);
                    if in_window && seen.insert(entry.entry_id.clone()) {
                        groups.add(filter.by, &Measured::of(&entry));
                    }
                })
            }
        })?;
        Ok(groups.finish())
    }
}

/// The few fields of an end entry that stats need.
struct Measured<'a> {
    event_type: EventType,
    agent: Option<&'a str>,
    name: &'a str,
    model: Option<&'a str>,
    tool: Option<&'a str>,
    duration_ms: Option<f64>,
    failed: bool,
    input_tokens: u64,
    output_tokens: u64,
}

impl<'a> Measured<'a> {
    fn of(entry: &'a ProtocolEntry) -> Self {
        Measured {
            event_type: entry.event_type,
            agent: entry.agent_name.as_deref(),
            name: &entry.name,
            model: entry.model.as_deref(),
            tool: entry.tool_name.as_deref(),
            duration_ms: entry.duration_ms,
            failed: entry.is_error(),
            input_tokens: entry.input_tokens.unwrap_or(0),
            output_tokens: entry.output_tokens.unwrap_or(0),
        }
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
    fn add(&mut self, by: StatsBy, m: &Measured<'_>) {
        let measured = m.event_type == by.measured();
        // An agent's tokens are spent by its model calls.
        let agent_tokens = by == StatsBy::Agent && m.event_type == EventType::LlmEnd;
        if !measured && !agent_tokens {
            return;
        }
        let key = match by {
            StatsBy::Agent if measured => m.agent.unwrap_or(m.name),
            StatsBy::Agent => m.agent.unwrap_or("(none)"),
            StatsBy::Model => m.model.unwrap_or("(none)"),
            StatsBy::Tool => m.tool.unwrap_or(m.name),
        };
        let group = self.0.entry(key.to_owned()).or_default();
        if measured {
            group.count += 1;
            group.errors += u64::from(m.failed);
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
            group.input_tokens += m.input_tokens;
            group.output_tokens += m.output_tokens;
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

/// Streams just the columns stats need, through the event-type index; no
/// content is decoded.
fn sqlite_rows(
    conn: &Connection,
    path: &Path,
    filter: &StatsFilter,
    groups: &mut Groups,
) -> Result<()> {
    let on = |e| sqlite_error(path, e);
    let mut types = vec![filter.by.measured()];
    if filter.by == StatsBy::Agent {
        types.push(EventType::LlmEnd);
    }
    let marks = vec!["?"; types.len()].join(", ");
    let mut params: Vec<Value> = types
        .iter()
        .map(|t| Value::Text(t.as_str().to_owned()))
        .collect();
    let mut sql = format!(
        "SELECT event_type, agent_name, name, model, tool_name, duration_ms,
                status = ? OR error IS NOT NULL, input_tokens, output_tokens
         FROM protocol_entries WHERE event_type IN ({marks})"
    );
    params.insert(0, Value::Text(EntryStatus::Error.as_str().to_owned()));
    if let Some(since) = filter.since {
        sql.push_str(" AND timestamp >= ?");
        params.push(Value::Text(crate::entry::format_timestamp(&since)));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(on)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params)).map_err(on)?;
    while let Some(row) = rows.next().map_err(on)? {
        let event_type: String = row.get(0).map_err(on)?;
        // A row another tool wrote with an unknown type is not one we measure.
        let Ok(event_type) = event_type.parse::<EventType>() else {
            continue;
        };
        let agent: Option<String> = row.get(1).map_err(on)?;
        let name: String = row.get(2).map_err(on)?;
        let model: Option<String> = row.get(3).map_err(on)?;
        let tool: Option<String> = row.get(4).map_err(on)?;
        let tokens = |i| {
            row.get::<_, Option<i64>>(i)
                .map(|n| n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
        };
        groups.add(
            filter.by,
            &Measured {
                event_type,
                agent: agent.as_deref(),
                name: &name,
                model: model.as_deref(),
                tool: tool.as_deref(),
                duration_ms: row.get(5).map_err(on)?,
                failed: row.get(6).map_err(on)?,
                input_tokens: tokens(7).map_err(on)?,
                output_tokens: tokens(8).map_err(on)?,
            },
        );
    }
    Ok(())
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
