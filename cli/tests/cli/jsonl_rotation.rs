//! A rotating JSON Lines protocol end to end: `serve --rotate` writes a set
//! of files from a real OTLP exporter, every reading command reads the set
//! as one protocol, and `prune` removes whole rotated files by age.

use std::path::{Path, PathBuf};

use opentelemetry::trace::{Span, Tracer, TracerProvider};
use opentelemetry::KeyValue;

use crate::serve_support::Serve;
use crate::support::{json, ok, read_all, run_on, stderr};

const RUNS: usize = 40;

/// The rotated files beside `file`, by name (their names sort by time).
fn rotated(file: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("protocol.2") && name.ends_with(".jsonl")
        })
        .collect();
    files.sort();
    files
}

fn session_ids(file: &Path) -> Vec<String> {
    let list = json(&run_on("sessions", file, &["--json", "--limit", "1000"]));
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

#[test]
fn serve_rotates_commands_read_the_set_and_prune_removes_old_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocol.jsonl");
    let mut server = Serve::start(&file, &["--rotate", "4KiB"]);
    let provider = server.http_provider("svc-rotation");
    let tracer = provider.tracer("rotation-test");
    for run in 0..RUNS {
        let mut span = tracer
            .span_builder("invoke_agent planner")
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                KeyValue::new("gen_ai.agent.name", "planner"),
                KeyValue::new("gen_ai.conversation.id", format!("conv-{run:02}")),
                KeyValue::new("gen_ai.input.messages", "plan a trip ".repeat(20)),
            ])
            .start(&tracer);
        span.end();
    }
    provider.shutdown().unwrap();
    let (status, _) = server.signal_and_wait("TERM");
    assert!(status.success(), "{status}");

    // Each run's two entries take over 400 bytes: many 4 KiB files.
    let files = rotated(&file);
    assert!(files.len() >= 4, "{files:?}");
    for rotated_file in &files {
        assert!(std::fs::metadata(rotated_file).unwrap().len() <= 4096);
    }
    let expected: Vec<String> = (0..RUNS).map(|run| format!("conv-{run:02}")).collect();
    assert_eq!(read_all(&file).len(), 2 * RUNS);
    assert_eq!(session_ids(&file), expected);
    let check = json(&run_on("check", &file, &["--json"]));
    assert_eq!(check["entries"], 2 * RUNS);
    assert_eq!(check["clean"], true, "{check}");
    let storage = json(&run_on("stats", &file, &["--storage", "--json"]));
    assert_eq!(storage["entries"], 2 * RUNS);
    assert_eq!(storage["rotated_files"], files.len());
    let listed: Vec<&str> = storage["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    let mut expected_files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    expected_files.push(file.display().to_string());
    assert_eq!(
        listed, expected_files,
        "oldest first, the file being written last"
    );
    let total: u64 = expected_files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert_eq!(storage["file_bytes"], total);
    let converted = dir.path().join("all.db");
    ok(&crate::support::run(&[
        "convert",
        file.to_str().unwrap(),
        converted.to_str().unwrap(),
    ]));
    assert_eq!(read_all(&converted).len(), 2 * RUNS);

    // The two oldest files are made to look 40 days old (renamed as the
    // writer would have named them then).
    let old_day = (chrono::Utc::now() - chrono::TimeDelta::days(40)).format("%Y-%m-%d");
    let mut old_runs = Vec::new();
    for (n, rotated_file) in files.iter().take(2).enumerate() {
        for entry in read_all(rotated_file) {
            old_runs.push(entry.session_id.unwrap());
        }
        let aged = dir
            .path()
            .join(format!("protocol.{old_day}T10-00-00.00{n}Z.jsonl"));
        std::fs::rename(rotated_file, aged).unwrap();
    }
    old_runs.sort();
    old_runs.dedup();
    let dry = json(&run_on(
        "prune",
        &file,
        &["--older-than", "30d", "--dry-run", "--json"],
    ));
    assert_eq!(
        (dry["files"].as_u64(), dry["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(dry["runs"].as_u64(), Some(old_runs.len() as u64), "{dry}");
    assert_eq!(
        rotated(&file).len(),
        files.len(),
        "a dry run removes nothing"
    );
    let text = ok(&run_on("prune", &file, &["--older-than", "30d"]));
    assert!(text.starts_with("removed 2 rotated file(s)"), "{text}");
    assert_eq!(rotated(&file).len(), files.len() - 2);
    let left = session_ids(&file);
    assert!(
        old_runs.iter().all(|run| !left.contains(run)),
        "{old_runs:?} {left:?}"
    );
    assert_eq!(left.len(), RUNS - old_runs.len());

    // Rules that need a database are refused, naming the form.
    let refused = run_on("prune", &file, &["--keep-last", "3"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("JSON Lines"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn rotation_on_a_sqlite_file_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("protocol.db");
    let output = crate::support::run(&[
        "serve",
        file.to_str().unwrap(),
        "--rotate",
        "daily",
        "--listen",
        "127.0.0.1:0",
        "--grpc-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("rotation applies to JSON Lines"),
        "{}",
        stderr(&output)
    );
    assert!(!file.exists());
    let bad = crate::support::run(&["serve", "p.jsonl", "--rotate", "weekly"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("expected daily"), "{}", stderr(&bad));
}
