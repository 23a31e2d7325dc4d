//! A real `serve` process on ephemeral ports, raw HTTP requests to it, and
//! the agent run the client tests send.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::bin;

/// How long anything in these tests may take before it counts as a hang.
pub const WAIT: Duration = Duration::from_secs(30);

/// A running `serve`, killed on drop.
pub struct Serve {
    child: Child,
    /// `127.0.0.1:port` of OTLP/HTTP.
    pub http: String,
    /// `127.0.0.1:port` of OTLP/gRPC.
    pub grpc: String,
    log: Arc<Mutex<String>>,
    /// The thread reading stderr into `log`: joined once the server has
    /// exited, so the log then holds its last lines.
    drain: Option<std::thread::JoinHandle<()>>,
}

impl Serve {
    /// Starts `serve FILE` on ports 0 with `extra` flags; returns once it
    /// listens.
    pub fn start(file: &Path, extra: &[&str]) -> Serve {
        let mut child = bin()
            .args(["serve", file.to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("REAGENTIC_PROTOCOL_TOKEN")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        lines.read_line(&mut first).expect("the first line");
        let after = |marker: &str| {
            first
                .split(marker)
                .nth(1)
                .map(|rest| {
                    rest.chars()
                        .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':')
                        .collect::<String>()
                })
                .unwrap_or_else(|| panic!("no {marker:?} in {first:?}"))
        };
        let http = after("HTTP at http://");
        let grpc = after("gRPC at ");
        let log = Arc::new(Mutex::new(first.clone()));
        let sink = Arc::clone(&log);
        // Drained all along, so the server never blocks on a full pipe.
        let drain = std::thread::spawn(move || {
            let mut rest = String::new();
            while lines.read_line(&mut rest).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&rest);
                rest.clear();
            }
        });
        Serve {
            child,
            http,
            grpc,
            log,
            drain: Some(drain),
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Sends `signal` (`TERM`, `INT`, `KILL`) and waits for the exit.
    pub fn signal_and_wait(&mut self, signal: &str) -> (ExitStatus, Duration) {
        let started = Instant::now();
        let sent = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                if let Some(drain) = self.drain.take() {
                    let _ = drain.join();
                }
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < WAIT,
                "serve did not exit after SIG{signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// One HTTP/1.1 request to the OTLP/HTTP port.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Reply {
        let mut stream = TcpStream::connect(&self.http).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.http,
            body.len()
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        // The server may answer before reading a body it refuses.
        let _ = stream.write_all(body);
        Reply::read(stream)
    }

    /// `POST /v1/traces`.
    pub fn post(&self, headers: &[(&str, &str)], body: &[u8]) -> Reply {
        self.request("POST", "/v1/traces", headers, body)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// Reads a whole `Connection: close` response.
    pub fn read(mut stream: TcpStream) -> Reply {
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .expect("a status");
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Reply {
            status,
            headers,
            body: raw[split + 4..].to_vec(),
        }
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A tracer provider for `service` that sends each span on its own through
/// `exporter` (the SDK's simple processor, as many quick-starts set it up).
pub fn provider(
    exporter: opentelemetry_otlp::SpanExporter,
    service: &str,
) -> opentelemetry_sdk::trace::SdkTracerProvider {
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build()
}

impl Serve {
    /// A tracer provider for `service` sending each span on its own to
    /// this server over OTLP/HTTP protobuf.
    pub fn http_provider(&self, service: &str) -> opentelemetry_sdk::trace::SdkTracerProvider {
        use opentelemetry_otlp::WithExportConfig;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(format!("http://{}/v1/traces", self.http))
            .build()
            .expect("an OTLP/HTTP exporter");
        provider(exporter, service)
    }
}
