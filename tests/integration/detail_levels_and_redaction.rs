//! What each detail level keeps, and that secrets never reach the file.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{DetailLevel, EventType, ProtocolConfig};

const OPENAI_KEY: &str = "sk-proj-Abc123Def456Ghi789Jkl012Mno345";
const AWS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";

fn record(harness: &Harness) {
    let long_answer = "ß".repeat(10_000);
    let args = format!(r#"{{"api_key":"{OPENAI_KEY}","city":"Berlin"}}"#);
    harness.in_scope(|| {
        let llm = llm_span!(
            "gpt-4o",
            gen_ai.input.messages =
                format!(r#"[{{"role":"user","content":"my key is {OPENAI_KEY}"}}]"#),
            gen_ai.output.messages = long_answer.as_str(),
            gen_ai.usage.input_tokens = 3_u64,
            custom.note = "kept only at full"
        );
        let _l = llm.enter();
        let tool = tool_span!(
            "weather",
            gen_ai.tool.call.arguments = args.as_str(),
            otel.status_code = "ERROR",
            otel.status_description =
                format!("auth failed with Authorization: Bearer abc.def.ghi and {AWS_KEY}")
        );
        let _t = tool.enter();
    });
    harness.flush();
}

fn file_text(harness: &Harness) -> String {
    match harness.path.extension().and_then(|e| e.to_str()) {
        Some("jsonl") => std::fs::read_to_string(&harness.path).unwrap(),
        _ => {
            // Every byte of the database and its WAL: nothing may hide a secret.
            let mut bytes = std::fs::read(&harness.path).unwrap();
            let wal = harness.path.with_extension("db-wal");
            if let Ok(more) = std::fs::read(wal) {
                bytes.extend(more);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
    }
}

#[test]
fn minimal_keeps_no_content_but_keeps_usage_and_errors() {
    let harness = Harness::with_config(
        Format::Jsonl,
        ProtocolConfig::default().with_detail(DetailLevel::Minimal),
    );
    record(&harness);
    let entries = harness.entries();
    assert!(entries
        .iter()
        .all(|e| e.input.is_none() && e.output.is_none() && e.attributes.is_none()));
    let llm = only(&entries, EventType::LlmEnd, "chat gpt-4o");
    assert_eq!(llm.input_tokens, Some(3));
    assert_eq!(llm.model.as_deref(), Some("gpt-4o"));
    let tool = only(&entries, EventType::ToolEnd, "weather");
    assert!(tool
        .error
        .as_ref()
        .unwrap()
        .message
        .as_ref()
        .unwrap()
        .contains("auth failed"));
    assert!(!file_text(&harness).contains("Berlin"));
}

#[test]
fn standard_truncates_and_redacts_in_every_place() {
    for format in Format::BOTH {
        let config = ProtocolConfig::default().with_max_content_chars(200);
        let harness = Harness::with_config(format, config);
        record(&harness);
        let entries = harness.entries();
        let llm = only(&entries, EventType::LlmEnd, "chat gpt-4o");
        let output = llm.output.as_ref().unwrap().as_text().unwrap();
        assert!(output.starts_with(&"ß".repeat(200)));
        assert!(
            output.chars().count() < 300,
            "truncated near 200 chars: {}",
            output.chars().count()
        );
        assert!(llm.attributes.is_none(), "attributes only at Full");

        let tool = only(&entries, EventType::ToolStart, "weather");
        assert!(tool.input.as_ref().unwrap().to_string().contains("Berlin"));
        let text = file_text(&harness);
        for secret in [OPENAI_KEY, AWS_KEY, "abc.def.ghi"] {
            assert!(!text.contains(secret), "{format:?}: {secret} leaked");
        }
        assert!(text.contains("[REDACTED]"));
    }
}

#[test]
fn full_keeps_everything_else_and_still_redacts() {
    let config = ProtocolConfig::default().with_detail(DetailLevel::Full);
    let harness = Harness::with_config(Format::Sqlite, config);
    record(&harness);
    let entries = harness.entries();
    let llm = only(&entries, EventType::LlmEnd, "chat gpt-4o");
    assert_eq!(
        llm.output.as_ref().unwrap().as_text().unwrap(),
        "ß".repeat(10_000)
    );
    let attributes = llm.attributes.as_ref().expect("attributes at Full");
    assert_eq!(
        attributes.get("custom.note"),
        Some(&serde_json::json!("kept only at full"))
    );
    assert!(!file_text(&harness).contains(OPENAI_KEY));
}

#[test]
fn user_patterns_are_redacted_and_invalid_ones_rejected_at_build() {
    let config = ProtocolConfig::default().with_redaction_pattern(r"ACME-[0-9]{6}");
    let harness = Harness::with_config(Format::Jsonl, config);
    harness.in_scope(|| {
        let s = tool_span!("crm", gen_ai.tool.call.arguments = "customer ACME-123456");
        let _g = s.enter();
    });
    harness.flush();
    assert!(!file_text(&harness).contains("ACME-123456"));

    let dir = tempfile::tempdir().unwrap();
    let storage = reagentic_protocol::JsonlStorage::open(dir.path().join("p.jsonl")).unwrap();
    let err = reagentic_protocol::ProtocolProcessor::builder(storage)
        .with_config(ProtocolConfig::default().with_redaction_pattern("(unclosed"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("(unclosed"), "{err}");
}
