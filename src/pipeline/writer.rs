//! The writer thread: batching, one storage transaction per batch, retries
//! after storage faults, and answers to flush and shutdown.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::core::Reply;
use super::extraction::Extracted;
use super::options::PipelineOptions;
use super::stats::Counters;
use crate::entry::ProtocolEntry;
use crate::error::{ProtocolError, Result};
use crate::storage::Storage;

const FIRST_RETRY_DELAY: Duration = Duration::from_millis(20);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(1);

/// How long nothing must arrive before the writer spends an idle spell on
/// upkeep. Longer than the gaps between a burst's batches, so upkeep does not
/// take the processor from extraction in the middle of one.
const QUIET_BEFORE_UPKEEP: Duration = Duration::from_millis(50);

pub(crate) struct Writer {
    receiver: Receiver<Extracted>,
    /// Committed batches, handed back to the extraction thread to free.
    spent: Sender<Vec<ProtocolEntry>>,
    storage: Box<dyn Storage>,
    counters: Arc<Counters>,
    stalled: Arc<AtomicBool>,
    max_batch_entries: usize,
    max_pending_entries: usize,
    /// Extracted entries not yet committed: the next batch, or a failed batch
    /// kept for retry (bounded by `max_pending_entries`).
    pending: Vec<ProtocolEntry>,
    /// Flush requests whose entries are all in `pending` or already committed.
    waiters: Vec<Reply>,
    /// The storage error of the current fault, if the last write failed.
    failing: Option<Arc<ProtocolError>>,
    retry_at: Instant,
    retry_delay: Duration,
    dropped_recorded: u64,
    warned_about_drops: bool,
    /// Whether the current run of upkeep failures has been warned about.
    maintenance_warned: bool,
}

/// Whether the writer loop goes on after a message.
enum Flow {
    Continue,
    Stop,
}

impl Writer {
    pub(crate) fn new(
        receiver: Receiver<Extracted>,
        spent: Sender<Vec<ProtocolEntry>>,
        storage: Box<dyn Storage>,
        counters: Arc<Counters>,
        stalled: Arc<AtomicBool>,
        options: &PipelineOptions,
    ) -> Self {
        Self {
            receiver,
            spent,
            storage,
            counters,
            stalled,
            max_batch_entries: options.max_batch_entries,
            max_pending_entries: options.max_pending_entries,
            pending: Vec::with_capacity(options.max_batch_entries),
            waiters: Vec::new(),
            failing: None,
            retry_at: Instant::now(),
            retry_delay: FIRST_RETRY_DELAY,
            dropped_recorded: 0,
            warned_about_drops: false,
            maintenance_warned: false,
        }
    }

    pub(crate) fn run(mut self) {
        loop {
            if let Flow::Stop = self.receive_batch() {
                return;
            }
            self.commit(!self.waiters.is_empty());
            self.answer_waiters();
        }
    }

    /// One step of the storage's upkeep (`Storage::maintain`) unless the
    /// storage is failing; returns whether more remains. A failure is warned
    /// about once and costs no entry: the next idle spell tries again. Only
    /// called while nothing waits to be written, so a burst is written first
    /// and tidied up after (a storage bounds its own backlog of upkeep).
    fn maintain(&mut self) -> bool {
        if self.failing.is_some() {
            return false;
        }
        let storage = &mut self.storage;
        match guarded(|| storage.maintain()) {
            Ok(more) => {
                self.maintenance_warned = false;
                more
            }
            Err(err) => {
                if !self.maintenance_warned {
                    self.maintenance_warned = true;
                    tracing::warn!(
                        storage = %self.storage.describe(),
                        error = %err,
                        "protocol storage upkeep failed; it is tried again after the next write"
                    );
                }
                false
            }
        }
    }

    /// Blocks for the first message, then takes whatever else is queued, up
    /// to a batch. While retrying a failed batch it wakes up for the retry.
    fn receive_batch(&mut self) -> Flow {
        if self.pending.len() >= self.max_pending_entries {
            // Full of unwritten entries: take nothing more (producers feel the
            // back-pressure) until the storage accepts a write again.
            std::thread::sleep(self.retry_at.saturating_duration_since(Instant::now()));
            return Flow::Continue;
        }
        let first = if self.pending.is_empty() {
            // Nothing to write: once it stays so, the time for upkeep, a
            // bounded step at a time, until a message arrives or nothing is
            // left.
            match self.receiver.recv_timeout(QUIET_BEFORE_UPKEEP) {
                Ok(message) => message,
                Err(RecvTimeoutError::Disconnected) => return self.stop_without_request(),
                Err(RecvTimeoutError::Timeout) => {
                    while self.receiver.is_empty() && self.maintain() {}
                    match self.receiver.recv() {
                        Ok(message) => message,
                        Err(_) => return self.stop_without_request(),
                    }
                }
            }
        } else {
            match self.receiver.recv_deadline(self.retry_at) {
                Ok(message) => message,
                Err(RecvTimeoutError::Timeout) => return Flow::Continue,
                Err(RecvTimeoutError::Disconnected) => return self.stop_without_request(),
            }
        };
        if let Flow::Stop = self.handle(first) {
            return Flow::Stop;
        }
        while self.pending.len() < self.max_batch_entries {
            match self.receiver.try_recv() {
                Ok(message) => {
                    if let Flow::Stop = self.handle(message) {
                        return Flow::Stop;
                    }
                }
                Err(_) => break,
            }
        }
        Flow::Continue
    }

    fn handle(&mut self, message: Extracted) -> Flow {
        match message {
            Extracted::Entries(mut entries) => {
                if self.pending.is_empty() {
                    std::mem::swap(&mut self.pending, &mut entries);
                } else {
                    self.pending.append(&mut entries);
                }
            }
            Extracted::Flush(reply) => self.waiters.push(reply),
            Extracted::Shutdown { reply, deadline } => {
                self.shut_down(reply, deadline);
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Writes `pending` as one batch. A failed batch stays pending and is
    /// retried with a growing delay, or at once when someone is waiting on a flush.
    fn commit(&mut self, urgent: bool) {
        if !self.pending.is_empty()
            && (urgent || self.failing.is_none() || Instant::now() >= self.retry_at)
        {
            let (storage, pending) = (&mut self.storage, &self.pending);
            match guarded(|| storage.write_batch(pending)) {
                Ok(()) => {
                    Counters::add(&self.counters.entries_written, self.pending.len() as u64);
                    Counters::add(&self.counters.batches_committed, 1);
                    // Freed by the extraction thread, which allocated them;
                    // here only if it is behind or gone.
                    let _ = self.spent.try_send(std::mem::take(&mut self.pending));
                    self.stalled.store(false, Ordering::Relaxed);
                    if self.failing.take().is_some() {
                        tracing::info!(
                            storage = %self.storage.describe(),
                            "protocol storage recovered; writing again"
                        );
                    }
                    self.retry_delay = FIRST_RETRY_DELAY;
                }
                Err(err) => {
                    Counters::add(&self.counters.write_failures, 1);
                    if self.failing.is_none() {
                        // One warning per fault, not one per retry.
                        tracing::warn!(
                            storage = %self.storage.describe(),
                            error = %err,
                            "protocol storage failed; entries are kept and retried"
                        );
                    }
                    self.failing = Some(Arc::new(err));
                    self.retry_at = Instant::now() + self.retry_delay;
                    self.retry_delay = (self.retry_delay * 2).min(MAX_RETRY_DELAY);
                }
            }
        }
        self.record_drops();
        // Before the waiters on this commit are answered.
        super::cpu_time::record_thread_cpu(&self.counters.writer_cpu_ns);
    }

    /// Puts the running drop count into the protocol, and warns once.
    fn record_drops(&mut self) {
        let dropped = self.counters.dropped_queue_full.load(Ordering::Relaxed);
        if dropped == self.dropped_recorded || self.failing.is_some() {
            return;
        }
        if !self.warned_about_drops {
            self.warned_about_drops = true;
            tracing::warn!(
                storage = %self.storage.describe(),
                dropped,
                "protocol queue overflowed; entries were dropped and the count is recorded in the protocol"
            );
        }
        let storage = &mut self.storage;
        if guarded(|| storage.record_dropped(dropped)).is_ok() {
            self.dropped_recorded = dropped;
        }
    }

    fn answer_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let answer = match (&self.failing, self.pending.is_empty()) {
            (_, true) => Ok(()),
            (Some(error), false) => Err(error.clone()),
            // Not reached: with waiters the commit is urgent, so entries
            // still pending mean it failed. Never answer "written" for them.
            (None, false) => Err(Arc::new(ProtocolError::Worker(
                "entries are still waiting to be written".to_owned(),
            ))),
        };
        for waiter in self.waiters.drain(..) {
            // A waiter that gave up (timed out) has dropped its receiver.
            waiter.send(answer.clone());
        }
    }

    /// Final flush, with retries until the caller's deadline, then close.
    fn shut_down(&mut self, reply: Reply, deadline: Instant) {
        loop {
            self.commit(true);
            if self.pending.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(
                self.retry_at
                    .min(deadline)
                    .saturating_duration_since(Instant::now()),
            );
        }
        self.answer_waiters();
        let mut result = match self.failing.take() {
            Some(error) => {
                Counters::add(&self.counters.dropped_unwritable, self.pending.len() as u64);
                self.pending.clear();
                Err(error)
            }
            None => Ok(()),
        };
        let storage = &mut self.storage;
        if let Err(err) = guarded(|| storage.close()) {
            result = result.and(Err(Arc::new(err)));
        }
        reply.send(result);
    }

    /// The extraction thread is gone without a shutdown request (only after
    /// every producer is): write what is left and close.
    fn stop_without_request(&mut self) -> Flow {
        self.commit(true);
        let storage = &mut self.storage;
        let _ = guarded(|| storage.close());
        Flow::Stop
    }
}

/// Runs a storage call, turning a panic in it into a storage error. A custom
/// [`Storage`] can panic; without this the writer thread would die with its
/// entries and flush waiters, and everything after would be lost uncounted.
/// With it, the writer keeps the entries, retries, and reports the fault like
/// any other.
fn guarded<T>(call: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(call)).unwrap_or_else(|payload| {
        let reason = payload
            .downcast_ref::<&str>()
            .map(|text| (*text).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        Err(ProtocolError::StoragePanicked { message: reason })
    })
}
