//! The strings of written entries, kept to hold the next entries' fields.
//!
//! An entry owns a dozen small strings (ids, names, session, service…),
//! each allocated when the entry was made and freed once it was written.
//! With glibc's `malloc` the extraction thread made 15.0 allocations and
//! 22.5 frees per entry on the tool burst, and about a third of its `perf`
//! samples were in the allocator; with these strings kept here and
//! refilled (and a span's identifiers read in place, `facts.rs`), 4.2 and
//! 11.4, most of the rest being the application's span data (`perf probe`
//! on `malloc` and `free`, `--scenario ours_discarding_tool_burst --spans
//! 50000`).
//!
//! Strings are kept by capacity, in classes of powers of two, so a request
//! takes one that already fits: refilling never reallocates. What is kept is
//! bounded (at most [`KEPT_PER_CLASS`] strings per class, none of 2 KiB or
//! more: about a megabyte at worst) and given back when the thread idles.

use crate::entry::ProtocolEntry;

/// Classes of capacity `1 << k` for `k` below this: strings of 2 KiB of
/// capacity or more are not kept, being content-sized and rare among the
/// fields kept here.
const CLASSES: usize = 11;

/// At most this many strings are kept per class: the strings of a hundred
/// entries or so, more than making an entry for each one given back needs.
const KEPT_PER_CLASS: usize = 256;

/// Spare strings, by capacity.
#[derive(Debug, Default)]
pub(crate) struct SpareStrings {
    /// `by_class[k]` holds strings whose capacity is at least `1 << k` and
    /// below `1 << (k + 1)`.
    by_class: [Vec<String>; CLASSES],
}

impl SpareStrings {
    /// `text` in a spare string, or in a new one sized to be kept later.
    pub(crate) fn copy(&mut self, text: &str) -> String {
        let mut spare = self.take(text.len());
        spare.push_str(text);
        spare
    }

    /// `parts` one after the other in a spare string, or in a new one sized
    /// to be kept later.
    pub(crate) fn copy_parts(&mut self, parts: &[&str]) -> String {
        let mut spare = self.take(parts.iter().map(|part| part.len()).sum());
        for part in parts {
            spare.push_str(part);
        }
        spare
    }

    /// An empty string with room for `len` bytes: a kept one if its class
    /// (or the next) has one, else a new one of the class's capacity.
    fn take(&mut self, len: usize) -> String {
        if len == 0 {
            return String::new();
        }
        let class = class_to_hold(len);
        let Some(kept) = self.by_class.get_mut(class) else {
            return String::with_capacity(len);
        };
        let mut spare = match kept.pop() {
            Some(spare) => spare,
            None => match self.by_class.get_mut(class + 1).and_then(Vec::pop) {
                Some(spare) => spare,
                None => return String::with_capacity(1 << class),
            },
        };
        spare.clear();
        spare
    }

    /// `text`, if any, in a spare string.
    pub(crate) fn copy_some(&mut self, text: Option<&str>) -> Option<String> {
        text.map(|text| self.copy(text))
    }

    /// Keeps `text`'s memory for a later [`SpareStrings::copy`], unless its
    /// class is full or it is too large to keep.
    pub(crate) fn keep(&mut self, text: String) {
        let Some(class) = class_of_capacity(text.capacity()) else {
            return;
        };
        let kept = &mut self.by_class[class];
        if kept.len() < KEPT_PER_CLASS {
            kept.push(text);
        }
    }

    /// Keeps the strings of a written entry, leaving them empty in it: taken
    /// in place, because moving an entry (over 400 bytes) out of its batch
    /// to take it apart cost more than taking its strings.
    pub(crate) fn keep_from(&mut self, entry: &mut ProtocolEntry) {
        for text in [
            &mut entry.entry_id,
            &mut entry.trace_id,
            &mut entry.span_id,
            &mut entry.name,
        ] {
            self.keep(std::mem::take(text));
        }
        for text in [
            &mut entry.parent_span_id,
            &mut entry.session_id,
            &mut entry.service_name,
            &mut entry.agent_name,
            &mut entry.model,
            &mut entry.provider,
            &mut entry.tool_name,
            &mut entry.tool_call_id,
            &mut entry.operation,
        ] {
            if let Some(text) = text.take() {
                self.keep(text);
            }
        }
    }

    /// Gives every kept string back to the allocator.
    pub(crate) fn release(&mut self) {
        self.by_class = Default::default();
    }

    /// How many strings are kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.by_class.iter().map(Vec::len).sum()
    }
}

/// The class whose every string can hold `len` bytes (1 or more): the
/// smallest `k` with `1 << k >= len`, [`CLASSES`] or more beyond the largest.
fn class_to_hold(len: usize) -> usize {
    (usize::BITS - len.saturating_sub(1).leading_zeros()) as usize
}

/// The class a string of `capacity` bytes is kept in: the largest `k` with
/// `1 << k <= capacity`; `None` for no capacity or beyond the largest class.
fn class_of_capacity(capacity: usize) -> Option<usize> {
    let class = capacity.checked_ilog2()? as usize;
    (class < CLASSES).then_some(class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EventType;

    /// The largest capacity a class holds strings for: `1 << (CLASSES - 1)`.
    const LARGEST_KEPT: usize = 1 << (CLASSES - 1);

    #[test]
    fn classes_hold_what_they_promise() {
        for (len, class) in [(1, 0), (2, 1), (3, 2), (4, 2), (5, 3), (32, 5), (33, 6)] {
            assert_eq!(class_to_hold(len), class, "{len}");
            assert!(1 << class >= len);
        }
        assert_eq!(class_to_hold(usize::MAX), 64);
        for (capacity, class) in [(0, None), (1, Some(0)), (3, Some(1)), (1023, Some(9))] {
            assert_eq!(class_of_capacity(capacity), class, "{capacity}");
        }
        assert_eq!(class_of_capacity(1 << CLASSES), None);
    }

    #[test]
    fn a_kept_string_holds_the_next_copy_that_fits_without_growing() {
        let mut spares = SpareStrings::default();
        let first = spares.copy("4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(first.capacity(), 32);
        let at = first.as_ptr();
        spares.keep(first);
        // Kept, not freed (freed, `malloc` could hand the same memory out
        // again and the pointer below would match all the same).
        assert_eq!(spares.len(), 1);
        let second = spares.copy("00f067aa0ba902b7_00f067aa0ba902b");
        assert_eq!(spares.len(), 0, "the kept string was taken");
        assert_eq!(second, "00f067aa0ba902b7_00f067aa0ba902b");
        assert_eq!(second.as_ptr(), at, "the kept string is reused");
        assert_eq!(second.capacity(), 32);
    }

    #[test]
    fn a_copy_never_takes_a_string_too_small_for_it() {
        let mut spares = SpareStrings::default();
        let odd = [1, 3, 5, 17, 33, 100, 1000, 2000];
        for capacity in odd {
            spares.keep(String::with_capacity(capacity));
        }
        for len in 1..=2 * LARGEST_KEPT {
            let text = "x".repeat(len);
            let copy = spares.copy(&text);
            assert_eq!(copy, text);
            // A kept string too small for the text would have grown to a
            // capacity that is neither one kept nor a class's own.
            let capacity = copy.capacity();
            if len <= LARGEST_KEPT {
                assert!(
                    odd.contains(&capacity) || capacity == len.next_power_of_two(),
                    "{len} bytes in a string of {capacity}"
                );
            } else {
                assert_eq!(capacity, len);
            }
            spares.keep(copy);
        }
    }

    #[test]
    fn what_is_kept_is_bounded() {
        let mut spares = SpareStrings::default();
        for _ in 0..10 * KEPT_PER_CLASS {
            spares.keep(String::with_capacity(8));
            spares.keep(String::with_capacity(4 * LARGEST_KEPT));
            spares.keep(String::new());
        }
        assert_eq!(spares.len(), KEPT_PER_CLASS);
        spares.release();
        assert_eq!(spares.len(), 0);
    }

    #[test]
    fn an_entry_gives_back_every_string_field() {
        let mut spares = SpareStrings::default();
        let mut entry = ProtocolEntry::new(
            EventType::ToolEnd,
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "00f067aa0ba902b7",
            "get_weather",
            chrono::Utc::now(),
        );
        entry.parent_span_id = Some("00f067aa0ba902b8".into());
        entry.session_id = Some("sess-1".into());
        entry.service_name = Some("svc".into());
        entry.agent_name = Some("planner".into());
        entry.model = Some("gpt".into());
        entry.provider = Some("openai".into());
        entry.tool_name = Some("get_weather".into());
        entry.tool_call_id = Some("call_1".into());
        entry.operation = Some("execute_tool".into());
        spares.keep_from(&mut entry);
        assert_eq!(spares.len(), 13);
        assert!(entry.entry_id.is_empty() && entry.operation.is_none());
    }
}
