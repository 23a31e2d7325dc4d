//! The fuzz targets' bodies (`fuzz/bodies.rs`) on random and near-valid
//! input, so they compile and run in the regular suite; `cargo fuzz` drives
//! the same code far harder (see `fuzz/README.md`).

#[path = "../../fuzz/bodies.rs"]
mod bodies;

use proptest::prelude::*;

/// Valid protocol lines, so mutations start from inputs that get far.
fn near_valid_jsonl() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(0u32..50, 0..6),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    )
        .prop_map(|(numbers, overwrites)| {
            let mut bytes: Vec<u8> = numbers
                .into_iter()
                .flat_map(|n| {
                    crate::support::sample_entry(n)
                        .to_json_line()
                        .unwrap()
                        .into_bytes()
                        .into_iter()
                        .chain([b'\n'])
                })
                .collect();
            if !bytes.is_empty() {
                for (at, byte) in overwrites {
                    let at = at.index(bytes.len());
                    bytes[at] = byte;
                }
            }
            bytes
        })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn jsonl_reader_body_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..2_048)) {
        bodies::jsonl_reader(&data);
    }

    #[test]
    fn jsonl_reader_body_on_damaged_protocols(data in near_valid_jsonl()) {
        bodies::jsonl_reader(&data);
    }

    #[test]
    fn extractor_body_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..4_096)) {
        bodies::extractor(&data);
    }
}
