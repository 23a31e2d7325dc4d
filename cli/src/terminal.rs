//! What stdout can show: colour, and how many columns.

use console::{Style, Term};

/// How a piece of text is marked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Failures (red).
    Failure,
    /// Success (green).
    Success,
    /// Steps still running, warnings (yellow).
    Warning,
    /// Secondary detail (dim).
    Detail,
    /// Headings and names (bold).
    Strong,
}

impl Tone {
    fn style(self) -> Style {
        let style = Style::new();
        match self {
            Tone::Failure => style.red(),
            Tone::Success => style.green(),
            Tone::Warning => style.yellow(),
            Tone::Detail => style.dim(),
            Tone::Strong => style.bold(),
        }
    }
}

/// Colour and width for this run's output.
#[derive(Clone, Copy, Debug)]
pub struct Terminal {
    colour: bool,
    /// Columns available, when known.
    pub width: Option<usize>,
}

impl Terminal {
    /// For this process's stdout. Colour as `console` decides it: only on a
    /// terminal (not `TERM=dumb`), never with `NO_COLOR` set or `CLICOLOR=0`,
    /// always with `CLICOLOR_FORCE=1`. The width is the terminal's, else
    /// `COLUMNS`, else unknown (no cutting).
    pub fn detect() -> Self {
        let width = Term::stdout()
            .size_checked()
            .map(|(_rows, columns)| usize::from(columns))
            .or_else(|| std::env::var("COLUMNS").ok()?.trim().parse().ok())
            .filter(|&w| w > 0);
        Terminal {
            colour: console::colors_enabled(),
            width,
        }
    }

    /// Never colour, whatever stdout is, and this width.
    #[cfg(test)]
    pub fn plain(width: Option<usize>) -> Self {
        Terminal {
            colour: false,
            width,
        }
    }

    /// Always colour, and this width.
    #[cfg(test)]
    pub fn coloured(width: Option<usize>) -> Self {
        Terminal {
            colour: true,
            width,
        }
    }

    /// `text` marked with `tone`, or as it is without colour.
    pub fn paint(&self, tone: Tone, text: &str) -> String {
        tone.style()
            .force_styling(self.colour)
            .apply_to(text)
            .to_string()
    }

    /// Failures.
    pub fn red(&self, text: &str) -> String {
        self.paint(Tone::Failure, text)
    }

    /// Success.
    pub fn green(&self, text: &str) -> String {
        self.paint(Tone::Success, text)
    }

    /// Steps still running, warnings.
    pub fn yellow(&self, text: &str) -> String {
        self.paint(Tone::Warning, text)
    }

    /// Secondary detail.
    pub fn dim(&self, text: &str) -> String {
        self.paint(Tone::Detail, text)
    }

    /// Headings and names.
    pub fn bold(&self, text: &str) -> String {
        self.paint(Tone::Strong, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_never_colours_and_forced_colour_always_does() {
        assert_eq!(Terminal::plain(None).red("error"), "error");
        assert_eq!(
            Terminal::coloured(None).red("error"),
            "\u{1b}[31merror\u{1b}[0m"
        );
    }
}
