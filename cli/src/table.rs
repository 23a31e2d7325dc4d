//! Aligned tables that fit the terminal. Widths are terminal columns, not
//! characters, so names in CJK or with emoji line up. When the columns are
//! too wide, the columns marked flexible give up columns (cut with `…`)
//! first, widest first, then the others, down to a few columns each.

use console::{pad_str, Alignment};

use crate::output::{one_line, shorten, width};
use crate::terminal::{Terminal, Tone};

/// Columns are separated by two spaces.
const GAP: usize = 2;
/// No column is cut below this.
const MIN_WIDTH: usize = 4;

/// A column's heading, alignment and whether it should be cut first.
pub struct Column {
    title: &'static str,
    right: bool,
    flexible: bool,
}

impl Column {
    /// Left-aligned text that is cut before other columns (ids, names).
    pub fn flexible(title: &'static str) -> Self {
        Column {
            title,
            right: false,
            flexible: true,
        }
    }

    /// Left-aligned text.
    pub fn left(title: &'static str) -> Self {
        Column {
            title,
            right: false,
            flexible: false,
        }
    }

    /// Right-aligned numbers.
    pub fn right(title: &'static str) -> Self {
        Column {
            title,
            right: true,
            flexible: false,
        }
    }
}

/// A cell: its text and, optionally, how to mark it once laid out.
pub struct Cell {
    text: String,
    tone: Option<Tone>,
}

impl Cell {
    /// Plain text (made one line and printable).
    pub fn plain(text: impl AsRef<str>) -> Self {
        Cell {
            text: one_line(text.as_ref()),
            tone: None,
        }
    }

    /// Text marked with `tone` (widths are measured on the plain text).
    pub fn toned(text: impl AsRef<str>, tone: Tone) -> Self {
        Cell {
            tone: Some(tone),
            ..Cell::plain(text)
        }
    }
}

/// Lays out `rows` under `columns` within the terminal's width.
pub fn render(terminal: &Terminal, columns: &[Column], rows: &[Vec<Cell>]) -> String {
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| width(&cell.text))
                .chain([width(c.title)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    if let Some(available) = terminal.width {
        fit(&mut widths, columns, available);
    }
    let mut out = String::new();
    let heading: Vec<Cell> = columns
        .iter()
        .map(|c| Cell::toned(c.title, Tone::Strong))
        .collect();
    push_row(&mut out, terminal, columns, &widths, &heading);
    for row in rows {
        push_row(&mut out, terminal, columns, &widths, row);
    }
    out
}

/// Narrows columns until the row fits `available`: flexible ones first.
fn fit(widths: &mut [usize], columns: &[Column], available: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    for flexible_only in [true, false] {
        while total(widths) > available {
            let widest = widths
                .iter()
                .enumerate()
                .filter(|(i, w)| (!flexible_only || columns[*i].flexible) && **w > MIN_WIDTH)
                .max_by_key(|(_, w)| **w)
                .map(|(i, _)| i);
            match widest {
                Some(i) => widths[i] -= 1,
                None => break,
            }
        }
    }
}

fn push_row(
    out: &mut String,
    terminal: &Terminal,
    columns: &[Column],
    widths: &[usize],
    row: &[Cell],
) {
    let mut line = String::new();
    for (i, (column, &column_width)) in columns.iter().zip(widths).enumerate() {
        let cell = row.get(i);
        let text = shorten(cell.map_or("", |c| c.text.as_str()), column_width);
        let shown = match cell.and_then(|c| c.tone) {
            Some(tone) => terminal.paint(tone, &text),
            None => text,
        };
        if i > 0 {
            line.push_str(&" ".repeat(GAP));
        }
        let last = i + 1 == columns.len();
        if column.right {
            line.push_str(&pad_str(&shown, column_width, Alignment::Right, None));
        } else if last {
            line.push_str(&shown);
        } else {
            line.push_str(&pad_str(&shown, column_width, Alignment::Left, None));
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns() -> [Column; 3] {
        [
            Column::flexible("ID"),
            Column::left("WHEN"),
            Column::right("N"),
        ]
    }

    #[test]
    fn wide_tables_are_cut_to_the_width_flexible_columns_first() {
        let rows = vec![vec![
            Cell::plain("a-very-long-session-identifier-0123456789"),
            Cell::plain("2026-11-27 03:00:00"),
            Cell::plain("12"),
        ]];
        let text = render(&Terminal::plain(Some(40)), &columns(), &rows);
        for line in text.lines() {
            assert!(width(line) <= 40, "{line:?}");
        }
        assert!(text.contains("2026-11-27 03:00:00"), "{text}");
        assert!(text.contains('…'), "{text}");
        let unlimited = render(&Terminal::plain(None), &columns(), &rows);
        assert!(unlimited.contains("0123456789"), "{unlimited}");
    }

    /// The column where `needle` starts, in terminal columns.
    fn column_of(line: &str, needle: &str) -> usize {
        width(&line[..line.find(needle).expect(needle)])
    }

    #[test]
    fn wide_characters_line_up_by_display_width() {
        let rows = vec![
            vec![
                Cell::plain("予約エージェント"),
                Cell::plain("now"),
                Cell::plain("1"),
            ],
            vec![
                Cell::plain("🔍 search"),
                Cell::plain("later"),
                Cell::plain("22"),
            ],
            vec![
                Cell::plain("plain"),
                Cell::plain("never"),
                Cell::plain("333"),
            ],
        ];
        for available in [None, Some(20)] {
            let text = render(&Terminal::plain(available), &columns(), &rows);
            let lines: Vec<&str> = text.lines().collect();
            let when = column_of(lines[0], "WHEN");
            assert_eq!(column_of(lines[1], "now"), when, "{text}");
            assert_eq!(column_of(lines[2], "later"), when, "{text}");
            assert_eq!(column_of(lines[3], "never"), when, "{text}");
            let right_edge: Vec<usize> = lines.iter().map(|l| width(l)).collect();
            assert!(right_edge.iter().all(|&w| w == right_edge[0]), "{text}");
            if let Some(available) = available {
                assert!(right_edge[0] <= available, "{text}");
                assert!(text.contains('…'), "{text}");
            }
        }
    }

    #[test]
    fn colour_does_not_move_the_columns() {
        let rows = vec![vec![
            Cell::toned("failed", Tone::Failure),
            Cell::plain("now"),
            Cell::plain("1"),
        ]];
        let plain = render(&Terminal::plain(None), &columns(), &rows);
        assert!(!plain.contains('\u{1b}'), "{plain:?}");
        assert_eq!(plain, "ID      WHEN  N\nfailed  now   1\n");
        let coloured = render(&Terminal::coloured(None), &columns(), &rows);
        assert!(
            coloured.contains("\u{1b}[31mfailed\u{1b}[0m  "),
            "{coloured:?}"
        );
        assert_eq!(console::strip_ansi_codes(&coloured), plain);
    }
}
