//! Writing to stdout, and the short forms of times, durations and content
//! that tables and trees show.

use std::io::Write;

use chrono::{DateTime, TimeDelta, Utc};
use reagentic_protocol::{EntryError, ProtocolEntry};
use serde::{Serialize, Serializer};

use crate::failure::Failure;

/// Prints a value as pretty JSON and a newline.
pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}

/// Prints entries as JSON Lines: one compact entry per line.
pub fn print_json_lines(entries: &[ProtocolEntry]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    for entry in entries {
        serde_json::to_writer(&mut out, entry)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

/// Writes text to stdout, reporting a closed pipe as such.
pub fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Serializes a time the way protocol entries store it: RFC 3339, UTC,
/// microseconds (`2026-11-27T03:00:00.123456Z`).
pub fn timestamp<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&reagentic_protocol::entry::format_timestamp(t))
}

/// A time span in milliseconds (fractions kept).
pub fn millis(span: TimeDelta) -> f64 {
    span.num_microseconds()
        .map_or(span.num_milliseconds() as f64, |us| us as f64 / 1_000.0)
}

/// `2026-11-27 03:00:00.123` (UTC).
pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
}

/// `850 ms`, `12.3 s`, `4m05s`, `2h03m`.
pub fn duration_ms(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "-".into();
    }
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1_000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1_000.0)
    } else {
        let seconds = (ms / 1_000.0) as u64;
        if seconds < 3_600 {
            format!("{}m{:02}s", seconds / 60, seconds % 60)
        } else {
            format!("{}h{:02}m", seconds / 3_600, (seconds % 3_600) / 60)
        }
    }
}

/// Text from the file made safe to print on one line: line breaks shown as
/// `⏎`, tabs as a space, other control characters (an escape sequence
/// hidden in content, say) as their visible symbols, so nothing from the
/// file can move the cursor or change colours, and the width measured is
/// the width shown.
pub fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' => '⏎',
            '\t' => ' ',
            c => visible(c),
        })
        .collect()
}

/// A line of text from the file made safe to print as it is (tabs kept).
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\t' { c } else { visible(c) })
        .collect()
}

/// Control characters as Unicode's control pictures (`␛`, `␡`), or `�`.
fn visible(c: char) -> char {
    match u32::from(c) {
        code @ 0..=0x1f => char::from_u32(0x2400 + code).unwrap_or('\u{fffd}'),
        0x7f => '\u{2421}',
        0x80..=0x9f => '\u{fffd}',
        _ => c,
    }
}

/// At most `max` terminal columns of `text` on one line, with `…` where it
/// was cut. Wide characters (CJK, most emoji) count two columns.
pub fn shorten(text: &str, max: usize) -> String {
    console::truncate_str(&one_line(text), max, "…").into_owned()
}

/// How many terminal columns `text` takes (colour codes take none).
pub fn width(text: &str) -> usize {
    console::measure_text_width(text)
}

/// A JSON content value as text: strings as they are, anything else as
/// compact JSON.
pub fn content_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The error of an entry as `Type: message`.
pub fn error_text(error: &EntryError) -> String {
    match (&error.error_type, &error.message) {
        (Some(t), Some(m)) => format!("{t}: {m}"),
        (Some(t), None) => t.clone(),
        (None, Some(m)) => m.clone(),
        (None, None) => "failed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ms(0.25), "0.25 ms");
        assert_eq!(duration_ms(182.4), "182 ms");
        assert_eq!(duration_ms(12_345.0), "12.3 s");
        assert_eq!(duration_ms(245_000.0), "4m05s");
        assert_eq!(duration_ms(7_380_000.0), "2h03m");
        assert_eq!(duration_ms(f64::NAN), "-");
    }

    #[test]
    fn shorten_cuts_on_display_width_and_flattens_lines() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("ünïcödé", 4), "ünï…");
        assert_eq!(shorten("a\nb", 5), "a⏎b");
        // Two columns a character: four columns hold one and the `…`.
        assert_eq!(shorten("予約する", 4), "予…");
        assert_eq!(width(&shorten("予約する", 5)), 5);
        assert_eq!(width(&shorten("🔍🔍🔍", 4)), 3);
    }

    #[test]
    fn control_characters_from_the_file_are_shown_not_obeyed() {
        assert_eq!(one_line("a\u{1b}[31mb\tc"), "a␛[31mb c");
        assert_eq!(printable("x\ty\u{7}"), "x\ty␇");
        assert_eq!(width(&one_line("\u{1b}[2J")), 4);
    }

    #[test]
    fn millis_keep_fractions() {
        assert_eq!(millis(TimeDelta::microseconds(1_500)), 1.5);
    }
}
