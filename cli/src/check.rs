//! `check`: is this protocol file whole?

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use crate::failure::{open, CliResult};
use crate::output::{self, one_line, Format};
use crate::terminal::Terminal;

/// Validate a protocol file; the exit code says whether it is clean.
///
/// Reports the schema version, unreadable lines (with their numbers), steps
/// that started but never ended, ids stored twice and dropped entries. Exits
/// 0 when clean, 1 when it found problems, 2 when it could not read the file.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reagentic-protocol check protocol.db
  reagentic-protocol check protocol.jsonl --json
  reagentic-protocol check protocol.jsonl || echo \"protocol needs a look\"")]
pub struct Args {
    /// The protocol file (.db, .sqlite, .sqlite3, .jsonl, .ndjson).
    file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

pub fn run(args: Args, json: bool) -> CliResult {
    let reader = open(&args.file)?;
    let report = reader.check()?;
    let clean = report.is_clean();
    if args.format.resolve(json) == Format::Json {
        let mut value = serde_json::to_value(&report)?;
        value["clean"] = json!(clean);
        output::print_json(&value)?;
    } else {
        let style = Terminal::detect();
        let mut out = format!(
            "{}: schema version {}, {} entries\n",
            args.file.display(),
            report.schema_version,
            report.entries
        );
        for problem in &report.integrity_problems {
            out.push_str(&format!(
                "{} {}\n",
                style.red("integrity:"),
                one_line(problem)
            ));
        }
        if report.unreadable_total > 0 {
            out.push_str(&style.red(&format!(
                "{} unreadable record(s):",
                report.unreadable_total
            )));
            out.push('\n');
            for bad in &report.unreadable {
                out.push_str(&format!("  line {}: {}\n", bad.line, one_line(&bad.reason)));
            }
        }
        if report.unfinished_total > 0 {
            out.push_str(&style.yellow(&format!(
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
                    style.dim(&one_line(&step.entry_id))
                ));
            }
        }
        if report.duplicates_total > 0 {
            out.push_str(&style.red(&format!(
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
            out.push_str(&style.red(&format!(
                "{} entries were dropped by the writing pipeline (queue full past its bound)",
                report.dropped_entries
            )));
            out.push('\n');
        }
        out.push_str(&if clean {
            style.green("clean")
        } else {
            style.red("problems found")
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
