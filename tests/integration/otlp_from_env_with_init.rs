//! The whole one-call install with OTLP configured only by the standard
//! variables: `OTEL_EXPORTER_OTLP_PROTOCOL=grpc`, `OTEL_EXPORTER_OTLP_ENDPOINT`
//! and `OTEL_SERVICE_NAME`, installed globally with `init()`.

use std::time::Duration;

use crate::support::collector::Collector;
use crate::support::{child, instrumented_run, read_all};

#[test]
fn standard_variables_configure_the_export() {
    // Sets `OTEL_*` variables and the global subscriber.
    if child::ran_in_own_process(&test_path!(standard_variables_configure_the_export)) {
        return;
    }
    let collector = Collector::start();
    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint());
    std::env::set_var("OTEL_SERVICE_NAME", "env-configured");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    let guard = reagentic_protocol::install::builder(&path)
        .with_fmt_layer(false)
        .with_otlp()
        .init()
        .expect("install");
    instrumented_run("conv-env-otlp");
    drop(guard);

    let entries = read_all(&path);
    assert_eq!(entries.len(), 15);
    assert!(entries
        .iter()
        .all(|e| e.service_name.as_deref() == Some("env-configured")));
    let spans = collector.wait_for(8, Duration::from_secs(5));
    assert_eq!(spans.len(), 8, "{spans:#?}");
    assert!(spans
        .iter()
        .all(|s| s.service_name.as_deref() == Some("env-configured")));
}
