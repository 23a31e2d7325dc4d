//! What an entry must be to be read, defined once for every storage form:
//! pushed into SQL for SQLite, tested on each entry for JSON Lines.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};
use rusqlite::types::Value;

use crate::codec::sqlite::IS_ERROR;
use crate::entry::{format_timestamp, EventType, ProtocolEntry};

/// A time window `[since, until)`.
///
/// Both bounds are rounded up to whole microseconds, the precision entries
/// are stored with, so a bound with nanoseconds selects the same entries
/// from SQLite (comparing microsecond text) as from JSON Lines (comparing
/// times) — for every read that takes a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct TimeWindow {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

impl TimeWindow {
    /// Keeps times at or after `since`.
    pub(crate) fn set_since(&mut self, since: DateTime<Utc>) {
        self.since = Some(ceil_to_micros(since));
    }

    /// Keeps times before `until`.
    pub(crate) fn set_until(&mut self, until: DateTime<Utc>) {
        self.until = Some(ceil_to_micros(until));
    }

    /// Whether `at` lies in the window.
    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }

    /// The window as SQL conditions on `timestamp`, its bounds bound as
    /// parameters. The stored text sorts chronologically, so text comparison
    /// is time comparison (and can use the indexes).
    fn push_sql(&self, conditions: &mut Vec<String>, params: &mut Vec<Value>) {
        if let Some(since) = self.since {
            conditions.push("timestamp >= ?".into());
            params.push(Value::Text(format_timestamp(&since)));
        }
        if let Some(until) = self.until {
            conditions.push("timestamp < ?".into());
            params.push(Value::Text(format_timestamp(&until)));
        }
    }
}

/// Rounds up to whole microseconds.
fn ceil_to_micros(ts: DateTime<Utc>) -> DateTime<Utc> {
    let below_micros = ts.timestamp_subsec_nanos() % 1_000;
    if below_micros == 0 {
        return ts;
    }
    ts.checked_add_signed(TimeDelta::nanoseconds(i64::from(1_000 - below_micros)))
        .unwrap_or(ts)
}

/// Every condition an entry must meet (combined with AND); the default
/// keeps everything.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Conditions {
    pub(crate) session: Option<String>,
    /// Only entries without a session (a session-less run is its trace).
    pub(crate) without_session: bool,
    pub(crate) trace: Option<String>,
    pub(crate) event_types: BTreeSet<EventType>,
    pub(crate) agent: Option<String>,
    pub(crate) tool: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) window: TimeWindow,
    pub(crate) errors_only: bool,
}

impl Conditions {
    /// Whether `entry` meets every condition.
    pub(crate) fn matches(&self, entry: &ProtocolEntry) -> bool {
        fn wanted(want: &Option<String>, have: &Option<String>) -> bool {
            want.as_ref()
                .is_none_or(|want| have.as_deref() == Some(want.as_str()))
        }
        wanted(&self.session, &entry.session_id)
            && (!self.without_session || entry.session_id.is_none())
            && self.trace.as_ref().is_none_or(|t| *t == entry.trace_id)
            && (self.event_types.is_empty() || self.event_types.contains(&entry.event_type))
            && wanted(&self.agent, &entry.agent_name)
            && wanted(&self.tool, &entry.tool_name)
            && wanted(&self.model, &entry.model)
            && self.window.contains(entry.timestamp)
            && (!self.errors_only || entry.is_error())
    }

    /// The same conditions as SQL, to be joined with AND. Only fixed SQL text
    /// goes into the statement; every value is bound as a parameter, so no
    /// session id or tool name can change the SQL.
    pub(crate) fn push_sql(&self, conditions: &mut Vec<String>, params: &mut Vec<Value>) {
        let mut equal = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                conditions.push(format!("{column} = ?"));
                params.push(Value::Text(value.clone()));
            }
        };
        equal("session_id", &self.session);
        equal("trace_id", &self.trace);
        equal("agent_name", &self.agent);
        equal("tool_name", &self.tool);
        equal("model", &self.model);
        if self.without_session {
            conditions.push("session_id IS NULL".into());
        }
        if !self.event_types.is_empty() {
            let marks = vec!["?"; self.event_types.len()].join(", ");
            conditions.push(format!("event_type IN ({marks})"));
            params.extend(
                self.event_types
                    .iter()
                    .map(|t| Value::Text(t.as_str().to_owned())),
            );
        }
        self.window.push_sql(conditions, params);
        if self.errors_only {
            conditions.push(IS_ERROR.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn bounds_round_up_to_whole_microseconds() {
        let base = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap();
        let mut window = TimeWindow::default();
        window.set_since(base + TimeDelta::nanoseconds(1_001));
        window.set_until(base + TimeDelta::nanoseconds(5_000));
        assert!(!window.contains(base + TimeDelta::microseconds(1)));
        assert!(window.contains(base + TimeDelta::microseconds(2)));
        assert!(window.contains(base + TimeDelta::microseconds(4)));
        assert!(!window.contains(base + TimeDelta::microseconds(5)));
    }

    #[test]
    fn the_sql_carries_no_values() {
        let mut conditions = Conditions {
            session: Some("'; DROP TABLE protocol_entries; --".into()),
            without_session: true,
            errors_only: true,
            ..Conditions::default()
        };
        conditions.event_types.insert(EventType::ToolEnd);
        conditions.window.set_since(Utc::now());
        let (mut sql, mut params) = (Vec::new(), Vec::new());
        conditions.push_sql(&mut sql, &mut params);
        let sql = sql.join(" AND ");
        assert!(!sql.contains("DROP"), "{sql}");
        assert_eq!(sql.matches('?').count(), params.len());
    }
}
