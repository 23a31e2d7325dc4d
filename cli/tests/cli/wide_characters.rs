//! Names in CJK scripts or with emoji take two terminal columns a
//! character: tables measure display width, so their columns still line up,
//! and cut to the terminal's width without splitting a character.

use console::measure_text_width as width;
use reagentic_protocol::instrument::{AgentSpan, ModelCallSpan, ToolSpan, Usage};

use crate::support::{bin, ok, Format, Protocol};

const SESSION: &str = "会話-🌏-1";
const AGENT: &str = "予約エージェント";
const TOOL: &str = "🔍検索";

/// One session of an agent with a wide name, a model call and two tools.
fn wide_protocol() -> Protocol {
    let protocol = Protocol::new(Format::Sqlite);
    protocol.in_scope(|| {
        let agent = AgentSpan::new(AGENT).conversation_id(SESSION).start();
        agent.in_scope(|| {
            let call = ModelCallSpan::new("openai", "gpt-4o").start();
            call.record_usage(Usage::new(12, 3));
            drop(call);
            ToolSpan::new(TOOL)
                .call_id("call_1")
                .start()
                .record_result("見つかりました");
            ToolSpan::new("book_flight")
                .call_id("call_2")
                .start()
                .record_result("ok");
        });
    });
    protocol.flush();
    protocol
}

/// The command's table, with `COLUMNS` set when given.
fn table(protocol: &Protocol, args: &[&str], columns: Option<usize>) -> String {
    let mut command = bin();
    command
        .args(&args[..1])
        .arg(&protocol.path)
        .args(&args[1..]);
    if let Some(columns) = columns {
        command.env("COLUMNS", columns.to_string());
    }
    ok(&command.output().expect("run reagentic-protocol"))
}

/// The terminal column where `needle` starts on `line`.
fn column_of(line: &str, needle: &str) -> usize {
    let at = line
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not on {line:?}"));
    width(&line[..at])
}

/// The line that contains `needle`.
fn line_with<'a>(text: &'a str, needle: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{text}"))
}

#[test]
fn session_rows_line_up_under_their_headings() {
    let protocol = wide_protocol();
    let text = table(&protocol, &["sessions"], None);
    let (heading, row) = (line_with(&text, "SESSION"), line_with(&text, SESSION));
    assert_eq!(
        column_of(heading, "SESSION"),
        column_of(row, SESSION),
        "{text}"
    );
    assert_eq!(
        column_of(heading, "AGENTS"),
        column_of(row, AGENT),
        "{text}"
    );
    // The last column is right-aligned: every line ends at the same column.
    assert_eq!(width(heading), width(row), "{text}");
}

#[test]
fn entry_rows_line_up_and_are_cut_by_display_width() {
    let protocol = wide_protocol();
    for columns in [None, Some(100), Some(70)] {
        let text = table(&protocol, &["query"], columns);
        let heading = text.lines().next().unwrap();
        // Headings are cut too (`AGE…`), never below four columns.
        let agent_column = column_of(heading, "AG");
        let name_column = column_of(heading, "NA");
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(rows.len(), 8, "{text}");
        for row in &rows {
            if let Some(limit) = columns {
                assert!(width(row) <= limit, "{row:?} is wider than {limit}");
            }
            // Every row has an agent; its first character starts the column.
            assert_eq!(column_of(row, "予"), agent_column, "{text}");
            let name = row
                .char_indices()
                .find(|&(at, _)| width(&row[..at]) == name_column)
                .map(|(at, _)| &row[at..])
                .unwrap_or_else(|| panic!("no character starts at column {name_column}: {row:?}"));
            assert!(!name.starts_with(' '), "{row:?}");
        }
        if columns == Some(70) {
            assert!(text.contains('…'), "narrow tables are cut: {text}");
        }
    }
}

#[test]
fn stats_rows_end_at_the_same_column() {
    let protocol = wide_protocol();
    let text = table(&protocol, &["stats", "--by", "tool,agent"], None);
    for block in text.split("\n\n") {
        let widths: Vec<usize> = block.lines().map(width).collect();
        assert!(widths.len() >= 2, "{text}");
        assert!(widths.iter().all(|&w| w == widths[0]), "{block}");
    }
    assert!(text.contains(TOOL) && text.contains(AGENT), "{text}");
}
