//! Aligned tables that fit the terminal: when the columns are too wide, the
//! columns marked flexible give up characters (cut with `…`) first, widest
//! first, then the others, down to a few characters each.

use crate::output::{shorten, Style};

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

/// A cell: its text and, optionally, how to colour it once laid out.
pub struct Cell {
    text: String,
    paint: Option<fn(&Style, &str) -> String>,
}

impl Cell {
    /// Plain text.
    pub fn plain(text: impl Into<String>) -> Self {
        Cell {
            text: text.into(),
            paint: None,
        }
    }

    /// Text coloured by `paint` (after padding is computed on the plain text).
    pub fn painted(text: impl Into<String>, paint: fn(&Style, &str) -> String) -> Self {
        Cell {
            text: text.into(),
            paint: Some(paint),
        }
    }
}

/// Lays out `rows` under `columns` within the style's width.
pub fn render(style: &Style, columns: &[Column], rows: &[Vec<Cell>]) -> String {
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|cell| cell.text.chars().count())
                .chain([c.title.chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    if let Some(width) = style.width {
        fit(&mut widths, columns, width);
    }
    let mut out = String::new();
    let heading: Vec<Cell> = columns.iter().map(|c| Cell::plain(c.title)).collect();
    push_row(&mut out, style, columns, &widths, &heading, true);
    for row in rows {
        push_row(&mut out, style, columns, &widths, row, false);
    }
    out
}

/// Narrows columns until the row fits `width`: flexible ones first.
fn fit(widths: &mut [usize], columns: &[Column], width: usize) {
    let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
    for flexible_only in [true, false] {
        while total(widths) > width {
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
    style: &Style,
    columns: &[Column],
    widths: &[usize],
    row: &[Cell],
    heading: bool,
) {
    let mut line = String::new();
    for (i, (column, width)) in columns.iter().zip(widths).enumerate() {
        let text = row.get(i).map_or("", |c| c.text.as_str());
        let text = shorten(text, *width);
        let pad = " ".repeat(width.saturating_sub(text.chars().count()));
        let shown = match row.get(i).and_then(|c| c.paint) {
            _ if heading => style.bold(&text),
            Some(paint) => paint(style, &text),
            None => text,
        };
        if i > 0 {
            line.push_str(&" ".repeat(GAP));
        }
        let last = i + 1 == columns.len();
        if column.right {
            line.push_str(&pad);
            line.push_str(&shown);
        } else {
            line.push_str(&shown);
            if !last {
                line.push_str(&pad);
            }
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(width: Option<usize>) -> Style {
        // Built through detect() in the binary; here: no colour, given width.
        let mut style = Style::detect();
        style.width = width;
        style
    }

    #[test]
    fn wide_tables_are_cut_to_the_width_flexible_columns_first() {
        let columns = [
            Column::flexible("ID"),
            Column::left("WHEN"),
            Column::right("N"),
        ];
        let rows = vec![vec![
            Cell::plain("a-very-long-session-identifier-0123456789"),
            Cell::plain("2026-11-27 03:00:00"),
            Cell::plain("12"),
        ]];
        let text = render(&plain(Some(40)), &columns, &rows);
        for line in text.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        assert!(text.contains("2026-11-27 03:00:00"), "{text}");
        assert!(text.contains('…'), "{text}");
        let unlimited = render(&plain(None), &columns, &rows);
        assert!(unlimited.contains("0123456789"), "{unlimited}");
    }
}
