//! `serve`: an OTLP receiver. Agents in any language, on any host, export
//! their spans over OTLP/HTTP (protobuf or JSON) or OTLP/gRPC; each span goes
//! through the same extraction as spans recorded in process, and a request
//! is answered `200` only once its entries are committed.
//!
//! One concept per file: [`otlp`] turns requests into spans, [`body`] reads
//! bodies within their bound, [`receiver`] feeds the pipeline and waits for
//! the commit, [`http`] and [`grpc`] speak the two transports, [`config`]
//! reads the extraction settings, [`progress`] reports.

mod body;
pub mod config;
mod grpc;
mod http;
pub mod otlp;
mod progress;
mod receiver;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use reagentic_protocol::pipeline::ProtocolIngest;

use crate::args::Global;
use crate::failure::{CliResult, Failure};
use crate::ui::{loopback_host, Access};
use receiver::Receiver;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol serve protocol.db
  OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python agent.py
  REAGENTIC_PROTOCOL_TOKEN=$(openssl rand -hex 16) reagentic-protocol serve protocol.db --listen 0.0.0.0:4318 --grpc-listen 0.0.0.0:4317"
    };
}

/// Receive OpenTelemetry spans over OTLP and write them into a protocol file.
///
/// OTLP/HTTP on --listen (POST /v1/traces, protobuf or JSON, gzip or not)
/// and OTLP/gRPC on --grpc-listen. A request is answered 200 only after its
/// entries are committed to the file, so an exporter that got 200 may forget
/// its spans. When the server holds as much as it may, it answers 503 with
/// Retry-After (gRPC: UNAVAILABLE), which exporters retry; bodies over
/// --max-body-bytes (after decompression) get 413 (RESOURCE_EXHAUSTED).
///
/// Listens on 127.0.0.1 unless told otherwise; any other address needs a
/// token (--token or REAGENTIC_PROTOCOL_TOKEN) that every request sends as
/// `Authorization: Bearer <token>`, or --insecure-no-token. Ctrl-C or
/// SIGTERM stops accepting, finishes the requests in flight, and closes the
/// file.
#[derive(Debug, clap::Args)]
#[command(after_help = examples!())]
pub struct Args {
    /// The protocol file to write (.db/.sqlite or .jsonl), created if missing.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// Where OTLP/HTTP listens (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    listen: SocketAddr,
    /// Where OTLP/gRPC listens (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    grpc_listen: SocketAddr,
    /// The token every request must carry (at least 16 characters); else
    /// from REAGENTIC_PROTOCOL_TOKEN. Needed for any address but loopback.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Listen on a non-loopback address without a token: anyone who can
    /// reach it writes into the protocol.
    #[arg(long)]
    insecure_no_token: bool,
    /// Extraction settings: a JSON file with detail, max_content_chars,
    /// keep_other_spans, redact_secrets, redaction_patterns, aliases
    /// ([{"field", "key"}]) and span_rules ([{"name"|"name_prefix"|
    /// "attribute"+"value"|"has_attribute", "kind"}]).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// How much of each span to keep (overrides the config file).
    #[arg(long, value_enum)]
    detail: Option<config::Detail>,
    /// Also record spans that are no agent step (span_start / span_end).
    #[arg(long)]
    keep_other_spans: bool,
    /// The largest request body accepted, in bytes after decompression.
    #[arg(long, value_name = "BYTES", default_value_t = 20 << 20)]
    max_body_bytes: usize,
    /// The most spans held between receiving and committing; past it,
    /// requests are answered "retry later".
    #[arg(long, value_name = "SPANS", default_value_t = 65_536)]
    max_queued_spans: usize,
    /// Keep runs active within this long (30d, 12h, 2w): older ones are
    /// deleted whole, a bounded step at a time, while the protocol is
    /// written. A JSON Lines protocol removes whole rotated files instead
    /// (rotating daily unless --rotate says otherwise).
    #[arg(long, value_name = "AGE", value_parser = crate::time_arg::duration_value)]
    pub retention: Option<std::time::Duration>,
    /// Start a new JSON Lines file daily, past a size (256MiB, 1GB), or
    /// both (daily,1GiB); the old one keeps a dated name beside it, and
    /// every command reads the set as one protocol.
    #[arg(long, value_name = "WHEN", value_parser = crate::rotation_arg::rotation_value)]
    rotate: Option<reagentic_protocol::storage::Rotation>,
    /// How long, after Ctrl-C or SIGTERM, requests in flight may take to
    /// finish and the file to be closed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    shutdown_timeout: u64,
}

/// How many request bodies are read and decoded at once: enough to keep
/// both cores busy, few enough that their memory stays small.
const DECODERS: usize = 8;
/// How many gRPC calls are read at once (tonic decodes a call's message
/// before the service sees it, so the bound sits in front of it).
const GRPC_CALLS: usize = 16;

/// Runs `serve` until SIGINT or SIGTERM, then closes the file.
pub fn run(args: Args, _global: &Global) -> CliResult {
    let access = Access::choose(
        args.token.clone(),
        &[args.listen, args.grpc_listen],
        args.insecure_no_token,
        "--insecure-no-token to accept spans from anyone",
    )?;
    let file_config = match &args.config {
        Some(path) => config::ConfigFile::read(path)?,
        None => config::ConfigFile::default(),
    };
    let protocol_config = file_config.protocol_config(args.detail, args.keep_other_spans)?;
    if args.max_body_bytes == 0 || args.max_queued_spans == 0 {
        return Err(Failure::new(
            "--max-body-bytes and --max-queued-spans must be at least 1",
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server: {e}")))?;
    runtime.block_on(serve(args, access, protocol_config))
}

/// Binds, with the one-line error a port in use deserves.
async fn bind(address: SocketAddr, what: &str) -> Result<tokio::net::TcpListener, Failure> {
    tokio::net::TcpListener::bind(address).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Failure::new(format!(
                "cannot listen for {what} on {address}: the port is in use (another receiver or Collector?); choose another with {}",
                if what == "OTLP/HTTP" { "--listen" } else { "--grpc-listen" }
            ))
        } else {
            Failure::new(format!("cannot listen for {what} on {address}: {e}"))
        }
    })
}

async fn serve(
    args: Args,
    access: Access,
    protocol_config: reagentic_protocol::ProtocolConfig,
) -> CliResult {
    // Both ports first: a port in use is reported before the file is touched.
    let http_listener = bind(args.listen, "OTLP/HTTP").await?;
    let grpc_listener = bind(args.grpc_listen, "OTLP/gRPC").await?;
    let http_address = http_listener.local_addr()?;
    let grpc_address = grpc_listener.local_addr()?;
    // Opened off the async threads: the PostgreSQL client is synchronous
    // and runs a runtime of its own, which may not start inside this one.
    let (file, retention, rotation) = (args.file.clone(), args.retention, args.rotate);
    let storage = tokio::task::spawn_blocking(move || open_storage(&file, retention, rotation))
        .await
        .map_err(|e| Failure::new(format!("opening the protocol failed: {e}")))??;
    // The storage's own name for it: a database URL without its password.
    let name = reagentic_protocol::Storage::describe(&storage);
    let ingest = ProtocolIngest::builder(storage)
        .with_config(protocol_config)
        .with_max_queued_spans(args.max_queued_spans)
        .build()?;
    let receiver = Arc::new(Receiver::new(ingest, DECODERS, args.max_body_bytes));
    // The run pages of `ui`, live, on the same port: opened off the async
    // threads for the same reason as the storage.
    let file = args.file.clone();
    let state = tokio::task::spawn_blocking(move || {
        crate::ui::UiState::open_path(&file, crate::ui::SESSIONS_SHOWN)
    })
    .await
    .map_err(|e| Failure::new(format!("opening the run pages failed: {e}")))??;
    let signalled = stop_signal();
    let how = match &access {
        Access::Loopback => "this machine only",
        Access::Token(_) => "token required",
        Access::Open => "WITHOUT a token: anyone who can connect writes into the protocol",
    };
    progress::log(
        "info",
        &format!(
            "receiving OTLP into {name}: HTTP at http://{http_address} (/v1/traces), gRPC at {grpc_address} ({how}; Ctrl-C stops); run pages at http://{http_address}/"
        ),
    );

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let on_stop = move || {
        let mut stopped = stopped.clone();
        async move {
            // An error means the sender is gone, which is a stop as well.
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let app = http::router(Arc::clone(&receiver))
        .layer(axum::middleware::from_fn_with_state(access.clone(), guard))
        .merge(crate::ui::guarded_router(state, access.clone()));
    let mut http_server = tokio::spawn(
        axum::serve(http_listener, app)
            .with_graceful_shutdown(on_stop())
            .into_future(),
    );
    let grpc_server = tokio::spawn(
        tonic::transport::Server::builder()
            // Calls past the bound wait with their bodies unread.
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(GRPC_CALLS))
            .add_service(grpc::service(Arc::clone(&receiver), access))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(grpc_listener),
                on_stop(),
            ),
    );
    let reporter = tokio::spawn(progress::report(Arc::clone(&receiver)));

    // The HTTP server ends by itself only on an error; then stop as well.
    let (why, http_ended) = tokio::select! {
        signal = signalled => (signal, false),
        _ = &mut http_server => ("the HTTP server stopped".to_owned(), true),
    };
    progress::log("info", &format!("{why}: finishing the requests in flight"));
    let _ = stop.send(true);
    let bound = Duration::from_secs(args.shutdown_timeout);
    let drained = tokio::time::timeout(bound, async {
        if !http_ended {
            let _ = http_server.await;
        }
        let _ = grpc_server.await;
    })
    .await;
    reporter.abort();
    if drained.is_err() {
        progress::log(
            "warn",
            &format!(
                "requests still in flight after {} s are cut off (their clients retry)",
                bound.as_secs()
            ),
        );
    }
    let handle = receiver.ingest().handle();
    let closed = tokio::task::spawn_blocking(move || handle.shutdown_with_timeout(bound))
        .await
        .map_err(|e| Failure::new(format!("closing the protocol failed: {e}")))?;
    let counters = &receiver.counters;
    use std::sync::atomic::Ordering::Relaxed;
    // What the recorder cost the machine (zero where the platform does not
    // say, and then left out).
    let stats = receiver.ingest().handle().stats();
    let cpu = if stats.extraction_cpu.is_zero() && stats.writer_cpu.is_zero() {
        String::new()
    } else {
        format!(
            "; CPU: extraction {:.3} s, writer {:.3} s",
            stats.extraction_cpu.as_secs_f64(),
            stats.writer_cpu.as_secs_f64()
        )
    };
    progress::log(
        "info",
        &format!(
            "stopped: {} spans committed, {} rejected, {} answered retry-later, {} refused{cpu}",
            counters.spans.load(Relaxed),
            counters.rejected.load(Relaxed),
            counters.busy.load(Relaxed),
            counters.refused.load(Relaxed),
        ),
    );
    closed.map_err(|e| Failure::new(format!("closing {name} failed: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM, naming it. The handlers are registered
/// when this is called, not when it is first awaited: a signal that comes
/// right after the startup line is then ours, never the default action's
/// (which would end the process without closing the file).
fn stop_signal() -> impl std::future::Future<Output = String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let terminate = signal(SignalKind::terminate()).ok();
        let interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            let (mut terminate, mut interrupt) = (terminate, interrupt);
            tokio::select! {
                Some(()) = next(interrupt.as_mut()) => "interrupted".to_owned(),
                Some(()) = next(terminate.as_mut()) => "terminated".to_owned(),
                else => "the signal handlers failed".to_owned(),
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
            "interrupted".to_owned()
        }
    }
}

/// The next signal of `stream`; never, without one.
#[cfg(unix)]
async fn next(stream: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
    match stream {
        Some(stream) => stream.recv().await,
        None => std::future::pending().await,
    }
}

/// Middleware: the access rule, by bearer token (OTLP exporters send
/// headers, never cookies).
async fn guard(State(access): State<Access>, request: Request, next: Next) -> Response {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if access.admits_bearer(authorization, loopback_host(request.headers())) {
        return next.run(request).await;
    }
    let message = match access {
        Access::Loopback => "this server answers only to localhost, 127.0.0.1 or [::1] (start it with --token to serve other names)",
        _ => "this server needs its token: send Authorization: Bearer <token> (OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>)",
    };
    (StatusCode::UNAUTHORIZED, format!("{message}\n")).into_response()
}

/// The storage `serve` writes: the protocol at `file`, with retention in the
/// writer and rotation (JSON Lines) when asked for.
fn open_storage(
    file: &std::path::Path,
    retention: Option<std::time::Duration>,
    rotation: Option<reagentic_protocol::storage::Rotation>,
) -> Result<Box<dyn reagentic_protocol::Storage>, Failure> {
    let mut storage = reagentic_protocol::storage::builder(file);
    if let Some(age) = retention {
        storage = storage.with_retention(age);
    }
    if let Some(rotation) = rotation {
        storage = storage.with_rotation(rotation);
    }
    Ok(storage.open()?)
}
