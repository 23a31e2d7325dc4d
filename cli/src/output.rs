//! How things are printed: colour only for a person at a terminal, terminal
//! width, and the short forms of times, durations and content.

use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use clap::ValueEnum;
use serde::Serialize;

use crate::failure::Failure;

/// Table for people, JSON for scripts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns that fit the terminal.
    #[default]
    Table,
    /// One JSON document.
    Json,
}

impl Format {
    /// `--json` wins over `--format`.
    pub fn resolve(self, json: bool) -> Format {
        if json {
            Format::Json
        } else {
            self
        }
    }
}

/// Terminal facts for this run.
#[derive(Clone, Copy, Debug)]
pub struct Style {
    colour: bool,
    /// Columns available, when known.
    pub width: Option<usize>,
}

impl Style {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty
    /// (<https://no-color.org>); width from the terminal, else `COLUMNS`.
    pub fn detect() -> Self {
        let terminal = std::io::stdout().is_terminal();
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let width = terminal
            .then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
            .flatten()
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .filter(|&w| w > 0);
        Style {
            colour: terminal && !no_colour,
            width,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Failures.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Success.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Steps still running, warnings.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// Secondary detail.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    /// Headings and names.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }
}

/// Prints a value as pretty JSON and a newline.
pub fn print_json(value: &impl Serialize) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
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

/// At most `max` characters, with `…` where it was cut; newlines shown as ⏎
/// so one value stays on one line.
pub fn shorten(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' || c == '\r' { '⏎' } else { c })
        .collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let keep = max.saturating_sub(1);
    let mut cut: String = flat.chars().take(keep).collect();
    cut.push('…');
    cut
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
pub fn error_text(error: &reagentic_protocol::EntryError) -> String {
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
    fn shorten_cuts_on_characters_and_flattens_lines() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("ünïcödé", 4), "ünï…");
        assert_eq!(shorten("a\nb", 5), "a⏎b");
    }
}
