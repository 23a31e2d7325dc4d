//! One-call setup: the protocol pipeline, a tracer provider, the
//! `tracing-opentelemetry` layer, an optional `fmt` layer and — with the
//! feature `otlp` — OTLP export of the same spans, closed by a guard.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let _guard = reagentic_protocol::install::builder("protocol.db")
//!     .with_service_name("travel-agent")
//!     .init()?;
//! // every span from here on is recorded; `_guard`'s drop flushes and closes
//! # Ok(()) }
//! ```
//!
//! For an application that builds its own subscriber, [`build`](ProtocolInstallBuilder::build)
//! returns the layer and the guard instead of installing them:
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (layer, guard) = reagentic_protocol::install::builder("protocol.jsonl")
//!     .with_fmt_layer(false)
//!     .build()?;
//! let subscriber = tracing_subscriber::registry().with(layer);
//! tracing::subscriber::set_global_default(subscriber)?;
//! # drop(guard); Ok(()) }
//! ```

mod console;
mod guard;
#[cfg(feature = "otlp")]
mod otlp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing::Subscriber;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

pub use guard::ProtocolGuard;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{OtlpExport, OtlpProtocol};

use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};
use crate::pipeline::{ProtocolProcessor, ProtocolProcessorBuilder};
use crate::storage::Rotation;

/// The layer [`ProtocolInstallBuilder::build`] returns: the
/// `tracing-opentelemetry` layer (and the `fmt` layer, when on), boxed so
/// it fits any subscriber built on `tracing_subscriber::registry()`.
pub type ProtocolLayer<S> = Box<dyn Layer<S> + Send + Sync + 'static>;

/// Starts configuring the one-call install of a protocol written to `path`.
///
/// The extension picks the storage: `.db`, `.sqlite`, `.sqlite3` → SQLite;
/// `.jsonl`, `.ndjson` → JSON Lines; with the feature `postgres`, a
/// `postgres://` URL → PostgreSQL; anything else is
/// [`ProtocolError::UnknownFormat`] when the installer builds.
pub fn builder(path: impl AsRef<Path>) -> ProtocolInstallBuilder {
    ProtocolInstallBuilder {
        path: Target(path.as_ref().to_path_buf()),
        service_name: None,
        config: ProtocolConfig::default(),
        flush_timeout: None,
        shutdown_timeout: Duration::from_secs(5),
        fmt_layer: true,
        span_level: LevelFilter::INFO,
        retention: None,
        rotation: None,
        #[cfg(feature = "otlp")]
        otlp: None,
    }
}

/// Settings for the one-call install; finish with [`init`](Self::init) or
/// [`build`](Self::build).
#[derive(Debug)]
#[must_use = "nothing is installed until `init()` or `build()` is called"]
pub struct ProtocolInstallBuilder {
    path: Target,
    service_name: Option<String>,
    config: ProtocolConfig,
    flush_timeout: Option<Duration>,
    shutdown_timeout: Duration,
    fmt_layer: bool,
    span_level: LevelFilter,
    retention: Option<Duration>,
    rotation: Option<Rotation>,
    #[cfg(feature = "otlp")]
    otlp: Option<OtlpExport>,
}

impl ProtocolInstallBuilder {
    /// Sets `service.name`, written on every entry as `service_name` and sent
    /// with OTLP. Without it, `OTEL_SERVICE_NAME` (or `service.name` in
    /// `OTEL_RESOURCE_ATTRIBUTES`) is used, else OpenTelemetry's
    /// `unknown_service`.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Sets what the protocol extracts and keeps (detail level, limits,
    /// redaction).
    pub fn with_config(mut self, config: ProtocolConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the bound on each protocol flush (default 5 s).
    pub fn with_flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = Some(timeout);
        self
    }

    /// Sets the bound on each stage of shutdown — the protocol, then the
    /// tracer provider with its OTLP exporter (default 5 s each).
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Adds (default) or leaves out a `fmt` layer printing events, with their
    /// spans, to stderr, filtered by `RUST_LOG` (default `info`, OpenTelemetry's own logs from
    /// `warn`). The filter
    /// applies to the console only: the protocol records regardless of
    /// `RUST_LOG`. Content (messages, tool arguments and results) stays out
    /// of the console; it is in the protocol.
    pub fn with_fmt_layer(mut self, enabled: bool) -> Self {
        self.fmt_layer = enabled;
        self
    }

    /// Sets the least severe span level recorded (default `INFO`, the level
    /// of the [`instrument`](crate::instrument) helpers); `DEBUG` or `TRACE`
    /// also records, and exports, the spans libraries open at those levels.
    pub fn with_span_level(mut self, level: tracing::Level) -> Self {
        self.span_level = LevelFilter::from_level(level);
        self
    }

    /// Keeps the protocol to the runs of the last `age`, pruning while it
    /// records (see [`StorageBuilder::with_retention`]: whole runs in
    /// SQLite and PostgreSQL, whole rotated files in JSON Lines).
    ///
    /// [`StorageBuilder::with_retention`]: crate::storage::StorageBuilder::with_retention
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let _guard = reagentic_protocol::install::builder("protocol.db")
    ///     .with_retention(std::time::Duration::from_secs(30 * 24 * 3600))
    ///     .init()?;
    /// # Ok(()) }
    /// ```
    pub fn with_retention(mut self, age: Duration) -> Self {
        self.retention = Some(age);
        self
    }

    /// Rotates a JSON Lines protocol by size or day (see [`Rotation`]); on
    /// another form, building fails with `InvalidConfig`.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// use reagentic_protocol::storage::Rotation;
    /// let _guard = reagentic_protocol::install::builder("protocol.jsonl")
    ///     .with_rotation(Rotation::daily())
    ///     .init()?;
    /// # Ok(()) }
    /// ```
    pub fn with_rotation(mut self, rotation: Rotation) -> Self {
        self.rotation = Some(rotation);
        self
    }

    /// Also exports every span over OTLP, configured from the standard
    /// `OTEL_EXPORTER_OTLP_*` variables (see [`OtlpExport`]).
    ///
    /// The exporter sits behind the SDK's batch processor: the application
    /// never waits for the collector, and a collector that is down only
    /// costs the spans the batch queue cannot hold, while the protocol keeps
    /// recording. Export errors go to OpenTelemetry's internal logs.
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn with_otlp(self) -> Self {
        self.with_otlp_export(OtlpExport::from_env())
    }

    /// [`with_otlp`](Self::with_otlp) with settings that override the
    /// environment.
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn with_otlp_export(mut self, export: OtlpExport) -> Self {
        self.otlp = Some(export);
        self
    }

    /// Builds everything and installs it as the global `tracing` subscriber
    /// (and the provider as the global OpenTelemetry tracer provider).
    ///
    /// Errors: [`ProtocolError::AlreadyInstalled`] when a global subscriber is
    /// already set (the protocol opened for this call is closed again), and
    /// every error of [`build`](Self::build).
    pub fn init(self) -> Result<ProtocolGuard> {
        let (layer, guard) = self.build::<tracing_subscriber::Registry>()?;
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| ProtocolError::AlreadyInstalled)?;
        opentelemetry::global::set_tracer_provider(guard.provider().clone());
        Ok(guard)
    }

    /// Builds the pipeline without installing anything: add the returned
    /// layer to your own subscriber and keep the guard alive.
    ///
    /// Errors: [`ProtocolError::UnknownFormat`] for an unrecognised extension;
    /// the storage's open errors (an unwritable path is `Open`, naming it);
    /// `InvalidConfig` for a bad setting or an invalid `RUST_LOG`;
    /// [`ProtocolError::Otlp`] for an invalid OTLP setting, naming it.
    pub fn build<S>(self) -> Result<(ProtocolLayer<S>, ProtocolGuard)>
    where
        S: Subscriber + for<'span> LookupSpan<'span> + Send + Sync + 'static,
    {
        // Everything that can be checked without side effects comes first,
        // so a bad setting never leaves a half-created protocol file behind.
        let fmt_filter = if self.fmt_layer {
            Some(fmt_filter()?)
        } else {
            None
        };
        #[cfg(feature = "otlp")]
        let otlp = self.otlp.as_ref().map(OtlpExport::build).transpose()?;

        let mut processor =
            storage_builder(&self.path.0, self.retention, self.rotation)?.with_config(self.config);
        if let Some(timeout) = self.flush_timeout {
            processor = processor.with_flush_timeout(timeout);
        }
        let processor = processor.build()?;
        let handle = processor.handle();

        let mut resource = Resource::builder();
        if let Some(name) = self.service_name {
            resource = resource.with_service_name(name);
        }
        // The protocol's processor comes first: the provider shuts its
        // processors down in order, and the durable record goes before export.
        #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
        let mut provider = SdkTracerProvider::builder()
            .with_resource(resource.build())
            .with_span_processor(processor);
        #[cfg(feature = "otlp")]
        let mut otlp_runtime = None;
        #[cfg(feature = "otlp")]
        if let Some(otlp) = otlp {
            provider = provider.with_batch_exporter(otlp.exporter);
            otlp_runtime = otlp.runtime;
        }
        let provider = provider.build();

        let scope = InstrumentationScope::builder(env!("CARGO_PKG_NAME"))
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        let tracer = provider.tracer_with_scope(scope);
        let otel_layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(self.span_level);
        let layer: ProtocolLayer<S> = match fmt_filter {
            Some(filter) => {
                let fmt_layer = tracing_subscriber::fmt::layer()
                    .fmt_fields(console::WithoutContent)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .with_writer(std::io::stderr)
                    .with_filter(filter);
                otel_layer.and_then(fmt_layer).boxed()
            }
            None => otel_layer.boxed(),
        };

        let shown = crate::storage::display_target(&self.path.0);
        #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
        let mut guard = ProtocolGuard::new(shown, provider, handle, self.shutdown_timeout);
        #[cfg(feature = "otlp")]
        if let Some(runtime) = otlp_runtime {
            guard.keep_runtime(runtime);
        }
        Ok((layer, guard))
    }
}

/// The console filter: `RUST_LOG`, or, when it is unset or empty, `info`
/// with OpenTelemetry's own chatter (provider set, …) held to warnings.
fn fmt_filter() -> Result<EnvFilter> {
    match std::env::var(EnvFilter::DEFAULT_ENV) {
        Ok(directives) if !directives.trim().is_empty() => {
            EnvFilter::builder().parse(&directives).map_err(|err| {
                ProtocolError::InvalidConfig(format!("RUST_LOG={directives:?} is invalid: {err}"))
            })
        }
        _ => Ok(EnvFilter::new("info,opentelemetry=warn")),
    }
}

/// Where the protocol goes: a path, or a database URL whose password
/// `Debug` leaves out.
struct Target(PathBuf);

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&crate::storage::display_target(&self.0), f)
    }
}

/// A processor builder over the storage the path's extension names.
fn storage_builder(
    path: &Path,
    retention: Option<Duration>,
    rotation: Option<Rotation>,
) -> Result<ProtocolProcessorBuilder> {
    let mut storage = crate::storage::builder(path);
    if let Some(age) = retention {
        storage = storage.with_retention(age);
    }
    if let Some(rotation) = rotation {
        storage = storage.with_rotation(rotation);
    }
    Ok(ProtocolProcessor::builder(storage.open()?))
}
