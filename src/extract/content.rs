//! Recorded text and values made safe to store: redacted, bounded, and turned
//! into content (a string holding a JSON object or array is that JSON, kept
//! as text) or, for raw attributes, into JSON values.

use std::borrow::Cow;
use std::io;

use opentelemetry::{Array, Value};
use serde::Serialize;
use serde_json::Value as Json;

use super::redact::Redactor;
use super::truncate::{cut_bytes, truncation_marker, Limit};
use crate::entry::Content;

/// Text after redaction and truncation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bounded {
    /// The text, with the truncation marker appended when it was cut.
    pub text: String,
    /// Whether the original did not fit.
    pub truncated: bool,
}

/// Redacts and bounds `text` in time linear in the limit, not in `text`:
/// only the limit plus a margin is ever scanned, so a secret straddling the
/// cut is matched whole and none of it survives.
pub(crate) fn bound_text(text: &str, limit: Limit, redactor: &Redactor) -> Bounded {
    bound_text_of_total(text, text.len(), limit, redactor)
}

/// [`bound_text`] for a text that is itself a prefix of something of
/// `total_bytes` bytes.
pub(crate) fn bound_text_of_total(
    text: &str,
    total_bytes: usize,
    limit: Limit,
    redactor: &Redactor,
) -> Bounded {
    let (text, truncated) = bound(text, total_bytes, limit, redactor);
    Bounded {
        text: text.into_owned(),
        truncated,
    }
}

/// [`bound_text_of_total`], borrowing `text` when it is kept as it is, so
/// content that is parsed as JSON is never copied first; and whether it was
/// cut.
fn bound<'t>(
    text: &'t str,
    total_bytes: usize,
    limit: Limit,
    redactor: &Redactor,
) -> (Cow<'t, str>, bool) {
    let window_cut = limit.with_redaction_margin().cut_index(text);
    let window = window_cut.map_or(text, |i| &text[..i]);
    let redacted = redactor.redact(window);
    let cut = limit.cut_index(&redacted);
    if cut.is_none() && window_cut.is_none() && total_bytes <= text.len() {
        return (redacted, false);
    }
    let kept = cut.map_or(&*redacted, |i| &redacted[..i]);
    let mut out = String::with_capacity(kept.len() + 40);
    out.push_str(kept);
    out.push_str(&truncation_marker(total_bytes));
    (Cow::Owned(out), true)
}

/// A recorded value as protocol content: a string holding a JSON object or
/// array is that JSON when it fits (checked, not parsed into a tree: that
/// took two fifths of the extraction's time); other strings are text; other
/// values map naturally.
pub(crate) fn content(value: &Value, limit: Limit, redactor: &Redactor) -> Content {
    match value {
        Value::String(s) => {
            let (text, truncated) = bound(s.as_str(), s.as_str().len(), limit, redactor);
            if !truncated {
                if let Some(json) = container(&text) {
                    return json;
                }
            }
            Content::text(&text)
        }
        Value::Array(array) => {
            let window = limit.with_redaction_margin().max_bytes();
            let (text, total) = array_json_text(array, window);
            let bounded = bound_text_of_total(&text, total, limit, redactor);
            if bounded.truncated {
                return Content::text(&bounded.text);
            }
            // Redaction only replaces token characters, so the text is still
            // JSON; if a user pattern broke it, it is kept as text.
            let text = bounded.text;
            match Content::from_json(text.as_str()) {
                Ok(json) => json,
                Err(_) => Content::text(&text),
            }
        }
        other => Content::from(shape(other, limit, redactor).json),
    }
}

/// A value shaped for storage, with an estimate of its stored size.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shaped {
    /// The JSON to store.
    pub json: Json,
    /// Roughly how many bytes it takes, for the caller's overall budget.
    pub size: usize,
}

/// A recorded value redacted, bounded and as JSON, for the attribute map:
/// strings stay strings.
pub(crate) fn shape(value: &Value, limit: Limit, redactor: &Redactor) -> Shaped {
    match value {
        Value::Bool(b) => Shaped {
            json: Json::Bool(*b),
            size: 5,
        },
        Value::I64(n) => Shaped {
            json: Json::from(*n),
            size: 20,
        },
        Value::F64(f) => Shaped {
            json: float_json(*f),
            size: 24,
        },
        Value::String(s) => {
            let (text, _) = bound(s.as_str(), s.as_str().len(), limit, redactor);
            Shaped {
                size: text.len(),
                json: Json::String(text.into_owned()),
            }
        }
        Value::Array(array) => shape_array(array, limit, redactor),
        // A value kind added by a later OpenTelemetry: keep its text form.
        other => {
            let bounded = bound_text(&other.as_str(), limit, redactor);
            Shaped {
                size: bounded.text.len(),
                json: Json::String(bounded.text),
            }
        }
    }
}

/// Arrays go through their JSON text so one limit and one redaction pass
/// cover them whole; the text is built only as far as the limit needs.
fn shape_array(array: &Array, limit: Limit, redactor: &Redactor) -> Shaped {
    let window = limit.with_redaction_margin().max_bytes();
    let (text, total) = array_json_text(array, window);
    let bounded = bound_text_of_total(&text, total, limit, redactor);
    let size = bounded.text.len();
    let json = if bounded.truncated {
        Json::String(bounded.text)
    } else {
        // Redaction only replaces token characters, so the text still parses;
        // if a user pattern broke it, the text is kept as a string.
        serde_json::from_str(&bounded.text).unwrap_or(Json::String(bounded.text))
    };
    Shaped { json, size }
}

/// The array's JSON text, built up to about `window` bytes, and the exact
/// length of its full JSON text.
fn array_json_text(array: &Array, window: usize) -> (String, usize) {
    match array {
        Array::Bool(v) => elements_text(v.iter(), window, keep),
        Array::I64(v) => elements_text(v.iter(), window, keep),
        Array::F64(v) => elements_text(v.iter().map(|f| float_json(*f)), window, keep),
        Array::String(v) => elements_text(v.iter().map(|s| s.as_str()), window, cut_bytes),
        // An element kind added by a later OpenTelemetry: its text form.
        other => elements_text(std::iter::once(other.to_string()), window, keep),
    }
}

/// The `clip` of elements too small to be worth shortening.
fn keep<T>(item: T, _room: usize) -> T {
    item
}

/// Writes `[a,b,…]` until the text passes `window` bytes, then only counts.
/// `clip` shortens the element that crosses the window, so one huge element
/// is never copied whole.
fn elements_text<T: Serialize>(
    items: impl Iterator<Item = T>,
    window: usize,
    clip: fn(T, usize) -> T,
) -> (String, usize) {
    let mut text = String::from("[");
    let mut total = 1;
    for (i, item) in items.enumerate() {
        let sep = usize::from(i > 0);
        let full_len = json_len(&item);
        total += sep + full_len;
        if text.len() <= window {
            if sep == 1 {
                text.push(',');
            }
            // The comma may have taken the text one byte past the window:
            // `window - len + 1` would underflow before the `+ 1` (a writer
            // thread panic in debug builds; found by
            // tests/extractor_never_panics_on_arbitrary_spans.rs).
            let room = (window + 1).saturating_sub(text.len());
            let item = if full_len > room {
                clip(item, room)
            } else {
                item
            };
            // Serializing strings, numbers and `Json` into a `String` cannot fail.
            text.push_str(&serde_json::to_string(&item).unwrap_or_default());
        }
    }
    if text.len() == total {
        text.push(']');
    }
    (text, total + 1)
}

/// The length of `item`'s JSON text, without building it.
fn json_len<T: Serialize>(item: &T) -> usize {
    let mut counter = ByteCounter(0);
    match serde_json::to_writer(&mut counter, item) {
        Ok(()) => counter.0,
        Err(_) => 0,
    }
}

struct ByteCounter(usize);

impl io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// JSON has no NaN or infinity; those keep their text form.
fn float_json(f: f64) -> Json {
    serde_json::Number::from_f64(f).map_or_else(|| Json::String(f.to_string()), Json::Number)
}

/// Parsed content nested deeper than this stays text. Readers parse a whole
/// record with serde_json's limit of 128 levels, and a JSON Lines record puts
/// content a level below its top: content parsed at, say, 127 levels was
/// written fine but made its whole record unreadable (found by
/// `tests/deeply_nested_and_nul_content_is_bounded.rs`). Real content is
/// nowhere near this deep; the margin leaves room for the record around it.
const MAX_CONTENT_DEPTH: usize = 64;

/// `text` as content when it holds a JSON object or array, not too deeply
/// nested.
fn container(text: &str) -> Option<Content> {
    // Checking the first character first spares a check of prose.
    match text.trim_start().as_bytes().first() {
        Some(b'{') | Some(b'[') => {
            // Every array and object opens with a bracket: with no more
            // brackets than the limit (some may be inside strings), the
            // nesting is within it, and measuring it is spared.
            // (Counted with `memchr`: the loop over the bytes it replaces
            // cost extraction about 380 instructions more a call on the
            // bench's agent runs, callgrind.)
            let brackets = memchr::memchr2_iter(b'{', b'[', text.as_bytes()).count();
            if brackets > MAX_CONTENT_DEPTH && nesting_depth(text) > MAX_CONTENT_DEPTH {
                return None;
            }
            Content::from_json(text).ok()
        }
        _ => None,
    }
}

/// How many levels of arrays and objects the JSON `text` nests (outside its
/// strings), counted in one pass over the bytes.
fn nesting_depth(text: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::ProtocolConfig;

    fn redactor() -> Redactor {
        Redactor::new(&ProtocolConfig::default()).unwrap()
    }

    #[test]
    fn an_array_whose_text_ends_exactly_at_the_window_does_not_underflow() {
        // `["ab"` is 5 bytes: the comma after it lands one past the window.
        let (text, total) = elements_text(["ab", "cd"].into_iter(), 5, cut_bytes);
        // The element crossing the window is clipped to nothing.
        assert_eq!(text, "[\"ab\",\"\"");
        assert_eq!(total, "[\"ab\",\"cd\"]".len());
    }

    #[test]
    fn content_nested_past_the_depth_bound_stays_text() {
        let nested = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let limit = Limit::Chars(1 << 20);
        let shallow = content(&Value::from(nested(MAX_CONTENT_DEPTH)), limit, &redactor());
        assert!(shallow.to_value().is_array());
        assert_eq!(nesting_depth(shallow.json()), MAX_CONTENT_DEPTH);
        let deep = nested(MAX_CONTENT_DEPTH + 1);
        assert_eq!(
            content(&Value::from(deep.clone()), limit, &redactor()),
            Content::text(&deep)
        );
        assert_eq!(nesting_depth(r#"{"a": [1, {"b": []}], "c": 2}"#), 4);
        assert_eq!(
            nesting_depth(r#"{"a": "[[[{", "b": "\\\"[["}"#),
            1,
            "strings skipped"
        );
        assert_eq!(nesting_depth(r#""text""#), 0);
    }

    #[test]
    fn short_text_is_kept_whole() {
        let b = bound_text("hello", Limit::Chars(10), &redactor());
        assert_eq!(b.text, "hello");
        assert!(!b.truncated);
    }

    #[test]
    fn truncation_is_char_boundary_safe_with_multibyte_text() {
        let text = "日本語のテキスト".repeat(100);
        for n in [0, 1, 2, 7, 50] {
            let b = bound_text(&text, Limit::Chars(n), &redactor());
            assert!(b.truncated);
            let expected: String = text.chars().take(n).collect();
            assert_eq!(
                b.text,
                format!("{expected}{}", truncation_marker(text.len()))
            );
        }
        for n in [1, 2, 5, 100] {
            let b = bound_text(&text, Limit::Bytes(n), &redactor());
            let kept = b.text.split('…').next().unwrap();
            assert!(kept.len() <= n && text.starts_with(kept));
        }
    }

    #[test]
    fn a_secret_straddling_the_cut_leaves_no_prefix() {
        let key = "sk-abcdefghijklmnopqrstuvwxyz0123456789";
        let text = format!("{} {key} and more", "x".repeat(10));
        let b = bound_text(&text, Limit::Chars(20), &redactor());
        assert!(b.truncated);
        assert!(!b.text.contains("sk-"), "{}", b.text);
        assert!(!b.text.contains("abcdefg"), "{}", b.text);
        assert!(b.text.starts_with("xxxxxxxxxx [REDACTED…"), "{}", b.text);

        // A private key cut by the redaction window itself (no END within
        // reach) is redacted to the end of the window, not leaked.
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
            "A".repeat(20_000)
        );
        let b = bound_text(&pem, Limit::Chars(100), &redactor());
        assert_eq!(
            b.text,
            format!("[REDACTED]{}", truncation_marker(pem.len()))
        );
    }

    #[test]
    fn a_ten_megabyte_string_is_bounded_and_redacted() {
        let text = format!("Bearer abcdef {}", "z".repeat(10 * 1024 * 1024));
        let started = std::time::Instant::now();
        let b = bound_text(&text, Limit::Chars(100), &redactor());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
        assert!(b.text.starts_with("[REDACTED] zzz"));
        assert!(b.text.len() < 200);
        assert!(b.text.ends_with(&truncation_marker(text.len())));
    }

    #[test]
    fn json_object_and_array_strings_become_json_when_they_fit() {
        let r = redactor();
        let obj = content(&Value::from(r#"{"from":"BER"}"#), Limit::Chars(100), &r);
        assert_eq!(obj, json!({"from": "BER"}));
        let arr = content(&Value::from(r#" [1, 2]"#), Limit::Chars(100), &r);
        assert_eq!(arr, json!([1, 2]));
        // A JSON scalar in a string stays the string it was.
        let num = content(&Value::from("42"), Limit::Chars(100), &r);
        assert_eq!(num, json!("42"));
    }

    #[test]
    fn invalid_or_truncated_json_is_kept_as_a_string() {
        let r = redactor();
        let bad = content(&Value::from(r#"{"from": BER"#), Limit::Chars(100), &r);
        assert_eq!(bad, json!(r#"{"from": BER"#));
        let long = content(&Value::from(r#"{"from":"BERLIN"}"#), Limit::Chars(5), &r);
        assert_eq!(long, json!(format!(r#"{{"fro{}"#, truncation_marker(17))));
    }

    #[test]
    fn secrets_inside_json_content_are_redacted_before_parsing() {
        let r = redactor();
        let v = content(
            &Value::from(r#"{"api_key":"sk-abcdefghijklmnopqrstuv","q":"hi"}"#),
            Limit::Chars(1000),
            &r,
        );
        assert_eq!(v, json!({"api_key": "[REDACTED]", "q": "hi"}));
    }

    #[test]
    fn attributes_keep_strings_as_strings() {
        let s = shape(&Value::from("[1]"), Limit::Bytes(100), &redactor());
        assert_eq!(s.json, json!("[1]"));
    }

    #[test]
    fn scalars_and_arrays_map_naturally() {
        let r = redactor();
        let l = Limit::Chars(100);
        assert_eq!(content(&Value::Bool(true), l, &r), json!(true));
        assert_eq!(content(&Value::I64(-3), l, &r), json!(-3));
        assert_eq!(content(&Value::F64(0.5), l, &r), json!(0.5));
        assert_eq!(content(&Value::F64(f64::NAN), l, &r), json!("NaN"));
        let strings = Value::Array(Array::String(vec![
            "a".into(),
            "AKIAIOSFODNN7EXAMPLE".into(),
        ]));
        assert_eq!(content(&strings, l, &r), json!(["a", "[REDACTED]"]));
        let ints = Value::Array(Array::I64(vec![1, 2, 3]));
        assert_eq!(content(&ints, l, &r), json!([1, 2, 3]));
        let empty = Value::Array(Array::Bool(vec![]));
        assert_eq!(content(&empty, l, &r), json!([]));
    }

    #[test]
    fn huge_arrays_are_bounded_and_report_their_full_size() {
        let big: Vec<i64> = (0..1_000_000).collect();
        let full_len = serde_json::to_string(&big).unwrap().len();
        let shaped = shape(
            &Value::Array(Array::I64(big)),
            Limit::Bytes(64),
            &redactor(),
        );
        let text = shaped.json.as_str().unwrap();
        assert!(text.starts_with("[0,1,2,3"));
        assert!(text.ends_with(&truncation_marker(full_len)), "{text}");
        assert!(shaped.size < 200);
    }
}
