//! Misconfiguration of the installer is an error naming what is wrong:
//! an unwritable path, an unknown extension. Nothing panics.

use reagentic_protocol::ProtocolError;
use tracing_subscriber::Registry;

#[test]
fn an_unwritable_path_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    for name in ["protocol.db", "protocol.jsonl"] {
        let path = blocker.join(name);
        let err = reagentic_protocol::install::builder(&path)
            .build::<Registry>()
            .map(|_| ())
            .expect_err("the parent is a file");
        assert!(
            err.to_string().contains(&*path.to_string_lossy()),
            "{name}: {err}"
        );
    }
}

#[test]
fn an_unknown_extension_is_unknown_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("protocol.txt");
    let err = reagentic_protocol::install::builder(&path)
        .build::<Registry>()
        .map(|_| ())
        .expect_err("no storage for .txt");
    assert!(
        matches!(err, ProtocolError::UnknownFormat { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("protocol.txt"), "{err}");
    assert!(!path.exists(), "nothing was created");
}
