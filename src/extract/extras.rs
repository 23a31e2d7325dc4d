//! The `attributes` map of `DetailLevel::Full`: every attribute no entry field
//! already holds, plus the span's events, each value capped and the whole map
//! bounded, so a span with thousands of attributes stays cheap to store.

use opentelemetry::trace::Event;
use serde_json::{Map, Value as Json};

use crate::entry::format_timestamp;

use super::attributes::Attributes;
use super::content::shape;
use super::keys;
use super::redact::Redactor;
use super::timing::timestamp;
use super::truncate::{cut_bytes, Limit};
use super::vocabulary::Vocabulary;

/// How many times the per-value cap the whole map may take.
const TOTAL_CAPS: usize = 4;

/// Builds the map. `value_cap` bounds each value (bytes); the map stops
/// growing past `TOTAL_CAPS` × `value_cap` and counts what it left out.
/// Keys in `mapped` (and content and error keys) are not repeated.
pub(crate) fn extra_attributes(
    attrs: &Attributes<'_>,
    mapped: &[&str],
    vocab: &Vocabulary,
    events: Option<&[Event]>,
    value_cap: usize,
    redactor: &Redactor,
) -> Map<String, Json> {
    let mut budget = Budget::new(value_cap.saturating_mul(TOTAL_CAPS));
    let limit = Limit::Bytes(value_cap);
    let mut map = Map::new();
    let mut omitted = 0usize;
    for (key, value) in attrs.iter() {
        if mapped.contains(&key) || vocab.is_hidden(key) {
            continue;
        }
        if budget.exhausted() {
            omitted += 1;
            continue;
        }
        let key = cut_bytes(key, value_cap);
        let shaped = shape(value, limit, redactor);
        budget.spend(key.len() + shaped.size);
        map.insert(key.to_owned(), shaped.json);
    }
    if omitted > 0 {
        map.insert(keys::OMITTED_ATTRIBUTES_KEY.to_owned(), Json::from(omitted));
    }

    if let Some(events) = events.filter(|e| !e.is_empty()) {
        let mut list = Vec::new();
        let mut omitted_events = 0usize;
        for event in events {
            if budget.exhausted() {
                omitted_events += 1;
                continue;
            }
            list.push(event_json(event, limit, redactor, &mut budget));
        }
        map.insert(keys::EVENTS_KEY.to_owned(), Json::Array(list));
        if omitted_events > 0 {
            map.insert(
                keys::OMITTED_EVENTS_KEY.to_owned(),
                Json::from(omitted_events),
            );
        }
    }
    map
}

/// One event as `{name, timestamp, attributes}`, charged to `budget`.
fn event_json(event: &Event, limit: Limit, redactor: &Redactor, budget: &mut Budget) -> Json {
    let name = cut_bytes(&event.name, limit.max_bytes());
    budget.spend(name.len() + 64);
    let mut attributes = Map::new();
    let view = Attributes::new(&event.attributes);
    let mut omitted = 0usize;
    for (key, value) in view.iter() {
        if budget.exhausted() {
            omitted += 1;
            continue;
        }
        let key = cut_bytes(key, limit.max_bytes());
        let shaped = shape(value, limit, redactor);
        budget.spend(key.len() + shaped.size);
        attributes.insert(key.to_owned(), shaped.json);
    }
    if omitted > 0 {
        attributes.insert(keys::OMITTED_ATTRIBUTES_KEY.to_owned(), Json::from(omitted));
    }
    let mut object = Map::new();
    object.insert("name".to_owned(), Json::String(name.to_owned()));
    object.insert(
        "timestamp".to_owned(),
        Json::String(format_timestamp(&timestamp(event.timestamp))),
    );
    object.insert("attributes".to_owned(), Json::Object(attributes));
    Json::Object(object)
}

/// The bytes the map may still take.
struct Budget {
    left: usize,
    spent_all: bool,
}

impl Budget {
    fn new(total: usize) -> Self {
        Self {
            left: total,
            spent_all: total == 0,
        }
    }

    /// Charges `bytes`; the value that crosses the bound is still kept (it is
    /// capped on its own), everything after it is left out.
    fn spend(&mut self, bytes: usize) {
        match self.left.checked_sub(bytes) {
            Some(left) if left > 0 => self.left = left,
            _ => {
                self.left = 0;
                self.spent_all = true;
            }
        }
    }

    fn exhausted(&self) -> bool {
        self.spent_all
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant, SystemTime};

    use opentelemetry::KeyValue;
    use serde_json::json;

    use super::*;
    use crate::config::ProtocolConfig;
    use crate::extract::test_support::builtin;

    fn redactor() -> Redactor {
        Redactor::new(&ProtocolConfig::default()).unwrap()
    }

    #[test]
    fn unmapped_attributes_are_kept_with_natural_types() {
        let attrs = vec![
            KeyValue::new("http.method", "GET"),
            KeyValue::new("retries", 2),
            KeyValue::new("gen_ai.request.model", "gpt-4o"),
            KeyValue::new("gen_ai.response.model", "gpt-4o-2024"),
            KeyValue::new("input.value", "content"),
            KeyValue::new("exception.message", "boom"),
        ];
        let map = extra_attributes(
            &Attributes::new(&attrs),
            &["gen_ai.response.model"],
            builtin(),
            None,
            1024,
            &redactor(),
        );
        assert_eq!(
            Json::Object(map),
            json!({"http.method": "GET", "retries": 2, "gen_ai.request.model": "gpt-4o"})
        );
    }

    #[test]
    fn attribute_values_are_redacted() {
        let attrs = vec![KeyValue::new("auth", "Bearer abc.def")];
        let map = extra_attributes(
            &Attributes::new(&attrs),
            &[],
            builtin(),
            None,
            1024,
            &redactor(),
        );
        assert_eq!(map["auth"], json!("[REDACTED]"));
    }

    #[test]
    fn events_are_listed_with_name_timestamp_and_attributes() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let events = vec![Event::new(
            "retry",
            at,
            vec![KeyValue::new("attempt", 2), KeyValue::new("attempt", 3)],
            0,
        )];
        let map = extra_attributes(
            &Attributes::new(&[]),
            &[],
            builtin(),
            Some(&events),
            1024,
            &redactor(),
        );
        assert_eq!(
            map[keys::EVENTS_KEY],
            json!([{"name": "retry", "timestamp": "1970-01-01T00:00:01.000000Z",
                    "attributes": {"attempt": 3}}])
        );
    }

    #[test]
    fn ten_thousand_attributes_stay_bounded_and_count_the_rest() {
        let attrs: Vec<KeyValue> = (0..10_000)
            .map(|i| KeyValue::new(format!("attr.{i}"), "v".repeat(100)))
            .collect();
        let started = Instant::now();
        let map = extra_attributes(
            &Attributes::new(&attrs),
            &[],
            builtin(),
            None,
            1_000,
            &redactor(),
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        let omitted = map[keys::OMITTED_ATTRIBUTES_KEY].as_u64().unwrap() as usize;
        assert_eq!(map.len() - 1 + omitted, 10_000);
        let size = serde_json::to_string(&map).unwrap().len();
        assert!(size < 4 * 1_000 + 1_000, "{size}");
    }

    #[test]
    fn a_ten_megabyte_attribute_is_capped() {
        let attrs = vec![KeyValue::new("blob", "x".repeat(10 * 1024 * 1024))];
        let map = extra_attributes(
            &Attributes::new(&attrs),
            &[],
            builtin(),
            None,
            4_096,
            &redactor(),
        );
        let blob = map["blob"].as_str().unwrap();
        assert!(blob.len() < 4_096 + 64);
        assert!(blob.ends_with("bytes total]"));
    }

    #[test]
    fn events_past_the_budget_are_counted() {
        let events: Vec<Event> = (0..100)
            .map(|_| Event::new("e", SystemTime::UNIX_EPOCH, vec![], 0))
            .collect();
        let map = extra_attributes(
            &Attributes::new(&[]),
            &[],
            builtin(),
            Some(&events),
            100,
            &redactor(),
        );
        let kept = map[keys::EVENTS_KEY].as_array().unwrap().len();
        let omitted = map[keys::OMITTED_EVENTS_KEY].as_u64().unwrap() as usize;
        assert!(kept < 100);
        assert_eq!(kept + omitted, 100);
    }

    #[test]
    fn a_zero_cap_keeps_nothing_but_the_count() {
        let attrs = vec![KeyValue::new("a", 1)];
        let map = extra_attributes(
            &Attributes::new(&attrs),
            &[],
            builtin(),
            None,
            0,
            &redactor(),
        );
        assert_eq!(Json::Object(map), json!({keys::OMITTED_ATTRIBUTES_KEY: 1}));
    }
}
