//! The producer side of the pipeline: enqueue with a bounded wait, flush,
//! shutdown, and the handle users keep to do both.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{SendTimeoutError, Sender, TrySendError};
use opentelemetry_sdk::trace::SpanData;

use super::doorbell::Doorbell;
use super::extraction::{Extraction, EXTRACTED_QUEUE_BATCHES, SPENT_QUEUE_BATCHES};
use super::options::{PipelineOptions, QueueFullPolicy};
use super::stats::{Counters, ProtocolStats};
use super::writer::Writer;
use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};
use crate::extract::Extractor;
use crate::storage::Storage;

/// What a flush, shutdown or ingest is answered: `Err` carries the storage error.
pub(crate) type Answer = std::result::Result<(), Arc<ProtocolError>>;

/// Where the answer to a flush, shutdown or ingest goes: a thread blocked on
/// a channel, or a task awaiting a future (`pipeline::ingest`).
pub(crate) enum Reply {
    Blocking(Sender<Answer>),
    Async(tokio::sync::oneshot::Sender<Answer>),
}

impl Reply {
    /// Answers; a waiter that gave up (timed out, dropped) is not an error.
    pub(crate) fn send(self, answer: Answer) {
        match self {
            Reply::Blocking(sender) => {
                let _ = sender.send(answer);
            }
            Reply::Async(sender) => {
                let _ = sender.send(answer);
            }
        }
    }
}

/// What travels from producers to the extraction thread, in order.
pub(crate) enum Message {
    Started(SpanData),
    Ended(SpanData),
    Finished(Vec<SpanData>),
    /// Finished spans from elsewhere, each with its own `service.name`,
    /// answered once their entries are committed (`pipeline::ingest`).
    Ingest(super::ingest::Batch),
    ServiceName(Option<String>),
    Flush(Reply),
    Shutdown {
        reply: Reply,
        deadline: Instant,
    },
}

/// How many entries a message would have produced, for exact drop counts.
pub(crate) fn entries_in(config: &ProtocolConfig, message: &Message) -> u64 {
    use crate::extract::{end_entry_count, start_entry_count};
    match message {
        Message::Started(span) => start_entry_count(config, span),
        Message::Ended(span) => end_entry_count(config, span),
        Message::Finished(spans) => spans
            .iter()
            .map(|span| start_entry_count(config, span) + end_entry_count(config, span))
            .sum(),
        Message::Ingest(batch) => batch
            .spans
            .iter()
            .map(|span| start_entry_count(config, span) + end_entry_count(config, span))
            .sum(),
        Message::ServiceName(_) | Message::Flush(_) | Message::Shutdown { .. } => 0,
    }
}

/// The shared state behind a processor, an exporter and their handles.
#[derive(Debug)]
pub(crate) struct Core {
    sender: Sender<Message>,
    /// Wakes the extraction thread; dropped with the `Core`, which tells that
    /// thread the producers are gone.
    doorbell: Doorbell,
    counters: Arc<Counters>,
    /// Set by a producer whose wait ran out; cleared by the writer when it
    /// commits again. While set, producers drop at once instead of waiting.
    stalled: Arc<AtomicBool>,
    is_shutdown: AtomicBool,
    /// Producers between checking `is_shutdown` and finishing their send:
    /// shutdown waits for them so nothing lands behind the shutdown message.
    in_flight: AtomicUsize,
    queue_full: QueueFullPolicy,
    flush_timeout: Duration,
    config: ProtocolConfig,
    /// The extraction and writer threads, joined after shutdown.
    workers: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Message::Started(_) => "Started",
            Message::Ended(_) => "Ended",
            Message::Finished(_) => "Finished",
            Message::Ingest(_) => "Ingest",
            Message::ServiceName(_) => "ServiceName",
            Message::Flush(_) => "Flush",
            Message::Shutdown { .. } => "Shutdown",
        };
        f.write_str(kind)
    }
}

impl Core {
    /// Validates the options, builds the extractor and starts the extraction
    /// and writer threads.
    pub(crate) fn start(storage: Box<dyn Storage>, options: PipelineOptions) -> Result<Arc<Self>> {
        options.validate()?;
        let mut extractor = Extractor::new(&options.config)?;
        if let Some(limits) = options.assembly {
            extractor.enable_assembly(limits.max_traces, limits.max_spans, limits.max_age);
        }
        let (sender, receiver) = crossbeam_channel::bounded(options.queue_capacity);
        let (doorbell, sleeper) = super::doorbell::doorbell(options.queue_capacity);
        let (extracted_sender, extracted_receiver) =
            crossbeam_channel::bounded(EXTRACTED_QUEUE_BATCHES);
        let (spent_sender, spent_receiver) = crossbeam_channel::bounded(SPENT_QUEUE_BATCHES);
        let counters = Arc::new(Counters::default());
        let stalled = Arc::new(AtomicBool::new(false));
        let writer = Writer::new(
            extracted_receiver,
            spent_sender,
            storage,
            Arc::clone(&counters),
            Arc::clone(&stalled),
            &options,
        );
        let extraction = Extraction::new(
            receiver,
            sleeper,
            extracted_sender,
            spent_receiver,
            extractor,
            Arc::clone(&counters),
            &options,
        );
        let priority = options.thread_priority;
        let writer = priority.spawn("reagentic-protocol-writer", move || writer.run())?;
        // If this spawn fails, `extraction` is dropped with the only sender to
        // the writer, which then closes the storage and exits on its own.
        let extraction = priority.spawn("reagentic-protocol-extract", move || extraction.run())?;
        Ok(Arc::new(Self {
            sender,
            doorbell,
            counters,
            stalled,
            is_shutdown: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            queue_full: options.queue_full,
            flush_timeout: options.flush_timeout,
            config: options.config,
            workers: Mutex::new(vec![extraction, writer]),
        }))
    }

    pub(crate) fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    /// Hands a message to the writer, waiting as the policy says. Never blocks
    /// past the policy's bound; whatever cannot be queued is counted.
    pub(crate) fn enqueue(&self, message: Message) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        if self.is_shutdown.load(Ordering::SeqCst) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Counters::add(
                &self.counters.dropped_after_shutdown,
                entries_in(&self.config, &message),
            );
            return;
        }
        let carries_spans = !matches!(message, Message::ServiceName(_));
        // Tried without waiting first: `send_timeout` reads the clock for
        // its deadline before it tries, and a queue with room is the common
        // case (callgrind, `--scenario ours_sqlite_1m_burst --spans 4000`:
        // queueing 94.8 → 74.0 M instructions for 202 002 messages, about
        // 100 a message on the application's thread).
        let rejected = match self.sender.try_send(message) {
            Ok(()) => None,
            Err(TrySendError::Disconnected(message)) => Some((message, true)),
            Err(TrySendError::Full(message)) => match self.queue_full {
                QueueFullPolicy::Wait(max_wait) if !self.stalled.load(Ordering::Relaxed) => {
                    match self.sender.send_timeout(message, max_wait) {
                        Ok(()) => None,
                        Err(SendTimeoutError::Timeout(message)) => {
                            self.stalled.store(true, Ordering::Relaxed);
                            Some((message, false))
                        }
                        Err(SendTimeoutError::Disconnected(message)) => Some((message, true)),
                    }
                }
                _ => Some((message, false)),
            },
        };
        if rejected.is_none() {
            self.doorbell.after_send(|| self.sender.len());
        }
        match rejected {
            None if carries_spans => Counters::add(&self.counters.enqueued, 1),
            None => {}
            Some((message, writer_gone)) => {
                let counter = if writer_gone {
                    &self.counters.dropped_after_shutdown
                } else {
                    &self.counters.dropped_queue_full
                };
                Counters::add(counter, entries_in(&self.config, &message));
            }
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }

    /// Queues a message without waiting and wakes the extraction thread at
    /// once. A full queue or a pipeline that is shutting down gives the
    /// message back with the reason; nothing is counted as dropped, because
    /// the caller still holds it (and tells its own client to retry).
    pub(crate) fn try_enqueue(
        &self,
        message: Message,
    ) -> std::result::Result<(), Box<(Message, ProtocolError)>> {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = if self.is_shutdown.load(Ordering::SeqCst) {
            Err(Box::new((message, ProtocolError::AlreadyShutdown)))
        } else {
            match self.sender.try_send(message) {
                Ok(()) => {
                    Counters::add(&self.counters.enqueued, 1);
                    self.doorbell.ring_urgently();
                    Ok(())
                }
                Err(TrySendError::Full(message)) => {
                    Err(Box::new((message, ProtocolError::QueueFull)))
                }
                Err(TrySendError::Disconnected(message)) => {
                    Err(Box::new((message, ProtocolError::AlreadyShutdown)))
                }
            }
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }

    /// Returns once everything enqueued before the call is committed, or the
    /// storage error that prevented it, or `Timeout`.
    pub(crate) fn flush(&self, timeout: Duration) -> Result<()> {
        if self.is_shutdown.load(Ordering::SeqCst) {
            return Err(ProtocolError::AlreadyShutdown);
        }
        let deadline = Instant::now() + timeout;
        let (reply, answer) = crossbeam_channel::bounded(1);
        match self
            .sender
            .send_deadline(Message::Flush(Reply::Blocking(reply)), deadline)
        {
            Ok(()) => self.doorbell.ring_urgently(),
            Err(SendTimeoutError::Timeout(_)) => return Err(ProtocolError::Timeout(timeout)),
            Err(SendTimeoutError::Disconnected(_)) => return Err(ProtocolError::AlreadyShutdown),
        }
        match answer.recv_deadline(deadline) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(ProtocolError::Storage { source }),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Err(ProtocolError::Timeout(timeout))
            }
            // The writer dropped the request unanswered: it is shutting down.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                Err(ProtocolError::AlreadyShutdown)
            }
        }
    }

    /// Flushes, closes the storage and stops the writer, all within `timeout`.
    /// A second call returns `AlreadyShutdown` at once.
    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<()> {
        if self.is_shutdown.swap(true, Ordering::SeqCst) {
            return Err(ProtocolError::AlreadyShutdown);
        }
        let deadline = Instant::now() + timeout;
        // Producers that saw the flag clear finish their sends first, so the
        // shutdown message is the last data the writer sees.
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            if Instant::now() >= deadline {
                return Err(ProtocolError::Timeout(timeout));
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        match self.sender.send_deadline(
            Message::Shutdown {
                reply: Reply::Blocking(reply),
                deadline,
            },
            deadline,
        ) {
            Ok(()) => self.doorbell.ring_urgently(),
            Err(SendTimeoutError::Timeout(_)) => return Err(ProtocolError::Timeout(timeout)),
            Err(SendTimeoutError::Disconnected(_)) => {
                return Err(ProtocolError::Worker("the writer thread has exited".into()))
            }
        }
        let result = match answer.recv_deadline(deadline) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(source)) => Err(ProtocolError::Storage { source }),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                return Err(ProtocolError::Timeout(timeout))
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Err(ProtocolError::Worker(
                "the writer thread exited without answering".into(),
            )),
        };
        // The writer answered, so both threads are about to return (the
        // extraction thread handed the request on and stopped): joining is quick.
        let workers = self
            .workers
            .lock()
            .map(|mut w| std::mem::take(&mut *w))
            .unwrap_or_default();
        for worker in workers {
            let _ = worker.join();
        }
        result
    }

    pub(crate) fn is_shutdown(&self) -> bool {
        self.is_shutdown.load(Ordering::SeqCst)
    }

    pub(crate) fn stats(&self) -> ProtocolStats {
        self.counters.snapshot()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        if !self.is_shutdown() {
            let _ = self.shutdown(self.flush_timeout);
        }
    }
}

/// A cheap, cloneable handle to a running pipeline: flush it, shut it down,
/// read its counters — also after the processor moved into a provider.
#[derive(Clone, Debug)]
pub struct ProtocolHandle {
    pub(crate) core: Arc<Core>,
}

impl ProtocolHandle {
    /// Waits until every entry enqueued before the call is committed and
    /// readable by other connections and processes, within the flush timeout.
    ///
    /// Safe from plain threads and from inside any tokio runtime (the writer is
    /// an OS thread, so waiting here cannot starve it). Errors: `Timeout`, the
    /// storage error that kept the entries from being written, or
    /// `AlreadyShutdown`.
    pub fn force_flush(&self) -> Result<()> {
        self.core.flush(self.core.flush_timeout())
    }

    /// [`force_flush`](Self::force_flush) with an explicit bound.
    pub fn force_flush_with_timeout(&self, timeout: Duration) -> Result<()> {
        self.core.flush(timeout)
    }

    /// Flushes, closes the storage and stops the pipeline's threads within the
    /// flush timeout. A second call returns `AlreadyShutdown`.
    pub fn shutdown(&self) -> Result<()> {
        self.core.shutdown(self.core.flush_timeout())
    }

    /// [`shutdown`](Self::shutdown) with an explicit bound.
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<()> {
        self.core.shutdown(timeout)
    }

    /// What the pipeline has done so far.
    pub fn stats(&self) -> ProtocolStats {
        self.core.stats()
    }

    /// Whether shutdown has begun.
    pub fn is_shutdown(&self) -> bool {
        self.core.is_shutdown()
    }
}
