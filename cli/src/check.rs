//! `check`: is this protocol file whole?

use std::process::ExitCode;

use chrono::{DateTime, Utc};
use reagentic_protocol::read::CheckReport;
use serde::Serialize;

use crate::args::{Format, Global, Output, ProtocolFile};
use crate::failure::CliResult;
use crate::output::{self, one_line};
use crate::terminal::Terminal;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol check protocol.db
  reagentic-protocol check protocol.jsonl --json
  reagentic-protocol check protocol.jsonl || echo \"protocol needs a look\""
    };
}

/// Validate a protocol file; the exit code says whether it is clean.
///
/// Reports the schema version, unreadable lines (with their numbers), steps
/// that started but never ended, ids stored twice and dropped entries. Exits
/// 0 when clean, 1 when it found problems, 2 when it could not read the file.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  schema_version      the entry format version the file records
  entries             readable entries, each id counted once
  unreadable          records that cannot be read, as {line, reason, file}:
                      the JSON Lines line number or SQLite rowid (the first
                      10 000); file names the rotated JSON Lines file the
                      line is in (null: the protocol file itself)
  unreadable_total    how many records cannot be read
  unfinished          steps started without an end (crashed, or still
                      running), oldest first, as {entry_id, event_type, name,
                      session_id, started} (the first 1 000)
  unfinished_total    how many steps have no end
  duplicates          entry ids stored more than once, as {entry_id, lines}
                      (the first 1 000)
  duplicates_total    how many ids are stored more than once
  dropped_entries     entries the writing pipeline dropped (queue full)
  integrity_problems  what SQLite's own integrity check found
  clean               true when nothing above is wrong (exit code 0)")
)]
pub struct Args {
    #[command(flatten)]
    file: ProtocolFile,
    #[command(flatten)]
    output: Output<Format>,
}

/// `check --json`.
#[derive(Debug, Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    entries: u64,
    unreadable: Vec<UnreadableJson<'a>>,
    unreadable_total: u64,
    unfinished: Vec<UnfinishedJson<'a>>,
    unfinished_total: u64,
    duplicates: Vec<DuplicateJson<'a>>,
    duplicates_total: u64,
    dropped_entries: u64,
    integrity_problems: &'a [String],
    clean: bool,
}

#[derive(Debug, Serialize)]
struct UnreadableJson<'a> {
    line: u64,
    reason: &'a str,
    file: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Debug, Serialize)]
struct UnfinishedJson<'a> {
    entry_id: &'a str,
    event_type: &'static str,
    name: &'a str,
    session_id: Option<&'a str>,
    #[serde(serialize_with = "output::timestamp")]
    started: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct DuplicateJson<'a> {
    entry_id: &'a str,
    lines: &'a [u64],
}

impl<'a> From<&'a CheckReport> for CheckJson<'a> {
    fn from(report: &'a CheckReport) -> Self {
        CheckJson {
            schema_version: report.schema_version,
            entries: report.entries,
            unreadable: report
                .unreadable
                .iter()
                .map(|u| UnreadableJson {
                    line: u.line,
                    reason: &u.reason,
                    file: u.file.as_deref().map(|f| f.to_string_lossy()),
                })
                .collect(),
            unreadable_total: report.unreadable_total,
            unfinished: report
                .unfinished
                .iter()
                .map(|u| UnfinishedJson {
                    entry_id: &u.entry_id,
                    event_type: u.event_type.as_str(),
                    name: &u.name,
                    session_id: u.session_id.as_deref(),
                    started: u.started,
                })
                .collect(),
            unfinished_total: report.unfinished_total,
            duplicates: report
                .duplicates
                .iter()
                .map(|d| DuplicateJson {
                    entry_id: &d.entry_id,
                    lines: &d.lines,
                })
                .collect(),
            duplicates_total: report.duplicates_total,
            dropped_entries: report.dropped_entries,
            integrity_problems: &report.integrity_problems,
            clean: report.is_clean(),
        }
    }
}

pub fn run(args: Args, global: &Global) -> CliResult {
    let reader = args.file.open()?;
    let report = reader.check()?;
    let clean = report.is_clean();
    if args.output.resolve(global) == Format::Json {
        output::print_json(&CheckJson::from(&report))?;
    } else {
        let terminal = Terminal::detect();
        let mut out = format!(
            "{}: schema version {}, {} entries\n",
            reader.path().display(),
            report.schema_version,
            report.entries
        );
        for problem in &report.integrity_problems {
            out.push_str(&format!(
                "{} {}\n",
                terminal.red("integrity:"),
                one_line(problem)
            ));
        }
        if report.unreadable_total > 0 {
            out.push_str(&terminal.red(&format!(
                "{} unreadable record(s):",
                report.unreadable_total
            )));
            out.push('\n');
            for bad in &report.unreadable {
                let place = match &bad.file {
                    Some(file) => format!("{} line {}", file.display(), bad.line),
                    None => format!("line {}", bad.line),
                };
                out.push_str(&format!("  {place}: {}\n", one_line(&bad.reason)));
            }
        }
        if report.unfinished_total > 0 {
            out.push_str(&terminal.yellow(&format!(
                "{} step(s) started without an end (crashed, or still running):",
                report.unfinished_total
            )));
            out.push('\n');
            for step in &report.unfinished {
                out.push_str(&format!(
                    "  {} {} {} session {}  {}\n",
                    output::time(&step.started),
                    step.event_type,
                    one_line(&step.name),
                    one_line(step.session_id.as_deref().unwrap_or("-")),
                    terminal.dim(&one_line(&step.entry_id))
                ));
            }
        }
        if report.duplicates_total > 0 {
            out.push_str(&terminal.red(&format!(
                "{} entry id(s) stored more than once:",
                report.duplicates_total
            )));
            out.push('\n');
            for dup in &report.duplicates {
                let lines: Vec<String> = dup.lines.iter().map(u64::to_string).collect();
                out.push_str(&format!(
                    "  {} on lines {}\n",
                    one_line(&dup.entry_id),
                    lines.join(", ")
                ));
            }
        }
        if report.dropped_entries > 0 {
            out.push_str(&terminal.red(&format!(
                "{} entries were dropped by the writing pipeline (queue full past its bound)",
                report.dropped_entries
            )));
            out.push('\n');
        }
        out.push_str(&if clean {
            terminal.green("clean")
        } else {
            terminal.red("problems found")
        });
        out.push('\n');
        output::print(&out)?;
    }
    Ok(if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
