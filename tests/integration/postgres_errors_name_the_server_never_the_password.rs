//! An unreachable PostgreSQL server is a clear error, within the connect
//! timeout, naming host, port and database; the password given in the URL
//! (or in `PGPASSWORD`) appears in no error, no `Debug` text and no log line
//! — not even when the writer fails while running.

use std::time::{Duration, Instant};

use reagentic_protocol::{PostgresStorage, ProtocolReader, Storage};

use crate::support::postgres::{connect, server};
use crate::support::{child, pipeline_at, record_tool_spans, LogBuffer};

const PASSWORD: &str = "pw-Very-SECRET-4711";

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn an_unreachable_server_is_named_quickly_without_the_password() {
    let port = closed_port();
    let url = format!("postgres://agent:{PASSWORD}@127.0.0.1:{port}/team_protocol");
    let started = Instant::now();
    let errors = [
        PostgresStorage::connect(&url).unwrap_err(),
        ProtocolReader::open(&url).unwrap_err(),
        reagentic_protocol::storage::open(&url).unwrap_err(),
        reagentic_protocol::install::builder(&url)
            .with_fmt_layer(false)
            .build::<tracing_subscriber::Registry>()
            .map(drop)
            .unwrap_err(),
    ];
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    for err in &errors {
        let text = format!("{err} {err:?}");
        assert!(!text.contains(PASSWORD), "{text}");
        assert!(
            err.to_string()
                .contains(&format!("postgres://agent@127.0.0.1:{port}/team_protocol")),
            "{err}"
        );
    }
    let builder = PostgresStorage::builder(&url);
    assert!(!format!("{builder:?}").contains(PASSWORD));
    let installer = reagentic_protocol::install::builder(&url);
    assert!(!format!("{installer:?}").contains(PASSWORD));
}

#[test]
fn a_writer_failing_while_running_logs_no_password() {
    // The writer thread logs through the global subscriber: own process.
    if child::ran_in_own_process(&test_path!(a_writer_failing_while_running_logs_no_password)) {
        return;
    }
    let captured = LogBuffer::default();
    let sink = captured.clone();
    tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_max_level(tracing::Level::DEBUG)
        .with_ansi(false)
        .init();

    let plain = server().database("password_logs");
    // The test server trusts loopback: the password is sent, never checked.
    let url = plain.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{PASSWORD}@"),
        1,
    );
    let (provider, handle) = pipeline_at(std::path::Path::new(&url), |b| {
        b.with_flush_timeout(Duration::from_secs(5))
    });
    record_tool_spans(&provider, "ok", 0, 5);
    provider.force_flush().expect("flush");
    // Pull the database away under the running writer.
    let name = plain.rsplit('/').next().unwrap().to_owned();
    connect(&server().url_of("postgres"))
        .batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .unwrap();
    record_tool_spans(&provider, "lost", 0, 5);
    let err = handle.force_flush().expect_err("the database is gone");
    assert!(!format!("{err} {err:?}").contains(PASSWORD));
    let _ = provider.shutdown();
    let mut storage = PostgresStorage::connect(&url).map(Some).unwrap_or(None);
    if let Some(storage) = storage.as_mut() {
        let _ = storage.close();
    }

    let logs = captured.text();
    assert!(logs.contains("protocol storage failed"), "{logs}");
    assert!(logs.contains("postgres://postgres@127.0.0.1"), "{logs}");
    assert!(!logs.contains(PASSWORD), "{logs}");
}
