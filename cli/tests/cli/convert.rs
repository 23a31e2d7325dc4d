//! `convert` copies a protocol between JSON Lines and SQLite; converting
//! again stores nothing twice.

use crate::support::{json, ok, read_all, run, travel_protocol, Format};

#[test]
fn jsonl_to_sqlite_and_back_keeps_every_entry_once() {
    let protocol = travel_protocol(Format::Jsonl);
    let original = read_all(&protocol.path);
    let db = protocol.dir.path().join("converted.db");
    let back = protocol.dir.path().join("back.jsonl");
    let (jsonl, db_s, back_s) = (protocol.arg(), db.to_str().unwrap(), back.to_str().unwrap());

    let first = json(&run(&["convert", jsonl, db_s, "--json"]));
    assert_eq!(first["read"], 21);
    assert_eq!(first["written"], 21);
    assert_eq!(read_all(&db), original);

    let text = ok(&run(&["convert", db_s, back_s]));
    assert!(text.contains("21 entries read, 21 written"), "{text}");
    assert_eq!(read_all(&back), original);

    // Again, both ways: nothing new is stored.
    let again = json(&run(&["convert", jsonl, db_s, "--json"]));
    assert_eq!(
        (again["read"].as_u64(), again["written"].as_u64()),
        (Some(21), Some(0))
    );
    let lines_before = std::fs::read_to_string(&back).unwrap().lines().count();
    let again = json(&run(&["convert", db_s, back_s, "--json"]));
    assert_eq!(again["written"], 0);
    assert_eq!(
        std::fs::read_to_string(&back).unwrap().lines().count(),
        lines_before
    );
    assert_eq!(read_all(&db), original);
    assert_eq!(read_all(&back), original);
}

#[test]
fn converting_a_file_onto_itself_is_refused() {
    let protocol = travel_protocol(Format::Sqlite);
    let path = protocol.arg();
    let before = std::fs::read(&protocol.path).unwrap();
    let out = run(&["convert", path, path]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::support::stderr(&out).contains("same file"));
    assert_eq!(std::fs::read(&protocol.path).unwrap(), before);
}
