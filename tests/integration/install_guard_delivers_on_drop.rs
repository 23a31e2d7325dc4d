//! The one-call install, as an application uses it: `init()` sets the global
//! subscriber, spans go through the helpers, and dropping the guard delivers
//! every entry — readable afterwards, with the builder's service name.

use crate::support::{child, instrumented_run, read_all};
use reagentic_protocol::{EventType, ProtocolError};

#[test]
fn dropping_the_guard_delivers_every_entry() {
    // `init()` sets the global subscriber, which a process has only one of.
    if child::ran_in_own_process(&test_path!(dropping_the_guard_delivers_every_entry)) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runs").join("protocol.db");
    let guard = reagentic_protocol::install::builder(&path)
        .with_service_name("guard-test")
        .with_fmt_layer(false)
        .init()
        .expect("install");
    assert_eq!(guard.path(), path);

    instrumented_run("conv-guard");
    // No flush: the drop alone must write everything.
    drop(guard);

    let entries = read_all(&path);
    assert_eq!(entries.len(), 15, "{entries:#?}");
    for entry in &entries {
        assert_eq!(
            entry.service_name.as_deref(),
            Some("guard-test"),
            "{entry:?}"
        );
        assert_eq!(entry.session_id.as_deref(), Some("conv-guard"), "{entry:?}");
    }
    let count = |t: EventType| entries.iter().filter(|e| e.event_type == t).count();
    assert_eq!(count(EventType::AgentStart), 2);
    assert_eq!(count(EventType::LlmEnd), 2);
    assert_eq!(count(EventType::ToolEnd), 3);
    assert_eq!(count(EventType::Handoff), 1);
    assert_eq!(entries.iter().filter(|e| e.is_error()).count(), 1);
    let tokens: u64 = entries.iter().filter_map(|e| e.input_tokens).sum();
    assert_eq!(tokens, 30);

    // Spans after the guard is gone are not recorded, and nothing panics.
    instrumented_run("conv-after");
    assert_eq!(read_all(&path).len(), 15);
}

#[test]
fn an_explicit_shutdown_reports_and_is_not_repeated() {
    // The composable form under a scoped subscriber: no global state, so
    // this test shares the process with the others.
    use tracing_subscriber::layer::SubscriberExt as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.jsonl");
    let (layer, guard) = reagentic_protocol::install::builder(&path)
        .with_fmt_layer(false)
        .build()
        .expect("build");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || instrumented_run("conv-explicit"));
    guard.flush().expect("flush");
    assert_eq!(read_all(&path).len(), 15, "flush makes everything readable");
    guard.shutdown().expect("shutdown");
    assert!(matches!(
        guard.shutdown(),
        Err(ProtocolError::AlreadyShutdown)
    ));
    assert!(matches!(guard.flush(), Err(ProtocolError::AlreadyShutdown)));
    drop(guard);
    assert_eq!(read_all(&path).len(), 15);
}
