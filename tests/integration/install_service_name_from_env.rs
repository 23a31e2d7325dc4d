//! Without a name from the builder, `OTEL_SERVICE_NAME` reaches every
//! entry's `service_name`. (It sets a process variable, so it runs in a
//! process of its own.)

use crate::support::{child, instrumented_run, read_all};
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn otel_service_name_reaches_every_entry() {
    // Sets `OTEL_SERVICE_NAME`, which every tracer provider reads.
    if child::ran_in_own_process(&test_path!(otel_service_name_reaches_every_entry)) {
        return;
    }
    std::env::set_var("OTEL_SERVICE_NAME", "from-env-agent");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.db");
    let (layer, guard) = reagentic_protocol::install::builder(&path)
        .with_fmt_layer(false)
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || instrumented_run("conv-env"));
    drop(guard);
    let entries = read_all(&path);
    assert_eq!(entries.len(), 15);
    for entry in entries {
        assert_eq!(
            entry.service_name.as_deref(),
            Some("from-env-agent"),
            "{entry:?}"
        );
    }
}
