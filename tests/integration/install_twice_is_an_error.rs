//! A second global install is a clear error, not a panic, and leaves the
//! first one working.

use crate::support::{child, instrumented_run, read_all};
use reagentic_protocol::ProtocolError;

#[test]
fn installing_twice_fails_and_the_first_install_keeps_recording() {
    // `init()` sets the global subscriber, which a process has only one of.
    if child::ran_in_own_process(&test_path!(
        installing_twice_fails_and_the_first_install_keeps_recording
    )) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first_path = dir.path().join("first.db");
    let first = reagentic_protocol::install::builder(&first_path)
        .with_fmt_layer(false)
        .init()
        .expect("first install");

    let second_path = dir.path().join("second.jsonl");
    let err = reagentic_protocol::install::builder(&second_path)
        .with_fmt_layer(false)
        .init()
        .expect_err("a global subscriber is already set");
    assert!(matches!(err, ProtocolError::AlreadyInstalled), "{err:?}");
    assert!(err.to_string().contains("already set"), "{err}");

    instrumented_run("conv-twice");
    drop(first);
    assert_eq!(read_all(&first_path).len(), 15);
    assert!(
        read_all(&second_path).is_empty(),
        "the failed install recorded nothing"
    );
}
