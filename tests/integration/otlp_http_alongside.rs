//! OTLP/HTTP alongside: a minimal OTLP/HTTP receiver in the test process
//! (HTTP/1.1, protobuf bodies) gets every span the protocol recorded, posted
//! to `/v1/traces` of the base URL the installer was given.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::support::{instrumented_run, read_all};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use reagentic_protocol::install::{OtlpExport, OtlpProtocol};
use tracing_subscriber::layer::SubscriberExt as _;

type Received = Arc<Mutex<Vec<(String, ExportTraceServiceRequest)>>>;

/// Serves one connection: requests until the client closes it.
fn serve(stream: std::net::TcpStream, received: &Received) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let mut length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let request = ExportTraceServiceRequest::decode(body.as_slice())
            .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))?;
        received.lock().unwrap().push((path, request));
        writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        )?;
    }
}

#[test]
fn every_recorded_span_also_arrives_over_otlp_http() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Received::default();
    let accepting = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let received = Arc::clone(&accepting);
            std::thread::spawn(move || serve(stream, &received));
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    let (layer, guard) = reagentic_protocol::install::builder(&path)
        .with_service_name("otlp-http")
        .with_fmt_layer(false)
        .with_otlp_export(
            OtlpExport::from_env()
                .with_protocol(OtlpProtocol::HttpProtobuf)
                .with_endpoint(format!("http://{addr}")),
        )
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || instrumented_run("conv-http"));
    drop(guard);

    let entries = read_all(&path);
    assert_eq!(entries.len(), 15);
    let received = received.lock().unwrap();
    assert!(received.iter().all(|(path, _)| path == "/v1/traces"));
    let span_ids: Vec<String> = received
        .iter()
        .flat_map(|(_, request)| &request.resource_spans)
        .flat_map(|resource| &resource.scope_spans)
        .flat_map(|scope| &scope.spans)
        .map(|span| span.span_id.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert_eq!(span_ids.len(), 8, "{span_ids:?}");
    for entry in &entries {
        assert!(span_ids.contains(&entry.span_id), "{entry:?} not exported");
    }
}
