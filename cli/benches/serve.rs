//! OTLP/HTTP ingest through a real `serve` (release build) into SQLite:
//!
//! 1. throughput with 1, 4 and 16 clients, each sending 512-span protobuf
//!    batches back to back, every `200` durable: 240 batches (122 880
//!    spans, past the point where the writer merges its index runs under
//!    load) per round, three rounds on a fresh server each, the median and
//!    the range printed, as this machine is shared and one round can be
//!    off by a fifth;
//! 2. request latency (p50, p99) at a fixed 10 000 spans/s;
//! 3. memory under overload: 64 clients without pause, the server's resident
//!    size sampled throughout, `503`s counted.
//!
//! `cargo bench -p reagentic-protocol-cli --bench serve`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

#[path = "../tests/cli/otlp.rs"]
mod otlp;
use otlp::{request, text};

const SPANS_PER_BATCH: u64 = 512;

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// Batch `n`: one agent run per 8 spans (an agent, model calls with tokens,
/// tool calls), ids unique across batches so nothing is deduplicated.
fn batch(n: u64) -> Vec<u8> {
    let spans = (0..SPANS_PER_BATCH)
        .map(|i| {
            let run = i / 8;
            let trace = [n.to_be_bytes(), run.to_be_bytes()].concat();
            let id = n * SPANS_PER_BATCH + i + 1;
            let root = n * SPANS_PER_BATCH + run * 8 + 1;
            let (name, attributes) = match i % 8 {
                0 => (
                    "invoke_agent planner".to_owned(),
                    vec![
                        text("gen_ai.operation.name", "invoke_agent"),
                        text("gen_ai.agent.name", "planner"),
                        text("gen_ai.conversation.id", &format!("conv-{n}-{run}")),
                    ],
                ),
                k if k % 2 == 1 => (
                    "chat gpt-4o".to_owned(),
                    vec![
                        text("gen_ai.operation.name", "chat"),
                        text("gen_ai.request.model", "gpt-4o"),
                        int("gen_ai.usage.input_tokens", 812),
                        int("gen_ai.usage.output_tokens", 64),
                    ],
                ),
                _ => (
                    "execute_tool search".to_owned(),
                    vec![
                        text("gen_ai.operation.name", "execute_tool"),
                        text("gen_ai.tool.name", "search"),
                        text("gen_ai.tool.call.arguments", r#"{"q":"flights to Berlin"}"#),
                    ],
                ),
            };
            Span {
                trace_id: trace,
                span_id: id.to_be_bytes().to_vec(),
                parent_span_id: if i % 8 == 0 {
                    Vec::new()
                } else {
                    root.to_be_bytes().to_vec()
                },
                name,
                start_time_unix_nano: 1_764_558_000_000_000_000 + id * 1_000,
                end_time_unix_nano: 1_764_558_000_000_500_000 + id * 1_000,
                attributes,
                ..Default::default()
            }
        })
        .collect();
    request("bench", spans).encode_to_vec()
}

struct Server {
    child: Child,
    http: String,
}

impl Server {
    fn start(file: &std::path::Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_reagentic-protocol"))
            .args(["serve", file.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).unwrap();
        let http = first
            .split("HTTP at http://")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .expect("the address")
            .to_owned();
        // Drained, so the server never blocks on its log.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while lines.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Server { child, http }
    }

    /// Resident size in MiB.
    fn rss_mib(&self) -> f64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .map_or(0.0, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One `POST /v1/traces`; the status.
fn post(address: &str, body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(address).expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    String::from_utf8_lossy(&reply)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Sends until `200`, retrying `503`s; the number of `503`s.
fn send(address: &str, body: &[u8]) -> u64 {
    let mut busy = 0;
    loop {
        match post(address, body) {
            200 => return busy,
            503 => {
                busy += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            other => panic!("status {other}"),
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Batches per throughput round, split among the clients.
const ROUND_BATCHES: u64 = 240;
/// Rounds per client count.
const ROUNDS: usize = 3;

fn throughput(clients: u64) {
    let batches_per_client = ROUND_BATCHES / clients;
    let mut rates = Vec::new();
    let mut busy_total = 0;
    for round in 0..ROUNDS as u64 {
        let (rate, busy) = throughput_round(clients, batches_per_client, round);
        rates.push(rate);
        busy_total += busy;
    }
    rates.sort_by(f64::total_cmp);
    let spans = clients * batches_per_client * SPANS_PER_BATCH;
    println!(
        "| {clients} | {spans} | {:.0} | {:.0}–{:.0} | {busy_total} |",
        rates[ROUNDS / 2],
        rates[0],
        rates[ROUNDS - 1]
    );
}

/// One round on a fresh server: spans/s and `503`s.
fn throughput_round(clients: u64, batches_per_client: u64, round: u64) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("p.db"));
    let bodies: Vec<Vec<Vec<u8>>> = (0..clients)
        .map(|c| {
            (0..batches_per_client)
                .map(|b| batch(round * 100_000 + c * 1_000 + b))
                .collect()
        })
        .collect();
    let started = Instant::now();
    let busy = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for bodies in &bodies {
            let (address, busy) = (&server.http, &busy);
            scope.spawn(move || {
                for body in bodies {
                    busy.fetch_add(send(address, body), Ordering::Relaxed);
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let spans = clients * batches_per_client * SPANS_PER_BATCH;
    (
        spans as f64 / elapsed.as_secs_f64(),
        busy.load(Ordering::Relaxed),
    )
}

fn latency_at(spans_per_second: u64, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("p.db"));
    let requests = spans_per_second * seconds / SPANS_PER_BATCH;
    let interval = Duration::from_secs(seconds) / requests as u32;
    let bodies: Vec<Vec<u8>> = (0..requests).map(batch).collect();
    let started = Instant::now();
    // Open loop: request i is due at i × interval whether or not earlier
    // ones are answered, so a slow answer cannot slow the offered rate.
    let latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                let due = started + interval * i as u32;
                let address = &server.http;
                std::thread::sleep(due.saturating_duration_since(Instant::now()));
                scope.spawn(move || {
                    let sent = Instant::now();
                    send(address, body);
                    sent.elapsed()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = latencies;
    sorted.sort();
    println!(
        "| {spans_per_second} spans/s, {requests} requests | {:.1} ms | {:.1} ms | {:.1} ms |",
        percentile(&sorted, 0.5).as_secs_f64() * 1e3,
        percentile(&sorted, 0.99).as_secs_f64() * 1e3,
        sorted[sorted.len() - 1].as_secs_f64() * 1e3,
    );
}

fn overload(clients: u64, seconds: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("p.db"));
    let body = Arc::new(batch(0));
    let done = Arc::new(AtomicBool::new(false));
    let (ok, busy) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (address, body, done) = (server.http.clone(), Arc::clone(&body), Arc::clone(&done));
            let (ok, busy) = (Arc::clone(&ok), Arc::clone(&busy));
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    match post(&address, &body) {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        _ => busy.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    let started = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(seconds) {
        std::thread::sleep(Duration::from_millis(250));
        samples.push((started.elapsed(), server.rss_mib()));
    }
    done.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    let at = |fraction: f64| {
        samples[((samples.len() as f64 * fraction) as usize).min(samples.len() - 1)].1
    };
    let peak = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    println!(
        "| {clients} clients, {seconds} s | {} | {} | {:.0} | {:.0} | {:.0} | {peak:.0} |",
        ok.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
        at(0.2),
        at(0.5),
        at(0.99),
    );
}

fn main() {
    // `cargo test --benches` runs this with `--test`-less arguments too;
    // `--bench` is what `cargo bench` passes.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    println!("| clients | spans a round | spans/s (durable 200s), median of {ROUNDS} | range | 503s retried |");
    println!("|---|---|---|---|---|");
    throughput(1);
    throughput(4);
    throughput(16);
    println!();
    println!("| offered | p50 | p99 | max |");
    println!("|---|---|---|---|");
    latency_at(10_000, 10);
    println!();
    println!("| overload | 200s | 503s | RSS MiB at 20 % | at 50 % | at end | peak |");
    println!("|---|---|---|---|---|---|---|");
    overload(64, 10);
}
