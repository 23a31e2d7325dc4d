//! The pipeline benchmark: ours against the span-consumer ceiling, a peer a
//! user would write, a naive hand-off of starting spans, the original Python design (a commit per entry)
//! and the SQLite and JSONL storage limits — one workload, one run,
//! each scenario in its own child process so peak memory is its own.
//!
//! ```text
//! cargo bench --bench pipeline                        # about 3 min here, much of
//!                                                     # it the fixed 1M-span parts
//! cargo bench --bench pipeline -- --spans 400000      # bigger
//! cargo bench --bench pipeline -- --scenario ours_sqlite --spans 100000  # one
//! cargo bench --bench pipeline -- --rounds 5          # more rounds of the targets
//! ```
//!
//! The scenarios behind the three target ratios run `--rounds` times (3 by
//! default), interleaved, so each ratio pairs figures taken minutes apart at
//! most; the table shows each field's median over the rounds, and each
//! target ratio is printed with its value in every round. On this shared
//! 2-core machine one run of a scenario can be a third off the next.
//!
//! Four scenarios run only by name, as evidence for the pipeline's design:
//! `storage_limit_without_checkpoints` (what SQLite's automatic checkpoint
//! costs a writer), `naive_handoff_polling` (the naive hand-off with a
//! thread that empties the queue every 5 ms instead of waking per span),
//! `lookups_under_load` (trace look-ups while our SQLite storage writes
//! without a pause, merging its index runs as it goes; `--spans 2400000`
//! reaches its first long merge) and `ours_discarding` /
//! `ours_discarding_tool_burst` (our pipeline into a storage that keeps
//! nothing: extraction's CPU per entry without a writer competing for the
//! cores).
//!
//! It prints a table with the ratios and, as its last line, one JSON object
//! with every figure, to compare across commits.
//!
//! `REAGENTIC_BENCH_ALLOCATOR=mimalloc cargo bench --bench pipeline` runs every
//! scenario under mimalloc instead of the system's `malloc` (`allocator/`).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchSpanProcessor, SdkTracerProvider, Span, SpanData, SpanExporter, SpanProcessor,
};
#[global_allocator]
static ALLOCATOR: allocator::BenchAllocator = allocator::BenchAllocator;

use reagentic_protocol::pipeline::ProtocolStats;
use reagentic_protocol::unstable::{insert_rows, Extractor};
use reagentic_protocol::{
    JsonlStorage, ProtocolConfig, ProtocolEntry, ProtocolHandle, ProtocolProcessor, SqliteStorage,
    Storage,
};
use serde_json::{json, Value};
use tracing::field::Empty;
use tracing::Dispatch;
use workload::{agent_run, dispatch_for, CollectingProcessor, INPUT_MESSAGES, OUTPUT_MESSAGES};

mod allocator;
mod workload;

/// Spans per unit of the realistic workload: an agent run with one model
/// call and two tools.
const SPANS_PER_UNIT: u64 = 4;
/// Protocol entries per unit of the realistic workload: a start and an end
/// for each span.
const ENTRIES_PER_UNIT: u64 = 8;

/// What a scenario's producer makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Workload {
    /// Agent runs of four spans ([`agent_run`]): the realistic workload.
    AgentRuns,
    /// One tool span per trace, random ids ([`tool_call`]): what a busy
    /// receiver sees from many short requests, the hardest case for indexes
    /// keyed by trace.
    ToolCalls,
}

impl Workload {
    /// Scenarios named `…tool_burst` run [`Workload::ToolCalls`].
    fn of_scenario(name: &str) -> Self {
        if name.contains("tool_burst") {
            Workload::ToolCalls
        } else {
            Workload::AgentRuns
        }
    }

    fn spans_per_unit(self) -> u64 {
        match self {
            Workload::AgentRuns => SPANS_PER_UNIT,
            Workload::ToolCalls => 1,
        }
    }

    fn entries_per_unit(self) -> u64 {
        2 * self.spans_per_unit()
    }

    fn unit(self, i: u64) {
        match self {
            Workload::AgentRuns => agent_run(i),
            Workload::ToolCalls => tool_call(i),
        }
    }
}

// ---------------------------------------------------------------- workload

/// One tool call as its own trace: a GenAI `execute_tool` span with
/// arguments and a result, in one of a thousand conversations.
fn tool_call(i: u64) {
    let session = format!("sess-{}", i % 1_000);
    let span = tracing::info_span!(
        "execute_tool",
        otel.name = "execute_tool get_weather",
        gen_ai.operation.name = "execute_tool",
        gen_ai.conversation.id = session.as_str(),
        gen_ai.tool.name = "get_weather",
        gen_ai.tool.call.id = "call_1",
        gen_ai.tool.call.arguments = r#"{"city":"Lisbon","date":"2026-12-04"}"#,
        gen_ai.tool.call.result = Empty,
    );
    let _t = span.enter();
    span.record(
        "gen_ai.tool.call.result",
        "18°C, sunny, light wind from the north-west",
    );
}

/// Produces `units` agent runs on `threads` threads; returns the summed time
/// the producing threads spent inside the span calls.
fn produce(dispatch: &Dispatch, workload: Workload, units: u64, threads: u64) -> Duration {
    let per_thread = units / threads;
    let busy = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let dispatch = dispatch.clone();
            let busy = &busy;
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let started = Instant::now();
                    for i in 0..per_thread {
                        workload.unit(t * per_thread + i);
                    }
                    busy.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                });
            });
        }
    });
    Duration::from_nanos(busy.load(Ordering::Relaxed))
}

/// Time on the application thread per span, with no queue ever full: rounds
/// small enough to fit, flushed (untimed) in between. The median round, so a
/// moment of host noise does not decide the figure.
fn app_time_per_span(dispatch: &Dispatch, flush: &dyn Fn()) -> AppTime {
    const ROUNDS: u64 = 101;
    const UNITS_PER_ROUND: u64 = 250;
    let per_span =
        |total: Duration| total.as_nanos() as f64 / (UNITS_PER_ROUND * SPANS_PER_UNIT) as f64;
    let mut wall = Vec::new();
    let mut cpu = Vec::new();
    tracing::dispatcher::with_default(dispatch, || {
        for round in 0..ROUNDS {
            let (started, cpu_started) = (Instant::now(), thread_cpu_time());
            for i in 0..UNITS_PER_ROUND {
                agent_run(round * UNITS_PER_ROUND + i);
            }
            wall.push(per_span(started.elapsed()));
            cpu.push(per_span(thread_cpu_time().saturating_sub(cpu_started)));
            flush();
        }
    });
    AppTime {
        wall_ns: median(&mut wall),
        cpu_ns: median(&mut cpu),
    }
}

/// What the application thread spends per span: wall time (what the agent
/// feels, including time the scheduler gave its core to other threads) and
/// its own CPU time (what the span calls themselves cost it).
#[derive(Clone, Copy)]
struct AppTime {
    wall_ns: f64,
    cpu_ns: f64,
}

impl AppTime {
    fn json(self) -> Value {
        json!({"app_ns_per_span": self.wall_ns, "app_cpu_ns_per_span": self.cpu_ns})
    }
}

/// CPU time of the calling thread so far: the crate's own clock, the one
/// its pipeline threads report (zero where the platform does not say).
fn thread_cpu_time() -> Duration {
    reagentic_protocol::unstable::thread_cpu_time().unwrap_or_default()
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn sqlite_rows(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).expect("open for counting");
    conn.query_row("SELECT count(*) FROM protocol_entries", [], |r| {
        r.get::<_, i64>(0)
    })
    .expect("count") as u64
}

/// Counts lines by streaming: reading the whole file would put its size into
/// the peak memory this benchmark reports.
fn jsonl_lines(path: &Path) -> u64 {
    use std::io::Read;
    let Ok(mut file) = File::open(path) else {
        return 0;
    };
    let mut buffer = vec![0_u8; 64 * 1024];
    let mut lines = 0;
    while let Ok(n) = file.read(&mut buffer) {
        if n == 0 {
            break;
        }
        lines += buffer[..n].iter().filter(|&&b| b == b'\n').count() as u64;
    }
    lines
}

fn percentile(sorted_us: &[f64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    sorted_us[rank.min(sorted_us.len() - 1)]
}

// ------------------------------------------------------- peers and ceilings

/// Exports nothing: the ceiling of any span consumer.
#[derive(Debug, Default)]
struct NoopExporter {
    exported: Arc<AtomicU64>,
}

impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// What a user would write instead: serialize each span, append a line.
#[derive(Debug)]
struct JsonLinesExporter {
    out: Mutex<BufWriter<File>>,
    exported: Arc<AtomicU64>,
}

impl SpanExporter for JsonLinesExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let Ok(mut out) = self.out.lock() else {
            return Ok(());
        };
        for span in &batch {
            let attributes: serde_json::Map<String, Value> = span
                .attributes
                .iter()
                .map(|kv| (kv.key.to_string(), Value::String(kv.value.to_string())))
                .collect();
            let line = json!({
                "trace_id": span.span_context.trace_id().to_string(),
                "span_id": span.span_context.span_id().to_string(),
                "parent_span_id": span.parent_span_id.to_string(),
                "name": span.name,
                "start": chrono::DateTime::<chrono::Utc>::from(span.start_time).to_rfc3339(),
                "end": chrono::DateTime::<chrono::Utc>::from(span.end_time).to_rfc3339(),
                "attributes": attributes,
            });
            let _ = serde_json::to_writer(&mut *out, &line);
            let _ = out.write_all(b"\n");
        }
        self.exported
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        if let Ok(mut out) = self.out.lock() {
            let _ = out.flush();
        }
        Ok(())
    }
}

/// The original Python design: extract on the application thread, then one INSERT and
/// one COMMIT per entry, on a connection with the journal settings it
/// ran with.
#[derive(Debug)]
struct PerEntryCommitProcessor {
    state: Mutex<(Extractor, rusqlite::Connection, Vec<ProtocolEntry>)>,
}

/// The SQLite settings a per-entry-commit run uses.
#[derive(Clone, Copy)]
enum CommitJournal {
    /// What the Python design ran with: Python's `sqlite3.connect` leaves
    /// SQLite's defaults, a rollback journal with `synchronous=FULL`, so
    /// every COMMIT waits for the disk.
    AsShipped,
    /// That design on this crate's settings (WAL, `synchronous=NORMAL`):
    /// what is left of its cost once commits no longer wait for the disk.
    Wal,
}

impl PerEntryCommitProcessor {
    fn open(path: &Path, journal: CommitJournal) -> Self {
        // The schema (table and indexes) is the crate's own.
        SqliteStorage::open(path)
            .expect("schema")
            .close()
            .expect("close");
        let conn = rusqlite::Connection::open(path).expect("connection");
        let pragmas = match journal {
            CommitJournal::AsShipped => "PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL;",
            CommitJournal::Wal => "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        };
        conn.execute_batch(pragmas).expect("pragmas");
        Self {
            state: Mutex::new((
                Extractor::new(&ProtocolConfig::default()).expect("extractor"),
                conn,
                Vec::new(),
            )),
        }
    }

    fn write(&self, span: &SpanData, start: bool) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        let (extractor, conn, entries) = &mut *state;
        if start {
            extractor.on_start(span, entries);
        } else {
            extractor.on_end(span, entries);
        }
        for entry in entries.drain(..) {
            let tx = conn.transaction().expect("begin");
            insert_rows(&tx, std::slice::from_ref(&entry)).expect("insert");
            tx.commit().expect("commit");
        }
    }
}

impl SpanProcessor for PerEntryCommitProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        if let Some(data) = span.exported_data() {
            self.write(&data, true);
        }
    }
    fn on_end(&self, span: SpanData) {
        self.write(&span, false);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

/// The straightforward way to record a span's start when it starts, with
/// none of this crate's code: copy the span's data at start
/// (`Span::exported_data`, the SDK's only way to read a starting span's
/// attributes) and hand the copy and the ended span to a thread that takes
/// each one as it arrives and drops it. What it costs the application's
/// thread beyond the limit is the price of that thread running in lock-step
/// with it (see `src/pipeline/doorbell.rs`), which ours avoids.
#[derive(Debug)]
struct NaiveHandoff {
    sender: crossbeam_channel::Sender<SpanData>,
}

impl NaiveHandoff {
    /// `poll`: `None` takes each span as it arrives; `Some(every)` sleeps
    /// that long between emptying the queue, which is what ours does (see
    /// `--scenario naive_handoff_polling`).
    fn start(poll: Option<Duration>) -> Self {
        let (sender, receiver) = crossbeam_channel::bounded::<SpanData>(16_384);
        std::thread::spawn(move || match poll {
            None => while receiver.recv().is_ok() {},
            Some(every) => loop {
                std::thread::sleep(every);
                loop {
                    match receiver.try_recv() {
                        Ok(_) => {}
                        Err(crossbeam_channel::TryRecvError::Empty) => break,
                        Err(crossbeam_channel::TryRecvError::Disconnected) => return,
                    }
                }
            },
        });
        Self { sender }
    }
}

impl SpanProcessor for NaiveHandoff {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        if let Some(data) = span.exported_data() {
            let _ = self.sender.send(data);
        }
    }
    fn on_end(&self, span: SpanData) {
        let _ = self.sender.send(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        while !self.sender.is_empty() {
            std::thread::yield_now();
        }
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

// ---------------------------------------------------------------- scenarios

struct Run {
    spans: u64,
    units: u64,
    workload: Workload,
    dir: PathBuf,
}

fn result(
    run: &Run,
    elapsed: Duration,
    written: u64,
    lost: u64,
    app: Option<AppTime>,
    extra: Value,
) -> Value {
    let secs = elapsed.as_secs_f64();
    let mut value = json!({
        "spans": run.spans,
        "seconds": secs,
        "spans_per_s": run.spans as f64 / secs,
        "entries_written": written,
        "entries_per_s": written as f64 / secs,
        "lost": lost,
        "peak_rss_mb": peak_rss_mb(),
    });
    if let (Value::Object(map), Some(Value::Object(app))) = (&mut value, app.map(AppTime::json)) {
        map.extend(app);
    }
    if let (Value::Object(map), Value::Object(more)) = (&mut value, extra) {
        map.extend(more);
    }
    value
}

/// Application-thread time on `provider`, then the whole workload through it
/// until its `force_flush` returns; `reset` runs between the two (to zero a
/// count). Shuts the provider down.
fn time_provider(run: &Run, provider: &SdkTracerProvider, reset: &dyn Fn()) -> (AppTime, Duration) {
    let dispatch = dispatch_for(provider);
    let app = app_time_per_span(&dispatch, &|| drop(provider.force_flush()));
    reset();
    let started = Instant::now();
    produce(&dispatch, run.workload, run.units, 1);
    let _ = provider.force_flush();
    let elapsed = started.elapsed();
    let _ = provider.shutdown();
    (app, elapsed)
}

fn scenario_limit(run: &Run) -> Value {
    let exported = Arc::new(AtomicU64::new(0));
    let exporter = NoopExporter {
        exported: exported.clone(),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .build();
    let (app, elapsed) = time_provider(run, &provider, &|| exported.store(0, Ordering::Relaxed));
    let got = exported.load(Ordering::Relaxed);
    result(
        run,
        elapsed,
        0,
        0,
        Some(app),
        json!({"spans_exported": got, "spans_dropped": run.spans.saturating_sub(got)}),
    )
}

/// Application-thread time of [`NaiveHandoff`].
fn scenario_naive_handoff(run: &Run, poll: Option<Duration>) -> Value {
    let provider = SdkTracerProvider::builder()
        .with_span_processor(NaiveHandoff::start(poll))
        .build();
    let (app, elapsed) = time_provider(run, &provider, &|| {});
    result(run, elapsed, 0, 0, Some(app), json!({}))
}

fn scenario_peer(run: &Run) -> Value {
    let path = run.dir.join("peer.jsonl");
    let exported = Arc::new(AtomicU64::new(0));
    let exporter = JsonLinesExporter {
        out: Mutex::new(BufWriter::new(File::create(&path).expect("peer file"))),
        exported: exported.clone(),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter).build())
        .build();
    let (app, elapsed) = time_provider(run, &provider, &|| exported.store(0, Ordering::Relaxed));
    let got = exported.load(Ordering::Relaxed);
    // Each span written is the peer's equivalent of our two entries.
    let lost_spans = run.spans.saturating_sub(got);
    result(
        run,
        elapsed,
        got * 2,
        lost_spans * 2,
        Some(app),
        json!({"spans_exported": got, "spans_dropped": lost_spans}),
    )
}

fn scenario_per_entry_commit(run: &Run, journal: CommitJournal) -> Value {
    let path = run.dir.join("per_entry_commit.db");
    let processor = PerEntryCommitProcessor::open(&path, journal);
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    let dispatch = dispatch_for(&provider);
    // A commit per entry is slow: a slice of the workload is plenty to measure
    // it (a disk wait per entry as shipped, a transaction per entry on WAL).
    let units = match journal {
        CommitJournal::AsShipped => (run.units / 200).max(50),
        CommitJournal::Wal => (run.units / 10).max(100),
    };
    let started = Instant::now();
    produce(&dispatch, run.workload, units, 1);
    let elapsed = started.elapsed();
    let written = sqlite_rows(&path);
    let _ = provider.shutdown();
    let scaled = Run {
        spans: units * run.workload.spans_per_unit(),
        units,
        workload: run.workload,
        dir: run.dir.clone(),
    };
    // Every insert and commit happens inside the span calls.
    let per_span = elapsed.as_nanos() as f64 / scaled.spans as f64;
    let app = AppTime {
        wall_ns: per_span,
        cpu_ns: f64::NAN,
    };
    result(
        &scaled,
        elapsed,
        written,
        (units * run.workload.entries_per_unit()).saturating_sub(written),
        Some(app),
        json!({}),
    )
}

/// `checkpoints: false` turns SQLite's automatic checkpoint off, to show what
/// it costs (`--scenario storage_limit_without_checkpoints`).
fn scenario_storage_limit(run: &Run, checkpoints: bool) -> Value {
    let entries = collected_entries(run);
    let path = run.dir.join("storage-limit.db");
    SqliteStorage::open(&path)
        .expect("schema")
        .close()
        .expect("close");
    let mut conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .expect("pragmas");
    if !checkpoints {
        conn.execute_batch("PRAGMA wal_autocheckpoint=0;")
            .expect("pragma");
    }
    let started = Instant::now();
    for chunk in entries.chunks(4_096) {
        let tx = conn.transaction().expect("begin");
        insert_rows(&tx, chunk).expect("insert");
        tx.commit().expect("commit");
    }
    storage_limit_result(run, started.elapsed(), sqlite_rows(&path))
}

/// The append-only limit: the same rows, in 4 096-row transactions, into a
/// file with the crate's schema but no trace runs — every index it has is
/// keyed by time (or by a session's next entry), none by a random id — and
/// SQLite's own checkpoints. What SQLite can take for these rows on this disk.
fn scenario_append_only_limit(run: &Run) -> Value {
    let entries = collected_entries(run);
    let path = run.dir.join("append-only.db");
    SqliteStorage::open(&path)
        .expect("schema")
        .close()
        .expect("close");
    let mut conn = rusqlite::Connection::open(&path).expect("raw connection");
    conn.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        .expect("pragmas");
    let started = Instant::now();
    for chunk in entries.chunks(4_096) {
        let tx = conn.transaction().expect("begin");
        insert_rows(&tx, chunk).expect("insert");
        tx.commit().expect("commit");
    }
    storage_limit_result(run, started.elapsed(), sqlite_rows(&path))
}

/// The crate's SQLite storage alone: the same rows through
/// `SqliteStorage::write_batch` in 4 096-entry batches (trace runs, their
/// merging and the checkpoint thread included), no spans involved.
fn scenario_sqlite_storage(run: &Run) -> Value {
    let entries = collected_entries(run);
    let path = run.dir.join("storage.db");
    let mut storage = SqliteStorage::open(&path).expect("storage");
    let started = Instant::now();
    for chunk in entries.chunks(4_096) {
        storage.write_batch(chunk).expect("write");
        // All of the merging this batch asks for, as the writer would do it
        // while idle: the limit includes the work, not only the appends.
        while storage.maintain().expect("maintain") {}
    }
    storage.close().expect("close");
    storage_limit_result(run, started.elapsed(), sqlite_rows(&path))
}

/// A storage limit's figures: rows written in `elapsed`, no spans involved.
fn storage_limit_result(run: &Run, elapsed: Duration, written: u64) -> Value {
    let expected = run.units * run.workload.entries_per_unit();
    result(
        run,
        elapsed,
        written,
        expected.saturating_sub(written),
        None,
        json!({}),
    )
}

/// The entries the workload produces, extracted on this thread into memory.
fn collected_entries(run: &Run) -> Vec<ProtocolEntry> {
    let state = Arc::new(Mutex::new((
        Extractor::new(&ProtocolConfig::default()).expect("extractor"),
        Vec::new(),
    )));
    let collector = CollectingProcessor {
        state: state.clone(),
    };
    let provider = SdkTracerProvider::builder()
        .with_span_processor(collector)
        .build();
    let dispatch = dispatch_for(&provider);
    produce(&dispatch, run.workload, run.units, 1);
    drop(dispatch);
    drop(provider);
    let entries = std::mem::take(&mut state.lock().expect("collected entries").1);
    entries
}

/// The JSON Lines ceiling: the same entries serialized and appended by the
/// crate's own JSONL storage in batches, no spans involved.
fn scenario_jsonl_storage_limit(run: &Run) -> Value {
    let entries = collected_entries(run);
    let path = run.dir.join("storage-limit.jsonl");
    let mut storage = JsonlStorage::open(&path).expect("jsonl");
    let started = Instant::now();
    for chunk in entries.chunks(4_096) {
        storage.write_batch(chunk).expect("write");
    }
    storage.close().expect("close");
    storage_limit_result(run, started.elapsed(), jsonl_lines(&path))
}

enum OursStorage {
    Sqlite,
    Jsonl,
    /// Keeps nothing, counts what it is given: the pipeline's own threads
    /// without a storage's cost, so extraction's CPU per entry is measured
    /// with the writer all but idle.
    Discarding(Arc<AtomicU64>),
}

/// A storage that counts the entries it is given and keeps none.
#[derive(Debug, Default)]
struct DiscardingStorage {
    written: Arc<AtomicU64>,
}

impl Storage for DiscardingStorage {
    fn write_batch(&mut self, entries: &[ProtocolEntry]) -> reagentic_protocol::Result<()> {
        self.written
            .fetch_add(entries.len() as u64, Ordering::Relaxed);
        Ok(())
    }
    fn record_dropped(&mut self, _total_dropped: u64) -> reagentic_protocol::Result<()> {
        Ok(())
    }
    fn close(&mut self) -> reagentic_protocol::Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "nowhere".to_owned()
    }
}

fn ours_pipeline(
    run: &Run,
    storage: &OursStorage,
    tag: &str,
) -> (SdkTracerProvider, ProtocolHandle, PathBuf) {
    let (builder, path) = match storage {
        OursStorage::Sqlite => {
            let path = run.dir.join(format!("ours-{tag}.db"));
            (
                ProtocolProcessor::builder(SqliteStorage::open(&path).expect("db")),
                path,
            )
        }
        OursStorage::Jsonl => {
            let path = run.dir.join(format!("ours-{tag}.jsonl"));
            (
                ProtocolProcessor::builder(JsonlStorage::open(&path).expect("jsonl")),
                path,
            )
        }
        OursStorage::Discarding(written) => {
            // Counts from here: a pipeline before this one (the application
            // thread's own run) has shut down.
            written.store(0, Ordering::Relaxed);
            let storage = DiscardingStorage {
                written: written.clone(),
            };
            (
                ProtocolProcessor::builder(storage),
                run.dir.join(format!("ours-{tag}.nowhere")),
            )
        }
    };
    let processor = builder.build().expect("processor");
    let handle = processor.handle();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .build();
    (provider, handle, path)
}

fn count(storage: &OursStorage, path: &Path) -> u64 {
    match storage {
        OursStorage::Sqlite => sqlite_rows(path),
        OursStorage::Jsonl => jsonl_lines(path),
        OursStorage::Discarding(written) => written.load(Ordering::Relaxed),
    }
}

fn scenario_ours(run: &Run, storage: OursStorage, threads: u64, flush_latencies: bool) -> Value {
    // Time on the application thread, measured on a pipeline of its own so
    // its entries don't count below.
    let app = {
        let (provider, handle, _) = ours_pipeline(run, &storage, "app");
        let dispatch = dispatch_for(&provider);
        let ns = app_time_per_span(&dispatch, &|| drop(handle.force_flush()));
        let _ = provider.shutdown();
        ns
    };

    let (provider, handle, path) = ours_pipeline(run, &storage, "run");
    let dispatch = dispatch_for(&provider);
    let units = run.units / threads * threads;
    let started = Instant::now();
    produce(&dispatch, run.workload, units, threads);
    handle.force_flush().expect("flush");
    let elapsed = started.elapsed();
    let written = count(&storage, &path);
    let expected = units * run.workload.entries_per_unit();
    let stats = handle.stats();

    let mut extra = json!({"threads": threads, "dropped_counted": stats.dropped_queue_full});
    cpu_per_entry(&mut extra, &stats, app, run.workload);
    if flush_latencies {
        extra["flush_idle_us"] = flush_latency(&handle, None);
        extra["flush_under_load_us"] = flush_latency(&handle, Some(&dispatch));
        // The load above must not have cost entries either.
        extra["dropped_after_flush_runs"] = json!(handle.stats().dropped_queue_full);
    }
    let _ = provider.shutdown();
    // Measured after shutdown, when the SQLite write-ahead log is checkpointed
    // into the file: the bytes a user keeps per entry, indexes included.
    // Counted again: the flush-latency runs above add entries of their own.
    let bytes = file_bytes(&path) + file_bytes(&sidecar(&path, "-wal"));
    extra["bytes_per_entry"] = json!(bytes as f64 / count(&storage, &path).max(1) as f64);
    let scaled = Run {
        spans: units * run.workload.spans_per_unit(),
        units,
        workload: run.workload,
        dir: run.dir.clone(),
    };
    result(
        &scaled,
        elapsed,
        written,
        expected.saturating_sub(written),
        Some(app),
        extra,
    )
}

/// CPU time per entry written of each thread the entries pass through (the
/// pipeline's own figures, `ProtocolStats`; the application thread's from the
/// run of its own, without back-pressure), and the rate the busiest of them
/// allows when each has a core of its own: on a machine with fewer cores
/// than busy threads the wall-clock rate above is lower, the threads taking
/// turns. SQLite's checkpoint thread is not included.
fn cpu_per_entry(extra: &mut Value, stats: &ProtocolStats, app: AppTime, workload: Workload) {
    let entries = stats.entries_written.max(1) as f64;
    let extraction = stats.extraction_cpu.as_secs_f64() * 1e6 / entries;
    let writer = stats.writer_cpu.as_secs_f64() * 1e6 / entries;
    let entries_per_span = workload.entries_per_unit() as f64 / workload.spans_per_unit() as f64;
    let application = app.cpu_ns / 1e3 / entries_per_span;
    let busiest = extraction.max(writer).max(application);
    extra["app_cpu_us_per_entry"] = json!(application);
    extra["extraction_cpu_us_per_entry"] = json!(extraction);
    extra["writer_cpu_us_per_entry"] = json!(writer);
    extra["entries_per_s_with_a_core_each"] =
        json!(if busiest > 0.0 { 1e6 / busiest } else { 0.0 });
}

/// The size of the file at `path`, 0 when there is none.
fn file_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |meta| meta.len())
}

/// `path` with `suffix` appended to its file name (`protocol.db-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `force_flush` latency percentiles, idle or with a producer running.
fn flush_latency(handle: &ProtocolHandle, load: Option<&Dispatch>) -> Value {
    let stop = AtomicBool::new(false);
    let produced = AtomicU64::new(0);
    let mut samples = Vec::new();
    std::thread::scope(|scope| {
        if let Some(dispatch) = load {
            let dispatch = dispatch.clone();
            let (stop, produced) = (&stop, &produced);
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let mut i = 0;
                    while !stop.load(Ordering::Relaxed) {
                        agent_run(i);
                        produced.store(i, Ordering::Relaxed);
                        i += 1;
                    }
                });
            });
            // Sampling before the producer runs would time idle flushes.
            while produced.load(Ordering::Relaxed) < 100 {
                std::thread::yield_now();
            }
        }
        // Under load each flush waits for the queue ahead of it (up to a second):
        // fewer samples keep the run short.
        let calls = if load.is_some() { 30 } else { 2_000 };
        for _ in 0..calls {
            let started = Instant::now();
            handle.force_flush().expect("flush");
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
        stop.store(true, Ordering::Relaxed);
    });
    samples.sort_by(f64::total_cmp);
    json!({"p50": percentile(&samples, 50.0), "p99": percentile(&samples, 99.0)})
}

fn run_scenario(name: &str, run: &Run) -> Value {
    match name {
        "limit" => scenario_limit(run),
        "peer" => scenario_peer(run),
        "naive_handoff" => scenario_naive_handoff(run, None),
        // Not in the default run: evidence for the design, by name.
        "naive_handoff_polling" => scenario_naive_handoff(run, Some(Duration::from_millis(5))),
        "per_entry_commit" => scenario_per_entry_commit(run, CommitJournal::AsShipped),
        "per_entry_commit_wal" => scenario_per_entry_commit(run, CommitJournal::Wal),
        "jsonl_storage_limit" => scenario_jsonl_storage_limit(run),
        "storage_limit" => scenario_storage_limit(run, true),
        "storage_limit_without_checkpoints" => scenario_storage_limit(run, false),
        "ours_sqlite" => scenario_ours(run, OursStorage::Sqlite, 1, true),
        "ours_jsonl" => scenario_ours(run, OursStorage::Jsonl, 1, true),
        "ours_sqlite_t2" => scenario_ours(run, OursStorage::Sqlite, 2, false),
        "ours_sqlite_t4" => scenario_ours(run, OursStorage::Sqlite, 4, false),
        "ours_sqlite_t8" => scenario_ours(run, OursStorage::Sqlite, 8, false),
        "ours_sqlite_1m_burst" => scenario_ours(run, OursStorage::Sqlite, 1, false),
        "limit_tool_burst" => scenario_limit(run),
        "append_only_limit" | "append_only_limit_tool_burst" => scenario_append_only_limit(run),
        "sqlite_storage" | "sqlite_storage_tool_burst" => scenario_sqlite_storage(run),
        "ours_sqlite_tool_burst" => scenario_ours(run, OursStorage::Sqlite, 1, false),
        "ours_jsonl_tool_burst" => scenario_ours(run, OursStorage::Jsonl, 1, false),
        "ours_discarding" | "ours_discarding_tool_burst" => {
            scenario_ours(run, OursStorage::Discarding(Arc::default()), 1, false)
        }
        "read_1m" => scenario_read(run),
        // Not in the default run: long, by name.
        "lookups_under_load" => scenario_lookups_under_load(run),
        other => json!({"error": format!("unknown scenario {other}")}),
    }
}

// ------------------------------------------------------------ reading side

/// One synthetic session: an agent run with five model calls and twelve
/// tool calls, 36 entries, one failing tool.
fn session_entries(s: u64, t0: chrono::DateTime<chrono::Utc>) -> Vec<ProtocolEntry> {
    let trace_id = format!("{:032x}", 0xa000_0000_0000_0000_u128 + u128::from(s));
    let session = format!("session-{s:07}");
    let start = t0 + chrono::TimeDelta::seconds(s as i64 * 60);
    let mut entries = Vec::with_capacity(36);
    let mut push = |span: u64,
                    parent: Option<u64>,
                    kind: &str,
                    name: &str,
                    offset_ms: i64,
                    ms: i64,
                    failed: bool| {
        let span_id = format!("{:016x}", span);
        let begin = start + chrono::TimeDelta::milliseconds(offset_ms);
        for (suffix, event, at) in [
            ("start", format!("{kind}_start"), begin),
            (
                "end",
                format!("{kind}_end"),
                begin + chrono::TimeDelta::milliseconds(ms),
            ),
        ] {
            let end = suffix == "end";
            let value = json!({
                "schema": reagentic_protocol::SCHEMA_VERSION,
                "entry_id": ProtocolEntry::make_id(&trace_id, &span_id, suffix),
                "timestamp": reagentic_protocol::entry::format_timestamp(&at),
                "event_type": event,
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": parent.map(|p| format!("{p:016x}")),
                "session_id": session,
                "service_name": "travel-agent",
                "agent_name": "planner",
                "name": name,
                "model": (kind == "llm").then_some("gpt-4o"),
                "tool_name": (kind == "tool").then_some(name),
                "input": (!end).then_some(INPUT_MESSAGES),
                "output": end.then_some(OUTPUT_MESSAGES),
                "input_tokens": (end && kind == "llm").then_some(412),
                "output_tokens": (end && kind == "llm").then_some(37),
                "duration_ms": end.then_some(ms as f64),
                "status": if !end { "unset" } else if failed { "error" } else { "ok" },
                "error": (end && failed).then(|| json!({"type": "Unavailable", "message": "503"})),
            });
            entries.push(serde_json::from_value(value).expect("valid synthetic entry"));
        }
    };
    push(1, None, "agent", "planner", 0, 30_000, false);
    for i in 0..5 {
        push(
            2 + i,
            Some(1),
            "llm",
            "chat gpt-4o",
            100 + i as i64 * 5_000,
            900,
            false,
        );
    }
    for i in 0..12 {
        push(
            10 + i,
            Some(1),
            "tool",
            "search_flights",
            600 + i as i64 * 2_000,
            150,
            i == 7,
        );
    }
    entries
}

fn median_ms(mut run: impl FnMut()) -> f64 {
    let mut samples: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[2]
}

/// Trace look-ups while our SQLite storage writes `run.spans` one-span
/// traces (a start and an end entry each, in a thousand sessions) in
/// batches of 4 096 entries without a pause, so it merges its index runs
/// only as it writes: how many runs a look-up probes at most, and how long
/// the slowest of the look-ups made every 16 batches took.
fn scenario_lookups_under_load(run: &Run) -> Value {
    use reagentic_protocol::{EntryFilter, EventType, ProtocolReader};
    let path = run.dir.join("load.db");
    let mut storage = SqliteStorage::open(&path).expect("db");
    let watch = rusqlite::Connection::open(&path).expect("second connection");
    let t0 = chrono::Utc::now() - chrono::TimeDelta::days(1);
    let trace_of = |n: u64| {
        format!(
            "{:032x}",
            u128::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        )
    };
    let (mut most_runs, mut slowest_ms) = (0_i64, 0_f64);
    let mut written = 0_u64;
    for batch_number in 0..(run.spans / 2_048).max(1) {
        let mut batch = Vec::with_capacity(4_096);
        for _ in 0..2_048 {
            written += 1;
            let at = t0 + chrono::TimeDelta::microseconds(written as i64 * 10);
            for (event_type, ts) in [
                (EventType::ToolStart, at),
                (EventType::ToolEnd, at + chrono::TimeDelta::microseconds(5)),
            ] {
                let mut entry = ProtocolEntry::new(
                    event_type,
                    trace_of(written),
                    format!("{written:016x}"),
                    "get_weather",
                    ts,
                );
                entry.session_id = Some(format!("sess-{}", written % 1_000));
                batch.push(entry);
            }
        }
        storage.write_batch(&batch).expect("write");
        if batch_number % 16 == 15 {
            let runs: i64 = watch
                .query_row(
                    "SELECT max(runs) FROM (SELECT count(*) AS runs
                     FROM protocol_index_run_list GROUP BY field)",
                    [],
                    |r| r.get(0),
                )
                .expect("runs");
            most_runs = most_runs.max(runs);
            let reader = ProtocolReader::open(&path).expect("reader");
            let trace = trace_of(written / 2);
            let started = Instant::now();
            let found = reader
                .query(&EntryFilter::default().with_trace(trace.as_str()))
                .expect("trace");
            slowest_ms = slowest_ms.max(started.elapsed().as_secs_f64() * 1e3);
            assert_eq!(found.len(), 2, "a trace's two entries");
        }
    }
    json!({
        "entries": written * 2,
        "most_runs_per_field": most_runs,
        "slowest_trace_ms": slowest_ms,
    })
}

/// The reading side on a protocol of `run.spans` entries: what the CLI's
/// `sessions`, `show`, `query --session` and `convert` do, through the
/// library calls they stand on.
fn scenario_read(run: &Run) -> Value {
    use reagentic_protocol::read::{ReadPosition, SessionFilter};
    use reagentic_protocol::{EntryFilter, ProtocolReader};
    let path = run.dir.join("read.db");
    let t0 = chrono::Utc::now() - chrono::TimeDelta::days(30);
    let sessions = (run.spans / 36).max(1);
    let mut storage = SqliteStorage::open(&path).expect("db");
    let mut batch = Vec::with_capacity(36 * 128);
    for s in 0..sessions {
        batch.extend(session_entries(s, t0));
        if batch.len() >= 36 * 128 {
            storage.write_batch(&batch).expect("write");
            batch.clear();
        }
    }
    storage.write_batch(&batch).expect("write");
    // Right after the burst, before the merging an idle writer does.
    let unmerged_sessions_ms = {
        let reader = ProtocolReader::open(&path).expect("reader");
        median_ms(|| {
            reader
                .sessions(&SessionFilter::default().with_limit(50))
                .expect("sessions");
        })
    };
    while storage.maintain().expect("merge index runs") {}
    storage.close().expect("close");
    let entries = sqlite_rows(&path);

    let reader = ProtocolReader::open(&path).expect("reader");
    let one = format!("session-{:07}", sessions / 2);
    let sessions_ms = median_ms(|| {
        let listed = reader
            .sessions(&SessionFilter::default().with_limit(50))
            .expect("sessions");
        assert_eq!(listed.len(), 50.min(sessions as usize));
    });
    let query_ms = median_ms(|| {
        let found = reader
            .query(&EntryFilter::default().with_session(one.as_str()))
            .expect("query");
        assert_eq!(found.len(), 36);
    });
    let show_ms = median_ms(|| {
        let found = reader
            .query(&EntryFilter::default().with_session(one.as_str()))
            .expect("query");
        assert!(!reagentic_protocol::read::run_tree(found).is_empty());
    });
    // A trace by id, as `query --trace` and `show <trace id>` look it up.
    let trace = format!(
        "{:032x}",
        0xa000_0000_0000_0000_u128 + u128::from(sessions / 3)
    );
    let trace_ms = median_ms(|| {
        let found = reader
            .query(&EntryFilter::default().with_trace(trace.as_str()))
            .expect("trace");
        assert_eq!(found.len(), 36);
    });
    // A time window: the failed tool calls of the last hour written.
    let last = t0 + chrono::TimeDelta::seconds((sessions as i64 - 1) * 60);
    let window_ms = median_ms(|| {
        let found = reader
            .query(
                &EntryFilter::default()
                    .with_since(last - chrono::TimeDelta::hours(1))
                    .errors_only(),
            )
            .expect("window");
        assert!(!found.is_empty());
    });
    // The last hour in the order written, as `export --since 1h` reads it.
    let written_1h_ms = median_ms(|| {
        let mut read = 0;
        reader
            .for_each(
                &EntryFilter::default().with_since(last - chrono::TimeDelta::hours(1)),
                |_| {
                    read += 1;
                    std::ops::ControlFlow::Continue(())
                },
            )
            .expect("for_each");
        assert!(read > 0);
    });
    // Stats over that hour, as `stats --since 1h` would give them.
    let stats_ms = median_ms(|| {
        use reagentic_protocol::read::{StatsBy, StatsFilter};
        let tools = reader
            .stats(&StatsFilter::new(StatsBy::Tool).with_since(last - chrono::TimeDelta::hours(1)))
            .expect("stats");
        assert_eq!(tools.len(), 1);
    });
    // Stats over every entry, as `stats` with no window gives them: a scan
    // of the whole table, whose time is decoding the tool ends.
    let stats_all_ms = median_ms(|| {
        use reagentic_protocol::read::{StatsBy, StatsFilter};
        let tools = reader
            .stats(&StatsFilter::new(StatsBy::Tool))
            .expect("stats");
        assert_eq!(tools.len(), 1);
    });
    // convert: SQLite → JSON Lines in write order, as the CLI does it.
    let out = run.dir.join("read.jsonl");
    let started = Instant::now();
    let mut target = JsonlStorage::open(&out).expect("jsonl");
    let mut position = ReadPosition::start();
    loop {
        let chunk = reader.read_from(&mut position, 10_000).expect("read");
        if chunk.is_empty() {
            break;
        }
        target.write_batch(&chunk).expect("write jsonl");
    }
    target.close().expect("close jsonl");
    let convert_s = started.elapsed().as_secs_f64();
    let converted = jsonl_lines(&out);
    json!({
        "entries": entries,
        "sessions_ms": sessions_ms,
        "show_ms": show_ms,
        "query_session_ms": query_ms,
        "trace_ms": trace_ms,
        "sessions_before_merging_ms": unmerged_sessions_ms,
        "window_1h_ms": window_ms,
        "written_1h_ms": written_1h_ms,
        "stats_1h_ms": stats_ms,
        "stats_all_ms": stats_all_ms,
        "convert_s": convert_s,
        "convert_entries_per_s": converted as f64 / convert_s,
        "converted": converted,
        "peak_rss_mb": peak_rss_mb(),
    })
}

// ------------------------------------------------------------------- driver

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let spans: u64 = flag("--spans")
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);

    if let Some(name) = flag("--scenario") {
        let dir = tempfile::tempdir().expect("temp dir");
        let workload = Workload::of_scenario(&name);
        let units = (spans / workload.spans_per_unit()).max(1);
        let run = Run {
            spans: units * workload.spans_per_unit(),
            units,
            workload,
            dir: dir.path().to_path_buf(),
        };
        println!("{}", run_scenario(&name, &run));
        return;
    }

    let rounds: usize = flag("--rounds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
        .max(1);
    let exe = std::env::current_exe().expect("own path");
    let scenarios = [
        ("limit", spans),
        ("peer", spans),
        ("naive_handoff", spans),
        ("per_entry_commit", spans),
        ("per_entry_commit_wal", spans),
        ("storage_limit", spans),
        ("jsonl_storage_limit", spans),
        ("ours_sqlite", spans),
        ("ours_jsonl", spans),
        ("ours_sqlite_t2", spans),
        ("ours_sqlite_t4", spans),
        ("ours_sqlite_t8", spans),
        ("limit_tool_burst", spans),
        ("append_only_limit_tool_burst", spans),
        ("sqlite_storage_tool_burst", spans),
        ("ours_sqlite_tool_burst", spans),
        ("ours_jsonl_tool_burst", spans),
        ("ours_sqlite_1m_burst", 1_000_000),
        ("read_1m", 1_000_000),
    ];
    let mut runs: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for round in 1..=rounds {
        for &(name, size) in &scenarios {
            if round > 1 && !REPEATED.contains(&name) {
                continue;
            }
            eprintln!("running {name} ({size} spans), round {round}…");
            let output = Command::new(&exe)
                .args(["--scenario", name, "--spans", &size.to_string()])
                .output()
                .expect("run scenario");
            let text = String::from_utf8_lossy(&output.stdout);
            let value = text
                .lines()
                .last()
                .and_then(|line| serde_json::from_str::<Value>(line).ok())
                .unwrap_or_else(
                    || json!({"error": String::from_utf8_lossy(&output.stderr).to_string()}),
                );
            runs.entry(name.to_string()).or_default().push(value);
        }
    }
    let results = runs
        .iter()
        .map(|(name, values)| (name.clone(), medians(values)))
        .collect();
    print_report(&results, &runs);
}

/// The scenarios behind the target ratios, run in every round.
const REPEATED: [&str; 7] = [
    "limit",
    "ours_sqlite",
    "ours_jsonl",
    "limit_tool_burst",
    "append_only_limit_tool_burst",
    "ours_sqlite_tool_burst",
    "ours_jsonl_tool_burst",
];

/// One scenario's rounds as one result: each numeric field's median (the
/// lower middle for an even count), anything else from the first round.
fn medians(rounds: &[Value]) -> Value {
    let Some(Value::Object(first)) = rounds.first() else {
        return rounds.first().cloned().unwrap_or(Value::Null);
    };
    let mut out = first.clone();
    for (key, value) in out.iter_mut() {
        let mut numbers: Vec<f64> = rounds
            .iter()
            .filter_map(|round| round.get(key).and_then(Value::as_f64))
            .collect();
        if numbers.len() == rounds.len() && value.is_number() {
            numbers.sort_by(f64::total_cmp);
            *value = json!(numbers[(numbers.len() - 1) / 2]);
        }
    }
    Value::Object(out)
}

/// A ratio of two scenarios' field in every round, paired by round.
fn ratio_by_round(
    runs: &BTreeMap<String, Vec<Value>>,
    (over, over_field): (&str, &str),
    (under, under_field): (&str, &str),
) -> Vec<f64> {
    let field = |name: &str, key: &str| -> Vec<f64> {
        runs.get(name)
            .map(|values| {
                values
                    .iter()
                    .map(|v| v.get(key).and_then(Value::as_f64).unwrap_or(f64::NAN))
                    .collect()
            })
            .unwrap_or_default()
    };
    field(over, over_field)
        .into_iter()
        .zip(field(under, under_field))
        .map(|(a, b)| a / b)
        .collect()
}

fn num(results: &BTreeMap<String, Value>, scenario: &str, field: &str) -> f64 {
    results
        .get(scenario)
        .and_then(|v| v.get(field))
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN)
}

fn print_report(results: &BTreeMap<String, Value>, runs: &BTreeMap<String, Vec<Value>>) {
    println!(
        "\nallocator: {} ({} chooses)",
        allocator::name(),
        allocator::VARIABLE.to_string_lossy()
    );
    println!(
        "\n{:<22} {:>12} {:>12} {:>10} {:>12} {:>12} {:>10}",
        "scenario", "spans/s", "entries/s", "lost", "app ns/span", "app cpu ns", "peak MB"
    );
    for (name, r) in results
        .iter()
        .filter(|(name, _)| name.as_str() != "read_1m")
    {
        let f = |k: &str| r.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
        println!(
            "{:<22} {:>12.0} {:>12.0} {:>10.0} {:>12.0} {:>12.0} {:>10.1}",
            name,
            f("spans_per_s"),
            f("entries_per_s"),
            f("lost"),
            f("app_ns_per_span"),
            f("app_cpu_ns_per_span"),
            f("peak_rss_mb"),
        );
    }
    let ratio = |a: f64, b: f64| a / b;
    let ours_sqlite_eps = num(results, "ours_sqlite", "entries_per_s");
    let ours_jsonl_sps = num(results, "ours_jsonl", "spans_per_s");
    let ratios = json!({
        "ours_sqlite_tool_burst_vs_append_only_limit": ratio(num(results, "ours_sqlite_tool_burst", "entries_per_s"), num(results, "append_only_limit_tool_burst", "entries_per_s")),
        "ours_jsonl_tool_burst_vs_limit_spans": ratio(num(results, "ours_jsonl_tool_burst", "spans_per_s"), num(results, "limit_tool_burst", "spans_per_s")),
        "ours_sqlite_vs_storage_limit_entries": ratio(ours_sqlite_eps, num(results, "storage_limit", "entries_per_s")),
        "ours_jsonl_vs_limit_spans": ratio(ours_jsonl_sps, num(results, "limit", "spans_per_s")),
        "ours_sqlite_vs_limit_spans": ratio(num(results, "ours_sqlite", "spans_per_s"), num(results, "limit", "spans_per_s")),
        "ours_sqlite_vs_peer_entries": ratio(ours_sqlite_eps, num(results, "peer", "entries_per_s")),
        "ours_sqlite_vs_per_entry_commit": ratio(ours_sqlite_eps, num(results, "per_entry_commit", "entries_per_s")),
        "ours_sqlite_vs_per_entry_commit_wal": ratio(ours_sqlite_eps, num(results, "per_entry_commit_wal", "entries_per_s")),
        "storage_limit_vs_per_entry_commit_wal": ratio(num(results, "storage_limit", "entries_per_s"), num(results, "per_entry_commit_wal", "entries_per_s")),
        "ours_jsonl_vs_jsonl_storage_limit_entries": ratio(num(results, "ours_jsonl", "entries_per_s"), num(results, "jsonl_storage_limit", "entries_per_s")),
        "jsonl_storage_limit_spans_vs_limit_spans": ratio(num(results, "jsonl_storage_limit", "entries_per_s") / ENTRIES_PER_UNIT as f64 * SPANS_PER_UNIT as f64, num(results, "limit", "spans_per_s")),
        "ours_app_time_vs_limit": ratio(num(results, "ours_sqlite", "app_ns_per_span"), num(results, "limit", "app_ns_per_span")),
        "ours_app_cpu_vs_limit": ratio(num(results, "ours_sqlite", "app_cpu_ns_per_span"), num(results, "limit", "app_cpu_ns_per_span")),
        "ours_jsonl_app_time_vs_limit": ratio(num(results, "ours_jsonl", "app_ns_per_span"), num(results, "limit", "app_ns_per_span")),
        "naive_handoff_time_vs_limit": ratio(num(results, "naive_handoff", "app_ns_per_span"), num(results, "limit", "app_ns_per_span")),
        "ours_app_time_vs_naive_handoff": ratio(num(results, "ours_sqlite", "app_ns_per_span"), num(results, "naive_handoff", "app_ns_per_span")),
    });
    println!("\nratios of the medians:");
    if let Value::Object(map) = &ratios {
        for (k, v) in map {
            println!("  {k:<40} {:.2}", v.as_f64().unwrap_or(f64::NAN));
        }
    }
    let targets = [
        (
            "ours_sqlite_tool_burst_vs_append_only_limit ≥ 0.6",
            ratio_by_round(
                runs,
                ("ours_sqlite_tool_burst", "entries_per_s"),
                ("append_only_limit_tool_burst", "entries_per_s"),
            ),
        ),
        (
            "ours_jsonl_vs_limit_spans ≥ 0.35",
            ratio_by_round(
                runs,
                ("ours_jsonl", "spans_per_s"),
                ("limit", "spans_per_s"),
            ),
        ),
        (
            "ours_app_time_vs_limit ≤ 1.25",
            ratio_by_round(
                runs,
                ("ours_sqlite", "app_ns_per_span"),
                ("limit", "app_ns_per_span"),
            ),
        ),
    ];
    println!("\ntargets, each round's ratio (paired by round):");
    let mut by_round = serde_json::Map::new();
    for (target, values) in targets {
        let shown: Vec<String> = values.iter().map(|v| format!("{v:.2}")).collect();
        println!("  {target:<52} {}", shown.join("  "));
        by_round.insert(target.to_owned(), json!(values));
    }
    println!(
        "ours → SQLite, tool burst, entries/s by round: {}",
        runs.get("ours_sqlite_tool_burst")
            .map(|values| values
                .iter()
                .map(|v| format!(
                    "{:.0}",
                    v.get("entries_per_s")
                        .and_then(Value::as_f64)
                        .unwrap_or(f64::NAN)
                ))
                .collect::<Vec<_>>()
                .join("  "))
            .unwrap_or_default()
    );
    println!("\nCPU per entry by thread (µs, medians), and the rate the busiest allows with a core each:");
    for name in [
        "ours_sqlite_tool_burst",
        "ours_jsonl_tool_burst",
        "ours_sqlite",
        "ours_jsonl",
    ] {
        let f = |k: &str| num(results, name, k);
        println!(
            "  {name:<24} application {:.2}  extraction {:.2}  writer {:.2}  → {:.0} entries/s",
            f("app_cpu_us_per_entry"),
            f("extraction_cpu_us_per_entry"),
            f("writer_cpu_us_per_entry"),
            f("entries_per_s_with_a_core_each"),
        );
    }
    let flush = |scenario: &str, kind: &str, p: &str| {
        results
            .get(scenario)
            .and_then(|v| v.get(kind))
            .and_then(|v| v.get(p))
            .and_then(Value::as_f64)
            .unwrap_or(f64::NAN)
    };
    println!(
        "\nforce_flush µs: idle p50 {:.0} p99 {:.0}; under load p50 {:.0} p99 {:.0}",
        flush("ours_sqlite", "flush_idle_us", "p50"),
        flush("ours_sqlite", "flush_idle_us", "p99"),
        flush("ours_sqlite", "flush_under_load_us", "p50"),
        flush("ours_sqlite", "flush_under_load_us", "p99"),
    );
    println!(
        "bytes per entry: SQLite {:.0} (tool burst {:.0}), JSON Lines {:.0} (tool burst {:.0})",
        num(results, "ours_sqlite", "bytes_per_entry"),
        num(results, "ours_sqlite_tool_burst", "bytes_per_entry"),
        num(results, "ours_jsonl", "bytes_per_entry"),
        num(results, "ours_jsonl_tool_burst", "bytes_per_entry"),
    );
    println!(
        "peer dropped {} of {} spans in the burst; ours lost {} entries; 1M-span burst peak {:.0} MB",
        num(results, "peer", "spans_dropped"),
        num(results, "peer", "spans"),
        num(results, "ours_sqlite", "lost"),
        num(results, "ours_sqlite_1m_burst", "peak_rss_mb"),
    );
    println!(
        "reading {} entries (SQLite): sessions {:.1} ms, show {:.1} ms, query --session {:.1} ms, a trace {:.1} ms, the last hour's failures {:.1} ms, the last hour in the order written {:.1} ms, its stats {:.1} ms, stats of all time {:.1} ms; convert to JSONL {:.1} s ({:.0} entries/s)",
        num(results, "read_1m", "entries"),
        num(results, "read_1m", "sessions_ms"),
        num(results, "read_1m", "show_ms"),
        num(results, "read_1m", "query_session_ms"),
        num(results, "read_1m", "trace_ms"),
        num(results, "read_1m", "window_1h_ms"),
        num(results, "read_1m", "written_1h_ms"),
        num(results, "read_1m", "stats_1h_ms"),
        num(results, "read_1m", "stats_all_ms"),
        num(results, "read_1m", "convert_s"),
        num(results, "read_1m", "convert_entries_per_s"),
    );
    println!(
        "{}",
        json!({"allocator": allocator::name(), "scenarios": results, "ratios": ratios, "targets_by_round": by_round, "rounds": runs})
    );
}
