//! `ProtocolProcessor`: the primary path, a `SpanProcessor` that records a
//! start entry when a span starts and an end entry when it ends.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use opentelemetry_sdk::Resource;

use super::core::{Core, Message, ProtocolHandle};
use super::options::{PipelineOptions, QueueFullPolicy};
use crate::config::ProtocolConfig;
use crate::error::Result;
use crate::storage::Storage;

/// A span processor that writes the protocol.
///
/// `on_start` and `on_end` only move the span's data into a bounded queue; a
/// named thread (`reagentic-protocol-extract`) classifies, extracts and
/// redacts, and another (`reagentic-protocol-writer`) writes batches, one
/// storage transaction per batch.
///
/// ```no_run
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use reagentic_protocol::{ProtocolProcessor, SqliteStorage};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let processor = ProtocolProcessor::builder(SqliteStorage::open("protocol.db")?).build()?;
/// let handle = processor.handle(); // flush/shutdown/stats after the move below
/// let provider = SdkTracerProvider::builder().with_span_processor(processor).build();
/// # drop(provider); drop(handle);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProtocolProcessor {
    core: Arc<Core>,
}

impl ProtocolProcessor {
    /// Starts configuring a processor that writes to `storage`.
    pub fn builder(storage: impl Storage) -> ProtocolProcessorBuilder {
        ProtocolProcessorBuilder {
            storage: Box::new(storage),
            options: PipelineOptions::default(),
        }
    }

    /// A handle that can flush, shut down and read counters after the
    /// processor has been moved into a tracer provider.
    pub fn handle(&self) -> ProtocolHandle {
        ProtocolHandle {
            core: Arc::clone(&self.core),
        }
    }
}

impl SpanProcessor for ProtocolProcessor {
    fn on_start(&self, span: &mut Span, _cx: &Context) {
        // A span that is not recording has no data: nothing to protocol.
        if let Some(data) = span.exported_data() {
            self.core.enqueue(Message::Started(data));
        }
    }

    fn on_end(&self, span: SpanData) {
        self.core.enqueue(Message::Ended(span));
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.core
            .flush(self.core.flush_timeout())
            .map_err(Into::into)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.core.shutdown(timeout).map_err(Into::into)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.core
            .enqueue(Message::ServiceName(service_name(resource)));
    }
}

/// The `service.name` of a resource, if it has one.
pub(crate) fn service_name(resource: &Resource) -> Option<String> {
    resource
        .get(&opentelemetry::Key::from_static_str(
            opentelemetry_semantic_conventions::resource::SERVICE_NAME,
        ))
        .map(|value| value.as_str().into_owned())
}

/// Settings for a [`ProtocolProcessor`]; finish with [`build`](Self::build).
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ProtocolProcessorBuilder {
    storage: Box<dyn Storage>,
    options: PipelineOptions,
}

macro_rules! pipeline_options {
    ($builder:ident) => {
        impl $builder {
            /// Sets what is extracted and kept (detail level, limits, redaction).
            pub fn with_config(mut self, config: ProtocolConfig) -> Self {
                self.options.config = config;
                self
            }

            /// Sets how many span starts/ends may wait for the writer
            /// (default 16 384); bounds the pipeline's memory.
            pub fn with_queue_capacity(mut self, capacity: usize) -> Self {
                self.options.queue_capacity = capacity;
                self
            }

            /// Sets the most entries written in one storage transaction
            /// (default 4 096).
            pub fn with_max_batch_entries(mut self, entries: usize) -> Self {
                self.options.max_batch_entries = entries;
                self
            }

            /// Sets what producers do when the queue is full (default: wait up
            /// to 2 s, then drop and count).
            pub fn with_queue_full_policy(mut self, policy: QueueFullPolicy) -> Self {
                self.options.queue_full = policy;
                self
            }

            /// Sets the bound on `force_flush`, and on shutdown when the
            /// caller gives none (default 5 s).
            pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
                self.options.flush_timeout = timeout;
                self
            }

            /// Sets how many extracted entries the writer keeps while the
            /// storage is failing, before it stops taking more (default 65 536).
            pub fn with_max_pending_entries(mut self, entries: usize) -> Self {
                self.options.max_pending_entries = entries;
                self
            }

            /// Sets how the pipeline's threads compete with the application's
            /// for the CPU (default: [`ThreadPriority::Background`](crate::pipeline::ThreadPriority::Background)).
            pub fn with_thread_priority(
                mut self,
                priority: $crate::pipeline::ThreadPriority,
            ) -> Self {
                self.options.thread_priority = priority;
                self
            }
        }
    };
}
pub(crate) use pipeline_options;

pipeline_options!(ProtocolProcessorBuilder);

impl ProtocolProcessorBuilder {
    /// Checks the settings, opens the pipeline and starts its threads.
    ///
    /// Errors: `InvalidConfig` (a zero capacity, an invalid redaction
    /// pattern, …) or `Worker` if the thread cannot be started.
    pub fn build(self) -> Result<ProtocolProcessor> {
        Ok(ProtocolProcessor {
            core: Core::start(self.storage, self.options)?,
        })
    }
}
