//! What the HTTP and gRPC sides share: decoded requests go into the
//! library's ingest pipeline, and the answer waits for their commit.
//!
//! Memory stays bounded at two points. Before a body is read, a request
//! takes one of a few decoding permits (waiting a bounded time, else "busy"):
//! at most that many bodies are held at once, however many clients connect.
//! After decoding, the pipeline takes the spans only while its own span
//! budget lasts, else "busy" at once. Either "busy" is a `503` / `UNAVAILABLE`,
//! which OTLP clients retry.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use reagentic_protocol::pipeline::ProtocolIngest;
use reagentic_protocol::ProtocolError;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::otlp;
use super::progress;

/// How long a request waits for a decoding permit before it is told to retry.
const PERMIT_WAIT: Duration = Duration::from_secs(2);
/// How long a request waits for its commit before it is told to retry (the
/// spans stay queued; the retry stores nothing twice).
const COMMIT_WAIT: Duration = Duration::from_secs(30);
/// What a client told to retry is asked to wait, in seconds.
pub const RETRY_AFTER_SECONDS: u64 = 1;

/// Why a request's spans were not committed.
#[derive(Debug)]
pub enum Refusal {
    /// The server is at its bound, or the storage is failing: retry later.
    Busy(String),
}

/// A request whose spans are committed.
#[derive(Debug)]
pub struct Accepted {
    /// Spans rejected for invalid ids.
    pub rejected: i64,
    /// Why the first of them was.
    pub message: Option<String>,
}

/// Counts for the progress line and the logs.
#[derive(Debug, Default)]
pub struct Counters {
    /// Spans committed.
    pub spans: AtomicU64,
    /// Spans rejected for invalid ids.
    pub rejected: AtomicU64,
    /// Requests answered "retry later".
    pub busy: AtomicU64,
    /// Requests refused as malformed, too large or unauthorized.
    pub refused: AtomicU64,
}

/// The shared state of both listeners.
pub struct Receiver {
    ingest: ProtocolIngest,
    decoding: Semaphore,
    /// The most bytes a request body may have, after decompression.
    pub body_limit: usize,
    /// Counts for the progress line.
    pub counters: Counters,
    metrics_dropped_said: AtomicBool,
    logs_dropped_said: AtomicBool,
}

impl Receiver {
    /// A receiver over `ingest`, decoding at most `decoders` bodies at once.
    pub fn new(ingest: ProtocolIngest, decoders: usize, body_limit: usize) -> Self {
        Self {
            ingest,
            decoding: Semaphore::new(decoders),
            body_limit,
            counters: Counters::default(),
            metrics_dropped_said: AtomicBool::new(false),
            logs_dropped_said: AtomicBool::new(false),
        }
    }

    /// The pipeline, for its counters and shutdown.
    pub fn ingest(&self) -> &ProtocolIngest {
        &self.ingest
    }

    /// A permit to hold one body in memory, or "busy" after a bounded wait.
    pub async fn permit(&self) -> Result<SemaphorePermit<'_>, Refusal> {
        match tokio::time::timeout(PERMIT_WAIT, self.decoding.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::Busy(
                    "the server is decoding as many requests as it holds at once; retry later"
                        .into(),
                ))
            }
        }
    }

    /// Puts a request's spans into the pipeline, gives the body's permit
    /// back, and answers once they are committed.
    pub async fn take(
        &self,
        request: ExportTraceServiceRequest,
        permit: SemaphorePermit<'_>,
    ) -> Result<Accepted, Refusal> {
        let spans = otlp::spans_of(request);
        let count = spans.spans.len() as u64;
        if count == 0 {
            // Nothing to commit (an empty request, or every span rejected):
            // never a "retry later", whatever the queue holds.
            self.counters
                .rejected
                .fetch_add(spans.rejected as u64, Ordering::Relaxed);
            return Ok(Accepted {
                rejected: spans.rejected,
                message: spans.first_problem,
            });
        }
        let submitted = self.ingest.submit(spans.spans);
        drop(permit);
        let committed = match submitted {
            Ok(committed) => committed,
            Err(not_taken) => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                let why = match not_taken.error {
                    ProtocolError::QueueFull => {
                        "the server holds as many spans as it may; retry later".to_owned()
                    }
                    other => format!("{other}; retry later"),
                };
                return Err(Refusal::Busy(why));
            }
        };
        match tokio::time::timeout(COMMIT_WAIT, committed).await {
            Ok(Ok(())) => {
                self.counters.spans.fetch_add(count, Ordering::Relaxed);
                let rejected = spans.rejected;
                if rejected > 0 {
                    self.counters
                        .rejected
                        .fetch_add(rejected as u64, Ordering::Relaxed);
                }
                Ok(Accepted {
                    rejected,
                    message: spans.first_problem,
                })
            }
            Ok(Err(e)) => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::Busy(format!(
                    "the spans are not committed yet ({e}); retry later"
                )))
            }
            Err(_) => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                Err(Refusal::Busy(format!(
                    "the spans were not committed within {} s; retry later",
                    COMMIT_WAIT.as_secs()
                )))
            }
        }
    }

    /// Counts a request refused as malformed, too large or unauthorized.
    pub fn refused(&self) {
        self.counters.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Says once that metrics (or logs) are received and dropped.
    pub fn dropping(&self, signal: Signal) {
        let said = match signal {
            Signal::Metrics => &self.metrics_dropped_said,
            Signal::Logs => &self.logs_dropped_said,
        };
        if !said.swap(true, Ordering::Relaxed) {
            progress::log(
                "info",
                &format!(
                    "{} are accepted and dropped: the protocol records traces only",
                    signal.name()
                ),
            );
        }
    }
}

/// A signal other than traces.
#[derive(Debug, Clone, Copy)]
pub enum Signal {
    /// `/v1/metrics`.
    Metrics,
    /// `/v1/logs`.
    Logs,
}

impl Signal {
    fn name(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
}
