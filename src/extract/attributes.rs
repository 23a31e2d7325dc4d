//! A last-wins view of a span's (or event's) attributes, with typed readers
//! that never fail: a value of the wrong shape reads as absent.

use std::borrow::Cow;
use std::collections::HashMap;

use opentelemetry::{KeyValue, Value};

use super::truncate::cut_bytes;

/// The longest identifier-like value (session, agent, model, tool name…) kept;
/// these are not content, so a runaway value is cut rather than stored whole.
pub(crate) const MAX_IDENT_BYTES: usize = 1_024;

/// A value read through an alias table, with the alias that supplied it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found<T> {
    /// The alias that was present.
    pub key: &'static str,
    /// Its value.
    pub value: T,
}

/// A span's attributes, indexed so that a key recorded several times reads as
/// its last value (the SDK keeps every `record` call).
#[derive(Debug)]
pub(crate) struct Attributes<'a> {
    attrs: &'a [KeyValue],
    last: HashMap<&'a str, usize>,
}

impl<'a> Attributes<'a> {
    /// Indexes `attrs` in one pass.
    pub(crate) fn new(attrs: &'a [KeyValue]) -> Self {
        let mut last = HashMap::with_capacity(attrs.len());
        for (i, kv) in attrs.iter().enumerate() {
            last.insert(kv.key.as_str(), i);
        }
        Self { attrs, last }
    }

    /// The last value recorded under `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.last.get(key).map(|&i| &self.attrs[i].value)
    }

    /// The first alias present, with its value.
    pub(crate) fn first_of(&self, keys: &[&'static str]) -> Option<Found<&'a Value>> {
        keys.iter()
            .find_map(|&key| self.get(key).map(|value| Found { key, value }))
    }

    /// The first alias with a non-empty scalar value, as text bounded by
    /// [`MAX_IDENT_BYTES`].
    pub(crate) fn ident(&self, keys: &[&'static str]) -> Option<Found<String>> {
        keys.iter().find_map(|&key| {
            let text = self.get(key).and_then(scalar_text)?;
            (!text.is_empty()).then(|| Found {
                key,
                value: cut_bytes(&text, MAX_IDENT_BYTES).to_owned(),
            })
        })
    }

    /// The first alias holding a usable count (non-negative integer, integral
    /// float or numeric string).
    pub(crate) fn count(&self, keys: &[&'static str]) -> Option<Found<u64>> {
        keys.iter().find_map(|&key| {
            let value = self.get(key).and_then(as_count)?;
            Some(Found { key, value })
        })
    }

    /// Every distinct key with its last value, in the order of those last values.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        self.attrs.iter().enumerate().filter_map(|(i, kv)| {
            let key = kv.key.as_str();
            (self.last.get(key) == Some(&i)).then_some((key, &kv.value))
        })
    }
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
        assert_eq!((found.key, found.value.as_str()), ("y", "why"));
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
        assert_eq!((found.key, found.value.as_str()), ("c", "42"));
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
    fn a_garbage_count_falls_through_to_the_next_alias() {
        let attrs = vec![KeyValue::new("new", "n/a"), KeyValue::new("old", 5)];
        let found = Attributes::new(&attrs).count(&["new", "old"]).unwrap();
        assert_eq!((found.key, found.value), ("old", 5));
    }
}
