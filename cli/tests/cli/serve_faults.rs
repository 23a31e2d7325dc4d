//! `serve` under bad input and faults, with raw requests on real sockets:
//! every refusal has the status the OTLP spec gives it and loses nothing
//! else; a retried request stores nothing twice; overload answers 503 with
//! Retry-After and retries end with everything stored once; a `200` is
//! durable even when the server is killed right after it; a signal stops it
//! cleanly; a port in use is one line.

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

use crate::otlp::{request, text};
use crate::serve_support::{Reply, Serve, WAIT};
use crate::support::{read_all, run, stderr};

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A request of `count` finished tool-call spans in trace `trace`, span ids
/// from `first`.
fn tool_calls(trace: u64, first: u64, count: u64) -> ExportTraceServiceRequest {
    let spans = (first..first + count)
        .map(|id| Span {
            trace_id: [[0u8; 8], trace.to_be_bytes()].concat(),
            span_id: id.to_be_bytes().to_vec(),
            name: format!("execute_tool t{id}"),
            start_time_unix_nano: 1_764_558_000_000_000_000 + id,
            end_time_unix_nano: 1_764_558_000_000_001_000 + id,
            attributes: vec![text("gen_ai.operation.name", "execute_tool")],
            ..Default::default()
        })
        .collect();
    request("faults", spans)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// The `google.rpc.Status` message of a protobuf error response.
fn status_message(reply: &Reply) -> String {
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
    }
    RpcStatus::decode(reply.body.as_slice())
        .unwrap_or_else(|e| panic!("not a google.rpc.Status ({e}): {reply:?}"))
        .message
}

#[test]
fn every_bad_request_gets_its_status_and_the_good_ones_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let server = Serve::start(&file, &["--max-body-bytes", "100000"]);

    let reply = server.post(&[("Content-Type", "text/plain")], b"spans");
    assert_eq!(reply.status, 415);
    assert!(status_message(&reply).contains("Content-Type"));

    let reply = server.post(&[PROTOBUF], b"\xff\xff\xff not protobuf");
    assert_eq!(reply.status, 400);
    assert!(status_message(&reply).contains("not an OTLP protobuf"));

    let reply = server.post(&[JSON], b"{\"resourceSpans\": 7}");
    assert_eq!(reply.status, 400);
    let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("OTLP/JSON"),
        "{body}"
    );

    let reply = server.request("GET", "/v1/traces", &[], b"");
    assert_eq!(reply.status, 405);

    let reply = server.post(&[PROTOBUF, ("Content-Encoding", "br")], b"x");
    assert_eq!(reply.status, 415);

    // Over the limit on the wire, and over it only once inflated.
    let big = tool_calls(1, 1, 2_000).encode_to_vec();
    assert!(big.len() > 100_000);
    let reply = server.post(&[PROTOBUF], &big);
    assert_eq!(reply.status, 413);
    assert!(status_message(&reply).contains("larger than 100000 bytes"));
    let bomb = gzip(&vec![0u8; 256 << 20]);
    let reply = server.post(&[PROTOBUF, ("Content-Encoding", "gzip")], &bomb);
    assert_eq!(reply.status, 413);
    let reply = server.post(&[PROTOBUF, ("Content-Encoding", "gzip")], b"not gzip");
    assert_eq!(reply.status, 400);

    // A body cut off by a client that went away mid-request.
    let mut stream = TcpStream::connect(&server.http).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "POST /v1/traces HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\nContent-Length: 5000\r\n\r\n",
        server.http
    )
    .unwrap();
    stream.write_all(&big[..1000]).unwrap();
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    assert_eq!(Reply::read(stream).status, 400);

    // One span with a bad id is rejected; the other of its request is kept.
    let mut request = tool_calls(2, 1, 2);
    request.resource_spans[0].scope_spans[0].spans[1].span_id = vec![0; 8];
    let reply = server.post(&[PROTOBUF], &request.encode_to_vec());
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/x-protobuf"));
    let response = ExportTraceServiceResponse::decode(reply.body.as_slice()).unwrap();
    let partial = response.partial_success.expect("partial success");
    assert_eq!(partial.rejected_spans, 1);
    assert!(partial.error_message.contains("span id"));

    // The same in JSON, answered in JSON.
    let json = serde_json::to_vec(&tool_calls(3, 1, 1)).unwrap();
    let reply = server.post(&[JSON], &json);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));

    // Metrics and logs are accepted and dropped, said once.
    for path in ["/v1/metrics", "/v1/logs", "/v1/metrics"] {
        assert_eq!(server.request("POST", path, &[PROTOBUF], b"").status, 200);
    }

    let entries = read_all(&file);
    assert_eq!(entries.len(), 4, "two spans kept, two entries each");
    assert!(entries
        .iter()
        .all(|e| e.service_name.as_deref() == Some("faults")));
    // The server's stderr is read by a thread of the test: give the line a
    // moment to arrive before counting it.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !server.log().contains("metrics are accepted and dropped")
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = server.log();
    assert_eq!(
        log.matches("metrics are accepted and dropped").count(),
        1,
        "{log}"
    );
}

#[test]
fn a_retried_request_stores_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let server = Serve::start(&file, &[]);
    let body = tool_calls(4, 1, 50).encode_to_vec();
    for _ in 0..3 {
        assert_eq!(server.post(&[PROTOBUF], &body).status, 200);
    }
    let gzipped = gzip(&body);
    assert_eq!(
        server
            .post(&[PROTOBUF, ("Content-Encoding", "gzip")], &gzipped)
            .status,
        200
    );
    assert_eq!(read_all(&file).len(), 100);
}

#[test]
fn a_token_is_required_off_loopback_and_checked_on_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let out = run(&[
        "serve",
        file.to_str().unwrap(),
        "--listen",
        "0.0.0.0:0",
        "--grpc-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("not a loopback address"),
        "{}",
        stderr(&out)
    );
    assert!(
        !file.exists(),
        "nothing is created before the server can start"
    );

    let token = "0123456789abcdef0123";
    let server = Serve::start(&file, &["--token", token]);
    let body = tool_calls(5, 1, 1).encode_to_vec();
    assert_eq!(server.post(&[PROTOBUF], &body).status, 401);
    let wrong = "Bearer 0123456789abcdef0124";
    assert_eq!(
        server
            .post(&[PROTOBUF, ("Authorization", wrong)], &body)
            .status,
        401
    );
    let right = format!("Bearer {token}");
    assert_eq!(
        server
            .post(&[PROTOBUF, ("Authorization", &right)], &body)
            .status,
        200
    );
    assert_eq!(read_all(&file).len(), 2);
}

#[test]
fn overload_answers_503_with_retry_after_and_retries_store_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let server = std::sync::Arc::new(Serve::start(&file, &["--max-queued-spans", "100"]));
    let clients: Vec<_> = (0..8u64)
        .map(|client| {
            let server = std::sync::Arc::clone(&server);
            std::thread::spawn(move || {
                let mut busy = 0;
                for batch in 0..20u64 {
                    let body = tool_calls(100 + client, batch * 100 + 1, 100).encode_to_vec();
                    loop {
                        let reply = server.post(&[PROTOBUF], &body);
                        match reply.status {
                            200 => break,
                            503 => {
                                assert_eq!(reply.header("retry-after"), Some("1"));
                                busy += 1;
                                // Shorter than Retry-After, to keep the test quick.
                                std::thread::sleep(Duration::from_millis(20));
                            }
                            other => panic!("{other}: {}", reply.text()),
                        }
                    }
                }
                busy
            })
        })
        .collect();
    let busy: u32 = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(
        busy > 0,
        "8 clients × 100 spans against a bound of 100 must hit it"
    );
    assert_eq!(read_all(&file).len(), 8 * 20 * 100 * 2);
}

#[test]
fn everything_acknowledged_survives_a_kill_right_after_the_200() {
    for name in ["p.db", "p.jsonl"] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        let mut server = Serve::start(&file, &[]);
        let mut acknowledged = 0;
        for batch in 0..20u64 {
            let body = tool_calls(6, batch * 10 + 1, 10).encode_to_vec();
            assert_eq!(server.post(&[PROTOBUF], &body).status, 200);
            acknowledged += 10;
        }
        let (status, _) = server.signal_and_wait("KILL");
        assert!(!status.success());
        assert_eq!(read_all(&file).len(), acknowledged * 2, "{name}");
    }
}

#[test]
fn sigint_and_sigterm_stop_it_cleanly_and_a_busy_port_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let mut server = Serve::start(&file, &[]);
    assert_eq!(
        server
            .post(&[PROTOBUF], &tool_calls(7, 1, 3).encode_to_vec())
            .status,
        200
    );

    let out = run(&[
        "serve",
        dir.path().join("other.db").to_str().unwrap(),
        "--listen",
        &server.http,
        "--grpc-listen",
        "127.0.0.1:0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("the port is in use") && message.contains("--listen"),
        "{message}"
    );

    let (status, took) = server.signal_and_wait("INT");
    assert!(status.success(), "{status:?}: {}", server.log());
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(read_all(&file).len(), 6);

    let mut again = Serve::start(&file, &[]);
    let (status, _) = again.signal_and_wait("TERM");
    assert!(status.success(), "{}", again.log());
}

#[test]
fn grpc_answers_its_own_statuses() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    use tonic::codec::CompressionEncoding;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.db");
    let token = "0123456789abcdef0123";
    let server = Serve::start(&file, &["--max-body-bytes", "100000", "--token", token]);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let endpoint = format!("http://{}", server.grpc);
        let mut client = TraceServiceClient::connect(endpoint).await.unwrap();
        let authorized = |message: ExportTraceServiceRequest| {
            let mut request = tonic::Request::new(message);
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            request
        };

        let refused = client.export(tool_calls(8, 1, 1)).await.unwrap_err();
        assert_eq!(refused.code(), tonic::Code::Unauthenticated);

        let mut request = tool_calls(8, 1, 2);
        request.resource_spans[0].scope_spans[0].spans[0].trace_id = vec![1; 3];
        let response = client
            .export(authorized(request))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(response.partial_success.unwrap().rejected_spans, 1);

        let too_big = client
            .export(authorized(tool_calls(8, 10, 2_000)))
            .await
            .unwrap_err();
        assert_eq!(too_big.code(), tonic::Code::OutOfRange, "{too_big:?}");

        // 64 MiB of one attribute, gzipped to a few hundred kilobytes.
        let mut bomb = tool_calls(8, 5_000, 1);
        bomb.resource_spans[0].scope_spans[0].spans[0]
            .attributes
            .push(text("filler", &"a".repeat(64 << 20)));
        let mut gzipping = client.clone().send_compressed(CompressionEncoding::Gzip);
        let inflated = gzipping.export(authorized(bomb)).await.unwrap_err();
        assert_eq!(
            inflated.code(),
            tonic::Code::ResourceExhausted,
            "{inflated:?}"
        );

        let mut gzipping = client.send_compressed(CompressionEncoding::Gzip);
        gzipping
            .export(authorized(tool_calls(8, 20, 3)))
            .await
            .unwrap();
    });
    assert_eq!(read_all(&file).len(), 2 + 6, "one valid span, then three");
}
