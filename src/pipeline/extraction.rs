//! The extraction thread: span data in from the producers' queue, protocol
//! entries out to the writer thread, in order.
//!
//! Extraction and storage each get a thread of their own so that, on a
//! machine with two or more cores, classifying and shaping the next batch
//! overlaps with committing the last one instead of queueing behind it.
//! Flush and shutdown requests travel through here in line with the data, so
//! a flush still answers only once everything enqueued before it is committed.

use std::time::Instant;

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};
use opentelemetry_sdk::trace::SpanData;

use super::core::{entries_in, Message, Reply};
use super::doorbell::{Sleeper, LINGER};
use super::options::PipelineOptions;
use super::stats::Counters;
use crate::config::ProtocolConfig;
use crate::entry::ProtocolEntry;
use crate::extract::Extractor;

/// What travels from the extraction thread to the writer thread, in order.
pub(crate) enum Extracted {
    /// Entries to write, in the order their spans were enqueued.
    Entries(Vec<ProtocolEntry>),
    /// Answer once everything before this is committed.
    Flush(Reply),
    /// Write what is left, close the storage, answer, stop.
    Shutdown { reply: Reply, deadline: Instant },
}

/// How many batches may wait for the writer: enough to keep it busy while
/// the next one is extracted, few enough to bound memory.
pub(crate) const EXTRACTED_QUEUE_BATCHES: usize = 2;

/// How many written batches may wait to be freed here (see
/// [`Extraction::free_spent`]); beyond that the writer frees them itself.
pub(crate) const SPENT_QUEUE_BATCHES: usize = 2;

pub(crate) struct Extraction {
    receiver: Receiver<Message>,
    sleeper: Sleeper,
    sender: Sender<Extracted>,
    /// Batches the writer has committed, sent back to be freed here.
    spent: Receiver<Vec<ProtocolEntry>>,
    extractor: Extractor,
    config: ProtocolConfig,
    counters: Arc<Counters>,
    max_batch_entries: usize,
    batch: Vec<ProtocolEntry>,
    /// A written batch, emptied, to be the next one: see [`Extraction::take_spent`].
    spare: Vec<ProtocolEntry>,
    /// A written batch whose entries are freed a few at a time, as new ones
    /// are made: see [`Extraction::recycle`]. At most one batch.
    recycling: Vec<ProtocolEntry>,
    /// Extracted span data, waiting to be freed together.
    spans_to_free: Vec<SpanData>,
    /// Answers owed to ingest submissions whose entries are in `batch`:
    /// passed on right behind it, so submissions extracted together share a
    /// commit.
    replies: Vec<Reply>,
}

/// The most extracted spans kept before they are freed together: a bound on
/// the memory that waits, a few megabytes.
const SPANS_FREED_TOGETHER: usize = 2_048;

impl Extraction {
    pub(crate) fn new(
        receiver: Receiver<Message>,
        sleeper: Sleeper,
        sender: Sender<Extracted>,
        spent: Receiver<Vec<ProtocolEntry>>,
        extractor: Extractor,
        counters: Arc<Counters>,
        options: &PipelineOptions,
    ) -> Self {
        Self {
            receiver,
            sleeper,
            sender,
            spent,
            extractor,
            config: options.config.clone(),
            counters,
            max_batch_entries: options.max_batch_entries,
            batch: Vec::new(),
            spare: Vec::new(),
            recycling: Vec::new(),
            spans_to_free: Vec::new(),
            replies: Vec::new(),
        }
    }

    pub(crate) fn run(mut self) {
        while self.wait_for_work() {
            if !self.drain() {
                return;
            }
        }
        // Every producer gone without a shutdown request (only once the
        // `Core` is dropped): hand on what is left; dropping `sender` then
        // tells the writer to write it and close.
        self.drain();
    }

    /// Sleeps while nothing is queued, then while a burst gathers (see
    /// `doorbell.rs`); `false` once every producer is gone.
    fn wait_for_work(&mut self) -> bool {
        if self.receiver.is_empty() {
            // Idle: the spare batch's memory goes back (it is for bursts).
            self.spare = Vec::new();
            self.recycling = Vec::new();
            self.extractor.release_spares();
            self.sleeper.set_parked(true);
            // A producer that queued before the flag was set did not ring.
            let idle = self.receiver.is_empty();
            let rung = !idle || self.wait_for_ring(None);
            self.sleeper.set_parked(false);
            if !rung {
                return false;
            }
        }
        if !self.sleeper.take_urgent() && self.receiver.len() < self.sleeper.wake_at() {
            self.sleeper.set_lingering(true);
            let gathering = self.receiver.len() < self.sleeper.wake_at();
            let rung = !gathering || self.wait_for_ring(Some(Instant::now() + LINGER));
            self.sleeper.set_lingering(false);
            if !rung {
                return false;
            }
        }
        true
    }

    /// Waits for a ring or the deadline, freeing written batches meanwhile;
    /// `false` once the doorbell is gone with every producer.
    fn wait_for_ring(&mut self, deadline: Option<Instant>) -> bool {
        let timeout = deadline.map_or_else(crossbeam_channel::never, crossbeam_channel::at);
        loop {
            crossbeam_channel::select! {
                recv(self.sleeper.rings()) -> ring => return ring.is_ok(),
                recv(timeout) -> _ => return true,
                recv(self.spent) -> spent => match spent {
                    // Asleep with nothing queued, there is nothing to
                    // recycle into: the entries go now, not when work comes.
                    Ok(batch) if deadline.is_none() => drop(batch),
                    Ok(batch) => self.take_spent(batch),
                    // The writer is gone; stop listening for batches.
                    Err(_) => self.spent = crossbeam_channel::never(),
                },
            }
        }
    }

    /// Extracts everything queued, handing it on a batch at a time; `false`
    /// once the thread should stop.
    fn drain(&mut self) -> bool {
        while let Ok(message) = self.receiver.try_recv() {
            let before = self.batch.len();
            if !self.handle(message) {
                return false;
            }
            self.recycle(self.batch.len().saturating_sub(before));
            if self.batch.len() >= self.max_batch_entries && !self.hand_on_batch() {
                return false;
            }
        }
        self.free_spans();
        self.hand_on_batch()
    }

    /// Takes back the batches the writer has committed, to free their
    /// entries (see [`Extraction::take_spent`]). They were allocated on this
    /// thread; freeing them here rather than on the writer
    /// keeps the allocator's work off the thread that is the bottleneck and
    /// avoids freeing memory across threads, which glibc's malloc pays for
    /// with lock traffic and fragmentation.
    fn free_spent(&mut self) {
        while let Ok(batch) = self.spent.try_recv() {
            self.take_spent(batch);
        }
    }

    /// Takes a written batch: its entries are freed as new ones are made (see
    /// [`Extraction::recycle`]), or at once when another batch is still being
    /// recycled; its memory is kept, if none is kept yet, for the next batch.
    /// Growing each batch anew and freeing it whole cost a tenth of this
    /// thread's time under a burst: in glibc, freeing a block of 64 KiB or
    /// more sweeps the arena's fast bins (`malloc_consolidate`), and a batch
    /// of a few thousand entries is megabytes, reallocated a few times as it
    /// grows (found with `perf` on the tool-burst bench).
    fn take_spent(&mut self, mut batch: Vec<ProtocolEntry>) {
        if self.recycling.is_empty() {
            self.recycling = batch;
            return;
        }
        batch.clear();
        // A batch may pass the bound by the entries of its last message.
        if self.spare.capacity() == 0 && batch.capacity() <= 2 * self.max_batch_entries {
            self.spare = batch;
        }
    }

    /// Frees as many written entries as `made` new ones (at least one),
    /// their strings kept by the extractor for the next entries' fields
    /// (`extract/spare_strings.rs`).
    ///
    /// Freed a batch at a time, a few thousand entries' strings overflowed
    /// `malloc`'s per-thread cache at once into its shared bins, and the next
    /// batch's allocations then came out of those bins, the slow way. Freed
    /// as the next entries are made, each block goes to the cache and out
    /// again to the next entry of its size. This thread's CPU per entry on
    /// the tool burst (`ProtocolStats::extraction_cpu`, three interleaved
    /// pairs each): 5.8–6.9 → 4.0–5.2 µs into SQLite, 4.5–5.6 → 3.1–4.2 into
    /// JSON Lines; on the agent runs no difference beyond the noise. The
    /// batch being recycled is freed whole when the thread goes idle.
    fn recycle(&mut self, made: usize) {
        let keep = self.recycling.len().saturating_sub(made.max(1));
        for entry in &mut self.recycling[keep..] {
            self.extractor.recycle(entry);
        }
        self.recycling.truncate(keep);
        if self.recycling.is_empty() && self.recycling.capacity() > 0 {
            let emptied = std::mem::take(&mut self.recycling);
            if self.spare.capacity() == 0 && emptied.capacity() <= 2 * self.max_batch_entries {
                self.spare = emptied;
            }
        }
    }

    /// Extracts one message; `false` once the thread should stop.
    fn handle(&mut self, message: Message) -> bool {
        match message {
            Message::Started(span) => {
                self.extractor.on_start(&span, &mut self.batch);
                self.bury(span);
            }
            Message::Ended(span) => {
                self.extractor.on_end(&span, &mut self.batch);
                self.bury(span);
            }
            Message::Finished(spans) => {
                self.extractor.on_finished_batch(&spans, &mut self.batch);
                for span in spans {
                    self.bury(span);
                }
            }
            Message::Ingest(batch) => {
                let super::ingest::Batch {
                    spans,
                    services,
                    reply,
                    permit,
                } = batch;
                self.extractor
                    .on_ingested_batch(&spans, &services, &mut self.batch);
                for span in spans {
                    self.bury(span);
                }
                drop(permit);
                self.replies.push(reply);
            }
            Message::ServiceName(name) => self.extractor.set_service_name(name),
            Message::Flush(reply) => {
                return self.hand_on_batch() && self.sender.send(Extracted::Flush(reply)).is_ok()
            }
            Message::Shutdown { reply, deadline } => {
                self.hand_on_batch();
                self.refuse_stragglers();
                let _ = self.sender.send(Extracted::Shutdown { reply, deadline });
                return false;
            }
        }
        true
    }

    /// Keeps a span's data to be freed with others (see [`Extraction::free_spans`]).
    fn bury(&mut self, span: SpanData) {
        self.spans_to_free.push(span);
        if self.spans_to_free.len() >= SPANS_FREED_TOGETHER {
            self.free_spans();
        }
    }

    /// Frees the span data of extracted messages, all at once. The
    /// application's threads allocated it, so each free takes the lock of
    /// their malloc arena; done one by one, interleaved with extraction, those
    /// frees contend with the application's own allocations for as long as
    /// the extraction runs. Together they take that lock for a moment.
    fn free_spans(&mut self) {
        self.spans_to_free.clear();
    }

    /// Sends the current batch to the writer; `false` if the writer is gone.
    /// Blocks while the writer is behind: that back-pressure is what fills
    /// the producers' queue, where the queue-full policy applies.
    fn hand_on_batch(&mut self) -> bool {
        self.free_spent();
        // Before the batch (and any flush behind it) goes on, so a flush's
        // answer finds the time spent on what it flushed.
        super::cpu_time::record_thread_cpu(&self.counters.extraction_cpu_ns);
        if self.batch.is_empty() {
            return self.hand_on_replies();
        }
        // The next batch is a written one's memory, or else grows as it
        // fills: reserving room for a full batch would cost an allocation of
        // hundreds of kilobytes for each lone entry an idle agent sends.
        let batch = std::mem::replace(&mut self.batch, std::mem::take(&mut self.spare));
        match self.sender.send(Extracted::Entries(batch)) {
            Ok(()) => self.hand_on_replies(),
            Err(crossbeam_channel::SendError(Extracted::Entries(lost))) => {
                Counters::add(&self.counters.dropped_after_shutdown, lost.len() as u64);
                // The writer is gone (a storage that panicked): what is still
                // queued can never be written either, so it is counted too.
                self.refuse_stragglers();
                false
            }
            Err(_) => false,
        }
    }

    /// Passes on the answers owed to ingest submissions whose entries were
    /// handed on: the writer answers them after the commit that holds them.
    fn hand_on_replies(&mut self) -> bool {
        for reply in self.replies.drain(..) {
            if self.sender.send(Extracted::Flush(reply)).is_err() {
                return false;
            }
        }
        true
    }

    /// Everything left in the queue after shutdown: flush requests are told
    /// the pipeline is gone (by dropping their reply), span data is counted.
    /// Done before the shutdown request goes on, so the counts are final by
    /// the time shutdown answers.
    fn refuse_stragglers(&mut self) {
        while let Ok(message) = self.receiver.try_recv() {
            let lost = entries_in(&self.config, &message);
            Counters::add(&self.counters.dropped_after_shutdown, lost);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entries::full_entry;

    fn extraction() -> Extraction {
        let options = PipelineOptions {
            max_batch_entries: 8,
            ..PipelineOptions::default()
        };
        let (_, receiver) = crossbeam_channel::bounded(1);
        let (_, sleeper) = super::super::doorbell::doorbell(16);
        let (sender, _) = crossbeam_channel::bounded(1);
        let (_, spent) = crossbeam_channel::bounded(1);
        let extractor = Extractor::new(&options.config).expect("extractor");
        Extraction::new(
            receiver,
            sleeper,
            sender,
            spent,
            extractor,
            Arc::new(Counters::default()),
            &options,
        )
    }

    fn batch(entries: u32) -> Vec<ProtocolEntry> {
        (0..entries).map(full_entry).collect()
    }

    #[test]
    fn a_written_batch_is_freed_as_new_entries_are_made() {
        let mut extraction = extraction();
        extraction.take_spent(batch(8));
        assert_eq!(extraction.recycling.len(), 8);
        // A second batch while the first is recycled is freed at once; its
        // memory is kept for the next batch.
        extraction.take_spent(batch(6));
        assert_eq!(extraction.recycling.len(), 8);
        assert!(extraction.spare.is_empty() && extraction.spare.capacity() >= 6);
        extraction.recycle(3);
        assert_eq!(extraction.recycling.len(), 5);
        // A message that made no entry still frees one.
        extraction.recycle(0);
        assert_eq!(extraction.recycling.len(), 4);
        extraction.recycle(100);
        assert!(extraction.recycling.is_empty());
        assert_eq!(extraction.recycling.capacity(), 0, "its memory moved on");
    }

    #[test]
    fn an_emptied_batch_becomes_the_spare_when_there_is_none() {
        let mut extraction = extraction();
        extraction.take_spent(batch(4));
        extraction.recycle(4);
        assert!(extraction.spare.capacity() >= 4);
        assert_eq!(extraction.recycling.capacity(), 0);
    }
}
