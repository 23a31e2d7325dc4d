//! What the protocol records: detail level, content limits, redaction, and
//! the user's own attribute aliases and span classification rules.

pub use crate::extract::StepKind;

/// How much of each span the protocol keeps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DetailLevel {
    /// Ids, names, types, timestamps, duration, status, error type and message,
    /// model and token usage. No content.
    Minimal,
    /// Minimal plus inputs, outputs, tool arguments and results, truncated to
    /// [`ProtocolConfig::max_content_chars`], with secrets redacted.
    #[default]
    Standard,
    /// Standard plus every remaining attribute and span event, untruncated up to
    /// the hard cap [`ProtocolConfig::full_content_cap`].
    Full,
}

/// The extraction settings of a protocol pipeline.
///
/// ```
/// use reagentic_protocol::{DetailLevel, ProtocolConfig};
/// let config = ProtocolConfig::default()
///     .with_detail(DetailLevel::Standard)
///     .with_max_content_chars(2_000)
///     .with_redaction_pattern(r"ACME-[0-9]{6}");
/// assert_eq!(config.detail(), DetailLevel::Standard);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolConfig {
    detail: DetailLevel,
    max_content_chars: usize,
    full_content_cap: usize,
    keep_other_spans: bool,
    redact_secrets: bool,
    redaction_patterns: Vec<String>,
    max_tracked_spans: usize,
    aliases: Vec<(Field, String)>,
    span_rules: Vec<(SpanMatch, StepKind)>,
    price_files: Vec<std::path::PathBuf>,
}

/// An entry field that span attributes supply, for [`ProtocolConfig::with_alias`].
///
/// Deserializes from the field's name in the protocol (`"session_id"`), so a
/// settings file can name it the way `FORMAT.md` does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Field {
    /// `session_id`.
    SessionId,
    /// `agent_name` (on agent spans, the agent's own name).
    AgentName,
    /// `model`.
    Model,
    /// `provider`.
    Provider,
    /// `tool_name`.
    ToolName,
    /// `tool_call_id`.
    ToolCallId,
    /// `input_tokens` (a count).
    InputTokens,
    /// `output_tokens` (a count).
    OutputTokens,
    /// `cache_read_input_tokens` (a count).
    CacheReadInputTokens,
    /// `cache_creation_input_tokens` (a count).
    CacheCreationInputTokens,
    /// `reasoning_tokens` (a count).
    ReasoningTokens,
    /// `cost_usd` (a number).
    CostUsd,
    /// `input` (content).
    Input,
    /// `output` (content).
    Output,
}

/// Which spans a classification rule ([`ProtocolConfig::with_span_rule`]) applies to.
///
/// Names are matched exactly as recorded (after `otel.name`, if set);
/// attribute values ignoring ASCII case.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpanMatch {
    /// The span name is exactly this.
    Name(String),
    /// The span name starts with this.
    NamePrefix(String),
    /// The attribute `key` has the value `value`.
    Attribute {
        /// The attribute's key.
        key: String,
        /// Its value.
        value: String,
    },
    /// The attribute is present, whatever its value.
    HasAttribute(String),
}

impl SpanMatch {
    /// [`SpanMatch::Name`].
    pub fn name(name: impl Into<String>) -> Self {
        SpanMatch::Name(name.into())
    }

    /// [`SpanMatch::NamePrefix`].
    pub fn name_prefix(prefix: impl Into<String>) -> Self {
        SpanMatch::NamePrefix(prefix.into())
    }

    /// [`SpanMatch::Attribute`].
    pub fn attribute(key: impl Into<String>, value: impl Into<String>) -> Self {
        SpanMatch::Attribute {
            key: key.into(),
            value: value.into(),
        }
    }

    /// [`SpanMatch::HasAttribute`].
    pub fn has_attribute(key: impl Into<String>) -> Self {
        SpanMatch::HasAttribute(key.into())
    }

    /// Whether a span with this name and attribute lookup matches.
    pub(crate) fn matches<'v>(
        &self,
        span_name: &str,
        attribute: impl Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
    ) -> bool {
        match self {
            SpanMatch::Name(name) => span_name == name,
            SpanMatch::NamePrefix(prefix) => span_name.starts_with(prefix.as_str()),
            SpanMatch::Attribute { key, value } => {
                attribute(key).is_some_and(|v| v.trim().eq_ignore_ascii_case(value))
            }
            SpanMatch::HasAttribute(key) => attribute(key).is_some(),
        }
    }

    /// Why this rule can never match sensibly, if it cannot.
    fn problem(&self) -> Option<&'static str> {
        let empty = match self {
            SpanMatch::Name(text) | SpanMatch::NamePrefix(text) | SpanMatch::HasAttribute(text) => {
                text.trim().is_empty()
            }
            SpanMatch::Attribute { key, value } => key.trim().is_empty() || value.trim().is_empty(),
        };
        empty.then_some("a span rule needs a non-empty name, prefix, key and value")
    }
}

impl Default for ProtocolConfig {
    fn default() -> Self {
        Self {
            detail: DetailLevel::Standard,
            max_content_chars: 4_096,
            full_content_cap: 1024 * 1024,
            keep_other_spans: false,
            redact_secrets: true,
            redaction_patterns: Vec::new(),
            max_tracked_spans: 100_000,
            aliases: Vec::new(),
            span_rules: Vec::new(),
            price_files: Vec::new(),
        }
    }
}

impl ProtocolConfig {
    /// Sets how much of each span is kept (default [`DetailLevel::Standard`]).
    pub fn with_detail(mut self, detail: DetailLevel) -> Self {
        self.detail = detail;
        self
    }

    /// Sets the length, in characters, to which content is truncated at
    /// [`DetailLevel::Standard`] (default 4096).
    pub fn with_max_content_chars(mut self, chars: usize) -> Self {
        self.max_content_chars = chars;
        self
    }

    /// Sets the hard cap, in bytes, on any one content value or attribute at
    /// [`DetailLevel::Full`] (default 1 MiB).
    pub fn with_full_content_cap(mut self, bytes: usize) -> Self {
        self.full_content_cap = bytes;
        self
    }

    /// Keeps spans that are neither agent, model, tool, handoff nor guardrail
    /// spans, as `span_start`/`span_end` entries (default: left out).
    pub fn with_keep_other_spans(mut self, keep: bool) -> Self {
        self.keep_other_spans = keep;
        self
    }

    /// Turns the built-in secret redaction (API keys, bearer tokens, AWS access
    /// keys, private-key blocks) on or off (default on).
    pub fn with_secret_redaction(mut self, redact: bool) -> Self {
        self.redact_secrets = redact;
        self
    }

    /// Adds a regular expression whose matches are replaced by `[REDACTED]` in
    /// all recorded text. Checked when the pipeline is built.
    pub fn with_redaction_pattern(mut self, pattern: impl Into<String>) -> Self {
        self.redaction_patterns.push(pattern.into());
        self
    }

    /// Sets how many open or recently ended spans the writer remembers for
    /// session and agent inheritance (default 100 000); bounds its memory.
    pub fn with_max_tracked_spans(mut self, spans: usize) -> Self {
        self.max_tracked_spans = spans;
        self
    }

    /// Reads `field` from the attribute `key` too, ahead of the built-in
    /// aliases (which cover the frameworks listed in the README).
    /// `key#name` reads member `name` of an attribute holding a JSON object
    /// (`usage_json#input`); `prefix.*` reassembles every attribute under
    /// `prefix.` into one JSON value (flattened message lists). Checked when
    /// the pipeline is built: an empty key or member is
    /// [`InvalidConfig`](crate::ProtocolError::InvalidConfig).
    ///
    /// ```
    /// use reagentic_protocol::{Field, ProtocolConfig};
    /// let config = ProtocolConfig::default()
    ///     .with_alias(Field::SessionId, "my.session")
    ///     .with_alias(Field::InputTokens, "my.usage#prompt");
    /// assert_eq!(config.aliases().len(), 2);
    /// ```
    pub fn with_alias(mut self, field: Field, key: impl Into<String>) -> Self {
        self.aliases.push((field, key.into()));
        self
    }

    /// Classifies spans matching `matcher` as `kind`, ahead of the built-in
    /// rules; the first matching user rule wins. Checked when the pipeline is
    /// built: an empty name, prefix, key or value is
    /// [`InvalidConfig`](crate::ProtocolError::InvalidConfig).
    ///
    /// ```
    /// use reagentic_protocol::{ProtocolConfig, SpanMatch, StepKind};
    /// let config = ProtocolConfig::default()
    ///     .with_span_rule(SpanMatch::name_prefix("my_agent."), StepKind::Agent)
    ///     .with_span_rule(SpanMatch::attribute("my.kind", "model"), StepKind::Llm);
    /// assert_eq!(config.span_rules().len(), 2);
    /// ```
    pub fn with_span_rule(mut self, matcher: SpanMatch, kind: StepKind) -> Self {
        self.span_rules.push((matcher, kind));
        self
    }

    /// Prices model calls with the prices in `file` too (the format of
    /// LiteLLM's `model_prices_and_context_window.json`: the upstream file
    /// or a snippet of it), its models winning over the built-in table and
    /// over earlier files. Model calls are always priced with the built-in
    /// table; prices are never fetched at run time. The file is read when
    /// the pipeline is built: one that cannot be read, is not JSON, or has a
    /// negative or non-numeric price is [`ProtocolError::Prices`](crate::ProtocolError::Prices),
    /// naming the file and the model.
    ///
    /// ```
    /// use reagentic_protocol::ProtocolConfig;
    /// let config = ProtocolConfig::default().with_prices("prices/negotiated.json");
    /// assert_eq!(config.price_files().len(), 1);
    /// ```
    pub fn with_prices(mut self, file: impl Into<std::path::PathBuf>) -> Self {
        self.price_files.push(file.into());
        self
    }

    /// The user's price files, in the order given.
    pub fn price_files(&self) -> &[std::path::PathBuf] {
        &self.price_files
    }

    /// The built-in prices plus the user's files, read now.
    pub(crate) fn prices(&self) -> crate::Result<crate::pricing::Prices> {
        self.price_files
            .iter()
            .try_fold(crate::pricing::Prices::built_in(), |prices, file| {
                prices.with_file(file)
            })
    }

    /// The user's aliases, in the order given.
    pub fn aliases(&self) -> &[(Field, String)] {
        &self.aliases
    }

    /// The user's classification rules, in the order given.
    pub fn span_rules(&self) -> &[(SpanMatch, StepKind)] {
        &self.span_rules
    }

    /// Fails on an alias or rule that can never work.
    pub(crate) fn check_vocabulary(&self) -> crate::Result<()> {
        if let Some((field, _)) = self.aliases.iter().find(|(_, key)| {
            let (key, member) = key.split_once('#').unwrap_or((key.as_str(), "x"));
            key.trim().is_empty() || member.trim().is_empty()
        }) {
            return Err(crate::ProtocolError::InvalidConfig(format!(
                "an alias for {field:?} needs a non-empty attribute key (and member, after `#`)"
            )));
        }
        if let Some(problem) = self.span_rules.iter().find_map(|(m, _)| m.problem()) {
            return Err(crate::ProtocolError::InvalidConfig(problem.to_owned()));
        }
        Ok(())
    }

    /// The detail level.
    pub fn detail(&self) -> DetailLevel {
        self.detail
    }

    /// The truncation length for content at [`DetailLevel::Standard`].
    pub fn max_content_chars(&self) -> usize {
        self.max_content_chars
    }

    /// The hard cap on one value at [`DetailLevel::Full`].
    pub fn full_content_cap(&self) -> usize {
        self.full_content_cap
    }

    /// Whether other spans are kept.
    pub fn keep_other_spans(&self) -> bool {
        self.keep_other_spans
    }

    /// Whether built-in secret redaction is on.
    pub fn redact_secrets(&self) -> bool {
        self.redact_secrets
    }

    /// The user's extra redaction patterns.
    pub fn redaction_patterns(&self) -> &[String] {
        &self.redaction_patterns
    }

    /// How many spans the writer remembers for inheritance.
    pub fn max_tracked_spans(&self) -> usize {
        self.max_tracked_spans
    }
}

#[cfg(test)]
mod tests {
    use super::Field;
    use crate::ProtocolEntry;

    #[test]
    fn fields_deserialize_from_their_protocol_names() {
        let fields = [
            ("session_id", Field::SessionId),
            ("agent_name", Field::AgentName),
            ("model", Field::Model),
            ("provider", Field::Provider),
            ("tool_name", Field::ToolName),
            ("tool_call_id", Field::ToolCallId),
            ("input_tokens", Field::InputTokens),
            ("output_tokens", Field::OutputTokens),
            ("cache_read_input_tokens", Field::CacheReadInputTokens),
            (
                "cache_creation_input_tokens",
                Field::CacheCreationInputTokens,
            ),
            ("reasoning_tokens", Field::ReasoningTokens),
            ("cost_usd", Field::CostUsd),
            ("input", Field::Input),
            ("output", Field::Output),
        ];
        for (name, field) in fields {
            assert!(ProtocolEntry::field_names().any(|n| n == name), "{name}");
            let parsed: Field = serde_json::from_value(serde_json::json!(name)).unwrap();
            assert_eq!(parsed, field, "{name}");
        }
        assert!(serde_json::from_value::<Field>(serde_json::json!("trace_id")).is_err());
    }
}
