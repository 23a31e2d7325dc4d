//! `ProtocolGuard`: keeps the installed pipeline alive and closes it on drop.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::error::{ProtocolError, Result};
use crate::pipeline::{ProtocolHandle, ProtocolStats};

/// Keeps the installed protocol (and OTLP export) running; dropping it
/// flushes and shuts everything down.
///
/// Bind it to a named variable that lives until the program ends:
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let _guard = reagentic_protocol::install::builder("protocol.db").init()?;
/// // … the application …
/// # Ok(()) }
/// ```
///
/// `let _ = …init()?;` drops the guard **at once** (`_` is not a binding),
/// which shuts the protocol down before anything is recorded; `let _guard`
/// keeps it.
///
/// On drop (or [`shutdown`](Self::shutdown)), the protocol is flushed and its
/// file closed first, then the tracer provider shuts down, which flushes the
/// OTLP exporter. Each stage is bounded by the shutdown timeout (default
/// 5 s), so the whole takes at most twice that even with the collector down;
/// nothing in it panics. Spans still open then are not recorded: end them
/// first.
#[must_use = "dropping the guard shuts the protocol down at once: bind it with `let _guard = …`, not `let _ = …`"]
#[derive(Debug)]
pub struct ProtocolGuard {
    path: PathBuf,
    provider: SdkTracerProvider,
    handle: ProtocolHandle,
    shutdown_timeout: Duration,
    closed: AtomicBool,
    #[cfg(feature = "otlp")]
    otlp_runtime: std::sync::Mutex<Option<tokio::runtime::Runtime>>,
}

impl ProtocolGuard {
    pub(crate) fn new(
        path: PathBuf,
        provider: SdkTracerProvider,
        handle: ProtocolHandle,
        shutdown_timeout: Duration,
    ) -> Self {
        Self {
            path,
            provider,
            handle,
            shutdown_timeout,
            closed: AtomicBool::new(false),
            #[cfg(feature = "otlp")]
            otlp_runtime: std::sync::Mutex::new(None),
        }
    }

    /// Keeps the gRPC exporter's runtime alive until the provider is shut down.
    #[cfg(feature = "otlp")]
    pub(crate) fn keep_runtime(&mut self, runtime: tokio::runtime::Runtime) {
        if let Ok(slot) = self.otlp_runtime.get_mut() {
            *slot = Some(runtime);
        }
    }

    /// Waits until every entry recorded so far is committed and readable,
    /// and hands the spans batched for OTLP to the exporter.
    ///
    /// The result is the protocol's (`Timeout`, a storage error,
    /// `AlreadyShutdown`). OTLP export never fails this call: a collector
    /// that is down or slow costs at most the SDK's flush bound (5 s), and
    /// its errors are reported through OpenTelemetry's internal logs, which
    /// the installer's `fmt` layer prints.
    pub fn flush(&self) -> Result<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(ProtocolError::AlreadyShutdown);
        }
        let protocol = self.handle.force_flush();
        // The provider flushes every processor, the protocol's again (cheap:
        // nothing new is queued) and the OTLP batch processor.
        if let Err(err) = self.provider.force_flush() {
            tracing::warn!(
                target: "reagentic_protocol::install",
                "flushing the tracer provider's other processors failed: {err}"
            );
        }
        protocol
    }

    /// Flushes and shuts down the protocol, then the tracer provider (and so
    /// the OTLP exporter), each within the shutdown timeout. The result is
    /// the protocol's; a second call returns `AlreadyShutdown`, and the drop
    /// after an explicit shutdown does nothing.
    pub fn shutdown(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Err(ProtocolError::AlreadyShutdown);
        }
        // The protocol first: it is the durable record, and a collector that
        // is down must not eat its time.
        let protocol = self.handle.shutdown_with_timeout(self.shutdown_timeout);
        // Our processor answers `AlreadyShutdown` here; the batch processor's
        // own failures are logged by the SDK, so the combined error adds
        // nothing to report.
        let _ = self.provider.shutdown_with_timeout(self.shutdown_timeout);
        #[cfg(feature = "otlp")]
        if let Some(runtime) = self.otlp_runtime.lock().ok().and_then(|mut r| r.take()) {
            // Never waits, so it is safe inside an async context too; the
            // exporter has finished or given up by now.
            runtime.shutdown_background();
        }
        protocol
    }

    /// The protocol file (for PostgreSQL, the database's URL without its
    /// password).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tracer provider: add it as the global OpenTelemetry provider, or
    /// create tracers for code that uses the OpenTelemetry API directly.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// A handle to the protocol pipeline (flush, shutdown, counters).
    pub fn handle(&self) -> &ProtocolHandle {
        &self.handle
    }

    /// What the protocol pipeline has done so far.
    pub fn stats(&self) -> ProtocolStats {
        self.handle.stats()
    }
}

impl Drop for ProtocolGuard {
    fn drop(&mut self) {
        if self.closed.load(Ordering::SeqCst) {
            return;
        }
        // A panic out of a destructor (perhaps already unwinding) aborts the
        // process; whatever a dependency does here, the guard must not.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.shutdown()));
        match outcome {
            Ok(Ok(())) | Ok(Err(ProtocolError::AlreadyShutdown)) => {}
            Ok(Err(err)) => tracing::warn!(
                target: "reagentic_protocol::install",
                path = %self.path.display(),
                "closing the protocol failed: {err}"
            ),
            Err(_) => tracing::warn!(
                target: "reagentic_protocol::install",
                path = %self.path.display(),
                "closing the protocol panicked"
            ),
        }
    }
}
