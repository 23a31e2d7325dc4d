//! [`Content`]: what a step read or wrote, kept as the JSON text it was
//! recorded as.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// Content of an entry — chat messages, tool arguments or results, an
/// agent's input or output — as JSON text, on one line.
///
/// Content is kept as text, not as a parsed `serde_json::Value`: turning
/// every recorded message into a tree of maps and strings, and that tree back
/// into text when the entry was written, was the largest part of what the
/// pipeline spent per entry. [`to_value`](Self::to_value) parses it when a
/// reader wants the structure. Two contents are equal when they hold the
/// same JSON, whatever the spacing.
///
/// ```
/// use reagentic_protocol::entry::Content;
/// use serde_json::json;
///
/// let messages = Content::from_json(r#"[{"role": "user", "content": "Book a flight"}]"#)?;
/// assert_eq!(messages.to_value()[0]["role"], "user");
/// assert_eq!(messages, Content::from(json!([{"role": "user", "content": "Book a flight"}])));
/// assert_eq!(Content::text("3 flights").as_text().as_deref(), Some("3 flights"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct Content(Box<RawValue>);

impl Content {
    /// Content from JSON text, checked to be JSON. Text spread over several
    /// lines is rewritten on one (a JSON Lines entry is one line).
    pub fn from_json(text: impl Into<String>) -> Result<Self, serde_json::Error> {
        let text = text.into();
        // Valid JSON holds a raw line break only as whitespace between
        // tokens (inside strings it is escaped). `memchr2` rather than a loop
        // over the bytes, which compiled to six instructions a byte: about
        // 900 a call on the bench's agent runs (callgrind, `--scenario
        // jsonl_storage_limit`).
        if memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_some() {
            let value: Value = serde_json::from_str(&text)?;
            return Ok(Self::from(&value));
        }
        let trimmed = text.trim();
        if trimmed.len() == text.len() {
            RawValue::from_string(text).map(Content)
        } else {
            RawValue::from_string(trimmed.to_owned()).map(Content)
        }
    }

    /// A plain text as content: a JSON string.
    pub fn text(text: &str) -> Self {
        Self::serialized(&text)
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The content parsed.
    pub fn to_value(&self) -> Value {
        // Checked JSON when it was made; `null` only if that no longer holds.
        serde_json::from_str(self.json()).unwrap_or(Value::Null)
    }

    /// The text, when the content is a JSON string (plain text).
    pub fn as_text(&self) -> Option<String> {
        if !self.json().starts_with('"') {
            return None;
        }
        serde_json::from_str(self.json()).ok()
    }

    /// Content made by serializing `value`, which cannot fail for the types
    /// used here (strings and JSON values).
    fn serialized<T: Serialize + ?Sized>(value: &T) -> Self {
        Content(
            serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned()),
        )
    }
}

impl From<Value> for Content {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl From<&Value> for Content {
    fn from(value: &Value) -> Self {
        Self::serialized(value)
    }
}

impl PartialEq for Content {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json() || self.to_value() == other.to_value()
    }
}

impl PartialEq<Value> for Content {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Content({})", self.json())
    }
}

impl fmt::Display for Content {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.json())
    }
}

impl Serialize for Content {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(Content)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_spread_over_lines_is_put_on_one() {
        let content = Content::from_json("{\n  \"a\": [1,\n 2]\n}").unwrap();
        assert_eq!(content.json(), r#"{"a":[1,2]}"#);
        let spaced = Content::from_json("  [1, 2] ").unwrap();
        assert_eq!(spaced.json(), "[1, 2]");
        assert!(Content::from_json("{\"a\":").is_err());
    }

    #[test]
    fn equality_is_of_the_json_not_the_spacing() {
        let spaced = Content::from_json(r#"{"a": [1, 2]}"#).unwrap();
        assert_eq!(spaced, Content::from(json!({"a": [1, 2]})));
        assert_ne!(spaced, Content::text(r#"{"a": [1, 2]}"#));
        assert_eq!(spaced, json!({"a": [1, 2]}));
    }

    #[test]
    fn it_serializes_as_itself_inside_an_entry_line() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Holder {
            input: Content,
        }
        let holder = Holder {
            input: Content::from_json(r#"[{"role": "user"}]"#).unwrap(),
        };
        let line = serde_json::to_string(&holder).unwrap();
        assert_eq!(line, r#"{"input":[{"role": "user"}]}"#);
        assert_eq!(serde_json::from_str::<Holder>(&line).unwrap(), holder);
        // From a parsed value too, as `serde_json::from_value` gives it.
        let from_value: Holder = serde_json::from_value(json!({"input": "hi"})).unwrap();
        assert_eq!(from_value.input.as_text().as_deref(), Some("hi"));
    }
}
