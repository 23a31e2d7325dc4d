//! Queue, batch and timeout settings shared by the processor and the exporter.

use std::time::Duration;

use super::priority::ThreadPriority;
use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};

/// What a producer does when the queue to the writer is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueueFullPolicy {
    /// Wait for room, at most this long, then drop and count the entry
    /// (default, 2 s). Lossless under any load the storage can absorb; once one
    /// wait has run out, later producers drop at once until the writer makes
    /// progress again, so a stalled disk never stalls the application for long.
    Wait(Duration),
    /// Drop and count at once: the application thread never waits.
    Drop,
}

impl Default for QueueFullPolicy {
    fn default() -> Self {
        QueueFullPolicy::Wait(Duration::from_secs(2))
    }
}

#[derive(Clone, Debug)]
pub(crate) struct PipelineOptions {
    pub(crate) config: ProtocolConfig,
    pub(crate) queue_capacity: usize,
    pub(crate) max_batch_entries: usize,
    pub(crate) queue_full: QueueFullPolicy,
    pub(crate) flush_timeout: Duration,
    pub(crate) max_pending_entries: usize,
    pub(crate) thread_priority: ThreadPriority,
    /// Assembling runs that arrive in pieces (`ProtocolIngest` only).
    pub(crate) assembly: Option<super::ingest::AssemblyLimits>,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            config: ProtocolConfig::default(),
            queue_capacity: 16_384,
            max_batch_entries: 4_096,
            queue_full: QueueFullPolicy::default(),
            flush_timeout: Duration::from_secs(5),
            max_pending_entries: 65_536,
            thread_priority: ThreadPriority::default(),
            assembly: None,
        }
    }
}

impl PipelineOptions {
    pub(crate) fn validate(&self) -> Result<()> {
        if self.queue_capacity == 0 {
            return Err(ProtocolError::InvalidConfig(
                "queue capacity must be at least 1".into(),
            ));
        }
        if self.max_batch_entries == 0 {
            return Err(ProtocolError::InvalidConfig(
                "max batch size must be at least 1".into(),
            ));
        }
        if self.max_pending_entries < self.max_batch_entries {
            return Err(ProtocolError::InvalidConfig(format!(
                "max pending entries ({}) must be at least the max batch size ({})",
                self.max_pending_entries, self.max_batch_entries
            )));
        }
        if self.flush_timeout.is_zero() {
            return Err(ProtocolError::InvalidConfig(
                "flush timeout must be greater than zero".into(),
            ));
        }
        Ok(())
    }
}
