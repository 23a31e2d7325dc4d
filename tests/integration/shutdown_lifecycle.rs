//! Shutdown is bounded and final: a second call errors, flush after it
//! errors, spans after it are counted, not written — nothing hangs.

use std::time::{Duration, Instant};

use crate::support::Harness;
use reagentic_protocol::ProtocolError;

#[test]
fn shutdown_twice_flush_after_and_late_spans() {
    let harness = Harness::sqlite();
    harness.in_scope(|| {
        let s = tool_span!("before");
        let _g = s.enter();
    });
    harness.handle.shutdown().expect("first shutdown");
    assert!(
        harness.entries().iter().any(|e| e.name == "before"),
        "shutdown flushes"
    );

    let started = Instant::now();
    assert!(matches!(
        harness.handle.shutdown(),
        Err(ProtocolError::AlreadyShutdown)
    ));
    assert!(matches!(
        harness.handle.force_flush(),
        Err(ProtocolError::AlreadyShutdown)
    ));
    assert!(started.elapsed() < Duration::from_secs(1));

    harness.in_scope(|| {
        for _ in 0..5 {
            let s = tool_span!("after");
            let _g = s.enter();
        }
    });
    assert_eq!(harness.handle.stats().dropped_after_shutdown, 10);
    assert!(harness.entries().iter().all(|e| e.name != "after"));
    // The provider's own shutdown reaches the processor after ours: an error, no hang.
    assert!(harness.provider.shutdown().is_err());
}

#[test]
fn dropping_the_provider_writes_everything() {
    let harness = Harness::jsonl();
    harness.in_scope(|| {
        let s = tool_span!("dropped_provider");
        let _g = s.enter();
    });
    let Harness {
        provider,
        dispatch,
        path,
        dir: _dir,
        handle,
    } = harness;
    drop(dispatch);
    drop(provider);
    assert!(handle.is_shutdown());
    assert_eq!(crate::support::read_all(&path).len(), 2);
}
