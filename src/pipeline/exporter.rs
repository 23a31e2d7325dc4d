//! `ProtocolExporter`: for users who put the protocol behind the SDK's own
//! batch processor. It writes the start and end entry of each finished span.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};
use opentelemetry_sdk::Resource;

use super::core::{Core, Message, ProtocolHandle};
use super::options::{PipelineOptions, QueueFullPolicy};
use super::processor::{pipeline_options, service_name};
use crate::config::ProtocolConfig;
use crate::error::Result;
use crate::storage::Storage;

/// A span exporter that writes the protocol.
///
/// Each `export` returns once its spans are committed (or with the storage
/// error), so the SDK's batch processor's flush means durable too. Because
/// entries are written only when spans finish, a run that crashes mid-way
/// leaves no trace of what it began: prefer
/// [`ProtocolProcessor`](crate::ProtocolProcessor) where that matters.
///
/// ```no_run
/// use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider};
/// use reagentic_protocol::{JsonlStorage, ProtocolExporter};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let exporter = ProtocolExporter::builder(JsonlStorage::open("p.jsonl")?).build()?;
/// let provider = SdkTracerProvider::builder()
///     .with_span_processor(BatchSpanProcessor::builder(exporter).build())
///     .build();
/// # drop(provider);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProtocolExporter {
    core: Arc<Core>,
}

impl ProtocolExporter {
    /// Starts configuring an exporter that writes to `storage`.
    pub fn builder(storage: impl Storage) -> ProtocolExporterBuilder {
        ProtocolExporterBuilder {
            storage: Box::new(storage),
            options: PipelineOptions::default(),
        }
    }

    /// A handle that can flush, shut down and read counters after the
    /// exporter has been moved into a batch processor.
    pub fn handle(&self) -> ProtocolHandle {
        ProtocolHandle {
            core: Arc::clone(&self.core),
        }
    }
}

impl SpanExporter for ProtocolExporter {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let core = Arc::clone(&self.core);
        async move {
            if core.is_shutdown() {
                return Err(opentelemetry_sdk::error::OTelSdkError::AlreadyShutdown);
            }
            core.enqueue(Message::Finished(batch));
            // Bounded by the flush timeout; the batch processor calls export
            // from its own thread, never from the application's.
            core.flush(core.flush_timeout()).map_err(Into::into)
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.core.shutdown(timeout).map_err(Into::into)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.core
            .flush(self.core.flush_timeout())
            .map_err(Into::into)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.core
            .enqueue(Message::ServiceName(service_name(resource)));
    }
}

/// Settings for a [`ProtocolExporter`]; finish with [`build`](Self::build).
#[derive(Debug)]
#[must_use = "a builder does nothing until `build()` is called"]
pub struct ProtocolExporterBuilder {
    storage: Box<dyn Storage>,
    options: PipelineOptions,
}

pipeline_options!(ProtocolExporterBuilder);

impl ProtocolExporterBuilder {
    /// Checks the settings, opens the pipeline and starts its threads.
    pub fn build(self) -> Result<ProtocolExporter> {
        Ok(ProtocolExporter {
            core: Core::start(self.storage, self.options)?,
        })
    }
}
