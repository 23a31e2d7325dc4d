//! Without a name from the builder, `OTEL_SERVICE_NAME` reaches every
//! entry's `service_name`. (One test: it sets a process variable.)

mod support;

use support::{instrumented_run, read_all};
use tracing_subscriber::layer::SubscriberExt as _;

#[test]
fn otel_service_name_reaches_every_entry() {
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
