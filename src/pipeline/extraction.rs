//! The extraction thread: span data in from the producers' queue, protocol
//! entries out to the writer thread, in order.
//!
//! Extraction and storage each get a thread of their own so that, on a
//! machine with two or more cores, classifying and shaping the next batch
//! overlaps with committing the last one instead of queueing behind it.
//! Flush and shutdown requests travel through here in line with the data, so
//! a flush still answers only once everything enqueued before it is committed.

use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::core::{entries_in, Message, Reply};
use super::stats::Counters;
use crate::config::ProtocolConfig;
use crate::entry::ProtocolEntry;
use crate::extract::Extractor;
use std::sync::Arc;

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
    sender: Sender<Extracted>,
    /// Batches the writer has committed, sent back to be freed here.
    spent: Receiver<Vec<ProtocolEntry>>,
    extractor: Extractor,
    config: ProtocolConfig,
    counters: Arc<Counters>,
    max_batch_entries: usize,
    batch: Vec<ProtocolEntry>,
}

impl Extraction {
    pub(crate) fn new(
        receiver: Receiver<Message>,
        sender: Sender<Extracted>,
        spent: Receiver<Vec<ProtocolEntry>>,
        extractor: Extractor,
        config: ProtocolConfig,
        counters: Arc<Counters>,
        max_batch_entries: usize,
    ) -> Self {
        Self {
            receiver,
            sender,
            spent,
            extractor,
            config,
            counters,
            max_batch_entries,
            batch: Vec::new(),
        }
    }

    pub(crate) fn run(mut self) {
        // Every producer gone without a shutdown request (only once the
        // `Core` is dropped): hand on what is left; dropping `sender` then
        // tells the writer to write it and close.
        while let Some(first) = self.next_message() {
            if !self.handle(first) {
                return;
            }
            // Whatever else is already queued joins this batch: under load
            // the writer gets large transactions, when idle the first entry
            // goes out at once.
            while self.batch.len() < self.max_batch_entries {
                let Ok(message) = self.receiver.try_recv() else {
                    break;
                };
                if !self.handle(message) {
                    return;
                }
            }
            if !self.hand_on_batch() {
                return;
            }
        }
        self.hand_on_batch();
    }

    /// Waits for the next message, freeing written batches meanwhile; `None`
    /// once every producer is gone.
    fn next_message(&mut self) -> Option<Message> {
        loop {
            crossbeam_channel::select! {
                recv(self.receiver) -> message => return message.ok(),
                recv(self.spent) -> spent => match spent {
                    Ok(batch) => drop(batch),
                    // The writer is gone; stop listening for batches.
                    Err(_) => self.spent = crossbeam_channel::never(),
                },
            }
        }
    }

    /// Frees the entries of batches the writer has committed. They were
    /// allocated on this thread; freeing them here rather than on the writer
    /// keeps the allocator's work off the thread that is the bottleneck and
    /// avoids freeing memory across threads, which glibc's malloc pays for
    /// with lock traffic and fragmentation.
    fn free_spent(&mut self) {
        while let Ok(batch) = self.spent.try_recv() {
            drop(batch);
        }
    }

    /// Extracts one message; `false` once the thread should stop.
    fn handle(&mut self, message: Message) -> bool {
        match message {
            Message::Started(span) => self.extractor.on_start(&span, &mut self.batch),
            Message::Ended(span) => self.extractor.on_end(&span, &mut self.batch),
            Message::Finished(spans) => self.extractor.on_finished_batch(&spans, &mut self.batch),
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

    /// Sends the current batch to the writer; `false` if the writer is gone.
    /// Blocks while the writer is behind: that back-pressure is what fills
    /// the producers' queue, where the queue-full policy applies.
    fn hand_on_batch(&mut self) -> bool {
        self.free_spent();
        if self.batch.is_empty() {
            return true;
        }
        // The next batch grows as it fills: reserving room for a full batch
        // would cost an allocation of hundreds of kilobytes for each lone
        // entry an idle agent sends.
        let batch = std::mem::take(&mut self.batch);
        match self.sender.send(Extracted::Entries(batch)) {
            Ok(()) => true,
            Err(crossbeam_channel::SendError(Extracted::Entries(lost))) => {
                Counters::add(&self.counters.dropped_after_shutdown, lost.len() as u64);
                false
            }
            Err(_) => false,
        }
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
