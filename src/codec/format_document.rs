//! Keeps `FORMAT.md`, the format's document for users, in step with the
//! code: its tables of fields, event types and indexes must say what
//! [`COLUMNS`], [`EventType::ALL`] and the SQLite and PostgreSQL layouts say.

use super::columns::COLUMNS;
use super::sqlite::INDEXES;
use crate::entry::{EventType, ProtocolEntry, SCHEMA_VERSION};

const DOCUMENT: &str = include_str!("../../FORMAT.md");

/// The rows of the table under `heading` whose first cell is a `code` name:
/// each row's cells, backticks removed.
fn table_rows(heading: &str) -> Vec<Vec<String>> {
    let start = DOCUMENT
        .find(heading)
        .unwrap_or_else(|| panic!("FORMAT.md has no heading {heading:?}"));
    let section = &DOCUMENT[start + heading.len()..];
    let end = section.find("\n#").unwrap_or(section.len());
    section[..end]
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            line.trim_matches('|')
                .split(" | ")
                .map(|cell| cell.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

/// The position of the header cell `name` in the table under `heading`.
fn column_of(heading: &str, name: &str) -> usize {
    let section = &DOCUMENT[DOCUMENT.find(heading).expect("heading")..];
    let header = section
        .lines()
        .find(|line| line.starts_with("| "))
        .expect("a table");
    header
        .trim_matches('|')
        .split(" | ")
        .position(|cell| cell.trim() == name)
        .unwrap_or_else(|| panic!("the table under {heading:?} has no column {name:?}"))
}

#[test]
fn the_field_table_is_the_column_table() {
    let rows = table_rows("### Fields");
    let (sqlite, required, since) = (
        column_of("### Fields", "SQLite"),
        column_of("### Fields", "required"),
        column_of("### Fields", "since"),
    );
    let documented: Vec<(&str, &str, bool, u32)> = rows
        .iter()
        .map(|row| {
            (
                row[0].as_str(),
                row[sqlite].trim_end_matches(" (JSON)"),
                row[required] == "yes",
                row[since].parse().expect("a schema version"),
            )
        })
        .collect();
    let coded: Vec<(&str, &str, bool, u32)> = COLUMNS
        .iter()
        .map(|c| (c.name, c.kind.sqlite_type(), c.required, c.since_schema))
        .collect();
    assert_eq!(documented, coded, "FORMAT.md's field table against COLUMNS");
}

#[test]
fn the_event_types_and_indexes_are_documented() {
    let types: Vec<String> = table_rows("### Event types")
        .into_iter()
        .map(|row| row[0].clone())
        .collect();
    let coded: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(types, coded);
    let indexes: Vec<(String, String)> = table_rows("## SQLite")
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let coded: Vec<(String, String)> = INDEXES
        .iter()
        .map(|index| (index.name.to_owned(), index.columns.to_owned()))
        .collect();
    assert_eq!(indexes, coded);
}

#[test]
fn the_versions_table_ends_at_this_builds_schema() {
    let section = &DOCUMENT[DOCUMENT
        .find("## Schema versions")
        .expect("versions section")..];
    let last = section
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<u32>().ok())
        .max();
    assert_eq!(last, Some(SCHEMA_VERSION));
}

#[test]
fn the_example_is_an_entry_written_exactly_as_shown() {
    let start = DOCUMENT.find("```json\n").expect("an example") + "```json\n".len();
    let line = DOCUMENT[start..].lines().next().expect("the example line");
    let entry: ProtocolEntry = serde_json::from_str(line).expect("the example parses");
    assert_eq!(entry.schema, SCHEMA_VERSION);
    let mut written = Vec::new();
    super::jsonl::encode(&entry, &mut written).unwrap();
    assert_eq!(std::str::from_utf8(&written).unwrap().trim_end(), line);
}

#[cfg(feature = "postgres")]
#[test]
fn the_postgresql_types_and_indexes_are_documented() {
    use super::postgres::{column_type, INDEXES};
    let column = column_of("### Fields", "PostgreSQL");
    let documented: Vec<(String, String)> = table_rows("### Fields")
        .into_iter()
        .map(|row| (row[0].clone(), row[column].clone()))
        .collect();
    let coded: Vec<(String, String)> = COLUMNS
        .iter()
        .map(|c| (c.name.to_owned(), column_type(c.kind).to_owned()))
        .collect();
    assert_eq!(
        documented, coded,
        "FORMAT.md's PostgreSQL types against COLUMNS"
    );
    let indexes: Vec<(String, String)> = table_rows("## PostgreSQL")
        .into_iter()
        .map(|row| (row[0].clone(), row[1].clone()))
        .collect();
    let coded: Vec<(String, String)> = INDEXES
        .iter()
        .map(|(name, columns)| ((*name).to_owned(), (*columns).to_owned()))
        .collect();
    assert_eq!(indexes, coded);
}
