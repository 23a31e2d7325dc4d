//! The protocol format in code: one table of its fields ([`columns`]) and,
//! derived from it, a codec per storage form — SQLite rows ([`sqlite`]),
//! PostgreSQL rows (`postgres`, with the feature `postgres`) and JSON Lines
//! lines ([`jsonl`]), each encoding and decoding in one place —
//! shared by the writers (`storage`) and the readers (`read`).

pub(crate) mod columns;
#[cfg(test)]
mod format_document;
pub(crate) mod jsonl;
pub(crate) mod jsonl_set;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
pub(crate) mod sqlite;
