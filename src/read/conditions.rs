//! What an entry must be to be read, defined once for every storage form:
//! pushed into SQL for SQLite and PostgreSQL (one text, two placeholder
//! styles), tested on each entry for JSON Lines.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeDelta, Utc};

use super::scan::Order;
use crate::codec::sqlite::IS_ERROR;
use crate::entry::{EventType, ProtocolEntry};

/// How a SQL dialect writes a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Placeholders {
    /// SQLite's `?`, bound in order.
    Question,
    /// PostgreSQL's `$1`, `$2`, …
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    Numbered,
}

/// A value bound to a placeholder, in no dialect's types: each source turns
/// it into its client's value (a time is text in SQLite, `timestamptz` in
/// PostgreSQL).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum SqlValue {
    /// Text.
    Text(String),
    /// A whole number (limits, positions).
    Integer(i64),
    /// A point in time, whole microseconds.
    Time(DateTime<Utc>),
}

/// SQL conditions under construction: clauses to be joined with AND and the
/// values their placeholders stand for, in order.
#[derive(Debug)]
pub(crate) struct SqlConditions {
    style: Placeholders,
    /// The clauses; only fixed SQL text and placeholders, never a value.
    pub(crate) clauses: Vec<String>,
    /// The values, in placeholder order.
    pub(crate) params: Vec<SqlValue>,
}

impl SqlConditions {
    /// No conditions yet, writing placeholders in `style`.
    pub(crate) fn new(style: Placeholders) -> Self {
        SqlConditions {
            style,
            clauses: Vec::new(),
            params: Vec::new(),
        }
    }

    /// Adds `value` and returns its placeholder.
    pub(crate) fn bind(&mut self, value: SqlValue) -> String {
        self.params.push(value);
        match self.style {
            Placeholders::Question => "?".to_owned(),
            Placeholders::Numbered => format!("${}", self.params.len()),
        }
    }

    /// Adds a clause (fixed SQL text with placeholders from [`bind`](Self::bind)).
    pub(crate) fn push(&mut self, clause: impl Into<String>) {
        self.clauses.push(clause.into());
    }

    /// Turns the clauses so far into one: the row is among the rowids of
    /// `table` they select (a subquery the planner answers on its own).
    pub(crate) fn nest_as_rowids(&mut self, table: &str) {
        if self.clauses.is_empty() {
            return;
        }
        let nested = format!(
            "rowid IN (SELECT rowid FROM {table}{})",
            self.where_clause()
        );
        self.clauses = vec![nested];
    }

    /// ` WHERE …` for the clauses, or nothing when there are none.
    pub(crate) fn where_clause(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// What a scan's statement ends with, after its select list: the
    /// clauses, the scan's order (`written_order` being the storage's own
    /// write order) and its limit, bound last.
    pub(crate) fn statement_tail(
        &mut self,
        order: Order,
        limit: Option<usize>,
        written_order: &str,
    ) -> String {
        let mut tail = self.where_clause();
        let order = match order {
            Order::Written => Some(written_order),
            Order::Oldest => Some("timestamp ASC, entry_id ASC"),
            Order::Newest => Some("timestamp DESC, entry_id DESC"),
            Order::Any => None,
        };
        if let Some(order) = order {
            tail.push_str(" ORDER BY ");
            tail.push_str(order);
        }
        if let Some(limit) = limit {
            let mark = self.bind(SqlValue::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
            tail.push_str(" LIMIT ");
            tail.push_str(&mark);
        }
        tail
    }
}

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

    /// The window's end, if it has one.
    pub(crate) fn until(&self) -> Option<DateTime<Utc>> {
        self.until
    }

    /// Whether the window has a bound (is not all time).
    pub(crate) fn is_bounded(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    /// Whether `at` lies in the window.
    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        self.since.is_none_or(|since| at >= since) && self.until.is_none_or(|until| at < until)
    }

    /// The window as SQL conditions on `timestamp`, its bounds bound as
    /// parameters. SQLite's stored text sorts chronologically, so text
    /// comparison is time comparison there; PostgreSQL compares
    /// `timestamptz`. Both can use the indexes.
    fn push_sql(&self, sql: &mut SqlConditions) {
        if let Some(since) = self.since {
            let mark = sql.bind(SqlValue::Time(since));
            sql.push(format!("timestamp >= {mark}"));
        }
        if let Some(until) = self.until {
            let mark = sql.bind(SqlValue::Time(until));
            sql.push(format!("timestamp < {mark}"));
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
    /// Only entries a newest-first walk of a window has not passed.
    pub(crate) not_walked: Option<Walked>,
}

/// How far a newest-first walk of a window went: every entry in the window
/// from the newest down to `(timestamp, entry_id)`. The entries it did not
/// reach are those at or before that point (the point itself included, so
/// that ties are never lost; a reader skips what it has seen) and those
/// past the window's end.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Walked {
    pub(crate) timestamp: DateTime<Utc>,
    pub(crate) entry_id: String,
    pub(crate) until: Option<DateTime<Utc>>,
}

impl Walked {
    fn left(&self, entry: &ProtocolEntry) -> bool {
        (entry.timestamp, entry.entry_id.as_str()) <= (self.timestamp, self.entry_id.as_str())
            || self.until.is_some_and(|until| entry.timestamp >= until)
    }

    fn push_sql(&self, sql: &mut SqlConditions) {
        let at = sql.bind(SqlValue::Time(self.timestamp));
        let id = sql.bind(SqlValue::Text(self.entry_id.clone()));
        let mut clause = format!("((timestamp, entry_id) <= ({at}, {id})");
        if let Some(until) = self.until {
            let until = sql.bind(SqlValue::Time(until));
            clause.push_str(&format!(" OR timestamp >= {until}"));
        }
        clause.push(')');
        sql.push(clause);
    }
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
            && self
                .not_walked
                .as_ref()
                .is_none_or(|walked| walked.left(entry))
    }

    /// The same conditions as SQL, to be joined with AND. Only fixed SQL text
    /// goes into the statement; every value is bound as a parameter, so no
    /// session id or tool name can change the SQL.
    ///
    /// The text is the same in both dialects; only the placeholders differ.
    /// The error test is [`IS_ERROR`], the one both layouts share.
    pub(crate) fn push_sql(&self, sql: &mut SqlConditions) {
        let mut equal = |column: &str, value: &Option<String>| {
            if let Some(value) = value {
                let mark = sql.bind(SqlValue::Text(value.clone()));
                sql.push(format!("{column} = {mark}"));
            }
        };
        equal("session_id", &self.session);
        equal("trace_id", &self.trace);
        equal("agent_name", &self.agent);
        equal("tool_name", &self.tool);
        equal("model", &self.model);
        if self.without_session {
            sql.push("session_id IS NULL");
        }
        if !self.event_types.is_empty() {
            let marks: Vec<String> = self
                .event_types
                .iter()
                .map(|t| sql.bind(SqlValue::Text(t.as_str().to_owned())))
                .collect();
            sql.push(format!("event_type IN ({})", marks.join(", ")));
        }
        self.window.push_sql(sql);
        if self.errors_only {
            sql.push(IS_ERROR);
        }
        if let Some(walked) = &self.not_walked {
            walked.push_sql(sql);
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
        let mut question = SqlConditions::new(Placeholders::Question);
        conditions.push_sql(&mut question);
        let text = question.where_clause();
        assert!(!text.contains("DROP"), "{text}");
        assert_eq!(text.matches('?').count(), question.params.len());

        // PostgreSQL: the same clauses, numbered placeholders, the same values.
        let mut numbered = SqlConditions::new(Placeholders::Numbered);
        conditions.push_sql(&mut numbered);
        assert_eq!(numbered.params, question.params);
        let mut expected = text.clone();
        for n in 1..=question.params.len() {
            expected = expected.replacen('?', &format!("${n}"), 1);
        }
        assert_eq!(numbered.where_clause(), expected);
    }
}
