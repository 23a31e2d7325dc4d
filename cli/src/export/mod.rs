//! `export`: the runs of a protocol sent as OTLP spans to an OTLP/HTTP
//! receiver (a Collector, Jaeger, Phoenix, Langfuse, another `serve`), with
//! the GenAI attributes that show them as agent runs there. The span ids are
//! the recorded ones, so a receiver that stores by id (as `serve` does)
//! stores a run sent twice once.

mod spans;

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use axum::http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;
use reagentic_protocol::EntryFilter;
use serde::Serialize;

use crate::args::{Global, TimeWindow};
use crate::failure::{open, warn_skipped, CliResult, Failure};
use crate::output;

macro_rules! examples {
    () => {
        "Examples:
  reagentic-protocol export protocol.db --otlp http://localhost:4318
  reagentic-protocol export protocol.db --otlp http://collector:4318 --session conv-42
  reagentic-protocol export protocol.db --otlp http://team-box:4318 --header 'authorization=Bearer TOKEN'
  reagentic-protocol export protocol.db --otlp https://otel.example.com --ca-cert team-ca.pem"
    };
}

/// Send a protocol's runs as OTLP spans to an OTLP/HTTP receiver.
///
/// Each step (its start and end entries) becomes one span with the
/// OpenTelemetry GenAI attributes (`gen_ai.operation.name`, agent, model,
/// tokens, tool, conversation id, messages, error), under a `service.name`
/// resource per recorded service; a handoff becomes a `handoff` span. Steps
/// that never ended are left out (OTLP carries finished spans only). The
/// recorded trace and span ids are kept, so sending a run twice to a
/// receiver that stores by id (`serve`) stores it once. OTLP/HTTP protobuf,
/// over TLS for an https:// endpoint.
#[derive(Debug, clap::Args)]
#[command(
    after_help = examples!(),
    after_long_help = concat!(examples!(), "

JSON (--json): one object
  endpoint     where the spans went (without credentials)
  spans        how many spans were sent
  requests     how many requests carried them
  rejected     spans the receiver reported rejecting (partial success)
  unfinished   steps left out because they never ended
  bad_ids      steps left out because their trace or span id is not hex")
)]
pub struct Args {
    /// The protocol file (.db, .sqlite, .jsonl) or PostgreSQL database
    /// (postgres://…; its password is never printed).
    #[arg(value_name = "FILE")]
    file: std::path::PathBuf,
    /// The OTLP/HTTP endpoint, http:// or https://; `/v1/traces` is added
    /// when the URL has no path.
    #[arg(long, value_name = "URL")]
    otlp: String,
    /// For https://: also trust the certificates in this PEM file (a private
    /// CA, or the receiver's own certificate), besides the system's.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<std::path::PathBuf>,
    /// Only this session.
    #[arg(long, value_name = "ID")]
    session: Option<String>,
    #[command(flatten)]
    window: TimeWindow,
    /// A header on every request, as NAME=VALUE (repeat for more), such as
    /// `authorization=Bearer …` for a `serve --token`.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// Compress the requests with gzip.
    #[arg(long)]
    gzip: bool,
    /// How many spans one request carries.
    #[arg(long, value_name = "SPANS", default_value_t = 512, value_parser = clap::value_parser!(u32).range(1..))]
    batch: u32,
    /// How often a request is sent again after a "retry later" answer (429,
    /// 502, 503, 504; waiting as Retry-After says, else 0.5 s doubling up to
    /// 8 s), or after a lost connection once the receiver took a request.
    #[arg(long, value_name = "N", default_value_t = 5)]
    retries: u32,
    /// How long one request may take, connecting included, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
}

/// `export --json`.
#[derive(Debug, Serialize)]
struct Report {
    endpoint: String,
    spans: u64,
    requests: u64,
    rejected: i64,
    unfinished: u64,
    bad_ids: u64,
}

/// Runs `export`: reads the entries, makes the spans, sends them in batches.
pub fn run(args: Args, global: &Global) -> CliResult {
    let endpoint = Endpoint::parse(&args.otlp)?;
    let headers = parse_headers(&args.headers)?;
    let reader = open(&args.file)?;
    let mut filter = args.window.apply(EntryFilter::default())?;
    if let Some(session) = &args.session {
        filter = filter.with_session(session);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the HTTP client: {e}")))?;
    let sender = Sender {
        client: Client::builder(TokioExecutor::new())
            .build(connector(&endpoint, args.ca_cert.as_deref())?),
        endpoint: &endpoint,
        headers: &headers,
        gzip: args.gzip,
        timeout: Duration::from_secs(args.timeout),
        retries: args.retries,
        delivered: std::cell::Cell::new(false),
    };
    let mut report = Report {
        endpoint: endpoint.shown.clone(),
        spans: 0,
        requests: 0,
        rejected: 0,
        unfinished: 0,
        bad_ids: 0,
    };
    let batch = args.batch as usize;
    let send = |spans: Vec<_>, report: &mut Report| -> Result<(), Failure> {
        let count = spans.len() as u64;
        let request = ExportTraceServiceRequest {
            resource_spans: spans::request_of(spans),
        };
        report.rejected += runtime.block_on(sender.send(&request))?;
        report.requests += 1;
        report.spans += count;
        Ok(())
    };
    // The entries go through as they are read, a request's worth of spans
    // at a time: only the steps still open are held, whatever the size.
    let mut pairing = spans::Pairing::default();
    let mut pending = Vec::with_capacity(batch);
    let mut matched = 0u64;
    let mut failed = None;
    reader.for_each(&filter, |entry| {
        matched += 1;
        if let Some(span) = pairing.add(entry) {
            pending.push(span);
            if pending.len() >= batch {
                if let Err(failure) = send(std::mem::take(&mut pending), &mut report) {
                    failed = Some(failure);
                    return ControlFlow::Break(());
                }
            }
        }
        ControlFlow::Continue(())
    })?;
    warn_skipped(&reader);
    if let Some(failure) = failed {
        return Err(failure);
    }
    if matched == 0 {
        if let Some(session) = &args.session {
            let path = reader.path().display();
            return Err(Failure::new(format!(
                "no session {session:?} in {path} (`reagentic-protocol sessions {path}` lists them)"
            )));
        }
    }
    if !pending.is_empty() {
        send(pending, &mut report)?;
    }
    report.unfinished = pairing.unfinished();
    report.bad_ids = pairing.bad_ids;
    if global.json {
        output::print_json(&report)?;
    } else {
        let mut line = format!(
            "exported {} span(s) from {} to {} in {} request(s)",
            report.spans,
            reader.path().display(),
            report.endpoint,
            report.requests
        );
        if report.rejected > 0 {
            line.push_str(&format!("; the receiver rejected {}", report.rejected));
        }
        if report.unfinished > 0 {
            line.push_str(&format!(
                "; {} unfinished step(s) left out",
                report.unfinished
            ));
        }
        if report.bad_ids > 0 {
            line.push_str(&format!(
                "; {} entr(ies) with invalid ids left out",
                report.bad_ids
            ));
        }
        output::print(&format!("{line}\n"))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where the spans go.
#[derive(Debug)]
struct Endpoint {
    uri: Uri,
    /// `http://host:port/path`, without any credentials the URL held.
    shown: String,
}

impl Endpoint {
    fn parse(text: &str) -> Result<Endpoint, Failure> {
        let bad = |why: &str| {
            Failure::new(format!(
                "--otlp: {why} (expected http://host:port or https://host:port)"
            ))
        };
        let uri: Uri = text.trim().parse().map_err(|_| bad("not a URL"))?;
        let scheme = match uri.scheme_str() {
            Some(scheme @ ("http" | "https")) => scheme.to_owned(),
            _ => return Err(bad("the URL must start with http:// or https://")),
        };
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        // A password in the URL is never printed; the host and port are
        // what the user needs to see.
        let host_port = match authority.port_u16() {
            Some(port) => format!("{}:{port}", authority.host()),
            None => authority.host().to_owned(),
        };
        let path = match uri.path() {
            "" | "/" => "/v1/traces",
            path => path,
        };
        let path_and_query = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let shown = format!("{scheme}://{host_port}{path}");
        let uri = Uri::builder()
            .scheme(scheme.as_str())
            .authority(authority.as_str())
            .path_and_query(path_and_query)
            .build()
            .map_err(|_| bad("not a URL"))?;
        Ok(Endpoint { uri, shown })
    }
}

/// Connects over plain TCP for http:// and over TLS for https://, trusting
/// the system's root certificates and those of `ca_cert` (which an http://
/// endpoint refuses: it would be silently unused).
fn connector(endpoint: &Endpoint, ca_cert: Option<&std::path::Path>) -> Result<Connector, Failure> {
    let mut roots = rustls::RootCertStore::empty();
    let https = endpoint.uri.scheme_str() == Some("https");
    if !https && ca_cert.is_some() {
        return Err(Failure::new(format!(
            "--ca-cert is for https:// endpoints; {} is plain HTTP",
            endpoint.shown
        )));
    }
    if https {
        // Unreadable system certificates are skipped (as curl does); with
        // none usable and no --ca-cert, the handshake fails as an unknown
        // issuer, in the error line.
        let system = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(system.certs);
    }
    if let Some(path) = ca_cert {
        use rustls::pki_types::pem::PemObject;
        let shown = path.display();
        let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| Failure::new(format!("--ca-cert {shown}: {e}")))?;
        if certs.is_empty() {
            return Err(Failure::new(format!(
                "--ca-cert {shown}: no PEM certificate in it"
            )));
        }
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| Failure::new(format!("--ca-cert {shown}: {e}")))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| Failure::new(format!("cannot set up TLS: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build())
}

/// `NAME=VALUE` headers; a bad value is reported by its name only, as it
/// may be a token.
fn parse_headers(given: &[String]) -> Result<Vec<(HeaderName, HeaderValue)>, Failure> {
    given
        .iter()
        .map(|text| {
            let (name, value) = text.split_once('=').ok_or_else(|| {
                Failure::new("--header: expected NAME=VALUE, such as authorization=Bearer TOKEN")
            })?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Failure::new(format!("--header: {:?} is not a header name", name.trim()))
            })?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Failure::new(format!(
                    "--header: the value of {name} is not a valid header value"
                ))
            })?;
            Ok((name, value))
        })
        .collect()
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;
type HttpClient = Client<Connector, Full<Bytes>>;

struct Sender<'a> {
    client: HttpClient,
    endpoint: &'a Endpoint,
    headers: &'a [(HeaderName, HeaderValue)],
    gzip: bool,
    timeout: Duration,
    retries: u32,
    /// Whether the receiver has taken a request: from then on a lost
    /// connection is worth a retry (it restarted), where before it is most
    /// likely a wrong address, said at once.
    delivered: std::cell::Cell<bool>,
}

/// The first wait before a retry without Retry-After, doubled each time.
const FIRST_RETRY_WAIT: Duration = Duration::from_millis(500);
/// The longest wait before a retry, whatever Retry-After says.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(8);

/// Why an attempt failed, and whether trying again may help.
struct Attempt {
    failure: String,
    /// `Some` when the request may be sent again: after this long, if the
    /// receiver said.
    retry: Option<Option<Duration>>,
}

impl Attempt {
    fn fatal(failure: String) -> Self {
        Attempt {
            failure,
            retry: None,
        }
    }
}

impl Sender<'_> {
    /// Sends one request, again after a "retry later" answer, up to
    /// `retries` times; the spans the receiver rejected (partial success).
    async fn send(&self, request: &ExportTraceServiceRequest) -> Result<i64, Failure> {
        let mut body = request.encode_to_vec();
        if self.gzip {
            body = gzip(&body)?;
        }
        let body = Bytes::from(body);
        let mut wait = FIRST_RETRY_WAIT;
        let mut retried = 0;
        loop {
            let attempt = match self.attempt(body.clone()).await {
                Ok(rejected) => {
                    self.delivered.set(true);
                    return Ok(rejected);
                }
                Err(attempt) => attempt,
            };
            let Some(after) = attempt.retry.filter(|_| retried < self.retries) else {
                let tries = match retried {
                    0 => String::new(),
                    1 => " (after 1 retry)".to_owned(),
                    n => format!(" (after {n} retries)"),
                };
                return Err(Failure::new(format!("{}{tries}", attempt.failure)));
            };
            retried += 1;
            tokio::time::sleep(after.unwrap_or(wait).min(MAX_RETRY_WAIT)).await;
            wait = (wait * 2).min(MAX_RETRY_WAIT);
        }
    }

    /// One attempt at sending `body`.
    async fn attempt(&self, body: Bytes) -> Result<i64, Attempt> {
        let where_to = &self.endpoint.shown;
        let mut http = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.uri.clone())
            .header(CONTENT_TYPE, "application/x-protobuf");
        if self.gzip {
            http = http.header(CONTENT_ENCODING, "gzip");
        }
        for (name, value) in self.headers {
            http = http.header(name, value);
        }
        let http = http
            .body(Full::new(body))
            .map_err(|e| Attempt::fatal(format!("cannot make the request to {where_to}: {e}")))?;
        let delivered = self.delivered.get();
        let exchange = async {
            let response = self.client.request(http).await.map_err(|e| {
                let what = if e.is_connect() {
                    "cannot connect to"
                } else {
                    "request failed at"
                };
                Attempt {
                    failure: format!("{what} {where_to}: {}", chain(&e)),
                    retry: delivered.then_some(None),
                }
            })?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok()?.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| Attempt {
                    failure: format!("{where_to} broke off its answer: {e}"),
                    retry: delivered.then_some(None),
                })?
                .to_bytes();
            Ok::<_, Attempt>((status, retry_after, body))
        };
        let (status, retry_after, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| Attempt {
                failure: format!(
                    "{where_to} did not answer within {} s (--timeout)",
                    self.timeout.as_secs()
                ),
                retry: delivered.then_some(None),
            })??;
        if !status.is_success() {
            // The statuses OTLP names as "retry later".
            let retryable = matches!(status.as_u16(), 429 | 502 | 503 | 504);
            return Err(Attempt {
                failure: format!(
                    "{where_to} answered {}{}",
                    status_text(status),
                    answer_text(&body)
                ),
                retry: retryable.then_some(retry_after),
            });
        }
        // An empty or unreadable answer means every span was taken.
        Ok(ExportTraceServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map_or(0, |p| p.rejected_spans))
    }
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, Failure> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| Failure::new(format!("cannot compress the request: {e}")))
}

/// `401 Unauthorized`.
fn status_text(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("{} {reason}", status.as_u16()),
        None => status.as_u16().to_string(),
    }
}

/// `: ` and the start of a text answer, which usually says why.
fn answer_text(body: &[u8]) -> String {
    match std::str::from_utf8(body) {
        Ok(text) if !text.trim().is_empty() => {
            let text: String = text.trim().chars().take(200).collect();
            format!(": {text}")
        }
        _ => String::new(),
    }
}

/// An error and its causes (`connection refused` is a cause of hyper's
/// "client error (Connect)").
fn chain(error: &dyn std::error::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_gets_the_traces_path_and_never_shows_a_password() {
        let e = Endpoint::parse("http://localhost:4318").unwrap();
        assert_eq!(e.uri.to_string(), "http://localhost:4318/v1/traces");
        let e = Endpoint::parse("http://user:secret@collector:4318/custom").unwrap();
        assert_eq!(e.shown, "http://collector:4318/custom");
        let e = Endpoint::parse("https://user:secret@otel.example.com").unwrap();
        assert_eq!(e.uri.scheme_str(), Some("https"));
        assert_eq!(e.shown, "https://otel.example.com/v1/traces");
        assert!(Endpoint::parse("ftp://x:4318").is_err());
        assert!(Endpoint::parse("localhost:4318").is_err());
        assert!(Endpoint::parse("not a url").is_err());
    }

    #[test]
    fn headers_are_name_equals_value_and_a_bad_value_is_not_printed() {
        let h = parse_headers(&["authorization=Bearer a=b".into()]).unwrap();
        assert_eq!(h[0].0.as_str(), "authorization");
        assert_eq!(h[0].1.to_str().unwrap(), "Bearer a=b");
        assert!(parse_headers(&["no-equals".into()]).is_err());
        let Err(Failure::Message(m)) = parse_headers(&["x=bad\nsecret".into()]) else {
            panic!("a bad value is an error")
        };
        assert!(!m.contains("secret"));
    }
}
