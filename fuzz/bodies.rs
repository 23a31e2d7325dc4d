//! The bodies of the fuzz targets. Shared with a regular test
//! (`tests/integration/fuzz_bodies_accept_arbitrary_bytes.rs`, via `#[path]`), so they are
//! compiled and exercised by `cargo test` even where cargo-fuzz cannot run.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use reagentic_protocol::read::ProtocolFormat;
use reagentic_protocol::unstable::Extractor;
use reagentic_protocol::{DetailLevel, EntryFilter, ProtocolConfig, ProtocolEntry, ProtocolReader};

/// Reads `data` as a JSON Lines protocol file with a few filters. Any input
/// may be refused as a whole (`Err`), but must not panic, and every skipped
/// line reported must be a line of the file.
pub fn jsonl_reader(data: &[u8]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("fuzz.jsonl");
    std::fs::write(&path, data).expect("write input");
    let Ok(reader) = ProtocolReader::open_as(&path, ProtocolFormat::Jsonl) else {
        return;
    };
    let lines = data.split(|b| *b == b'\n').count() as u64;
    for filter in [
        EntryFilter::default(),
        EntryFilter::default()
            .with_session("s")
            .errors_only()
            .newest_first()
            .with_limit(2),
    ] {
        if let Ok(entries) = reader.query(&filter) {
            let skipped = reader.skipped_lines();
            assert!(skipped.iter().all(|s| (1..=lines).contains(&s.line_number)));
            assert!(entries.len() + skipped.len() <= lines as usize);
            for entry in entries {
                let line = entry.to_json_line().expect("a read entry serializes");
                let again: ProtocolEntry = serde_json::from_str(&line).expect("and reads back");
                assert_eq!(again.entry_id, entry.entry_id);
            }
        }
    }
    let _ = reader.meta();
}

/// Small cursor over the fuzzer's bytes; runs dry into zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map_or((0, &[][..]), |(f, r)| (*f, r));
        self.0 = rest;
        first
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |n, _| (n << 8) | u64::from(self.byte()))
    }

    fn text(&mut self) -> String {
        let len = usize::from(self.byte());
        let take = len.min(self.0.len());
        let (text, rest) = self.0.split_at(take);
        self.0 = rest;
        String::from_utf8_lossy(text).into_owned()
    }
}

const KEYS: [&str; 8] = [
    "gen_ai.operation.name",
    "gen_ai.agent.name",
    "gen_ai.conversation.id",
    "gen_ai.tool.call.arguments",
    "gen_ai.usage.input_tokens",
    "exception.message",
    "openinference.span.kind",
    "input.value",
];

fn value(bytes: &mut Bytes<'_>) -> Value {
    match bytes.byte() % 4 {
        0 => Value::Bool(bytes.byte().is_multiple_of(2)),
        1 => Value::I64(bytes.u64() as i64),
        2 => Value::F64(f64::from_bits(bytes.u64())),
        _ => Value::from(bytes.text()),
    }
}

fn attributes(bytes: &mut Bytes<'_>) -> Vec<KeyValue> {
    (0..bytes.byte() % 8)
        .map(|_| {
            let selector = bytes.byte();
            let key = match KEYS.get(usize::from(selector)) {
                Some(known) => (*known).to_owned(),
                None => bytes.text(),
            };
            KeyValue::new(key, value(bytes))
        })
        .collect()
}

fn time(bytes: &mut Bytes<'_>) -> SystemTime {
    let offset = Duration::from_nanos(bytes.u64());
    if bytes.byte().is_multiple_of(8) {
        SystemTime::UNIX_EPOCH
            .checked_sub(offset)
            .unwrap_or(SystemTime::UNIX_EPOCH)
    } else {
        SystemTime::UNIX_EPOCH + offset
    }
}

fn span(bytes: &mut Bytes<'_>) -> SpanData {
    let trace = u128::from(bytes.byte() % 3);
    let id = u64::from(bytes.byte() % 8);
    let parent = u64::from(bytes.byte() % 8);
    let name = bytes.text();
    let start = time(bytes);
    let end = time(bytes);
    let own_attributes = attributes(bytes);
    let mut events = SpanEvents::default();
    for _ in 0..bytes.byte() % 3 {
        let name = if bytes.byte().is_multiple_of(2) {
            "exception".to_owned()
        } else {
            bytes.text()
        };
        let at = time(bytes);
        events
            .events
            .push(Event::new(name, at, attributes(bytes), 0));
    }
    let status = match bytes.byte() % 3 {
        0 => Status::Unset,
        1 => Status::Ok,
        _ => Status::Error {
            description: Cow::Owned(bytes.text()),
        },
    };
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(trace),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::from(parent),
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(name),
        start_time: start,
        end_time: end,
        attributes: own_attributes,
        dropped_attributes_count: 0,
        events,
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

/// Decodes `data` into a config and spans, runs them through both extractor
/// paths, and checks every entry serializes and reads back.
pub fn extractor(data: &[u8]) {
    let mut bytes = Bytes(data);
    let detail = match bytes.byte() % 3 {
        0 => DetailLevel::Minimal,
        1 => DetailLevel::Standard,
        _ => DetailLevel::Full,
    };
    let config = ProtocolConfig::default()
        .with_detail(detail)
        .with_max_content_chars(usize::from(bytes.byte()))
        .with_full_content_cap(usize::from(bytes.byte()) * 16)
        .with_keep_other_spans(bytes.byte().is_multiple_of(2))
        .with_max_tracked_spans(4);
    let mut spans = Vec::new();
    while !bytes.0.is_empty() && spans.len() < 16 {
        spans.push(span(&mut bytes));
    }
    let mut entries = Vec::new();
    let mut extractor = Extractor::new(&config).expect("a valid config");
    for span in &spans {
        extractor.on_start(span, &mut entries);
        extractor.on_end(span, &mut entries);
    }
    Extractor::new(&config)
        .expect("a valid config")
        .on_finished_batch(&spans, &mut entries);
    for entry in entries {
        let line = entry.to_json_line().expect("an entry serializes");
        let _: ProtocolEntry = serde_json::from_str(&line).expect("and reads back");
    }
}
