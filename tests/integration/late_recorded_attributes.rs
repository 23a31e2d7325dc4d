//! Attributes recorded after the span started (tokens, results, errors, a
//! late session) reach the end entry; the start entry shows what was known.

use crate::support::{only, Harness};
use reagentic_protocol::EventType;
use tracing::field::Empty;

#[test]
fn late_attributes_reach_the_end_entry() {
    let harness = Harness::sqlite();
    harness.in_scope(|| {
        let llm = llm_span!(
            "gpt-4o-mini",
            gen_ai.usage.input_tokens = Empty,
            gen_ai.usage.output_tokens = Empty,
            gen_ai.output.messages = Empty
        );
        let _g = llm.enter();
        llm.record("gen_ai.usage.input_tokens", 10_u64);
        // Recorded twice: the last value wins.
        llm.record("gen_ai.usage.input_tokens", 11_u64);
        llm.record("gen_ai.usage.output_tokens", 7_i64);
        llm.record(
            "gen_ai.output.messages",
            r#"[{"role":"assistant","parts":[{"type":"text","content":"hi"}]}]"#,
        );
    });
    harness.flush();
    let entries = harness.entries();
    let start = only(&entries, EventType::LlmStart, "chat gpt-4o-mini");
    let end = only(&entries, EventType::LlmEnd, "chat gpt-4o-mini");
    assert_eq!(start.input_tokens, None);
    assert_eq!(start.output, None);
    assert_eq!(end.input_tokens, Some(11));
    assert_eq!(end.output_tokens, Some(7));
    assert_eq!(
        end.output,
        Some(
            serde_json::json!([{"role":"assistant","parts":[{"type":"text","content":"hi"}]}])
                .into()
        )
    );
}

#[test]
fn older_and_openinference_token_names_are_read() {
    let harness = Harness::jsonl();
    harness.in_scope(|| {
        {
            let s = llm_span!(
                "old",
                gen_ai.usage.prompt_tokens = 5_u64,
                gen_ai.usage.completion_tokens = 6_u64
            );
            let _g = s.enter();
        }
        {
            let s = tracing::info_span!(
                "ChatCompletion",
                openinference.span.kind = "LLM",
                llm.model_name = "oi-model",
                llm.token_count.prompt = 8_i64,
                llm.token_count.completion = 9.0_f64
            );
            let _g = s.enter();
        }
    });
    harness.flush();
    let entries = harness.entries();
    let old = only(&entries, EventType::LlmEnd, "chat old");
    assert_eq!((old.input_tokens, old.output_tokens), (Some(5), Some(6)));
    let oi = only(&entries, EventType::LlmEnd, "ChatCompletion");
    assert_eq!((oi.input_tokens, oi.output_tokens), (Some(8), Some(9)));
    assert_eq!(oi.model.as_deref(), Some("oi-model"));
}
