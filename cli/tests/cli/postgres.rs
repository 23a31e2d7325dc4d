//! The command on a PostgreSQL database (a real server, see
//! `postgres_server`): every reading command answers as it does on a SQLite
//! file of the same entries; `convert` copies SQLite → PostgreSQL →
//! SQLite and JSON Lines → PostgreSQL entry for entry, idempotently; `tail
//! -f` follows the database; the password in a URL is printed nowhere,
//! run pages, comparisons and the `ui` server included.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::postgres_server::database;
use crate::support::{
    bin, json, ok, read_all, record_small_talk, record_travel_run, run, run_on, spawn_with_lines,
    stderr, travel_protocol, Format, Protocol, TRAVEL,
};

/// The travel protocol recorded straight into a new database.
fn travel_database(hint: &str) -> Protocol {
    let url = database(hint);
    let protocol = Protocol::at(tempfile::tempdir().unwrap(), PathBuf::from(url));
    record_travel_run(&protocol);
    std::thread::sleep(Duration::from_millis(5));
    record_small_talk(&protocol);
    protocol.flush();
    protocol
}

#[test]
fn convert_sqlite_to_postgres_and_back_is_equal_entry_for_entry() {
    let sqlite = travel_protocol(Format::Sqlite);
    let original = read_all(&sqlite.path);
    let url = database("convert_round_trip");
    let back = sqlite.dir.path().join("back.db");
    let (db, back_s) = (sqlite.arg(), back.to_str().unwrap());

    let first = json(&run(&["convert", db, &url, "--json"]));
    assert_eq!(
        (first["read"].as_u64(), first["written"].as_u64()),
        (Some(21), Some(21))
    );
    assert_eq!(read_all(Path::new(&url)), original);
    // Again: nothing stored twice.
    let again = json(&run(&["convert", db, &url, "--json"]));
    assert_eq!(
        (again["read"].as_u64(), again["written"].as_u64()),
        (Some(21), Some(0))
    );

    let text = ok(&run(&["convert", &url, back_s]));
    assert!(text.contains("21 entries read, 21 written"), "{text}");
    assert_eq!(read_all(&back), original);

    // JSON Lines into the same database: the same entries, already there.
    let jsonl = sqlite.dir.path().join("copy.jsonl");
    ok(&run(&["convert", db, jsonl.to_str().unwrap()]));
    let from_lines = json(&run(&["convert", jsonl.to_str().unwrap(), &url, "--json"]));
    assert_eq!(from_lines["written"], 0);
    assert_eq!(read_all(Path::new(&url)), original);

    let same = run(&["convert", &url, &url]);
    assert_eq!(same.status.code(), Some(2));
    assert!(stderr(&same).contains("same database"), "{}", stderr(&same));
}

#[test]
fn every_reading_command_answers_as_on_sqlite() {
    let pg = travel_database("every_command");
    let sqlite = sqlite_copy_of(&pg);
    let runs: Vec<Vec<&str>> = vec![
        vec!["sessions", "--json"],
        vec!["show", "--json"],
        vec!["query", "--json"],
        vec!["query", "--json", "--errors"],
        vec![
            "query",
            "--json",
            "--type",
            "tool_end,llm_end",
            "--agent",
            "travel_specialist",
        ],
        vec![
            "query",
            "--format",
            "jsonl",
            "--tool",
            "get_weather",
            "--since",
            "30d",
        ],
        vec!["stats", "--json", "--by", "tool"],
        vec!["stats", "--json", "--by", "model"],
        vec!["tail", "--json", "-n", "5"],
    ];
    for args in runs {
        let (command, rest) = args.split_first().unwrap();
        let mut rest: Vec<&str> = rest.to_vec();
        if *command == "show" {
            rest.insert(0, TRAVEL);
        }
        let on_pg = ok(&run_on(command, &pg.path, &rest));
        let on_sqlite = ok(&run_on(command, &sqlite, &rest));
        assert_eq!(on_pg, on_sqlite, "{args:?}");
        assert!(!on_pg.trim().is_empty(), "{args:?}");
    }
    let check = json(&run_on("check", &pg.path, &["--json"]));
    assert_eq!(check["entries"], 21, "{check}");
}

/// The database's entries in a SQLite file, through `convert`.
fn sqlite_copy_of(pg: &Protocol) -> PathBuf {
    let copy = pg.dir.path().join("copy.db");
    ok(&run(&["convert", pg.arg(), copy.to_str().unwrap()]));
    copy
}

#[test]
fn tail_follows_a_database_as_it_is_written() {
    let protocol = travel_database("tail_follow");
    let mut command = bin();
    command
        .args(["tail", "-f", "--json", "-n", "1", "--interval-ms", "50"])
        .arg(&protocol.path);
    let (mut child, lines) = spawn_with_lines(command);
    let next = |what: &str| -> serde_json::Value {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no line for {what}"));
        serde_json::from_str(&line).expect("a JSON entry per line")
    };
    assert_eq!(next("the newest entry")["name"], "chatter");
    record_small_talk(&protocol);
    protocol.flush();
    let new: Vec<_> = (0..4).map(|_| next("a new entry")).collect();
    assert!(
        new.iter()
            .all(|e| e["session_id"] == crate::support::SMALL_TALK),
        "{new:?}"
    );
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn a_password_in_the_url_is_printed_nowhere() {
    const PASSWORD: &str = "pw-Cli-SECRET-0815";
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let unreachable = format!("postgres://agent:{PASSWORD}@127.0.0.1:{port}/team");
    for command in ["sessions", "query", "stats", "check", "tail"] {
        let out = run(&[command, &unreachable]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!("postgres://agent@127.0.0.1:{port}/team")),
            "{err}"
        );
        assert!(!err.contains(PASSWORD) && !crate::support::stdout(&out).contains(PASSWORD));
    }
    // A reachable database, the password given (the test server does not
    // check it): nothing printed carries it.
    let url = database("password_cli").replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    let empty = tempfile::tempdir().unwrap();
    let db = empty.path().join("empty.db");
    let sqlite = travel_protocol(Format::Sqlite);
    for args in [
        vec!["convert", sqlite.arg(), url.as_str()],
        vec!["convert", url.as_str(), db.to_str().unwrap(), "--json"],
        vec!["sessions", url.as_str()],
        vec!["show", url.as_str(), "no-such-session"],
        vec!["check", url.as_str()],
    ] {
        let out = run(&args);
        let all = format!("{}{}", crate::support::stdout(&out), stderr(&out));
        assert!(!all.contains(PASSWORD), "{args:?}: {all}");
    }
    // The run pages and the comparison name their source: the database
    // without its password.
    let page = empty.path().join("run.html");
    let diff_page = empty.path().join("diff.html");
    for (args, written) in [
        (
            vec![
                "show",
                url.as_str(),
                TRAVEL,
                "--html",
                page.to_str().unwrap(),
            ],
            Some(&page),
        ),
        (
            vec![
                "diff",
                url.as_str(),
                TRAVEL,
                crate::support::SMALL_TALK,
                "--html",
                diff_page.to_str().unwrap(),
            ],
            Some(&diff_page),
        ),
        (
            vec![
                "diff",
                url.as_str(),
                TRAVEL,
                crate::support::SMALL_TALK,
                "--json",
            ],
            None,
        ),
    ] {
        let out = run(&args);
        let mut all = format!("{}{}", ok(&out), stderr(&out));
        if let Some(written) = written {
            all.push_str(&std::fs::read_to_string(written).unwrap());
        }
        assert!(!all.contains(PASSWORD), "{args:?}: {all}");
    }
    let compared = json(&run(&[
        "diff",
        url.as_str(),
        TRAVEL,
        crate::support::SMALL_TALK,
        "--json",
    ]));
    let named = compared["a"]["file"].as_str().unwrap_or_default();
    assert!(named.starts_with("postgres://postgres@"), "{compared}");
    let served = ui_first_answer(&url);
    assert!(served.contains("postgres://postgres@"), "{served}");
    assert!(!served.contains(PASSWORD), "{served}");
    let help = ok(&run(&["convert", "--help"]));
    assert!(help.contains("postgres://"), "{help}");
}

/// What `ui` on `url` prints when it starts, and its sessions page.
fn ui_first_answer(url: &str) -> String {
    use std::io::{Read, Write};
    let mut child = bin()
        .args(["ui", url, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ui");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let address = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /api/sessions HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    first + &answer
}

#[test]
fn prune_on_a_database_takes_whole_sessions_and_never_prints_the_password() {
    const PASSWORD: &str = "pw-Prune-SECRET-4711";
    let protocol = travel_database("prune_cli");
    let url = protocol.arg().replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    let before = read_all(&protocol.path);
    let travel = before
        .iter()
        .filter(|e| e.session_id.as_deref() == Some(TRAVEL))
        .count();
    assert!(travel > 0);

    let dry = run(&[
        "prune",
        url.as_str(),
        "--session",
        TRAVEL,
        "--dry-run",
        "--json",
    ]);
    assert!(!format!("{}{}", ok(&dry), stderr(&dry)).contains(PASSWORD));
    let dry = json(&dry);
    assert_eq!(
        (dry["runs"].as_u64(), dry["entries"].as_u64()),
        (Some(1), Some(travel as u64))
    );
    assert_eq!(dry["dry_run"], true);
    assert!(
        dry["file"]
            .as_str()
            .unwrap()
            .starts_with("postgres://postgres@"),
        "{dry}"
    );
    assert_eq!(read_all(&protocol.path).len(), before.len());

    let pruned = run(&["prune", url.as_str(), "--session", TRAVEL]);
    let text = ok(&pruned);
    assert!(
        text.contains(&format!(
            "pruned 1 session(s) or trace(s), {travel} entries"
        )),
        "{text}"
    );
    assert!(!format!("{text}{}", stderr(&pruned)).contains(PASSWORD));
    let after = read_all(&protocol.path);
    assert_eq!(after.len(), before.len() - travel);
    assert!(after
        .iter()
        .all(|e| e.session_id.as_deref() != Some(TRAVEL)));

    // vacuum and stats --storage are SQLite's: a clear line, no URL.
    for args in [
        vec!["vacuum", url.as_str()],
        vec!["stats", url.as_str(), "--storage"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("PostgreSQL") && !err.contains(PASSWORD),
            "{err}"
        );
    }
}
