//! A user's own aliases and classification rules, through `ProtocolConfig`,
//! on an in-house framework the built-in tables know nothing about.

use crate::support::{only, Format, Harness};
use reagentic_protocol::{
    EventType, Field, ProtocolConfig, ProtocolError, ProtocolProcessor, SpanMatch, SqliteStorage,
    StepKind,
};

#[test]
fn user_rules_and_aliases_shape_an_unknown_framework() {
    let config = ProtocolConfig::default()
        .with_span_rule(SpanMatch::name_prefix("acme.agent."), StepKind::Agent)
        .with_span_rule(SpanMatch::attribute("acme.kind", "llm"), StepKind::Llm)
        .with_span_rule(SpanMatch::has_attribute("acme.tool"), StepKind::Tool)
        .with_alias(Field::SessionId, "acme.thread")
        .with_alias(Field::Model, "acme.model")
        .with_alias(Field::InputTokens, "acme.usage#in")
        .with_alias(Field::OutputTokens, "acme.usage#out")
        .with_alias(Field::CostUsd, "acme.usage#usd")
        .with_alias(Field::ToolName, "acme.tool")
        .with_alias(Field::Input, "acme.args")
        .with_alias(Field::Output, "acme.result");
    for format in Format::BOTH {
        let harness = Harness::with_config(format, config.clone());
        harness.in_scope(|| {
            let agent = tracing::info_span!("acme.agent.planner", acme.thread = "t-1");
            let _agent = agent.enter();
            {
                let llm = tracing::info_span!(
                    "call",
                    acme.kind = "LLM",
                    acme.model = "acme-7b",
                    acme.usage = tracing::field::Empty
                );
                let _llm = llm.enter();
                llm.record("acme.usage", r#"{"in":10,"out":2,"usd":0.001}"#);
            }
            let tool = tracing::info_span!(
                "step",
                acme.tool = "grep",
                acme.args = r#"{"q":"x"}"#,
                acme.result = tracing::field::Empty
            );
            let _tool = tool.enter();
            tool.record("acme.result", "2 hits");
        });
        harness.flush();
        let entries = harness.entries();
        assert_eq!(entries.len(), 6, "{entries:#?}");

        let agent = only(&entries, EventType::AgentEnd, "planner");
        assert_eq!(agent.session_id.as_deref(), Some("t-1"));
        let llm = only(&entries, EventType::LlmEnd, "call");
        assert_eq!(llm.model.as_deref(), Some("acme-7b"));
        assert_eq!(
            (llm.input_tokens, llm.output_tokens, llm.cost_usd),
            (Some(10), Some(2), Some(0.001))
        );
        assert_eq!(
            (llm.agent_name.as_deref(), llm.session_id.as_deref()),
            (Some("planner"), Some("t-1"))
        );
        let tool = only(&entries, EventType::ToolEnd, "grep");
        assert_eq!(tool.output, Some(serde_json::json!("2 hits").into()));
        assert_eq!(
            only(&entries, EventType::ToolStart, "grep").input,
            Some(serde_json::json!({"q": "x"}).into())
        );
    }
}

#[test]
fn user_rules_win_over_the_built_in_ones() {
    let config = ProtocolConfig::default().with_span_rule(SpanMatch::name("chat"), StepKind::Other);
    let harness = Harness::with_config(Format::Sqlite, config);
    harness.in_scope(|| {
        let chat = tracing::info_span!("chat", gen_ai.operation.name = "chat");
        let _chat = chat.enter();
    });
    harness.flush();
    assert!(harness.entries().is_empty());
}

#[test]
fn unusable_aliases_and_rules_are_invalid_config_at_build() {
    let dir = tempfile::tempdir().unwrap();
    for config in [
        ProtocolConfig::default().with_alias(Field::SessionId, "  "),
        ProtocolConfig::default().with_alias(Field::InputTokens, "usage#"),
        ProtocolConfig::default().with_span_rule(SpanMatch::name_prefix(""), StepKind::Agent),
        ProtocolConfig::default().with_span_rule(SpanMatch::attribute("k", " "), StepKind::Tool),
    ] {
        let storage = SqliteStorage::open(dir.path().join("p.db")).unwrap();
        let Err(err) = ProtocolProcessor::builder(storage)
            .with_config(config)
            .build()
        else {
            panic!("accepted an unusable alias or rule");
        };
        assert!(matches!(err, ProtocolError::InvalidConfig(_)), "{err:?}");
    }
}
