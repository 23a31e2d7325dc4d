//! Length limits on text: where to cut without splitting a character, and the
//! marker that says something was cut.

/// A limit on a piece of text, in the unit the configuration speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Limit {
    /// At most this many characters (`max_content_chars`).
    Chars(usize),
    /// At most this many bytes (`full_content_cap`).
    Bytes(usize),
}

/// Extra text kept past the limit while redacting, so a secret that straddles
/// the cut is still recognised whole and no prefix of it survives.
const REDACTION_MARGIN_CHARS: usize = 4_096;

impl Limit {
    /// The byte index at which `text` must be cut to respect the limit, or
    /// `None` when it already fits. Only scans as far as the limit.
    pub(crate) fn cut_index(self, text: &str) -> Option<usize> {
        match self {
            Limit::Chars(n) => nth_char_index(text, n),
            Limit::Bytes(n) if text.len() > n => Some(floor_char_boundary(text, n)),
            Limit::Bytes(_) => None,
        }
    }

    /// The same limit plus the redaction margin.
    pub(crate) fn with_redaction_margin(self) -> Limit {
        match self {
            Limit::Chars(n) => Limit::Chars(n.saturating_add(REDACTION_MARGIN_CHARS)),
            // A character is at most four bytes: the same margin in characters.
            Limit::Bytes(n) => Limit::Bytes(n.saturating_add(REDACTION_MARGIN_CHARS * 4)),
        }
    }

    /// An upper bound, in bytes, of any text within the limit.
    pub(crate) fn max_bytes(self) -> usize {
        match self {
            Limit::Chars(n) => n.saturating_mul(4),
            Limit::Bytes(n) => n,
        }
    }
}

/// The largest character boundary of `text` not after `index`.
///
/// `str::floor_char_boundary` is newer than the crate's minimum Rust version.
pub(crate) fn floor_char_boundary(text: &str, index: usize) -> usize {
    if index >= text.len() {
        return text.len();
    }
    // A UTF-8 character is at most 4 bytes, so a boundary is at most 3 back.
    (index.saturating_sub(3)..=index)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0)
}

/// The byte index at which the `n`-th character (0-based) starts, or `None`
/// when `text` has at most `n` characters.
fn nth_char_index(text: &str, n: usize) -> Option<usize> {
    // Fast path: a text of at most `n` bytes has at most `n` characters.
    if text.len() <= n {
        return None;
    }
    text.char_indices().nth(n).map(|(i, _)| i)
}

/// `text` cut to at most `max_bytes` bytes at a character boundary.
pub(crate) fn cut_bytes(text: &str, max_bytes: usize) -> &str {
    &text[..floor_char_boundary(text, max_bytes)]
}

/// What replaces the cut-off tail: says that, and how long the original was.
pub(crate) fn truncation_marker(total_bytes: usize) -> String {
    format!("…[truncated, {total_bytes} bytes total]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_limit_counts_characters_not_bytes() {
        let text = "äöü€x";
        assert_eq!(Limit::Chars(5).cut_index(text), None);
        let cut = Limit::Chars(3).cut_index(text).unwrap();
        assert_eq!(&text[..cut], "äöü");
        assert_eq!(Limit::Chars(0).cut_index(text), Some(0));
    }

    #[test]
    fn byte_limit_never_splits_a_character() {
        let text = "a€b"; // '€' is bytes 1..4
        for n in 0..text.len() {
            let cut = Limit::Bytes(n).cut_index(text).unwrap();
            assert!(text.is_char_boundary(cut));
            assert!(cut <= n);
        }
        assert_eq!(Limit::Bytes(2).cut_index(text), Some(1));
        assert_eq!(Limit::Bytes(5).cut_index(text), None);
    }

    #[test]
    fn floor_char_boundary_handles_every_position_and_overflow() {
        let text = "😀é";
        for i in 0..=text.len() + 2 {
            let b = floor_char_boundary(text, i);
            assert!(text.is_char_boundary(b) && b <= i.min(text.len()));
        }
        assert_eq!(floor_char_boundary(text, 3), 0);
        assert_eq!(floor_char_boundary(text, 4), 4);
        assert_eq!(cut_bytes(text, 5), "😀");
        assert_eq!(cut_bytes("", 3), "");
    }

    #[test]
    fn margin_widens_without_overflow() {
        assert_eq!(
            Limit::Chars(10).with_redaction_margin(),
            Limit::Chars(10 + REDACTION_MARGIN_CHARS)
        );
        assert_eq!(
            Limit::Bytes(usize::MAX).with_redaction_margin(),
            Limit::Bytes(usize::MAX)
        );
        assert_eq!(Limit::Chars(usize::MAX).max_bytes(), usize::MAX);
    }

    #[test]
    fn marker_names_the_original_size() {
        assert_eq!(truncation_marker(1234), "…[truncated, 1234 bytes total]");
    }
}
