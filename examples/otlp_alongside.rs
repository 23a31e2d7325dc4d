//! The travel-agent run exported over OTLP to a collector and recorded in
//! the protocol at once (`--features otlp`).
//!
//! ```text
//! docker compose -f otel-collector/docker-compose.yaml up -d      # collector + Jaeger
//! cargo run --features otlp --example otlp_alongside              # HTTP/protobuf to localhost:4318
//! OTEL_EXPORTER_OTLP_PROTOCOL=grpc cargo run --features otlp --example otlp_alongside  # gRPC to :4317
//! ```
//!
//! The standard variables configure the export (`OTEL_EXPORTER_OTLP_ENDPOINT`,
//! `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`, …). Without a
//! collector the run still completes and the protocol still holds it; the
//! exporter's errors are printed as warnings.

#[path = "support/travel_agent.rs"]
mod travel_agent;

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "protocol.db".into()),
    );
    let mut install = reagentic_protocol::install::builder(&path).with_otlp();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        install = install.with_service_name("travel-agent");
    }
    let guard = install.init()?;

    let session = travel_agent::new_session();
    eprintln!(
        "recording session {session}: to {} and over OTLP",
        path.display()
    );
    let run = travel_agent::agent_run(&session);
    // The drop would do the same; explicit, so the summary below reads a
    // closed file and the OTLP batch has been handed to the collector.
    let closed = guard.shutdown();
    run?;
    closed?;

    travel_agent::print_summary(&path, &session)?;
    println!("\nthe same spans went to the OTLP collector: look for trace of service travel-agent in Jaeger (http://localhost:16686)");
    Ok(())
}
