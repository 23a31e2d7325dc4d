//! What the protocol records: detail level, content limits, redaction.

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
