//! The PostgreSQL benchmark: entries per second into PostgreSQL through the
//! whole pipeline (`tracing` → `tracing-opentelemetry` → SDK → protocol →
//! `PostgresStorage`), from one and from four writer processes at once,
//! against the storage limit measured in the same run: the same workload's
//! rows loaded into the same table by `psql \copy` (one `COPY`, one
//! transaction, no pipeline).
//!
//! ```text
//! cargo bench --features unstable,postgres --bench postgres              # 200 000 spans, 3 rounds
//! cargo bench --features unstable,postgres --bench postgres -- --spans 400000 --rounds 5
//! ```
//!
//! It starts a PostgreSQL cluster of its own (`initdb` into a temporary
//! folder, as the `postgres` user when run as root; `fsync` on, the server's
//! defaults otherwise, `shared_buffers` 128 MB) on a free loopback port, and
//! gives each measurement a new database. The workload is the pipeline
//! bench's: agent runs of four GenAI spans (agent, model call, two tools)
//! with realistic attributes and content; eight entries per run.
//!
//! A fourth measurement runs the one writer process with the pipeline's
//! threads at normal priority (`ThreadPriority::Normal`) instead of the
//! default background priority, which on a machine where the agent and
//! the server keep both cores busy leaves the pipeline a tenth of a core.
//!
//! The measurements run in interleaved rounds (default 3), so noise
//! on a shared machine falls on all alike; it prints a table of the medians
//! with every round's figure, the ratios of the medians to the storage
//! limit and, last, one JSON object with every figure. It exits with an
//! error when any measurement lost an entry (the rows in the database are
//! counted against what was emitted).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::SdkTracerProvider;
use reagentic_protocol::pipeline::ThreadPriority;
use reagentic_protocol::unstable::Extractor;
use reagentic_protocol::{
    PostgresStorage, ProtocolConfig, ProtocolEntry, ProtocolProcessor, Storage,
};
use serde_json::{json, Value};
use workload::{agent_run, dispatch_for, CollectingProcessor};

mod workload;

#[path = "../tests/integration/support/postgres.rs"]
mod cluster;

/// Spans per workload unit: an agent run with one model call and two tools.
const SPANS_PER_UNIT: u64 = 4;
/// Protocol entries per unit: a start and an end for each span.
const ENTRIES_PER_UNIT: u64 = 8;

// ------------------------------------------------------------ storage limit

fn collected_entries(units: u64) -> Vec<ProtocolEntry> {
    let state = Arc::new(Mutex::new((
        Extractor::new(&ProtocolConfig::default()).expect("extractor"),
        Vec::new(),
    )));
    let provider = SdkTracerProvider::builder()
        .with_span_processor(CollectingProcessor {
            state: state.clone(),
        })
        .build();
    let dispatch = dispatch_for(&provider);
    tracing::dispatcher::with_default(&dispatch, || (0..units).for_each(agent_run));
    drop(dispatch);
    drop(provider);
    let entries = std::mem::take(&mut state.lock().expect("entries").1);
    entries
}

/// The fields whose PostgreSQL column is `jsonb` (see FORMAT.md).
const JSON_FIELDS: [&str; 5] = ["input", "output", "error", "attributes", "finish_reasons"];

/// Writes `entries` as CSV for `\copy … (FORMAT csv)`, returning the column list.
fn write_csv(entries: &[ProtocolEntry], path: &Path) -> String {
    let mut out = BufWriter::new(std::fs::File::create(path).expect("csv file"));
    // Every field, in the format's order: an entry's JSON leaves its empty
    // fields out, so its keys differ from one entry to the next.
    let columns: Vec<&str> = ProtocolEntry::field_names().collect();
    for entry in entries {
        let Value::Object(fields) = serde_json::to_value(entry).expect("entry as JSON") else {
            unreachable!("an entry is an object");
        };
        let mut cells = Vec::with_capacity(columns.len());
        for name in &columns {
            let cell = match fields.get(*name).unwrap_or(&Value::Null) {
                Value::Null => String::new(),
                value if JSON_FIELDS.contains(name) => quote(&value.to_string()),
                Value::String(text) => quote(text),
                other => other.to_string(),
            };
            cells.push(cell);
        }
        writeln!(out, "{}", cells.join(",")).expect("write csv");
    }
    out.flush().expect("flush csv");
    columns.join(", ")
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

fn psql(url: &str, command: &str) -> Duration {
    let started = Instant::now();
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", command])
        .output()
        .expect("run psql (PostgreSQL's client)");
    assert!(
        output.status.success(),
        "psql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    started.elapsed()
}

fn rows(url: &str) -> u64 {
    let mut client = cluster::connect(url);
    let n: i64 = client
        .query_one("SELECT count(*) FROM protocol_entries", &[])
        .expect("count")
        .get(0);
    n as u64
}

/// A database with the protocol's schema and today's partitions, empty.
fn prepared_database(cluster: &cluster::Cluster, name: &str) -> String {
    static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let url = cluster.database(&format!("{name}_{n}"));
    let mut storage = PostgresStorage::connect(&url).expect("schema");
    let mut probe = collected_entries(1);
    probe.truncate(1);
    storage.write_batch(&probe).expect("partitions for today");
    storage.close().expect("close");
    let mut client = cluster::connect(&url);
    client
        .batch_execute("TRUNCATE protocol_entries")
        .expect("empty it again");
    client
        .batch_execute("VACUUM ANALYZE protocol_entries")
        .expect("vacuum");
    url
}

fn storage_limit(cluster: &cluster::Cluster, units: u64, dir: &Path) -> Value {
    let entries = collected_entries(units);
    let csv = dir.join("rows.csv");
    let columns = write_csv(&entries, &csv);
    let url = prepared_database(cluster, "storage_limit");
    let elapsed = psql(
        &url,
        &format!(
            "\\copy protocol_entries ({columns}) FROM '{}' WITH (FORMAT csv)",
            csv.display()
        ),
    );
    let written = rows(&url);
    // What the rows take on disk: every partition with its indexes.
    let bytes: i64 = cluster::connect(&url)
        .query_one(
            "SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0)::bigint FROM pg_inherits \
             WHERE inhparent = 'protocol_entries'::regclass",
            &[],
        )
        .expect("size")
        .get(0);
    json!({
        "entries": written,
        "seconds": elapsed.as_secs_f64(),
        "entries_per_s": written as f64 / elapsed.as_secs_f64(),
        "lost": (units * ENTRIES_PER_UNIT).saturating_sub(written),
        "bytes_per_entry": bytes as f64 / written.max(1) as f64,
    })
}

// --------------------------------------------------------------- ours

/// A writer process: connects, says "ready", waits for "go", records
/// `units` agent runs through the pipeline, flushes, reports.
fn child_writer(url: &str, units: u64, priority: ThreadPriority) {
    let storage = PostgresStorage::connect(url).expect("connect");
    let processor = ProtocolProcessor::builder(storage)
        .with_thread_priority(priority)
        .build()
        .expect("processor");
    let handle = processor.handle();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let dispatch = dispatch_for(&provider);
    println!("ready");
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).expect("go");
    let started = Instant::now();
    tracing::dispatcher::with_default(&dispatch, || (0..units).for_each(agent_run));
    handle.force_flush().expect("flush");
    let elapsed = started.elapsed();
    let stats = handle.stats();
    let _ = provider.shutdown();
    println!(
        "{}",
        json!({"seconds": elapsed.as_secs_f64(), "dropped": stats.dropped_queue_full,
               "written": stats.entries_written})
    );
}

fn ours(cluster: &cluster::Cluster, units: u64, processes: u64, normal_priority: bool) -> Value {
    let url = prepared_database(cluster, &format!("ours_{processes}"));
    let priority = if normal_priority {
        "normal"
    } else {
        "background"
    };
    let exe = std::env::current_exe().expect("own path");
    let per_process = units / processes;
    let mut children: Vec<_> = (0..processes)
        .map(|_| {
            Command::new(&exe)
                .args(["--child-writer", &url, &per_process.to_string(), priority])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start a writer process")
        })
        .collect();
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|child| BufReader::new(child.stdout.take().expect("stdout")).lines())
        .collect();
    for lines in &mut outputs {
        let ready = lines.next().expect("ready").expect("read");
        assert_eq!(ready, "ready");
    }
    let started = Instant::now();
    for child in &mut children {
        writeln!(child.stdin.as_mut().expect("stdin"), "go").expect("go");
    }
    let mut dropped = 0;
    for lines in &mut outputs {
        let report: Value =
            serde_json::from_str(&lines.next().expect("report").expect("read")).expect("json");
        dropped += report["dropped"].as_u64().unwrap_or(0);
    }
    let elapsed = started.elapsed();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let expected = per_process * processes * ENTRIES_PER_UNIT;
    let written = rows(&url);
    json!({
        "processes": processes,
        "entries": written,
        "seconds": elapsed.as_secs_f64(),
        "entries_per_s": written as f64 / elapsed.as_secs_f64(),
        "dropped_counted": dropped,
        "lost": expected.saturating_sub(written),
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child-writer") {
        let priority = match args.get(i + 3).map(String::as_str) {
            Some("normal") => ThreadPriority::Normal,
            _ => ThreadPriority::Background,
        };
        return child_writer(&args[i + 1], args[i + 2].parse().expect("units"), priority);
    }
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let spans: u64 = flag("--spans")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let units = (spans / SPANS_PER_UNIT / 4).max(1) * 4;
    let rounds: usize = flag("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = cluster::Cluster::start(cluster::ClusterOptions::durable())
        .unwrap_or_else(|reason| panic!("no PostgreSQL cluster: {reason}"));
    let started = Instant::now();
    // Rounds of the three, interleaved, so a spell of noise on the shared
    // machine falls on all three alike; the medians are compared.
    let (mut limits, mut ones, mut fours) = (Vec::new(), Vec::new(), Vec::new());
    let mut ones_normal = Vec::new();
    for _ in 0..rounds {
        limits.push(storage_limit(&cluster, units, dir.path()));
        ones.push(ours(&cluster, units, 1, false));
        fours.push(ours(&cluster, units, 4, false));
        ones_normal.push(ours(&cluster, units, 1, true));
    }
    let rate = |v: &Value| v["entries_per_s"].as_f64().unwrap_or(f64::NAN);
    let median = |runs: &[Value]| -> Value {
        let mut sorted: Vec<&Value> = runs.iter().collect();
        sorted.sort_by(|a, b| rate(a).total_cmp(&rate(b)));
        sorted[sorted.len() / 2].clone()
    };
    let rates = |runs: &[Value]| -> Vec<u64> { runs.iter().map(|v| rate(v) as u64).collect() };
    let (limit, one, four) = (median(&limits), median(&ones), median(&fours));
    let one_normal = median(&ones_normal);
    println!(
        "PostgreSQL, {} spans ({} entries) per measurement, {rounds} rounds, {:.0} s in all",
        units * SPANS_PER_UNIT,
        units * ENTRIES_PER_UNIT,
        started.elapsed().as_secs_f64()
    );
    println!("| scenario | entries/s (median) | each round | lost | × storage limit |");
    println!("|---|---:|---|---:|---:|");
    println!(
        "| storage limit: `psql \\copy` of the same rows, one transaction | {:.0} | {:?} | {} | 1.00 |",
        rate(&limit),
        rates(&limits),
        limit["lost"]
    );
    for (name, result, runs) in [
        ("ours, 1 writer process", &one, &ones),
        ("ours, 4 writer processes", &four, &fours),
        (
            "ours, 1 writer process, pipeline threads at normal priority",
            &one_normal,
            &ones_normal,
        ),
    ] {
        let lost: u64 = runs.iter().map(|r| r["lost"].as_u64().unwrap_or(0)).sum();
        let dropped: u64 = runs
            .iter()
            .map(|r| r["dropped_counted"].as_u64().unwrap_or(0))
            .sum();
        println!(
            "| {name} | {:.0} | {:?} | {lost} (counted drops {dropped}) | {:.2} |",
            rate(result),
            rates(runs),
            rate(result) / rate(&limit)
        );
    }
    println!(
        "{}",
        json!({
            "spans": units * SPANS_PER_UNIT,
            "rounds": rounds,
            "storage_limit": limit,
            "ours_1_process": one,
            "ours_4_processes": four,
            "ours_1_process_normal_priority": one_normal,
            "ours_1_process_normal_priority_rounds": rates(&ones_normal),
            "ratio_1_normal_priority": rate(&one_normal) / rate(&limit),
            "storage_limit_rounds": rates(&limits),
            "ours_1_process_rounds": rates(&ones),
            "ours_4_processes_rounds": rates(&fours),
            "ratio_1": rate(&one) / rate(&limit),
            "ratio_4": rate(&four) / rate(&limit),
        })
    );
    // Zero loss is part of the result, not a remark: a run that lost an
    // entry (or dropped one, counted) fails, whatever its speed.
    let lost: u64 = [&limits, &ones, &fours, &ones_normal]
        .into_iter()
        .flatten()
        .map(|r| r["lost"].as_u64().unwrap_or(u64::MAX))
        .fold(0, u64::saturating_add);
    if lost > 0 {
        eprintln!("FAILED: {lost} entries missing from the database");
        std::process::exit(1);
    }
}
