//! Model calls recorded through a real `tracing` → OpenTelemetry pipeline
//! are priced as they are written: from the built-in table and the user's
//! price file (which wins), by the matching rule the entry names; a cost the
//! span reports is kept as reported; a model without a price is unpriced,
//! its tokens counted. A bad price file fails the build, naming the file
//! and the model.

use std::path::{Path, PathBuf};

use crate::support::{Format, Harness};
use reagentic_protocol::entry::CostSource;
use reagentic_protocol::{EventType, ProtocolConfig, ProtocolEntry, ProtocolError};
use reagentic_protocol::{ProtocolProcessor, SqliteStorage};

fn price_file(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("negotiated.json");
    std::fs::write(&path, text).unwrap();
    path
}

fn record_calls(harness: &Harness) {
    harness.in_scope(|| {
        {
            // Dated and cached: 10 000 in of which 4 000 cache reads, 2 000 out.
            let span = tracing::info_span!(
                "chat",
                otel.name = "chat gpt-4o",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "openai",
                gen_ai.request.model = "gpt-4o-2024-08-06",
                gen_ai.usage.input_tokens = 10_000_u64,
                gen_ai.usage.output_tokens = 2_000_u64,
                gen_ai.usage.cache_read.input_tokens = 4_000_u64,
            );
            let _call = span.enter();
        }
        {
            // Priced by the user's file: 1 000 in, 500 out.
            let span = tracing::info_span!(
                "chat",
                otel.name = "chat mini",
                gen_ai.operation.name = "chat",
                gen_ai.provider.name = "openai",
                gen_ai.request.model = "gpt-4o-mini",
                gen_ai.usage.input_tokens = 1_000_u64,
                gen_ai.usage.output_tokens = 500_u64,
            );
            let _call = span.enter();
        }
        {
            // The framework reports its own cost.
            let span = tracing::info_span!(
                "chat",
                otel.name = "chat reported",
                gen_ai.operation.name = "chat",
                gen_ai.request.model = "gpt-4o",
                gen_ai.usage.input_tokens = 1_000_u64,
                gen_ai.usage.output_tokens = 1_000_u64,
                llm.cost.total = 0.75,
            );
            let _call = span.enter();
        }
        {
            // Nobody has a price for it.
            let span = tracing::info_span!(
                "chat",
                otel.name = "chat acme",
                gen_ai.operation.name = "chat",
                gen_ai.request.model = "acme-llm-9",
                gen_ai.usage.input_tokens = 300_u64,
                gen_ai.usage.output_tokens = 20_u64,
            );
            let _call = span.enter();
        }
    });
    harness.flush();
}

fn call<'a>(entries: &'a [ProtocolEntry], model: &str) -> &'a ProtocolEntry {
    entries
        .iter()
        .find(|e| e.event_type == EventType::LlmEnd && e.model.as_deref() == Some(model))
        .unwrap_or_else(|| panic!("no llm_end of {model}"))
}

#[test]
fn model_calls_are_priced_reported_or_unpriced_when_recorded() {
    for format in [Format::Sqlite, Format::Jsonl] {
        let dir = tempfile::tempdir().unwrap();
        let prices = price_file(
            dir.path(),
            r#"{"gpt-4o-mini": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#,
        );
        let harness = Harness::with_config(format, ProtocolConfig::default().with_prices(&prices));
        record_calls(&harness);
        let entries = harness.entries();

        let dated = call(&entries, "gpt-4o-2024-08-06");
        assert_eq!(dated.cost_source, Some(CostSource::Priced));
        assert_eq!(dated.price_model.as_deref(), Some("gpt-4o"));
        assert_eq!(dated.price_rule.as_deref(), Some("without_version"));
        // 6 000 × 2.5e-6 + 4 000 × 1.25e-6 + 2 000 × 1e-5 = 0.015 + 0.005 + 0.02
        assert!((dated.cost_usd.unwrap() - 0.04).abs() < 1e-12, "{dated:?}");

        // The user's price, not the built-in $0.15 / $0.60:
        // 1 000 × 1e-6 + 500 × 2e-6 = 0.002
        let mini = call(&entries, "gpt-4o-mini");
        assert!((mini.cost_usd.unwrap() - 0.002).abs() < 1e-12, "{mini:?}");
        assert_eq!(mini.price_rule.as_deref(), Some("exact"));

        let reported = call(&entries, "gpt-4o");
        assert_eq!(
            (reported.cost_usd, reported.cost_source),
            (Some(0.75), Some(CostSource::Reported))
        );
        assert_eq!(reported.price_model, None);

        let unknown = call(&entries, "acme-llm-9");
        assert_eq!(unknown.cost_source, Some(CostSource::Unpriced));
        assert_eq!(
            (unknown.cost_usd, unknown.unpriced_tokens),
            (None, Some(320))
        );

        // Start entries carry none of it.
        assert!(entries
            .iter()
            .filter(|e| e.event_type == EventType::LlmStart)
            .all(|e| e.cost_source.is_none() && e.cost_usd.is_none()));
    }
}

#[test]
fn a_bad_price_file_fails_the_build_naming_the_file_and_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            r#"{"my-model": {"input_cost_per_token": -0.5}}"#,
            Some("my-model"),
        ),
        (
            r#"{"my-model": {"output_cost_per_token": "cheap"}}"#,
            Some("my-model"),
        ),
        ("{\"my-model\": ", None),
    ];
    for (text, model) in cases {
        let prices = price_file(dir.path(), text);
        let storage = SqliteStorage::open(dir.path().join("p.db")).unwrap();
        let err = ProtocolProcessor::builder(storage)
            .with_config(ProtocolConfig::default().with_prices(&prices))
            .build()
            .unwrap_err();
        let ProtocolError::Prices {
            path, model: named, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(path, &prices);
        assert_eq!(named.as_deref(), model, "{err}");
        assert!(err.to_string().contains("negotiated.json"), "{err}");
    }
    let missing = dir.path().join("nowhere.json");
    let storage = SqliteStorage::open(dir.path().join("q.db")).unwrap();
    let err = ProtocolProcessor::builder(storage)
        .with_config(ProtocolConfig::default().with_prices(&missing))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("nowhere.json"), "{err}");
}
