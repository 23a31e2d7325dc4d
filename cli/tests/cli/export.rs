//! `export` into a real `serve`: the recorded runs go out as OTLP spans and
//! come back as the same entries; `--session` sends one run; sending twice
//! stores nothing twice; an unreachable endpoint is a one-line error; a
//! receiver that answers "retry later" is retried; https:// goes over TLS
//! and refuses a certificate nobody vouched for.

use reagentic_protocol::ProtocolEntry;

use crate::serve_support::{Serve, WAIT};
use crate::support::{
    json, read_all, run, stderr, travel_protocol, Format, Protocol, SMALL_TALK, TRAVEL,
};

const TOKEN: &str = "export-test-token-0123456789";

/// What must survive the round trip, entry by entry.
fn essence(entry: &ProtocolEntry) -> serde_json::Value {
    serde_json::json!({
        "entry_id": entry.entry_id,
        "timestamp": entry.timestamp,
        "event_type": entry.event_type.as_str(),
        "parent_span_id": entry.parent_span_id,
        "session_id": entry.session_id,
        "service_name": entry.service_name,
        "agent_name": entry.agent_name,
        "name": entry.name,
        "model": entry.model,
        "provider": entry.provider,
        "tool_name": entry.tool_name,
        "tool_call_id": entry.tool_call_id,
        "input": entry.input.as_ref().map(|c| c.to_value()),
        "output": entry.output.as_ref().map(|c| c.to_value()),
        "input_tokens": entry.input_tokens,
        "output_tokens": entry.output_tokens,
        "duration_ms": entry.duration_ms,
        "status": entry.status.as_str(),
        "error": entry.error,
        "operation": entry.operation,
        "cost_usd": entry.cost_usd,
        "cost_source": entry.cost_source.map(|s| s.as_str()),
        "cache_read_input_tokens": entry.cache_read_input_tokens,
        "cache_creation_input_tokens": entry.cache_creation_input_tokens,
        "reasoning_tokens": entry.reasoning_tokens,
        "finish_reasons": entry.finish_reasons,
        "time_to_first_chunk_ms": entry.time_to_first_chunk_ms,
    })
}

fn sorted(path: &std::path::Path) -> Vec<serde_json::Value> {
    let mut entries: Vec<serde_json::Value> = read_all(path).iter().map(essence).collect();
    entries.sort_by_key(|e| e["entry_id"].as_str().unwrap_or_default().to_owned());
    entries
}

/// Waits until `path` holds `count` entries (the receiver commits in the
/// background after answering).
fn wait_for(path: &std::path::Path, count: usize) {
    let started = std::time::Instant::now();
    loop {
        if path.exists() && read_all(path).len() >= count {
            return;
        }
        assert!(started.elapsed() < WAIT, "{count} entries never arrived");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn export(source: &str, serve: &Serve, extra: &[&str]) -> serde_json::Value {
    let endpoint = format!("http://{}", serve.http);
    let header = format!("authorization=Bearer {TOKEN}");
    let mut args = vec![
        "export", source, "--otlp", &endpoint, "--header", &header, "--json",
    ];
    args.extend_from_slice(extra);
    json(&run(&args))
}

/// A recorded travel run (SQLite, closed) and a `serve` with a token that
/// receives into `received.db` beside it.
fn travel_run_and_receiver() -> (Protocol, std::path::PathBuf, Serve) {
    let protocol = travel_protocol(Format::Sqlite);
    protocol.shut_down();
    let received = protocol.dir.path().join("received.db");
    let serve = Serve::start(&received, &["--token", TOKEN]);
    (protocol, received, serve)
}

#[test]
fn an_exported_protocol_comes_back_entry_for_entry_and_twice_is_once() {
    let (protocol, received, serve) = travel_run_and_receiver();

    let report = export(protocol.arg(), &serve, &[]);
    let expected = sorted(&protocol.path);
    // The run has what the comparison is about: content, tokens, a handoff,
    // a failure.
    for field in ["input", "output", "input_tokens", "error", "model"] {
        assert!(expected.iter().any(|e| !e[field].is_null()), "{field}");
    }
    assert!(expected.iter().any(|e| e["event_type"] == "handoff"));
    assert_eq!(report["spans"], 11, "{report}");
    assert_eq!(report["requests"], 1);
    assert_eq!(report["rejected"], 0);
    assert_eq!(report["unfinished"], 0);
    wait_for(&received, expected.len());
    let got = sorted(&received);
    assert_eq!(got.len(), expected.len());
    for (got, expected) in got.iter().zip(&expected) {
        assert_eq!(got, expected);
    }

    // Again, in batches of three: the same ids, so nothing new is stored.
    let again = export(protocol.arg(), &serve, &["--batch", "3", "--gzip"]);
    assert_eq!(again["requests"], 4, "{again}");
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(sorted(&received), expected);
}

#[test]
fn session_sends_only_that_run() {
    let protocol = travel_protocol(Format::Jsonl);
    let received = protocol.dir.path().join("received.jsonl");
    let serve = Serve::start(&received, &["--token", TOKEN]);
    let report = export(protocol.arg(), &serve, &["--session", SMALL_TALK]);
    assert_eq!(report["spans"], 2, "{report}");
    wait_for(&received, 4);
    let entries = read_all(&received);
    assert_eq!(entries.len(), 4);
    assert!(entries
        .iter()
        .all(|e| e.session_id.as_deref() == Some(SMALL_TALK)));
    assert!(!entries
        .iter()
        .any(|e| e.session_id.as_deref() == Some(TRAVEL)));

    let missing = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &format!("http://{}", serve.http),
        "--session",
        "no-such-run",
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no session \"no-such-run\""));
}

#[test]
fn an_unreachable_endpoint_and_a_refused_token_are_one_line_errors() {
    let protocol = travel_protocol(Format::Sqlite);
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = run(&["export", protocol.arg(), "--otlp", &endpoint]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!(
            "error: cannot connect to http://127.0.0.1:{port}/v1/traces"
        )),
        "{message}"
    );

    let received = protocol.dir.path().join("received.db");
    let serve = Serve::start(&received, &["--token", TOKEN]);
    let out = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &format!("http://{}", serve.http),
        "--header",
        "authorization=Bearer wrong-token-0123456789",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(message.contains("answered 401"), "{message}");
    assert!(!message.contains("wrong-token"), "{message}");
}

#[test]
fn cache_and_reasoning_tokens_finish_reasons_and_a_reported_cost_come_back() {
    use chrono::{DateTime, Utc};
    use reagentic_protocol::entry::CostSource;
    use reagentic_protocol::{Content, EntryStatus, EventType};

    const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
    let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(1_764_558_000_000 + ms).unwrap();
    let entry = |event_type, span: &str, name: &str, ms| {
        let mut e = ProtocolEntry::new(event_type, TRACE, span, name, at(ms));
        e.session_id = Some("conv-cost".into());
        e.service_name = Some("costly".into());
        e.agent_name = Some("planner".into());
        e
    };
    let agent = "00f067aa0ba902b7";
    let mut call_end = entry(EventType::LlmEnd, "00f067aa0ba902b8", "chat gpt-4o", 1600);
    call_end.parent_span_id = Some(agent.into());
    call_end.model = Some("gpt-4o".into());
    call_end.provider = Some("openai".into());
    call_end.input_tokens = Some(100);
    call_end.output_tokens = Some(20);
    call_end.cache_read_input_tokens = Some(40);
    call_end.cache_creation_input_tokens = Some(10);
    call_end.reasoning_tokens = Some(5);
    call_end.finish_reasons = Some(vec!["stop".into()]);
    call_end.cost_usd = Some(0.0123);
    call_end.cost_source = Some(CostSource::Reported);
    call_end.time_to_first_chunk_ms = Some(250.0);
    call_end.duration_ms = Some(1500.0);
    call_end.status = EntryStatus::Ok;
    call_end.output =
        Some(Content::from_json(r#"[{"role":"assistant","content":"done"}]"#).unwrap());
    call_end.operation = Some("chat".into());
    let mut agent_end = entry(EventType::AgentEnd, agent, "planner", 2000);
    agent_end.duration_ms = Some(2000.0);
    agent_end.status = EntryStatus::Ok;
    agent_end.operation = Some("invoke_agent".into());
    // A tool that never ended: left out, and counted.
    let running = entry(EventType::ToolStart, "00f067aa0ba902b9", "lookup", 1700);
    let lines: String = [call_end.clone(), agent_end, running]
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("costly.jsonl");
    std::fs::write(&source, lines).unwrap();

    let received = dir.path().join("received.jsonl");
    let serve = Serve::start(&received, &["--token", TOKEN]);
    let report = export(source.to_str().unwrap(), &serve, &[]);
    assert_eq!(
        (report["spans"].as_u64(), report["unfinished"].as_u64()),
        (Some(2), Some(1))
    );
    // Each span without its start entry gives a start and an end entry.
    wait_for(&received, 4);
    let back = read_all(&received);
    let got = back
        .iter()
        .find(|e| e.event_type == EventType::LlmEnd)
        .expect("the model call came back");
    assert_eq!(essence(got), essence(&call_end));
    let started = back
        .iter()
        .find(|e| e.event_type == EventType::LlmStart)
        .expect("its start");
    assert_eq!(started.timestamp, at(100));
}

/// A receiver that answers the first `busy` requests `503` with
/// `Retry-After: 0`, then `200`; returns its address and what it counted:
/// (requests, spans taken).
fn busy_receiver(busy: usize) -> (String, std::sync::Arc<std::sync::Mutex<(usize, usize)>>) {
    use std::io::{BufRead, BufReader, Read, Write};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let counts = std::sync::Arc::new(std::sync::Mutex::new((0, 0)));
    let counted = std::sync::Arc::clone(&counts);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut counts = counted.lock().unwrap();
            counts.0 += 1;
            let answer = if counts.0 <= busy {
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 5\r\nConnection: close\r\n\r\nbusy\n"
            } else {
                let request = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
                counts.1 += request
                    .resource_spans
                    .iter()
                    .flat_map(|rs| &rs.scope_spans)
                    .map(|ss| ss.spans.len())
                    .sum::<usize>();
                "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            stream.write_all(answer.as_bytes()).unwrap();
        }
    });
    (address, counts)
}

#[test]
fn a_receiver_that_says_retry_later_is_retried_and_gets_every_span_once() {
    let protocol = travel_protocol(Format::Sqlite);
    let (address, counts) = busy_receiver(2);
    let report = json(&run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &format!("http://{address}"),
        "--batch",
        "3",
        "--json",
    ]));
    let spans = report["spans"].as_u64().unwrap() as usize;
    let requests = report["requests"].as_u64().unwrap() as usize;
    assert!(spans > 3, "{report}");
    let (received, taken) = *counts.lock().unwrap();
    assert_eq!((received, taken), (requests + 2, spans), "{report}");

    // Past --retries it is one error line saying how often it tried.
    let (address, counts) = busy_receiver(usize::MAX);
    let out = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &format!("http://{address}"),
        "--retries",
        "2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("answered 503 Service Unavailable: busy (after 2 retries)"),
        "{message}"
    );
    assert_eq!(counts.lock().unwrap().0, 3);
}

/// A TLS front before a `serve` (`tests/python/tls_proxy.py`), its
/// certificate for 127.0.0.1 signed by a CA of the test's own (`cert` is the
/// CA's, what a team hands to `--ca-cert`), made by `openssl`; killed when
/// dropped.
struct TlsFront {
    child: std::process::Child,
    port: u16,
    cert: std::path::PathBuf,
}

/// Runs `openssl` with `args` in `dir`.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let made = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) makes the test's certificates");
    assert!(made.status.success(), "openssl {args:?}: {made:?}");
}

impl TlsFront {
    fn start(dir: &std::path::Path, target: &str) -> TlsFront {
        let key = "ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let ca =
            format!("req -x509 -newkey {key} -days 2 -subj /CN=test-CA -keyout ca.key -out ca.pem");
        let request =
            format!("req -new -newkey {key} -subj /CN=127.0.0.1 -keyout key.pem -out server.csr");
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        let sign = "x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
                    -extfile san.ext -out cert.pem";
        for args in [ca.as_str(), request.as_str(), sign] {
            openssl(dir, &args.split_whitespace().collect::<Vec<_>>());
        }
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let (host, port) = target.rsplit_once(':').unwrap();
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/tls_proxy.py");
        let mut child = std::process::Command::new("python3")
            .arg(script)
            .args([cert.as_os_str(), key.as_os_str()])
            .args([host, port])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs the TLS front");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let port = line.trim().parse().expect("the front's port");
        TlsFront {
            child,
            port,
            cert: dir.join("ca.pem"),
        }
    }
}

impl Drop for TlsFront {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn https_goes_over_tls_and_refuses_a_certificate_nobody_vouched_for() {
    let (protocol, received, serve) = travel_run_and_receiver();
    let front = TlsFront::start(protocol.dir.path(), &serve.http);
    let endpoint = format!("https://127.0.0.1:{}", front.port);
    let header = format!("authorization=Bearer {TOKEN}");

    // Signed by the test's own CA: no system root vouches for it.
    let out = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &endpoint,
        "--header",
        &header,
    ]);
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with(&format!("error: cannot connect to {endpoint}/v1/traces"))
            && message.contains("certificate"),
        "{message}"
    );
    assert!(!received.exists() || read_all(&received).is_empty());

    // Trusted with --ca-cert: the run arrives through TLS, entry for entry.
    let cert = front.cert.to_str().unwrap();
    let report = json(&run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &endpoint,
        "--header",
        &header,
        "--ca-cert",
        cert,
        "--json",
    ]));
    assert_eq!(report["spans"], 11, "{report}");
    assert_eq!(report["endpoint"], format!("{endpoint}/v1/traces"));
    let expected = sorted(&protocol.path);
    wait_for(&received, expected.len());
    assert_eq!(sorted(&received), expected);

    // A --ca-cert with a plain HTTP endpoint would go unused: said, not ignored.
    let plain = format!("http://{}", serve.http);
    let out = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &plain,
        "--ca-cert",
        cert,
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: --ca-cert is for https:// endpoints"),
        "{}",
        stderr(&out)
    );

    // A --ca-cert that holds no certificate is named.
    let empty = protocol.dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let out = run(&[
        "export",
        protocol.arg(),
        "--otlp",
        &endpoint,
        "--ca-cert",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with(&format!("error: --ca-cert {}", empty.display())),
        "{}",
        stderr(&out)
    );
}
