//! `ProtocolIngest`: finished spans from elsewhere — an OTLP receiver, a file
//! of exported spans — each with its own `service.name`, put through the same
//! extraction as spans recorded in process, and answered once committed.
//!
//! Three things set it apart from [`ProtocolExporter`](crate::ProtocolExporter):
//!
//! - **No waiting to get in.** [`ProtocolIngest::submit`] takes the spans or
//!   hands them back at once ([`ProtocolError::QueueFull`]): a server answers
//!   "retry later" instead of holding a request, and its memory stays bounded
//!   by [`ProtocolIngestBuilder::with_max_queued_spans`].
//! - **An answer per submission, shared commits.** Each submission's
//!   [`Committed`] resolves once its entries are committed; submissions that
//!   arrive while the writer is busy share its next transaction.
//! - **Runs that arrive in pieces are assembled.** Spans come finished,
//!   children before parents, often one request per span: a model call may
//!   be written before the agent span that gives it its agent and session.
//!   A bounded memory of recent traces ([`AssemblyLimits`]) remembers which
//!   entries still lack them; when an ancestor arrives, a *filling copy* of
//!   each such entry is written, which the storage merges into the stored
//!   entry (it fills that entry's empty fields and changes nothing else; see
//!   `FORMAT.md`).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::SpanData;

use super::core::{Answer, Core, Message, ProtocolHandle, Reply};
use super::options::PipelineOptions;
use super::priority::ThreadPriority;
use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};
use crate::storage::Storage;

/// A finished span and the `service.name` of the resource that sent it.
#[derive(Clone, Debug)]
pub struct IngestSpan {
    span: SpanData,
    service_name: Option<String>,
}

impl IngestSpan {
    /// A finished span from the service `service_name`.
    pub fn new(span: SpanData, service_name: Option<String>) -> Self {
        Self { span, service_name }
    }

    /// The span.
    pub fn span(&self) -> &SpanData {
        &self.span
    }

    /// The service that sent it.
    pub fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }
}

/// How much a [`ProtocolIngest`] remembers of recent traces to assemble
/// runs that arrive in pieces. At a bound it forgets the oldest traces
/// first: their entries stay as written, and a later ancestor of theirs can
/// no longer fill them in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AssemblyLimits {
    /// Traces remembered at once (default 10 000).
    pub max_traces: usize,
    /// Spans remembered at once, over all traces (default 200 000); a trace
    /// with more stops being remembered past that.
    pub max_spans: usize,
    /// How long a trace is remembered after its last span arrived
    /// (default 10 minutes).
    pub max_age: Duration,
}

impl Default for AssemblyLimits {
    fn default() -> Self {
        Self {
            max_traces: 10_000,
            max_spans: 200_000,
            max_age: Duration::from_secs(600),
        }
    }
}

impl AssemblyLimits {
    /// Sets [`max_traces`](Self::max_traces).
    pub fn with_max_traces(mut self, traces: usize) -> Self {
        self.max_traces = traces;
        self
    }

    /// Sets [`max_spans`](Self::max_spans).
    pub fn with_max_spans(mut self, spans: usize) -> Self {
        self.max_spans = spans;
        self
    }

    /// Sets [`max_age`](Self::max_age).
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }
}

/// The most entries one commit takes by default: four times what a
/// pipeline in process commits, because submissions are whole requests and
/// a bigger commit appends fewer, longer SQLite index runs, which leaves
/// less to merge. `cargo bench -p reagentic-protocol-cli --bench serve`, 16
/// clients, medians of three 122 880-span rounds: 38 254 spans/s with 4 096,
/// 50 311 with 16 384, run back to back (runs on this shared machine vary by
/// up to a sixth between invocations).
const DEFAULT_MAX_BATCH_ENTRIES: usize = 16_384;

/// Spans submitted and not yet extracted, against their bound.
#[derive(Debug)]
struct SpanBudget {
    queued: AtomicUsize,
    max: usize,
}

/// A submission's share of the budget, given back when its spans have been
/// extracted (or dropped unextracted at shutdown).
#[derive(Debug)]
pub(crate) struct SpanPermit {
    budget: Arc<SpanBudget>,
    spans: usize,
}

impl Drop for SpanPermit {
    fn drop(&mut self) {
        self.budget.queued.fetch_sub(self.spans, Ordering::SeqCst);
    }
}

/// What travels to the extraction thread for one submission.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) spans: Vec<SpanData>,
    pub(crate) services: Vec<Option<String>>,
    pub(crate) reply: Reply,
    pub(crate) permit: SpanPermit,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Reply")
    }
}

/// Writes finished spans from elsewhere into a protocol; see the
/// [module documentation](self).
///
/// ```
/// use reagentic_protocol::pipeline::{IngestSpan, ProtocolIngest};
/// use reagentic_protocol::SqliteStorage;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// let ingest = ProtocolIngest::builder(SqliteStorage::open(dir.path().join("p.db"))?).build()?;
/// let spans: Vec<IngestSpan> = Vec::new(); // finished spans, e.g. decoded from OTLP
/// match ingest.submit(spans) {
///     // `.await` it in async code; `wait` blocks a plain thread.
///     Ok(committed) => committed.wait(std::time::Duration::from_secs(5))?,
///     Err(not_taken) => eprintln!("try again later: {}", not_taken.error),
/// }
/// ingest.handle().shutdown()?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProtocolIngest {
    core: Arc<Core>,
    budget: Arc<SpanBudget>,
}

/// Spans [`ProtocolIngest::submit`] did not take, and why.
#[derive(Debug)]
#[non_exhaustive]
pub struct NotTaken {
    /// [`ProtocolError::QueueFull`] or [`ProtocolError::AlreadyShutdown`].
    pub error: ProtocolError,
    /// The spans, untouched.
    pub spans: Vec<IngestSpan>,
}

impl std::fmt::Display for NotTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} span(s) not taken: {}", self.spans.len(), self.error)
    }
}

impl std::error::Error for NotTaken {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl ProtocolIngest {
    /// Starts configuring an ingest pipeline that writes to `storage`.
    pub fn builder(storage: impl Storage) -> ProtocolIngestBuilder {
        ProtocolIngestBuilder {
            storage: Box::new(storage),
            options: PipelineOptions {
                // The receiver's whole job: no reason to yield to anyone.
                thread_priority: ThreadPriority::Normal,
                assembly: Some(AssemblyLimits::default()),
                max_batch_entries: DEFAULT_MAX_BATCH_ENTRIES,
                ..PipelineOptions::default()
            },
            max_queued_spans: DEFAULT_MAX_QUEUED_SPANS,
        }
    }

    /// Hands finished spans to the pipeline without waiting.
    ///
    /// `Ok` holds a [`Committed`] that resolves once every entry of these
    /// spans (and the filling copies they cause) is committed: `Ok(())`, or
    /// the storage error that kept them from it (the pipeline keeps them and
    /// retries; submitting the same spans again stores nothing twice). `Err`
    /// gives the spans back untouched when the queue is full
    /// ([`ProtocolError::QueueFull`]) or the pipeline is shut down. An empty
    /// submission is committed at once.
    pub fn submit(&self, spans: Vec<IngestSpan>) -> std::result::Result<Committed, NotTaken> {
        let count = spans.len();
        let queued = self.budget.queued.fetch_add(count, Ordering::SeqCst);
        // One submission larger than the bound is taken when nothing else
        // waits, so it can never be refused forever.
        if queued > 0 && queued + count > self.budget.max {
            self.budget.queued.fetch_sub(count, Ordering::SeqCst);
            return Err(NotTaken {
                error: ProtocolError::QueueFull,
                spans,
            });
        }
        let permit = SpanPermit {
            budget: Arc::clone(&self.budget),
            spans: count,
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let (spans, services) = spans
            .into_iter()
            .map(|IngestSpan { span, service_name }| (span, service_name))
            .unzip();
        let batch = Batch {
            spans,
            services,
            reply: Reply::Async(reply),
            permit,
        };
        match self.core.try_enqueue(Message::Ingest(batch)) {
            Ok(()) => Ok(Committed { answer }),
            Err(refused) => {
                let (message, error) = *refused;
                let spans = match message {
                    Message::Ingest(Batch {
                        spans, services, ..
                    }) => spans
                        .into_iter()
                        .zip(services)
                        .map(|(span, service_name)| IngestSpan { span, service_name })
                        .collect(),
                    _ => Vec::new(),
                };
                Err(NotTaken { error, spans })
            }
        }
    }

    /// Spans submitted and not yet extracted.
    pub fn queued_spans(&self) -> usize {
        self.budget.queued.load(Ordering::SeqCst)
    }

    /// The bound on [`queued_spans`](Self::queued_spans).
    pub fn max_queued_spans(&self) -> usize {
        self.budget.max
    }

    /// A handle to flush, shut down and read the pipeline's counters.
    pub fn handle(&self) -> ProtocolHandle {
        ProtocolHandle {
            core: Arc::clone(&self.core),
        }
    }
}

/// The default of [`ProtocolIngestBuilder::with_max_queued_spans`].
const DEFAULT_MAX_QUEUED_SPANS: usize = 65_536;

/// Resolves once a submission's entries are committed; see
/// [`ProtocolIngest::submit`].
#[derive(Debug)]
#[must_use = "the spans are written either way; this tells when, and whether it failed"]
pub struct Committed {
    answer: tokio::sync::oneshot::Receiver<Answer>,
}

impl Future for Committed {
    type Output = Result<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| match answer {
                Ok(Ok(())) => Ok(()),
                Ok(Err(source)) => Err(ProtocolError::Storage { source }),
                // Dropped unanswered: the pipeline shut down before writing them.
                Err(_) => Err(ProtocolError::AlreadyShutdown),
            })
    }
}

/// Wakes a thread parked in [`Committed::wait`].
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

impl Committed {
    /// Blocks this thread until the submission is committed, at most
    /// `timeout` ([`ProtocolError::Timeout`]). For plain threads; in async
    /// code `.await` it instead.
    pub fn wait(mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(result) = Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(ProtocolError::Timeout(timeout));
            }
            std::thread::park_timeout(deadline - now);
        }
    }
}

/// Settings for a [`ProtocolIngest`]; finish with [`build`](Self::build).
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ProtocolIngestBuilder {
    storage: Box<dyn Storage>,
    options: PipelineOptions,
    max_queued_spans: usize,
}

impl ProtocolIngestBuilder {
    /// Sets what is extracted and kept (detail level, limits, redaction, rules).
    pub fn with_config(mut self, config: ProtocolConfig) -> Self {
        self.options.config = config;
        self
    }

    /// Sets how many spans may be submitted and not yet extracted (default
    /// 65 536): past it, [`submit`](ProtocolIngest::submit) answers
    /// [`ProtocolError::QueueFull`]. Bounds the memory the pipeline holds.
    pub fn with_max_queued_spans(mut self, spans: usize) -> Self {
        self.max_queued_spans = spans;
        self
    }

    /// Sets the most entries written in one storage transaction (default
    /// 16 384).
    pub fn with_max_batch_entries(mut self, entries: usize) -> Self {
        self.options.max_batch_entries = entries;
        self
    }

    /// Sets how many extracted entries the writer keeps while the storage is
    /// failing (default 65 536).
    pub fn with_max_pending_entries(mut self, entries: usize) -> Self {
        self.options.max_pending_entries = entries;
        self
    }

    /// Sets the bound on flush and shutdown through the handle (default 5 s).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.options.flush_timeout = timeout;
        self
    }

    /// Sets the pipeline threads' priority (default
    /// [`ThreadPriority::Normal`]: receiving is the program's whole job).
    pub fn with_thread_priority(mut self, priority: ThreadPriority) -> Self {
        self.options.thread_priority = priority;
        self
    }

    /// Sets how much of recent traces is remembered to assemble runs that
    /// arrive in pieces (default [`AssemblyLimits::default`]).
    pub fn with_assembly_limits(mut self, limits: AssemblyLimits) -> Self {
        self.options.assembly = Some(limits);
        self
    }

    /// Checks the settings, opens the pipeline and starts its threads.
    ///
    /// Errors: `InvalidConfig` (a zero bound, an invalid redaction pattern,
    /// alias or span rule, …) or `Worker` if a thread cannot be started.
    pub fn build(self) -> Result<ProtocolIngest> {
        if self.max_queued_spans == 0 {
            return Err(ProtocolError::InvalidConfig(
                "max queued spans must be at least 1".into(),
            ));
        }
        Ok(ProtocolIngest {
            core: Core::start(self.storage, self.options)?,
            budget: Arc::new(SpanBudget {
                queued: AtomicUsize::new(0),
                max: self.max_queued_spans,
            }),
        })
    }
}
