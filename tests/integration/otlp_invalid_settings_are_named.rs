//! Invalid OTLP settings are build errors naming the setting or variable at
//! fault, before any protocol file is created. (It sets process variables,
//! so it runs in a process of its own.)

use reagentic_protocol::install::{OtlpExport, OtlpProtocol};
use reagentic_protocol::ProtocolError;
use tracing_subscriber::Registry;

use crate::support::child;

fn build_error(path: &std::path::Path, export: OtlpExport) -> ProtocolError {
    reagentic_protocol::install::builder(path)
        .with_fmt_layer(false)
        .with_otlp_export(export)
        .build::<Registry>()
        .map(|_| ())
        .expect_err("invalid OTLP settings")
}

#[test]
fn invalid_endpoints_and_protocols_are_named() {
    // Sets `OTEL_EXPORTER_OTLP_*` variables, which every OTLP export reads.
    if child::ran_in_own_process(&test_path!(invalid_endpoints_and_protocols_are_named)) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");

    for protocol in [OtlpProtocol::Grpc, OtlpProtocol::HttpProtobuf] {
        let err = build_error(
            &path,
            OtlpExport::from_env()
                .with_protocol(protocol)
                .with_endpoint("ftp://collector:4317"),
        );
        assert!(matches!(err, ProtocolError::Otlp(_)), "{err:?}");
        assert!(err.to_string().contains("ftp://collector:4317"), "{err}");
        let err = build_error(
            &path,
            OtlpExport::from_env()
                .with_protocol(protocol)
                .with_endpoint("http://collector:43 17"),
        );
        assert!(
            err.to_string().contains("collector:43 17"),
            "{protocol:?}: {err}"
        );
    }

    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "not a url");
    let err = build_error(&path, OtlpExport::from_env());
    assert!(
        err.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
        "{err}"
    );
    assert!(err.to_string().contains("not a url"), "{err}");
    std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");

    std::env::set_var("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon");
    let err = build_error(&path, OtlpExport::from_env());
    assert!(
        err.to_string().contains("OTEL_EXPORTER_OTLP_PROTOCOL"),
        "{err}"
    );
    assert!(err.to_string().contains("carrier-pigeon"), "{err}");
    std::env::remove_var("OTEL_EXPORTER_OTLP_PROTOCOL");

    assert!(!path.exists(), "no protocol file was created");
}
