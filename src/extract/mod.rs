//! Span data → protocol entries: classification, attribute keys, content.

use opentelemetry_sdk::trace::SpanData;

use crate::config::ProtocolConfig;
use crate::entry::ProtocolEntry;
use crate::error::Result;

/// Turns spans into protocol entries. Runs on the writer thread; keeps a
/// bounded memory of open spans so descendants inherit session and agent.
#[derive(Debug)]
pub struct Extractor {
    _config: ProtocolConfig,
}

impl Extractor {
    /// Builds an extractor; fails on an invalid redaction pattern.
    pub fn new(config: &ProtocolConfig) -> Result<Self> {
        Ok(Self {
            _config: config.clone(),
        })
    }

    /// Sets the `service.name` written on every entry.
    pub fn set_service_name(&mut self, _name: Option<String>) {}

    /// Entries for a span that just started (its start entry, if it is kept).
    pub fn on_start(&mut self, _span: &SpanData, _out: &mut Vec<ProtocolEntry>) {}

    /// Entries for a span that just ended (its end entry or handoff, if kept).
    pub fn on_end(&mut self, _span: &SpanData, _out: &mut Vec<ProtocolEntry>) {}

    /// Entries (start and end) for a batch of finished spans, as an exporter gets them.
    pub fn on_finished_batch(&mut self, _spans: &[SpanData], _out: &mut Vec<ProtocolEntry>) {}
}

/// How many entries a span's start produces (0 or 1), for exact drop counts.
pub(crate) fn start_entry_count(_config: &ProtocolConfig, _span: &SpanData) -> u64 {
    1
}

/// How many entries a span's end produces (0 or 1), for exact drop counts.
pub(crate) fn end_entry_count(_config: &ProtocolConfig, _span: &SpanData) -> u64 {
    1
}
