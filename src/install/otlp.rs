//! OTLP export next to the protocol (feature `otlp`): the same spans go to a
//! collector over gRPC or HTTP/protobuf, configured like every OpenTelemetry
//! SDK from the `OTEL_EXPORTER_OTLP_*` variables.

use std::time::Duration;

use opentelemetry_otlp::{SpanExporter, WithExportConfig};

use crate::error::{ProtocolError, Result};

/// The signal-specific and the generic protocol variables, in precedence order.
const PROTOCOL_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
];

/// The signal-specific and the generic endpoint variables, in precedence order.
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The path of the traces service on an OTLP/HTTP collector.
const HTTP_TRACES_PATH: &str = "/v1/traces";

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC (`grpc`), usually port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`), usually port 4318;
    /// the OpenTelemetry default.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The value `OTEL_EXPORTER_OTLP_PROTOCOL` uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            OtlpProtocol::Grpc => "grpc",
            OtlpProtocol::HttpProtobuf => "http/protobuf",
        }
    }
}

/// Where and how spans are exported over OTLP.
///
/// Anything not set here comes from the standard variables, exactly as in
/// other OpenTelemetry SDKs: `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL` (`grpc`
/// or `http/protobuf`, the default), `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`
/// (default `http://localhost:4318` for HTTP, `http://localhost:4317` for
/// gRPC), `OTEL_EXPORTER_OTLP_[TRACES_]HEADERS`, `…_TIMEOUT` and
/// `…_COMPRESSION`; the batch processor reads `OTEL_BSP_*`.
///
/// ```
/// use reagentic_protocol::install::{OtlpExport, OtlpProtocol};
/// let export = OtlpExport::from_env()
///     .with_protocol(OtlpProtocol::Grpc)
///     .with_endpoint("http://localhost:4317");
/// assert_eq!(export.protocol(), Some(OtlpProtocol::Grpc));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OtlpExport {
    endpoint: Option<String>,
    protocol: Option<OtlpProtocol>,
    timeout: Option<Duration>,
}

/// A built exporter and, for gRPC, the runtime its channel lives on.
pub(crate) struct OtlpPipeline {
    pub(crate) exporter: SpanExporter,
    pub(crate) runtime: Option<tokio::runtime::Runtime>,
}

impl OtlpExport {
    /// Everything from the environment (read when the installer builds).
    pub fn from_env() -> Self {
        Self::default()
    }

    /// Sets the collector's URL, overriding the endpoint variables. Like
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, a URL without a path gets `/v1/traces`
    /// appended for HTTP; gRPC uses it as it is.
    pub fn with_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets the transport, overriding the protocol variables.
    pub fn with_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// Sets how long one export may take, overriding
    /// `OTEL_EXPORTER_OTLP_TIMEOUT` (default 10 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The transport set on this value, if any (else the environment decides).
    pub fn protocol(&self) -> Option<OtlpProtocol> {
        self.protocol
    }

    /// The endpoint set on this value, if any (else the environment decides).
    pub fn endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Resolves the settings and builds the exporter. gRPC gets a small
    /// runtime of its own (one worker thread), so export works from plain
    /// threads and never competes with, or deadlocks on, the application's
    /// runtime (a `current_thread` runtime blocked in a flush included).
    pub(crate) fn build(&self) -> Result<OtlpPipeline> {
        let protocol = match self.protocol {
            Some(protocol) => protocol,
            None => protocol_from_env()?,
        };
        check_endpoint(self.endpoint.as_deref(), protocol)?;
        match protocol {
            OtlpProtocol::Grpc => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("reagentic-otlp")
                    .enable_all()
                    // The exporter's own HTTP/2 machinery may open `tracing`
                    // spans; on these threads they must not become spans to
                    // export, or every export would cause another.
                    .on_thread_start(|| {
                        std::mem::forget(opentelemetry::Context::enter_telemetry_suppressed_scope())
                    })
                    .build()
                    .map_err(|err| {
                        ProtocolError::Otlp(format!(
                            "cannot start the gRPC exporter's runtime: {err}"
                        ))
                    })?;
                let mut builder = SpanExporter::builder().with_tonic();
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                if let Some(timeout) = self.timeout {
                    builder = builder.with_timeout(timeout);
                }
                // tonic spawns its connection task on the runtime current at build.
                let exporter = {
                    let _entered = runtime.enter();
                    builder.build()
                }
                .map_err(|err| ProtocolError::Otlp(err.to_string()))?;
                Ok(OtlpPipeline {
                    exporter,
                    runtime: Some(runtime),
                })
            }
            OtlpProtocol::HttpProtobuf => {
                let mut builder = SpanExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary);
                if let Some(endpoint) = &self.endpoint {
                    builder = builder.with_endpoint(http_traces_url(endpoint));
                }
                if let Some(timeout) = self.timeout {
                    builder = builder.with_timeout(timeout);
                }
                let exporter = builder
                    .build()
                    .map_err(|err| ProtocolError::Otlp(err.to_string()))?;
                Ok(OtlpPipeline {
                    exporter,
                    runtime: None,
                })
            }
        }
    }
}

/// The protocol the variables ask for; unset or empty means the default.
fn protocol_from_env() -> Result<OtlpProtocol> {
    for var in PROTOCOL_VARS {
        let Some(value) = env_value(var)? else {
            continue;
        };
        return match value.as_str() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
            "http/json" => Err(ProtocolError::Otlp(format!(
                "{var}=http/json is not supported by this build; use grpc or http/protobuf"
            ))),
            other => Err(ProtocolError::Otlp(format!(
                "{var}={other:?} is not an OTLP protocol; expected grpc or http/protobuf"
            ))),
        };
    }
    Ok(OtlpProtocol::HttpProtobuf)
}

/// A variable's trimmed value; empty counts as unset, as the spec says.
fn env_value(var: &str) -> Result<Option<String>> {
    match std::env::var(var) {
        Ok(value) if value.trim().is_empty() => Ok(None),
        Ok(value) => Ok(Some(value.trim().to_owned())),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(ProtocolError::Otlp(format!("{var} is not valid UTF-8")))
        }
    }
}

/// Rejects endpoints the exporter would accept but could never reach, naming
/// where the endpoint came from. The exporter checks the rest (URL syntax).
fn check_endpoint(programmatic: Option<&str>, protocol: OtlpProtocol) -> Result<()> {
    let (endpoint, source) = match programmatic {
        Some(endpoint) => (endpoint.to_owned(), "the endpoint given to the installer"),
        None => {
            let mut found = None;
            for var in ENDPOINT_VARS {
                if let Some(value) = env_value(var)? {
                    found = Some((value, var));
                    break;
                }
            }
            match found {
                Some(found) => found,
                None => return Ok(()),
            }
        }
    };
    let invalid = |why: &str| {
        Err(ProtocolError::Otlp(format!(
            "invalid endpoint {endpoint:?} from {source}: {why}"
        )))
    };
    match endpoint.split_once("://") {
        Some((scheme, rest)) => {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return invalid("the scheme must be http or https");
            }
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.is_empty() {
                return invalid("it names no host");
            }
            if authority.chars().any(char::is_whitespace) {
                return invalid("the host contains whitespace");
            }
            Ok(())
        }
        // gRPC endpoints may omit the scheme (OTEL_EXPORTER_OTLP_INSECURE
        // then picks it); an HTTP endpoint must be a URL.
        None if protocol == OtlpProtocol::Grpc => Ok(()),
        None => invalid("expected a URL such as http://localhost:4318"),
    }
}

/// A collector base URL as the traces URL: `/v1/traces` is appended when the
/// URL has no path, as for `OTEL_EXPORTER_OTLP_ENDPOINT`.
fn http_traces_url(endpoint: &str) -> String {
    let after_scheme = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest);
    let has_path = after_scheme
        .find('/')
        .is_some_and(|slash| !after_scheme[slash..].trim_end_matches('/').is_empty());
    if has_path {
        endpoint.to_owned()
    } else {
        format!("{}{HTTP_TRACES_PATH}", endpoint.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_base_urls_get_the_traces_path_and_full_urls_are_kept() {
        assert_eq!(
            http_traces_url("http://localhost:4318"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("http://localhost:4318/"),
            "http://localhost:4318/v1/traces"
        );
        assert_eq!(
            http_traces_url("https://otel.example/custom/traces"),
            "https://otel.example/custom/traces"
        );
    }

    #[test]
    fn unreachable_endpoints_are_named_with_their_source() {
        let err = check_endpoint(Some("ftp://collector:21"), OtlpProtocol::Grpc).unwrap_err();
        assert!(err.to_string().contains("ftp://collector:21"), "{err}");
        assert!(err.to_string().contains("installer"), "{err}");
        assert!(check_endpoint(Some("http://"), OtlpProtocol::HttpProtobuf).is_err());
        assert!(check_endpoint(Some("collector:4318"), OtlpProtocol::HttpProtobuf).is_err());
        assert!(check_endpoint(Some("collector:4317"), OtlpProtocol::Grpc).is_ok());
        assert!(check_endpoint(Some("http://127.0.0.1:4317"), OtlpProtocol::Grpc).is_ok());
    }
}
