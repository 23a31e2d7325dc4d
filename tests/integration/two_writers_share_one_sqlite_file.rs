//! Two pipelines (two connections, as two processes would have) write one
//! SQLite file at once; the busy timeout serialises them and nothing is lost.

use crate::support::{dispatch_for, read_all};
use opentelemetry_sdk::trace::SdkTracerProvider;
use reagentic_protocol::{ProtocolProcessor, SqliteStorage};

#[test]
fn two_writers_one_file_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let providers: Vec<_> = (0..2)
        .map(|_| {
            let processor = ProtocolProcessor::builder(SqliteStorage::open(&path).unwrap())
                .with_max_batch_entries(64)
                .build()
                .unwrap();
            SdkTracerProvider::builder()
                .with_span_processor(processor)
                .build()
        })
        .collect();
    std::thread::scope(|scope| {
        for (i, provider) in providers.iter().enumerate() {
            let dispatch = dispatch_for(provider);
            scope.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for n in 0..3_000 {
                        let id = format!("w{i}-{n}");
                        let s = tool_span!("shared", gen_ai.tool.call.id = id.as_str());
                        let _g = s.enter();
                    }
                });
            });
        }
    });
    for provider in &providers {
        provider.shutdown().unwrap();
    }
    let entries = read_all(&path);
    assert_eq!(entries.len(), 2 * 3_000 * 2);
    for i in 0..2 {
        let prefix = format!("w{i}-");
        let mine = entries
            .iter()
            .filter(|e| {
                e.tool_call_id
                    .as_deref()
                    .is_some_and(|c| c.starts_with(&prefix))
            })
            .count();
        assert_eq!(mine, 6_000);
    }
}
