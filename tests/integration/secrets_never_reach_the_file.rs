//! Secrets placed everywhere a span carries text — messages, tool arguments
//! and results, error messages and stack traces, extra attributes and event
//! attributes — never reach the protocol's bytes on disk, at any detail
//! level, in either form. Checked on the raw bytes of every file in the
//! folder (database, `-wal`, `-shm`, JSON Lines, meta file), while the
//! pipeline is still running (the WAL holds the data) and after shutdown.

use std::path::Path;
use std::time::SystemTime;

use crate::support::{pipeline_at, read_all, Format};
use opentelemetry::trace::{Span as _, Status, Tracer as _, TracerProvider as _};
use opentelemetry::KeyValue;
use reagentic_protocol::{DetailLevel, ProtocolConfig};

/// Each secret, and the part of it that must never appear on disk.
const SECRETS: &[(&str, &str)] = &[
    ("sk-proj-Zq8Wv7Ut6Sr5Qp4On3Ml2Kj1", "Zq8Wv7Ut6Sr5"),
    ("sk-ant-api03-Hg7Fe6Dc5Ba4-Zy3Xw2", "Hg7Fe6Dc5Ba4"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0cGF5bG9hZA.sIgNaTuRe", "c2VjcmV0cGF5bG9hZA"),
    ("AKIAZ7Y6X5W4V3U2T1S0", "AKIAZ7Y6X5W4V3U2T1S0"),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAc2VjcmV0a2V5bWF0ZXJpYWw=\n-----END OPENSSH PRIVATE KEY-----",
        "c2VjcmV0a2V5bWF0ZXJpYWw",
    ),
    // The user's own pattern (see `config`).
    ("ACME-918273", "ACME-918273"),
];

fn config(detail: DetailLevel) -> ProtocolConfig {
    ProtocolConfig::default()
        .with_detail(detail)
        // Small enough that a secret straddles the cut (see `record`).
        .with_max_content_chars(300)
        .with_full_content_cap(600)
        .with_redaction_pattern(r"ACME-[0-9]{6}")
}

/// Every secret in every text-carrying place of an llm and a tool span.
fn record(provider: &opentelemetry_sdk::trace::SdkTracerProvider) {
    let tracer = provider.tracer("secrets");
    for (secret, _) in SECRETS {
        let json_secret = serde_json::to_string(secret).unwrap();
        let mut llm = tracer
            .span_builder("chat gpt-4o")
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "chat"),
                KeyValue::new(
                    "gen_ai.input.messages",
                    format!(r#"[{{"role":"user","content":{json_secret}}}]"#),
                ),
                KeyValue::new("http.request.header.authorization", secret.to_string()),
            ])
            .start(&tracer);
        llm.set_attribute(KeyValue::new(
            "gen_ai.output.messages",
            format!("the key is {secret}, keep it safe"),
        ));
        llm.add_event(
            "gen_ai.choice",
            vec![KeyValue::new("message", format!("echo: {secret}"))],
        );
        llm.end();

        // The secret placed where truncation at 300 characters cuts it. (A
        // space before it: the built-in patterns need a word boundary before
        // a key, so that words like `task-…` are not taken for `sk-…` keys.)
        let padded = format!("{} {secret}", "x".repeat(294));
        let mut tool = tracer
            .span_builder("execute_tool deploy")
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", "execute_tool"),
                KeyValue::new(
                    "gen_ai.tool.call.arguments",
                    format!(r#"{{"token":{json_secret}}}"#),
                ),
                KeyValue::new("input.value", padded.clone()),
            ])
            .start(&tracer);
        tool.set_attribute(KeyValue::new("gen_ai.tool.call.result", padded));
        tool.add_event_with_timestamp(
            "exception",
            SystemTime::now(),
            vec![
                KeyValue::new("exception.type", "AuthError"),
                KeyValue::new("exception.message", format!("rejected credential {secret}")),
                KeyValue::new(
                    "exception.stacktrace",
                    format!("at login({secret})\nat main"),
                ),
            ],
        );
        tool.set_status(Status::error(format!("login failed for {secret}")));
        tool.end();
    }
}

fn assert_no_secret_on_disk(dir: &Path, when: &str) {
    let mut files = 0;
    for file in std::fs::read_dir(dir).unwrap() {
        let path = file.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        for (_, part) in SECRETS {
            let found = bytes.windows(part.len()).any(|w| w == part.as_bytes());
            assert!(!found, "{when}: {part:?} found in {}", path.display());
        }
    }
    assert!(files > 0);
}

fn check(format: Format, detail: DetailLevel) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format.file_name());
    let (provider, handle) = pipeline_at(&path, |b| b.with_config(config(detail)));
    record(&provider);
    handle.force_flush().unwrap();
    let context = format!("{format:?} {detail:?}");
    assert_no_secret_on_disk(dir.path(), &format!("{context}, running"));
    let entries = read_all(&path);
    assert_eq!(entries.len(), 4 * SECRETS.len(), "{context}");
    if detail != DetailLevel::Minimal {
        let text = entries
            .iter()
            .map(|e| e.to_json_line().unwrap())
            .collect::<String>();
        assert!(
            text.contains("[REDACTED]"),
            "{context}: redaction left a mark"
        );
    }
    provider.shutdown().unwrap();
    assert_no_secret_on_disk(dir.path(), &format!("{context}, closed"));
}

#[test]
fn sqlite_files_hold_no_secret_at_any_level() {
    for detail in [
        DetailLevel::Minimal,
        DetailLevel::Standard,
        DetailLevel::Full,
    ] {
        check(Format::Sqlite, detail);
    }
}

#[test]
fn jsonl_files_hold_no_secret_at_any_level() {
    for detail in [
        DetailLevel::Minimal,
        DetailLevel::Standard,
        DetailLevel::Full,
    ] {
        check(Format::Jsonl, detail);
    }
}
