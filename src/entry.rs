//! The protocol entry: one record of the protocol, the public data model.
//!
//! The JSON form of [`ProtocolEntry`] is the protocol's public contract,
//! described field by field in `FORMAT.md`: fields may be added, never
//! renamed. Types that grow with the format are `#[non_exhaustive]`: match
//! them with a wildcard arm and build entries with [`ProtocolEntry::new`].

mod content;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use content::Content;

/// The version of the entry format written by this build.
pub const SCHEMA_VERSION: u32 = 6;

/// What happened: the kind of an entry.
///
/// New kinds may be added (the format is only ever extended), so a `match`
/// outside this crate needs a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventType {
    /// An agent run began.
    AgentStart,
    /// An agent run finished.
    AgentEnd,
    /// A model call began.
    LlmStart,
    /// A model call finished.
    LlmEnd,
    /// A tool call began.
    ToolStart,
    /// A tool call finished.
    ToolEnd,
    /// One agent handed the conversation to another.
    Handoff,
    /// A guardrail check began.
    GuardrailStart,
    /// A guardrail check finished.
    GuardrailEnd,
    /// Any other span began (kept only when the config asks for it).
    SpanStart,
    /// Any other span finished (kept only when the config asks for it).
    SpanEnd,
}

impl EventType {
    /// Every event type, in a stable order.
    pub const ALL: [EventType; 11] = [
        EventType::AgentStart,
        EventType::AgentEnd,
        EventType::LlmStart,
        EventType::LlmEnd,
        EventType::ToolStart,
        EventType::ToolEnd,
        EventType::Handoff,
        EventType::GuardrailStart,
        EventType::GuardrailEnd,
        EventType::SpanStart,
        EventType::SpanEnd,
    ];

    /// The name used in the protocol file, e.g. `"tool_end"`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::AgentStart => "agent_start",
            EventType::AgentEnd => "agent_end",
            EventType::LlmStart => "llm_start",
            EventType::LlmEnd => "llm_end",
            EventType::ToolStart => "tool_start",
            EventType::ToolEnd => "tool_end",
            EventType::Handoff => "handoff",
            EventType::GuardrailStart => "guardrail_start",
            EventType::GuardrailEnd => "guardrail_end",
            EventType::SpanStart => "span_start",
            EventType::SpanEnd => "span_end",
        }
    }

    /// Whether this type opens a start/end pair.
    pub fn is_start(self) -> bool {
        matches!(
            self,
            EventType::AgentStart
                | EventType::LlmStart
                | EventType::ToolStart
                | EventType::GuardrailStart
                | EventType::SpanStart
        )
    }

    /// The last part of an entry id of this type ([`ProtocolEntry::make_id`]):
    /// `start` for a start, else `end`.
    pub(crate) fn id_suffix(self) -> &'static str {
        if self.is_start() {
            "start"
        } else {
            "end"
        }
    }

    /// Whether this type closes a start/end pair (and so carries `duration_ms`).
    pub fn is_end(self) -> bool {
        matches!(
            self,
            EventType::AgentEnd
                | EventType::LlmEnd
                | EventType::ToolEnd
                | EventType::GuardrailEnd
                | EventType::SpanEnd
        )
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error returned when parsing an unknown event type name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?}; expected one of agent_start, agent_end, llm_start, llm_end, tool_start, tool_end, handoff, guardrail_start, guardrail_end, span_start, span_end")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// How the step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Not known yet: every start entry.
    Unset,
    /// Finished without an error.
    Ok,
    /// Finished with an error (see [`ProtocolEntry::error`]).
    Error,
}

impl EntryStatus {
    /// The name used in the protocol file.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Unset => "unset",
            EntryStatus::Ok => "ok",
            EntryStatus::Error => "error",
        }
    }
}

impl FromStr for EntryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "unset" => Ok(EntryStatus::Unset),
            "ok" => Ok(EntryStatus::Ok),
            "error" => Ok(EntryStatus::Error),
            other => Err(format!("unknown entry status {other:?}")),
        }
    }
}

/// How an entry's `cost_usd` was obtained.
///
/// ```
/// use reagentic_protocol::entry::CostSource;
/// assert_eq!(CostSource::Priced.as_str(), "priced");
/// assert_eq!("unpriced".parse::<CostSource>(), Ok(CostSource::Unpriced));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CostSource {
    /// The framework reported the cost (`llm.cost.total`, Langfuse cost
    /// details, llm-sdk, …); it is kept as reported.
    Reported,
    /// Computed from the call's tokens and its model's price (see
    /// `price_model` and `price_rule`).
    Priced,
    /// The call has no cost: its model has no price, or it used tokens the
    /// price has no rate for (see `unpriced_tokens`). Not free: unknown.
    Unpriced,
}

impl CostSource {
    /// The name used in the protocol file.
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Reported => "reported",
            CostSource::Priced => "priced",
            CostSource::Unpriced => "unpriced",
        }
    }
}

impl FromStr for CostSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "reported" => Ok(CostSource::Reported),
            "priced" => Ok(CostSource::Priced),
            "unpriced" => Ok(CostSource::Unpriced),
            other => Err(format!("unknown cost source {other:?}")),
        }
    }
}

/// What went wrong, from the span status, `error.type` and `exception` events.
///
/// ```
/// let error = reagentic_protocol::EntryError::new(Some("Timeout".into()), Some("took too long".into()));
/// assert_eq!(error.error_type.as_deref(), Some("Timeout"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntryError {
    /// The error's type or class (`error.type`, `exception.type`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub error_type: Option<String>,
    /// The human-readable message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The stack trace, where the source recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stacktrace: Option<String>,
}

impl EntryError {
    /// An error of this type with this message (either may be unknown).
    pub fn new(error_type: Option<String>, message: Option<String>) -> Self {
        EntryError {
            error_type,
            message,
            stacktrace: None,
        }
    }
}

/// One protocol entry, exactly as it is stored.
///
/// Fields are only ever added (each addition raises [`SCHEMA_VERSION`]), so
/// the struct is `#[non_exhaustive]`: build one with [`ProtocolEntry::new`]
/// and set the fields you need.
///
/// ```
/// use chrono::Utc;
/// use reagentic_protocol::{EventType, ProtocolEntry};
///
/// let mut entry = ProtocolEntry::new(
///     EventType::ToolEnd,
///     "4bf92f3577b34da6a3ce929d0e0e4736",
///     "00f067aa0ba902b7",
///     "search_flights",
///     Utc::now(),
/// );
/// entry.tool_name = Some("search_flights".into());
/// entry.duration_ms = Some(182.4);
/// assert_eq!(entry.entry_id, "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:end");
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProtocolEntry {
    /// The entry format version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// `trace_id:span_id:start|end`: writing the same entry twice stores it once.
    pub entry_id: String,
    /// The span's start for start entries and handoffs, its end for end entries.
    #[serde(with = "rfc3339_micros")]
    pub timestamp: DateTime<Utc>,
    /// What happened.
    pub event_type: EventType,
    /// The trace, as 32 lowercase hex digits.
    pub trace_id: String,
    /// The span, as 16 lowercase hex digits.
    pub span_id: String,
    /// The parent span, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_span_id: Option<String>,
    /// The session or conversation, own or inherited from an ancestor span.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The `service.name` of the emitting application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The agent: the span's own for agent entries, the enclosing agent's otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The step's name (agent, model call, tool, or the agent taking over in a handoff).
    pub name: String,
    /// The model asked for, or the one that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The model provider (`openai`, `anthropic`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// The tool, on tool entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The tool call's id, on tool entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Input content: messages, tool arguments (by detail level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Content>,
    /// Output content: messages, tool results (by detail level).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Content>,
    /// Tokens read by the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    /// Tokens written by the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    /// Span end − span start, in milliseconds, on every end entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<f64>,
    /// How the step ended.
    pub status: EntryStatus,
    /// What went wrong, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EntryError>,
    /// Every remaining attribute and span event, at `DetailLevel::Full`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
    // Schema 2 fields, appended so the older fields keep their order.
    /// The operation the source named (`invoke_workflow`, `retrieval`,
    /// OpenInference's `CHAIN`, …), when it named one: it tells apart spans
    /// that share an event type, such as a workflow and an agent run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Input tokens served from the provider's prompt cache (part of `input_tokens`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    /// Input tokens written to the provider's prompt cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    /// Output tokens spent on reasoning ("thinking"), where reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_tokens: Option<u64>,
    /// Why the model stopped (`stop`, `length`, `tool_calls`, …), one per choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reasons: Option<Vec<String>>,
    /// What the step cost, in US dollars: reported by the source, or (for
    /// model calls) computed from its tokens and its model's price; see
    /// `cost_source`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    /// Time from the request to the first streamed chunk, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_first_chunk_ms: Option<f64>,
    // Schema 4 fields.
    /// How `cost_usd` was obtained: reported, priced, or unpriced (no cost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_source: Option<CostSource>,
    /// The price table's name for the model whose price was used (`gpt-4o`
    /// for `openai/gpt-4o-2024-08-06`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_model: Option<String>,
    /// Which rule matched the model to `price_model`: `with_provider`,
    /// `exact`, `without_provider`, `without_version` or `pattern:<pattern>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price_rule: Option<String>,
    /// Tokens of an unpriced model call: counted, but with no cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unpriced_tokens: Option<u64>,
    // A new field goes into `codec::jsonl::encode` too, and into
    // `test_entries::full_entry`, whose line the encoder must write as serde does.
}

impl ProtocolEntry {
    /// An entry of `event_type` for the span `span_id` of trace `trace_id`:
    /// its id is derived (`trace_id:span_id:start` for start entries,
    /// `…:end` for end entries and handoffs), its schema is this build's, its
    /// status `unset`, and every optional field is empty.
    pub fn new(
        event_type: EventType,
        trace_id: impl Into<String>,
        span_id: impl Into<String>,
        name: impl Into<String>,
        timestamp: DateTime<Utc>,
    ) -> Self {
        let (trace_id, span_id) = (trace_id.into(), span_id.into());
        let entry_id = Self::make_id(&trace_id, &span_id, event_type.id_suffix());
        Self::with_id(
            entry_id,
            event_type,
            trace_id,
            span_id,
            name.into(),
            timestamp,
        )
    }

    /// [`ProtocolEntry::new`] with its `entry_id` made by the caller, who
    /// may hold a string for it already.
    pub(crate) fn with_id(
        entry_id: String,
        event_type: EventType,
        trace_id: String,
        span_id: String,
        name: String,
        timestamp: DateTime<Utc>,
    ) -> Self {
        ProtocolEntry {
            schema: SCHEMA_VERSION,
            entry_id,
            timestamp,
            event_type,
            trace_id,
            span_id,
            parent_span_id: None,
            session_id: None,
            service_name: None,
            agent_name: None,
            name,
            model: None,
            provider: None,
            tool_name: None,
            tool_call_id: None,
            input: None,
            output: None,
            input_tokens: None,
            output_tokens: None,
            duration_ms: None,
            status: EntryStatus::Unset,
            error: None,
            attributes: None,
            operation: None,
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            reasoning_tokens: None,
            finish_reasons: None,
            cost_usd: None,
            time_to_first_chunk_ms: None,
            cost_source: None,
            price_model: None,
            price_rule: None,
            unpriced_tokens: None,
        }
    }

    /// The names of an entry's fields in the protocol's order: the JSON keys
    /// of a line and the columns of the SQLite table (see `FORMAT.md`).
    ///
    /// ```
    /// let names: Vec<&str> = reagentic_protocol::ProtocolEntry::field_names().collect();
    /// assert_eq!(names[..3], ["schema", "entry_id", "timestamp"]);
    /// ```
    pub fn field_names() -> impl ExactSizeIterator<Item = &'static str> {
        crate::codec::columns::COLUMNS
            .iter()
            .map(|column| column.name)
    }

    /// An empty entry for a decoder to fill in field by field.
    pub(crate) fn placeholder() -> Self {
        Self::new(
            EventType::SpanStart,
            String::new(),
            String::new(),
            String::new(),
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    /// Builds the deterministic entry id: `trace_id:span_id:suffix`.
    pub fn make_id(trace_id: &str, span_id: &str, suffix: &str) -> String {
        Self::id_parts(trace_id, span_id, suffix).concat()
    }

    /// The parts of an entry id, in order, for [`ProtocolEntry::make_id`]
    /// and for callers that join them into a string of their own.
    pub(crate) fn id_parts<'a>(
        trace_id: &'a str,
        span_id: &'a str,
        suffix: &'a str,
    ) -> [&'a str; 5] {
        [trace_id, ":", span_id, ":", suffix]
    }

    /// The entry as one JSON Lines record, without the trailing newline.
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Whether the step failed.
    pub fn is_error(&self) -> bool {
        self.status == EntryStatus::Error || self.error.is_some()
    }
}

/// Formats a timestamp the way the protocol stores it: RFC 3339, UTC, microseconds.
pub fn format_timestamp(ts: &DateTime<Utc>) -> String {
    TimestampText::of(ts).as_str().to_owned()
}

/// A timestamp's stored text (`2026-11-27T03:00:00.123456Z`), made without
/// allocating. Every entry's timestamp is written this way by the SQLite and
/// JSON Lines storages, and chrono's general formatter with the `String` it
/// returns took 760 instructions an entry of the SQLite writer's 30 000
/// (callgrind of the tool-burst bench's storage alone). Years outside
/// 0–9999 and leap seconds, which need signs and wider fields, are left to
/// chrono.
pub(crate) enum TimestampText {
    /// The usual case: 27 ASCII bytes.
    Fixed([u8; TimestampText::LEN]),
    /// What chrono wrote for the rest.
    Other(String),
}

impl TimestampText {
    const LEN: usize = 27;

    /// The text of `ts`.
    pub(crate) fn of(ts: &DateTime<Utc>) -> Self {
        use chrono::{Datelike, Timelike};
        let (date, time) = (ts.date_naive(), ts.time());
        let year = date.year();
        let nanos = time.nanosecond();
        let (Ok(year @ 0..=9999), 0..=999_999_999) = (u32::try_from(year), nanos) else {
            return Self::Other(ts.to_rfc3339_opts(SecondsFormat::Micros, true));
        };
        let mut text = *b"0000-00-00T00:00:00.000000Z";
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[5..7], date.month());
        put_digits(&mut text[8..10], date.day());
        put_digits(&mut text[11..13], time.hour());
        put_digits(&mut text[14..16], time.minute());
        put_digits(&mut text[17..19], time.second());
        put_digits(&mut text[20..26], nanos / 1_000);
        Self::Fixed(text)
    }

    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only ASCII digits and separators: this never falls back.
            Self::Fixed(text) => std::str::from_utf8(text).unwrap_or_default(),
            Self::Other(text) => text,
        }
    }
}

/// Writes `value`'s last `field.len()` decimal digits into `field`, zero-padded.
fn put_digits(field: &mut [u8], mut value: u32) {
    for digit in field.iter_mut().rev() {
        // A remainder by 10 is below 10: the cast never truncates.
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

pub(crate) mod rfc3339_micros {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ts: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(super::TimestampText::of(ts).as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn timestamps_read_as_chrono_writes_them(
            seconds in -70_000_000_000_i64..300_000_000_000,
            nanos in 0_u32..2_000_000_000,
        ) {
            if let Some(ts) = DateTime::from_timestamp(seconds, nanos) {
                let ours = TimestampText::of(&ts);
                proptest::prop_assert_eq!(
                    ours.as_str(),
                    ts.to_rfc3339_opts(SecondsFormat::Micros, true)
                );
            }
        }
    }

    #[test]
    fn timestamps_at_the_edges_of_the_fixed_form_read_as_chrono_writes_them() {
        // (year, month, day, second of the day, nanosecond): both ends of
        // the years written by hand, the years either side, a leap second.
        for (year, month, day, second, nano) in [
            (0, 1, 1, 0, 0),
            (9999, 12, 31, 86_399, 999_999_999),
            (10_000, 1, 1, 0, 0),
            (-1, 12, 31, 86_399, 0),
            (2016, 12, 31, 86_399, 1_500_000_000),
            (2026, 11, 27, 10_800, 123_456_789),
        ] {
            let ts = chrono::NaiveDate::from_ymd_opt(year, month, day)
                .and_then(|d| {
                    d.and_hms_nano_opt(second / 3600, second / 60 % 60, second % 60, nano)
                })
                .expect("a valid date")
                .and_utc();
            assert_eq!(
                TimestampText::of(&ts).as_str(),
                ts.to_rfc3339_opts(SecondsFormat::Micros, true),
            );
        }
    }

    fn sample() -> ProtocolEntry {
        ProtocolEntry {
            schema: SCHEMA_VERSION,
            entry_id: ProtocolEntry::make_id(
                "4bf92f3577b34da6a3ce929d0e0e4736",
                "00f067aa0ba902b7",
                "end",
            ),
            timestamp: DateTime::parse_from_rfc3339("2026-11-27T03:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            event_type: EventType::ToolEnd,
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            parent_span_id: Some("53995c3f42cd8ad8".into()),
            session_id: Some("conv-42".into()),
            service_name: Some("travel-agent".into()),
            agent_name: Some("planner".into()),
            name: "search_flights".into(),
            model: None,
            provider: None,
            tool_name: Some("search_flights".into()),
            tool_call_id: Some("call_1".into()),
            input: Some(serde_json::json!({"from": "BER"}).into()),
            output: Some(Content::text("3 flights")),
            input_tokens: None,
            output_tokens: None,
            duration_ms: Some(182.4),
            status: EntryStatus::Ok,
            error: None,
            attributes: None,
            operation: Some("execute_tool".into()),
            cache_read_input_tokens: None,
            cache_creation_input_tokens: None,
            reasoning_tokens: None,
            finish_reasons: None,
            cost_usd: None,
            time_to_first_chunk_ms: None,
            cost_source: None,
            price_model: None,
            price_rule: None,
            unpriced_tokens: None,
        }
    }

    #[test]
    fn json_line_matches_the_design_example_field_for_field() {
        let line = sample().to_json_line().unwrap();
        let expected = r#"{"schema":6,"entry_id":"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:end","timestamp":"2026-11-27T03:00:00.123456Z","event_type":"tool_end","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"53995c3f42cd8ad8","session_id":"conv-42","service_name":"travel-agent","agent_name":"planner","name":"search_flights","tool_name":"search_flights","tool_call_id":"call_1","input":{"from":"BER"},"output":"3 flights","duration_ms":182.4,"status":"ok","operation":"execute_tool"}"#;
        assert_eq!(line, expected, "empty fields are left out");
        // A line that writes its empty fields as null, as schema 2 did, reads
        // as the same entry.
        let with_nulls = r#"{"schema":6,"entry_id":"4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:end","timestamp":"2026-11-27T03:00:00.123456Z","event_type":"tool_end","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","parent_span_id":"53995c3f42cd8ad8","session_id":"conv-42","service_name":"travel-agent","agent_name":"planner","name":"search_flights","model":null,"provider":null,"tool_name":"search_flights","tool_call_id":"call_1","input":{"from":"BER"},"output":"3 flights","input_tokens":null,"output_tokens":null,"duration_ms":182.4,"status":"ok","error":null,"attributes":null,"operation":"execute_tool","cache_read_input_tokens":null,"cache_creation_input_tokens":null,"reasoning_tokens":null,"finish_reasons":null,"cost_usd":null,"time_to_first_chunk_ms":null}"#;
        let read: ProtocolEntry = serde_json::from_str(with_nulls).unwrap();
        assert_eq!(read, sample());
        assert_eq!(line, expected);
    }

    #[test]
    fn json_line_round_trips() {
        let entry = sample();
        let back: ProtocolEntry = serde_json::from_str(&entry.to_json_line().unwrap()).unwrap();
        assert_eq!(back, entry);
    }

    #[test]
    fn schema_1_lines_stay_readable_with_the_new_fields_absent() {
        let v1 = r#"{"schema":1,"entry_id":"t:s:end","timestamp":"2026-11-27T03:00:00.123456Z","event_type":"tool_end","trace_id":"t","span_id":"s","parent_span_id":null,"session_id":null,"service_name":null,"agent_name":null,"name":"x","model":null,"provider":null,"tool_name":"x","tool_call_id":null,"input":null,"output":null,"input_tokens":null,"output_tokens":null,"duration_ms":1.0,"status":"ok","error":null,"attributes":null}"#;
        let entry: ProtocolEntry = serde_json::from_str(v1).unwrap();
        assert_eq!(
            (entry.schema, entry.operation, entry.cost_usd),
            (1, None, None)
        );
        assert_eq!(entry.finish_reasons, None);
    }

    #[test]
    fn event_type_names_round_trip_and_unknown_names_are_rejected() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>().unwrap(), t);
            assert_eq!(
                serde_json::to_value(t).unwrap(),
                Value::String(t.as_str().into())
            );
        }
        assert!("tool".parse::<EventType>().is_err());
    }

    #[test]
    fn error_serializes_its_type_under_the_contract_name() {
        let err = EntryError {
            error_type: Some("Timeout".into()),
            message: Some("took too long".into()),
            stacktrace: None,
        };
        assert_eq!(
            serde_json::to_string(&err).unwrap(),
            r#"{"type":"Timeout","message":"took too long"}"#
        );
    }
}
