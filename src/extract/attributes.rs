//! A last-wins view of a span's (or event's) attributes, with typed readers
//! that never fail: a value of the wrong shape reads as absent.

use std::borrow::Cow;
use std::collections::HashMap;

use foldhash::fast::RandomState;
use opentelemetry::{KeyValue, Value};
use serde_json::Value as Json;

use super::aliases::{AliasRef, AliasTable, Form, KeyId, KeyIndex, KeyRef, KeySet};
use super::truncate::cut_bytes;

/// The longest identifier-like value (session, agent, model, tool name…) kept;
/// these are not content, so a runaway value is cut rather than stored whole.
pub(crate) const MAX_IDENT_BYTES: usize = 1_024;

/// A value read through an alias table, with the alias that supplied it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found<'k, T> {
    /// The alias that was present.
    pub key: &'k str,
    /// Its value.
    pub value: T,
}

/// An alias `key#member` reads member `member` of the JSON object held (as
/// text) by attribute `key`: sources that report usage or cost as one JSON
/// attribute (`langfuse.observation.usage_details`) need no code of their own.
pub(crate) const MEMBER_SEPARATOR: char = '#';

/// An alias ending in this (`llm.input_messages.*`) reassembles every
/// attribute under the prefix (`llm.input_messages.0.message.role`, …) into
/// one JSON value: lists for numeric segments, objects otherwise.
pub(crate) const FLATTENED_SUFFIX: &str = "*";

/// Up to this many attributes, finding a key's last value compares keys
/// pairwise, which beats hashing them; beyond it they are hashed.
const FEW_ATTRIBUTES: usize = 16;

/// Marks a numbered key the span does not have.
const ABSENT: usize = usize::MAX;

/// A span's attributes, indexed so that a key recorded several times reads as
/// its last value (the SDK keeps every `record` call).
#[derive(Debug)]
pub(crate) struct Attributes<'a> {
    attrs: &'a [KeyValue],
    index: &'a KeyIndex,
    /// For each key of `index`, the position of its last value (or [`ABSENT`]);
    /// empty when there are no attributes.
    last: Vec<usize>,
    /// The numbered keys present, as far as the set holds them.
    keys: KeySet,
}

impl<'a> Attributes<'a> {
    /// Indexes `attrs` against the built-in keys.
    pub(crate) fn new(attrs: &'a [KeyValue]) -> Self {
        Self::indexed(attrs, KeyIndex::builtin())
    }

    /// Indexes `attrs` in one pass: one hash per attribute, none per look-up.
    pub(crate) fn indexed(attrs: &'a [KeyValue], index: &'a KeyIndex) -> Self {
        let mut last = Vec::new();
        let mut keys = KeySet::default();
        if !attrs.is_empty() {
            last.resize(index.len(), ABSENT);
            for (i, kv) in attrs.iter().enumerate() {
                let Some(id) = index.id(kv.key.as_str()) else {
                    continue;
                };
                if let Some(slot) = last.get_mut(id) {
                    *slot = i;
                    // A number beyond the set is found through `last`.
                    keys.insert(id);
                }
            }
        }
        Self {
            attrs,
            index,
            last,
            keys,
        }
    }

    /// The last value recorded under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.value(KeyRef {
            name: key,
            id: None,
        })
    }

    /// The last value recorded under `key`, by its number when it has one.
    pub(crate) fn value(&self, key: KeyRef<'_>) -> Option<&'a Value> {
        let position = match key.id.or_else(|| self.index.id(key.name)) {
            Some(id) => self.last.get(id).copied().filter(|&i| i != ABSENT),
            // Not a numbered key: only the attributes themselves know it.
            None => self
                .attrs
                .iter()
                .rposition(|kv| kv.key.as_str() == key.name),
        };
        position.and_then(|i| self.attrs.get(i)).map(|kv| &kv.value)
    }

    /// The first of `table`'s aliases for which `read` finds something.
    fn find<'k, T: AliasTable + ?Sized, R>(
        &self,
        table: &'k T,
        read: impl FnMut(AliasRef<'k>) -> Option<R>,
    ) -> Option<R> {
        if table.ruled_out(self.index, &self.keys) {
            return None;
        }
        let present = |id: KeyId| self.last.get(id).is_some_and(|&i| i != ABSENT);
        table.aliases(self.index, present).find_map(read)
    }

    /// The value an alias names: a plain key, a `key#member` of a JSON
    /// attribute, or a flattened `prefix.*` reassembled.
    fn lookup(&self, alias: AliasRef<'_>) -> Option<Cow<'a, Value>> {
        match alias.form {
            Form::Key(key) => self.value(key).map(Cow::Borrowed),
            Form::Member(key, member) => member_value(self.value(key)?, member).map(Cow::Owned),
            Form::Flattened(prefix) => self.unflatten(prefix).map(Cow::Owned),
        }
    }

    /// The first alias present, with its value.
    pub(crate) fn first_of<'k, T: AliasTable + ?Sized>(
        &self,
        table: &'k T,
    ) -> Option<Found<'k, Cow<'a, Value>>> {
        self.find(table, |alias| {
            self.lookup(alias).map(|value| Found {
                key: alias.name,
                value,
            })
        })
    }

    /// The first alias with a non-empty scalar value, as text bounded by
    /// [`MAX_IDENT_BYTES`].
    pub(crate) fn ident<'k, T: AliasTable + ?Sized>(
        &self,
        table: &'k T,
    ) -> Option<Found<'k, Cow<'a, str>>> {
        self.find(table, |alias| {
            // Borrowed from the span where its value is text already: most
            // identifiers are copied once, into the entry, or never.
            let text = match self.lookup(alias)? {
                Cow::Borrowed(value) => scalar_text(value)?,
                Cow::Owned(value) => Cow::Owned(scalar_text(&value)?.into_owned()),
            };
            let text = match text {
                Cow::Borrowed(text) => Cow::Borrowed(cut_bytes(text, MAX_IDENT_BYTES)),
                Cow::Owned(mut text) => {
                    text.truncate(cut_bytes(&text, MAX_IDENT_BYTES).len());
                    Cow::Owned(text)
                }
            };
            (!text.is_empty()).then_some(Found {
                key: alias.name,
                value: text,
            })
        })
    }

    /// The first alias holding a usable count (non-negative integer, integral
    /// float or numeric string).
    pub(crate) fn count<'k, T: AliasTable + ?Sized>(&self, table: &'k T) -> Option<Found<'k, u64>> {
        self.find(table, |alias| {
            let value = as_count(self.lookup(alias)?.as_ref())?;
            Some(Found {
                key: alias.name,
                value,
            })
        })
    }

    /// The first alias holding a finite, non-negative number (a cost, a time).
    pub(crate) fn amount<'k, T: AliasTable + ?Sized>(
        &self,
        table: &'k T,
    ) -> Option<Found<'k, f64>> {
        self.find(table, |alias| {
            let value = as_amount(self.lookup(alias)?.as_ref())?;
            Some(Found {
                key: alias.name,
                value,
            })
        })
    }

    /// Every attribute under `prefix` as one JSON text (see
    /// [`FLATTENED_SUFFIX`]); `None` when there is none.
    fn unflatten(&self, prefix: &str) -> Option<Value> {
        // Most spans have nothing under the prefix: say so before any work.
        let under = |key: &str| key.len() > prefix.len() && key.starts_with(prefix);
        if !self.attrs.iter().any(|kv| under(kv.key.as_str())) {
            return None;
        }
        let mut root = Json::Object(serde_json::Map::new());
        let mut any = false;
        for (key, value) in self.iter() {
            let Some(path) = key.strip_prefix(prefix) else {
                continue;
            };
            // Real paths are a handful of segments deep; a hostile key with
            // thousands of dots must not recurse that deep.
            if path.is_empty() || path.split('.').count() > MAX_FLATTENED_DEPTH {
                continue;
            }
            any = true;
            insert_path(&mut root, path.split('.'), leaf_json(value));
        }
        any.then(|| Value::from(serde_json::to_string(&listify(root)).unwrap_or_default()))
    }

    /// Every distinct key with its last value, in the order of those last values.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        let latest = Latest::of(self.attrs);
        self.attrs
            .iter()
            .enumerate()
            .filter(move |&(i, kv)| latest.is_last(self.attrs, i, kv.key.as_str()))
            .map(|(_, kv)| (kv.key.as_str(), &kv.value))
    }
}

/// Which attribute holds the last value of its key.
enum Latest<'a> {
    /// Few attributes: a later one with the same key is searched for.
    Scan,
    /// The position of each key's last value.
    Map(HashMap<&'a str, usize, RandomState>),
}

impl<'a> Latest<'a> {
    fn of(attrs: &'a [KeyValue]) -> Self {
        if attrs.len() <= FEW_ATTRIBUTES {
            return Latest::Scan;
        }
        let mut last = HashMap::with_capacity_and_hasher(attrs.len(), RandomState::default());
        for (i, kv) in attrs.iter().enumerate() {
            last.insert(kv.key.as_str(), i);
        }
        Latest::Map(last)
    }

    fn is_last(&self, attrs: &[KeyValue], i: usize, key: &str) -> bool {
        match self {
            Latest::Scan => !attrs
                .iter()
                .skip(i + 1)
                .any(|later| later.key.as_str() == key),
            Latest::Map(last) => last.get(key) == Some(&i),
        }
    }
}

/// The largest JSON attribute a `key#member` alias parses.
const MAX_MEMBER_JSON_BYTES: usize = 64 * 1024;

/// The deepest flattened path reassembled
/// (`0.message.tool_calls.0.tool_call.function.arguments` is 7).
const MAX_FLATTENED_DEPTH: usize = 16;

/// Object wrappers that flattened conventions put around each list element
/// (`llm.input_messages.0.message.role`): unwrapped so the reassembled
/// messages read `[{"role": …, "content": …}]`.
const FLATTENED_WRAPPERS: &[&str] = &["message", "tool_call", "message_content"];

/// Inserts `leaf` at `path` (segments) under `node`, making objects as needed.
fn insert_path<'p>(node: &mut Json, mut path: impl Iterator<Item = &'p str>, leaf: Json) {
    let Some(segment) = path.next() else {
        *node = leaf;
        return;
    };
    if !node.is_object() {
        *node = Json::Object(serde_json::Map::new());
    }
    if let Json::Object(map) = node {
        let child = map.entry(segment.to_owned()).or_insert(Json::Null);
        insert_path(child, path, leaf);
    }
}

/// Objects whose keys are all indexes become lists (in index order), and
/// single-key wrapper objects are unwrapped.
fn listify(node: Json) -> Json {
    match node {
        Json::Object(map) => {
            if !map.is_empty() && map.keys().all(|k| k.parse::<usize>().is_ok()) {
                let mut items: Vec<(usize, Json)> = map
                    .into_iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, listify(v))))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                return Json::Array(items.into_iter().map(|(_, v)| v).collect());
            }
            if map.len() == 1 {
                if let Some((key, _)) = map.iter().next() {
                    if FLATTENED_WRAPPERS.contains(&key.as_str()) {
                        let inner = map.into_iter().next().map(|(_, v)| v);
                        return listify(inner.unwrap_or(Json::Null));
                    }
                }
            }
            Json::Object(map.into_iter().map(|(k, v)| (k, listify(v))).collect())
        }
        other => other,
    }
}

/// One attribute value as a JSON leaf; strings stay strings.
fn leaf_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(n) => Json::from(*n),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        other => Json::String(other.as_str().into_owned()),
    }
}

/// Member `member` of the JSON object an attribute holds as text, as an
/// attribute value; `None` when it is not JSON, not an object, or lacks it.
fn member_value(value: &Value, member: &str) -> Option<Value> {
    let Value::String(text) = value else {
        return None;
    };
    // Usage and cost objects are tiny; a huge value is not one of them and
    // is not worth parsing on every look-up.
    if text.as_str().len() > MAX_MEMBER_JSON_BYTES {
        return None;
    }
    let object: serde_json::Map<String, Json> = serde_json::from_str(text.as_str()).ok()?;
    match object.get(member)? {
        Json::Number(n) => n
            .as_i64()
            .map(Value::I64)
            .or_else(|| n.as_f64().map(Value::F64)),
        Json::String(s) => Some(Value::from(s.clone())),
        Json::Bool(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// Reads a non-negative finite amount from a number or numeric string.
pub(crate) fn as_amount(value: &Value) -> Option<f64> {
    let amount = match value {
        Value::I64(n) => *n as f64,
        Value::F64(f) => *f,
        Value::String(s) => s.as_str().trim().parse::<f64>().ok()?,
        _ => return None,
    };
    (amount.is_finite() && amount >= 0.0).then_some(amount)
}

/// A scalar value as text; arrays are not identifiers.
fn scalar_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s.as_str())),
        Value::Bool(_) | Value::I64(_) | Value::F64(_) => Some(value.as_str()),
        _ => None,
    }
}

/// Reads a count from any numeric representation; negative, fractional,
/// non-finite or unparsable values are not counts.
pub(crate) fn as_count(value: &Value) -> Option<u64> {
    match value {
        Value::I64(n) => u64::try_from(*n).ok(),
        Value::F64(f) => float_count(*f),
        Value::String(s) => {
            let s = s.as_str().trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(float_count))
        }
        _ => None,
    }
}

fn float_count(f: f64) -> Option<u64> {
    // 2^64 as f64; every integral float below it converts exactly.
    const LIMIT: f64 = 18_446_744_073_709_551_616.0;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < LIMIT).then_some(f as u64)
}

#[cfg(test)]
mod tests {
    use opentelemetry::Array;

    use super::*;
    use crate::extract::aliases::Aliases;

    #[test]
    fn duplicate_keys_read_as_their_last_value() {
        let attrs = vec![
            KeyValue::new("a", "first"),
            KeyValue::new("b", 1),
            KeyValue::new("a", "second"),
        ];
        let view = Attributes::new(&attrs);
        assert_eq!(view.get("a"), Some(&Value::from("second")));
        let keys: Vec<_> = view.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a"]);
    }

    #[test]
    fn first_present_alias_wins_and_reports_its_key() {
        let attrs = vec![KeyValue::new("y", "why"), KeyValue::new("z", "zed")];
        let view = Attributes::new(&attrs);
        let found = view.ident(&["x", "y", "z"]).unwrap();
        assert_eq!((found.key, found.value.as_ref()), ("y", "why"));
        assert!(view.first_of(&["x"]).is_none());
        assert!(view.get("z").is_some() && view.get("x").is_none());
    }

    #[test]
    fn empty_or_array_idents_fall_through_to_the_next_alias() {
        let attrs = vec![
            KeyValue::new("a", ""),
            KeyValue::new("b", Value::Array(Array::I64(vec![1]))),
            KeyValue::new("c", 42),
        ];
        let found = Attributes::new(&attrs).ident(&["a", "b", "c"]).unwrap();
        assert_eq!((found.key, found.value.as_ref()), ("c", "42"));
    }

    #[test]
    fn idents_are_bounded_at_a_char_boundary() {
        let long = "é".repeat(MAX_IDENT_BYTES);
        let attrs = vec![KeyValue::new("s", long)];
        let found = Attributes::new(&attrs).ident(&["s"]).unwrap();
        assert_eq!(found.value.len(), MAX_IDENT_BYTES);
        assert!(found.value.chars().all(|c| c == 'é'));
    }

    #[test]
    fn counts_come_from_ints_floats_and_numeric_strings() {
        assert_eq!(as_count(&Value::I64(12)), Some(12));
        assert_eq!(as_count(&Value::F64(12.0)), Some(12));
        assert_eq!(as_count(&Value::from("12")), Some(12));
        assert_eq!(as_count(&Value::from(" 7 ")), Some(7));
        assert_eq!(as_count(&Value::from("1e3")), Some(1000));
        assert_eq!(
            as_count(&Value::from("18446744073709551615")),
            Some(u64::MAX)
        );
    }

    #[test]
    fn garbage_counts_are_absent() {
        for value in [
            Value::I64(-1),
            Value::F64(-2.0),
            Value::F64(1.5),
            Value::F64(f64::NAN),
            Value::F64(f64::INFINITY),
            Value::F64(1e30),
            Value::from("-3"),
            Value::from("lots"),
            Value::from("NaN"),
            Value::from(""),
            Value::Bool(true),
            Value::Array(Array::I64(vec![1])),
        ] {
            assert_eq!(as_count(&value), None, "{value:?}");
        }
    }

    #[test]
    fn member_aliases_read_json_attributes() {
        let attrs = vec![KeyValue::new(
            "usage",
            r#"{"input":12,"cost":0.5,"name":"m"}"#,
        )];
        let view = Attributes::new(&attrs);
        assert_eq!(view.count(&["usage#input"]).unwrap().value, 12);
        assert_eq!(view.amount(&["usage#cost"]).unwrap().value, 0.5);
        assert_eq!(view.ident(&["usage#name"]).unwrap().value, "m");
        assert!(view.count(&["usage#missing", "nope#input"]).is_none());
        let huge = format!(
            r#"{{"input":1,"pad":"{}"}}"#,
            "x".repeat(MAX_MEMBER_JSON_BYTES)
        );
        let attrs = vec![KeyValue::new("usage", huge)];
        assert!(Attributes::new(&attrs).count(&["usage#input"]).is_none());
        let garbage = vec![KeyValue::new("usage", "not json")];
        assert!(Attributes::new(&garbage).count(&["usage#input"]).is_none());
    }

    #[test]
    fn flattened_aliases_reassemble_lists_and_unwrap_wrappers() {
        let attrs = vec![
            KeyValue::new("llm.input_messages.1.message.role", "user"),
            KeyValue::new("llm.input_messages.0.message.role", "system"),
            KeyValue::new("llm.input_messages.0.message.content", "be brief"),
            KeyValue::new("llm.input_messages.1.message.content", "hi"),
            KeyValue::new(
                "llm.input_messages.1.message.tool_calls.0.tool_call.function.name",
                "search",
            ),
            KeyValue::new("llm.other", 1),
        ];
        let view = Attributes::new(&attrs);
        let found = view.first_of(&["llm.input_messages.*"]).unwrap();
        let text = found.value.as_str().into_owned();
        let json: Json = serde_json::from_str(&text).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "hi", "tool_calls": [{"function": {"name": "search"}}]}
            ])
        );
        assert!(view.first_of(&["llm.output_messages.*"]).is_none());
    }

    #[test]
    fn absurdly_deep_flattened_keys_are_skipped() {
        let deep = format!("llm.input_messages.{}", "0.".repeat(50_000));
        let attrs = vec![KeyValue::new(deep, "x")];
        assert!(Attributes::new(&attrs)
            .first_of(&["llm.input_messages.*"])
            .is_none());
    }

    #[test]
    fn amounts_are_finite_and_non_negative() {
        assert_eq!(as_amount(&Value::from("0.25")), Some(0.25));
        assert_eq!(as_amount(&Value::I64(2)), Some(2.0));
        assert_eq!(as_amount(&Value::F64(-1.0)), None);
        assert_eq!(as_amount(&Value::F64(f64::NAN)), None);
        assert_eq!(as_amount(&Value::Bool(true)), None);
    }

    #[test]
    fn a_garbage_count_falls_through_to_the_next_alias() {
        let attrs = vec![KeyValue::new("new", "n/a"), KeyValue::new("old", 5)];
        let found = Attributes::new(&attrs).count(&["new", "old"]).unwrap();
        assert_eq!((found.key, found.value), ("old", 5));
    }

    #[test]
    fn last_values_win_for_numbered_unknown_and_many_keys() {
        for filler in [0_usize, 40] {
            let mut attrs = vec![
                KeyValue::new("session.id", "old"),
                KeyValue::new("custom", 1),
            ];
            attrs.extend((0..filler).map(|i| KeyValue::new(format!("f.{i}"), "v")));
            attrs.push(KeyValue::new("session.id", "new"));
            attrs.push(KeyValue::new("custom", 2));
            let view = Attributes::new(&attrs);
            assert_eq!(view.get("session.id"), Some(&Value::from("new")));
            assert_eq!(view.get("custom"), Some(&Value::I64(2)));
            assert_eq!(view.ident(&["session.id"]).unwrap().value, "new");
            let keys: Vec<_> = view.iter().map(|(k, _)| k).collect();
            assert_eq!(keys.len(), filler + 2, "{filler}");
            assert_eq!(keys[keys.len() - 2..], ["session.id", "custom"]);
        }
    }

    #[test]
    fn compiled_tables_read_as_their_text_does() {
        use crate::config::{Field, ProtocolConfig};
        use crate::extract::vocabulary::Vocabulary;

        let config = ProtocolConfig::default()
            .with_alias(Field::SessionId, "my.session")
            .with_alias(Field::InputTokens, "my.usage#in")
            .with_alias(Field::Input, "my.msgs.*");
        let vocab = Vocabulary::new(&config);
        let spans = [
            vec![
                KeyValue::new("my.session", ""),
                KeyValue::new("session.id", "s"),
                KeyValue::new("my.usage", r#"{"in":7}"#),
                KeyValue::new("gen_ai.usage.input_tokens", 9),
                KeyValue::new("my.msgs.0.role", "user"),
            ],
            vec![
                KeyValue::new("my.session", "mine"),
                KeyValue::new("my.usage", "not json"),
                KeyValue::new("llm.token_count.prompt", "12"),
                KeyValue::new("input.value", "hi"),
                KeyValue::new("my.session", "later"),
            ],
            vec![KeyValue::new("unrelated", 1)],
            vec![],
        ];
        let text = |table: &Aliases| -> Vec<String> {
            table.iter().map(|alias| alias.name().to_owned()).collect()
        };
        for attrs in &spans {
            for view in [
                Attributes::indexed(attrs, &vocab.index),
                Attributes::new(attrs),
            ] {
                let session = text(&vocab.session);
                assert_eq!(view.ident(&vocab.session), view.ident(session.as_slice()));
                let tokens = text(&vocab.input_tokens);
                assert_eq!(
                    view.count(&vocab.input_tokens),
                    view.count(tokens.as_slice())
                );
                let input = text(&vocab.input);
                assert_eq!(view.first_of(&vocab.input), view.first_of(input.as_slice()));
            }
        }
        let view = Attributes::indexed(&spans[0], &vocab.index);
        assert_eq!(view.ident(&vocab.session).unwrap().key, "session.id");
        assert_eq!(view.count(&vocab.input_tokens).unwrap().key, "my.usage#in");
        assert_eq!(view.first_of(&vocab.input).unwrap().key, "my.msgs.*");
    }

    #[test]
    fn ten_thousand_attributes_are_indexed_and_read_in_bounded_time() {
        let huge_key = "k".repeat(1_000_000);
        let mut attrs: Vec<KeyValue> = (0..10_000)
            .map(|i| {
                KeyValue::new(
                    format!("llm.input_messages.{}.message.content", i % 5_000),
                    i,
                )
            })
            .collect();
        attrs.push(KeyValue::new(huge_key.clone(), "x"));
        attrs.push(KeyValue::new("session.id", "s"));
        let started = std::time::Instant::now();
        for _ in 0..10 {
            let view = Attributes::new(&attrs);
            assert_eq!(
                view.ident(&["gen_ai.conversation.id", "session.id"])
                    .unwrap()
                    .value,
                "s"
            );
            assert_eq!(view.get(&huge_key), Some(&Value::from("x")));
            assert_eq!(view.iter().count(), 5_002);
            let messages = view.first_of(&["llm.input_messages.*"]).unwrap();
            assert!(messages.value.as_str().starts_with("[{\"content\":5000}"));
        }
        let elapsed = started.elapsed();
        assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
    }
}
