//! [`EntryFilter`]: which entries a query returns, and in what order.

use chrono::{DateTime, Utc};

use super::conditions::Conditions;
use crate::entry::{EventType, ProtocolEntry};

/// Which entries a query returns, and in what order.
///
/// Every condition set must hold (they are combined with AND); an empty filter
/// returns everything. Results are in timestamp order, oldest first unless
/// [`newest_first`](Self::newest_first), ties broken by `entry_id`.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use reagentic_protocol::{EntryFilter, EventType};
///
/// let filter = EntryFilter::default()
///     .with_session("conv-42")
///     .with_event_types([EventType::ToolStart, EventType::ToolEnd])
///     .with_since(Utc.with_ymd_and_hms(2026, 11, 27, 0, 0, 0).unwrap())
///     .errors_only()
///     .newest_first()
///     .with_limit(20);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EntryFilter {
    pub(crate) conditions: Conditions,
    pub(crate) limit: Option<usize>,
    pub(crate) newest_first: bool,
    /// Tested on each entry once it is priced, never pushed into SQL: a
    /// cost may be computed as the entry is read.
    pub(crate) min_cost_usd: Option<f64>,
}

impl EntryFilter {
    /// Keeps entries of this session (`session_id`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_session("conv-42");
    /// ```
    pub fn with_session(mut self, session_id: impl Into<String>) -> Self {
        self.conditions.session = Some(session_id.into());
        self
    }

    /// Keeps entries of this trace (`trace_id`, 32 lowercase hex digits).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default()
    ///     .with_trace("4bf92f3577b34da6a3ce929d0e0e4736");
    /// ```
    pub fn with_trace(mut self, trace_id: impl Into<String>) -> Self {
        self.conditions.trace = Some(trace_id.into());
        self
    }

    /// Adds one event type to keep; with none added, every type is kept.
    ///
    /// ```
    /// use reagentic_protocol::{EntryFilter, EventType};
    /// let filter = EntryFilter::default().with_event_type(EventType::Handoff);
    /// ```
    pub fn with_event_type(mut self, event_type: EventType) -> Self {
        self.conditions.event_types.insert(event_type);
        self
    }

    /// Adds several event types to keep; with none added, every type is kept.
    ///
    /// ```
    /// use reagentic_protocol::{EntryFilter, EventType};
    /// let filter = EntryFilter::default().with_event_types([EventType::LlmStart, EventType::LlmEnd]);
    /// ```
    pub fn with_event_types(mut self, event_types: impl IntoIterator<Item = EventType>) -> Self {
        self.conditions.event_types.extend(event_types);
        self
    }

    /// Keeps entries of this agent (`agent_name`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_agent("planner");
    /// ```
    pub fn with_agent(mut self, agent_name: impl Into<String>) -> Self {
        self.conditions.agent = Some(agent_name.into());
        self
    }

    /// Keeps entries of this tool (`tool_name`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_tool("search_flights");
    /// ```
    pub fn with_tool(mut self, tool_name: impl Into<String>) -> Self {
        self.conditions.tool = Some(tool_name.into());
        self
    }

    /// Keeps entries of this model (`model`).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_model("gpt-4o");
    /// ```
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.conditions.model = Some(model.into());
        self
    }

    /// Keeps entries at or after `since` (inclusive).
    ///
    /// ```
    /// use chrono::{TimeDelta, Utc};
    /// let filter = reagentic_protocol::EntryFilter::default()
    ///     .with_since(Utc::now() - TimeDelta::hours(1));
    /// ```
    pub fn with_since(mut self, since: DateTime<Utc>) -> Self {
        self.conditions.window.set_since(since);
        self
    }

    /// Keeps entries before `until` (exclusive), so consecutive windows
    /// `[a, b)`, `[b, c)` never return an entry twice.
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().with_until(chrono::Utc::now());
    /// ```
    pub fn with_until(mut self, until: DateTime<Utc>) -> Self {
        self.conditions.window.set_until(until);
        self
    }

    /// Keeps only failed steps: status `error` or an `error` recorded
    /// (see [`ProtocolEntry::is_error`]).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().errors_only();
    /// ```
    pub fn errors_only(mut self) -> Self {
        self.conditions.errors_only = true;
        self
    }

    /// Returns at most `limit` entries: the oldest ones, or the newest ones
    /// with [`newest_first`](Self::newest_first).
    ///
    /// ```
    /// let last_ten = reagentic_protocol::EntryFilter::default().newest_first().with_limit(10);
    /// ```
    pub fn with_limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Keeps entries that cost at least `usd` US dollars (reported or
    /// priced; unpriced entries have no cost and are left out).
    ///
    /// ```
    /// let expensive = reagentic_protocol::EntryFilter::default().with_min_cost(0.10);
    /// ```
    pub fn with_min_cost(mut self, usd: f64) -> Self {
        self.min_cost_usd = Some(usd);
        self
    }

    /// Orders the results newest first (the default is oldest first).
    ///
    /// ```
    /// let filter = reagentic_protocol::EntryFilter::default().newest_first();
    /// ```
    pub fn newest_first(mut self) -> Self {
        self.newest_first = true;
        self
    }

    /// Whether `entry` passes every condition of the filter (ordering and
    /// limit aside): the same test the queries apply.
    ///
    /// ```
    /// use reagentic_protocol::EntryFilter;
    /// # fn check(entry: &reagentic_protocol::ProtocolEntry) {
    /// let failed_in_session = EntryFilter::default().with_session("conv-42").errors_only();
    /// if failed_in_session.matches(entry) { /* … */ }
    /// # }
    /// ```
    pub fn matches(&self, entry: &ProtocolEntry) -> bool {
        self.conditions.matches(entry) && self.costs_enough(entry)
    }

    /// Whether `entry` meets the minimum cost, if one is set.
    pub(crate) fn costs_enough(&self, entry: &ProtocolEntry) -> bool {
        self.min_cost_usd
            .is_none_or(|min| entry.cost_usd.is_some_and(|usd| usd >= min))
    }
}
