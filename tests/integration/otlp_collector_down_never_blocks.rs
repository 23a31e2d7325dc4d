//! A collector that is down never blocks or fails the application: spans
//! cost what they always cost, the protocol records everything, and flush
//! and the guard's drop stay within their bounds — over gRPC and HTTP.

use std::time::{Duration, Instant};

use crate::support::{instrumented_run, read_all};
use reagentic_protocol::install::{OtlpExport, OtlpProtocol};
use tracing_subscriber::layer::SubscriberExt as _;

/// A loopback port nobody listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn check(protocol: OtlpProtocol) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    let shutdown_timeout = Duration::from_secs(2);
    let (layer, guard) = reagentic_protocol::install::builder(&path)
        .with_fmt_layer(false)
        .with_shutdown_timeout(shutdown_timeout)
        .with_otlp_export(
            OtlpExport::from_env()
                .with_protocol(protocol)
                .with_endpoint(format!("http://127.0.0.1:{}", closed_port()))
                .with_timeout(Duration::from_secs(1)),
        )
        .build()
        .expect("a collector that is down is not a build error");
    let subscriber = tracing_subscriber::registry().with(layer);

    let started = Instant::now();
    tracing::subscriber::with_default(subscriber, || {
        for run in 0..20 {
            instrumented_run(&format!("conv-down-{run}"));
        }
    });
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{protocol:?}: recording took {:?}",
        started.elapsed()
    );

    let flushing = Instant::now();
    guard.flush().expect("the protocol's flush succeeds");
    assert!(
        flushing.elapsed() < Duration::from_secs(7),
        "{protocol:?}: flush took {:?}",
        flushing.elapsed()
    );
    assert_eq!(read_all(&path).len(), 20 * 15);

    let closing = Instant::now();
    drop(guard);
    assert!(
        closing.elapsed() < shutdown_timeout * 2 + Duration::from_secs(1),
        "{protocol:?}: the guard's drop took {:?}",
        closing.elapsed()
    );
    assert_eq!(read_all(&path).len(), 20 * 15);
}

#[test]
fn grpc_collector_down() {
    check(OtlpProtocol::Grpc);
}

#[test]
fn http_collector_down() {
    check(OtlpProtocol::HttpProtobuf);
}
