//! Price tables in the format of LiteLLM's `model_prices_and_context_window.json`:
//! one JSON object whose members are models, each an object of per-token
//! prices in US dollars.
//!
//! Only the token prices are read — `input_cost_per_token`,
//! `output_cost_per_token`, `cache_read_input_token_cost`,
//! `cache_creation_input_token_cost`, `output_cost_per_reasoning_token` and
//! their `…_above_<N>k_tokens` tiers; every other member (context sizes,
//! `supports_*`, image and audio prices, service-tier variants) is ignored,
//! so the upstream file can be dropped in whole. A price that is present
//! must be a finite number at or above zero; anything else is an error
//! naming the file and the model. `sample_spec` (the upstream file's
//! description of its own fields) and members whose name starts with `_`
//! (`_updated`: the date the prices were taken) are not models.
//!
//! A model name containing `*` is a pattern (`ft:gpt-4o-mini:acme:*`),
//! tried after every other rule (see `matching`).

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{ProtocolError, Result};

/// The token prices of one model, in US dollars per token.
///
/// A rate that is `None` is not known: tokens of that kind cannot be priced
/// (cache and reasoning tokens fall back to the input and output rates, as
/// LiteLLM does).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ModelPrice {
    /// `input_cost_per_token`: input tokens that were not cache reads or writes.
    pub input: Option<f64>,
    /// `output_cost_per_token`: output tokens that were not reasoning.
    pub output: Option<f64>,
    /// `cache_read_input_token_cost` (else the input rate).
    pub cache_read: Option<f64>,
    /// `cache_creation_input_token_cost` (else the input rate).
    pub cache_creation: Option<f64>,
    /// `output_cost_per_reasoning_token` (else the output rate).
    pub reasoning: Option<f64>,
    /// The `…_above_<N>k_tokens` rates, by threshold, lowest first.
    pub tiers: Vec<PriceTier>,
}

/// The rates that apply to a whole call once its input tokens exceed a
/// threshold (`input_cost_per_token_above_200k_tokens`, …). A rate the tier
/// does not name is the base rate.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct PriceTier {
    /// The tier applies when the call read more input tokens than this.
    pub above_tokens: u64,
    /// The tier's input rate.
    pub input: Option<f64>,
    /// The tier's output rate.
    pub output: Option<f64>,
    /// The tier's cache-read rate.
    pub cache_read: Option<f64>,
    /// The tier's cache-creation rate.
    pub cache_creation: Option<f64>,
    /// The tier's reasoning rate.
    pub reasoning: Option<f64>,
}

/// Where a price came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Origin {
    /// The table built into this crate.
    BuiltIn,
    /// A file the user gave (`with_prices`, `--prices`).
    User,
}

/// A priced model: its name as the table spells it, its prices, where they
/// came from.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) price: ModelPrice,
    pub(crate) origin: Origin,
}

/// One file the table was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Source {
    /// `built-in` or the file's path.
    pub(crate) name: String,
    /// Its `_updated` member, when it has one.
    pub(crate) updated: Option<String>,
    /// How many models (and patterns) it priced.
    pub(crate) models: usize,
}

/// Every priced model and pattern, from the built-in table and the user's
/// files, later files winning.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    /// By lower-cased name.
    pub(crate) models: HashMap<String, Entry>,
    /// Patterns, in the order the files list them (user files only in
    /// practice: the built-in table has none).
    pub(crate) patterns: Vec<Entry>,
    pub(crate) sources: Vec<Source>,
}

/// The token prices this reads, and how a model's member names them.
const RATES: [&str; 5] = [
    "input_cost_per_token",
    "output_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_reasoning_token",
];

impl Table {
    /// Adds the models of one file (JSON text) on top of what the table
    /// holds: a model already there is replaced. `name` is how errors name
    /// the file.
    pub(crate) fn add_json(&mut self, name: &Path, text: &str, origin: Origin) -> Result<()> {
        let error = |model: Option<&str>, reason: String| ProtocolError::Prices {
            path: name.to_path_buf(),
            model: model.map(str::to_owned),
            reason,
        };
        let root: Value = serde_json::from_str(text)
            .map_err(|e| error(None, format!("is not valid JSON: {e}")))?;
        let Value::Object(root) = root else {
            return Err(error(
                None,
                "is not a price table: expected a JSON object with one member per model".into(),
            ));
        };
        let mut source = Source {
            name: name.display().to_string(),
            updated: None,
            models: 0,
        };
        for (model, value) in &root {
            if model == "_updated" {
                source.updated = value.as_str().map(str::to_owned);
                continue;
            }
            if model.starts_with('_') || model == "sample_spec" {
                continue;
            }
            if model.trim().is_empty() {
                return Err(error(Some(model), "a model needs a name".into()));
            }
            let Value::Object(fields) = value else {
                return Err(error(
                    Some(model),
                    "expected an object of prices".to_owned(),
                ));
            };
            let price = parse_model(fields).map_err(|reason| error(Some(model), reason))?;
            // Image, audio and embedding-only models price no tokens the
            // protocol counts: nothing to add.
            if price.input.is_none() && price.output.is_none() {
                continue;
            }
            let entry = Entry {
                key: model.clone(),
                price,
                origin,
            };
            source.models += 1;
            if model.contains('*') {
                self.patterns.push(entry);
            } else {
                self.models.insert(model.to_lowercase(), entry);
            }
        }
        self.sources.push(source);
        Ok(())
    }
}

/// Reads one model's prices; the error says which member is wrong.
fn parse_model(fields: &Map<String, Value>) -> std::result::Result<ModelPrice, String> {
    let mut price = ModelPrice::default();
    for (name, value) in fields {
        let Some((rate, above)) = rate_of(name) else {
            continue;
        };
        let amount = amount(name, value)?;
        let slot = match above {
            None => rate_slot_base(&mut price, rate),
            Some(threshold) => {
                let at = match price
                    .tiers
                    .binary_search_by_key(&threshold, |t| t.above_tokens)
                {
                    Ok(at) => at,
                    Err(at) => {
                        price.tiers.insert(
                            at,
                            PriceTier {
                                above_tokens: threshold,
                                ..PriceTier::default()
                            },
                        );
                        at
                    }
                };
                rate_slot_tier(&mut price.tiers[at], rate)
            }
        };
        *slot = Some(amount);
    }
    Ok(price)
}

/// Which rate a member names, and its tier's threshold in tokens:
/// `input_cost_per_token` → (0, None), `output_cost_per_token_above_200k_tokens`
/// → (1, Some(200 000)). `None` for every other member, including tiers that
/// are not token counts (`…_above_1hr`) and service-tier variants
/// (`…_tokens_priority`).
fn rate_of(name: &str) -> Option<(usize, Option<u64>)> {
    let rate = RATES.iter().position(|r| name.starts_with(r))?;
    let rest = &name[RATES[rate].len()..];
    if rest.is_empty() {
        return Some((rate, None));
    }
    let count = rest.strip_prefix("_above_")?.strip_suffix("_tokens")?;
    let (digits, scale) = match count.strip_suffix('k') {
        Some(digits) => (digits, 1_000),
        None => (count, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let threshold = digits.parse::<u64>().ok()?.checked_mul(scale)?;
    Some((rate, Some(threshold)))
}

/// A price: a finite number at or above zero.
fn amount(name: &str, value: &Value) -> std::result::Result<f64, String> {
    match value.as_f64() {
        Some(amount) if amount.is_finite() && amount >= 0.0 => Ok(amount),
        Some(amount) => Err(format!(
            "{name} is {amount}; a price must be zero or more US dollars per token"
        )),
        None => Err(format!(
            "{name} is {}, not a number of US dollars per token",
            short(value)
        )),
    }
}

/// A value as a short text for an error message.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn rate_slot_base(price: &mut ModelPrice, rate: usize) -> &mut Option<f64> {
    match rate {
        0 => &mut price.input,
        1 => &mut price.output,
        2 => &mut price.cache_read,
        3 => &mut price.cache_creation,
        _ => &mut price.reasoning,
    }
}

fn rate_slot_tier(tier: &mut PriceTier, rate: usize) -> &mut Option<f64> {
    match rate {
        0 => &mut tier.input,
        1 => &mut tier.output,
        2 => &mut tier.cache_read,
        3 => &mut tier.cache_creation,
        _ => &mut tier.reasoning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Table> {
        let mut table = Table::default();
        table.add_json(Path::new("prices.json"), text, Origin::User)?;
        Ok(table)
    }

    #[test]
    fn token_rates_and_tiers_are_read_and_everything_else_ignored() {
        let table = parse(
            r#"{
                "_updated": "2026-11-30",
                "sample_spec": {"input_cost_per_token": 0.0, "max_tokens": "LEGACY"},
                "big-model": {
                    "litellm_provider": "acme",
                    "max_input_tokens": 1000000,
                    "supports_vision": true,
                    "search_context_cost_per_query": {"search_context_size_low": 0.01},
                    "input_cost_per_token": 1e-06,
                    "output_cost_per_token": 4e-06,
                    "cache_read_input_token_cost": 1e-07,
                    "input_cost_per_token_above_200k_tokens": 2e-06,
                    "output_cost_per_token_above_200k_tokens": 6e-06,
                    "input_cost_per_token_above_128k_tokens": 1.5e-06,
                    "cache_creation_input_token_cost_above_1hr": 9.9,
                    "input_cost_per_token_above_200k_tokens_priority": 9.9,
                    "input_cost_per_token_batches": 9.9
                },
                "image-only": {"output_cost_per_image": 0.04}
            }"#,
        )
        .unwrap();
        assert_eq!(table.models.len(), 1, "the image model prices no tokens");
        let price = &table.models["big-model"].price;
        assert_eq!(
            (
                price.input,
                price.output,
                price.cache_read,
                price.cache_creation
            ),
            (Some(1e-06), Some(4e-06), Some(1e-07), None)
        );
        let tiers: Vec<(u64, Option<f64>, Option<f64>)> = price
            .tiers
            .iter()
            .map(|t| (t.above_tokens, t.input, t.output))
            .collect();
        assert_eq!(
            tiers,
            [
                (128_000, Some(1.5e-06), None),
                (200_000, Some(2e-06), Some(6e-06))
            ]
        );
        assert_eq!(table.sources[0].updated.as_deref(), Some("2026-11-30"));
        assert_eq!(table.sources[0].models, 1);
    }

    #[test]
    fn thresholds_without_k_are_plain_token_counts() {
        assert_eq!(
            rate_of("input_cost_per_token_above_128_tokens"),
            Some((0, Some(128)))
        );
        assert_eq!(
            rate_of("cache_read_input_token_cost_above_32k_tokens"),
            Some((2, Some(32_000)))
        );
        assert_eq!(rate_of("input_cost_per_token_above_k_tokens"), None);
        assert_eq!(rate_of("input_cost_per_token_flex"), None);
        assert_eq!(rate_of("input_cost_per_character"), None);
    }

    #[test]
    fn bad_files_and_prices_are_errors_naming_the_file_and_the_model() {
        let cases = [
            ("{not json", None, "is not valid JSON"),
            ("[1, 2]", None, "expected a JSON object"),
            (
                r#"{"m": {"input_cost_per_token": -1e-06}}"#,
                Some("m"),
                "input_cost_per_token is -0.000001",
            ),
            (
                r#"{"m": {"output_cost_per_token": "0.00001"}}"#,
                Some("m"),
                "output_cost_per_token is \"0.00001\", not a number",
            ),
            (
                r#"{"m": {"input_cost_per_token": null}}"#,
                Some("m"),
                "not a number",
            ),
            (
                r#"{"m": {"input_cost_per_token_above_200k_tokens": true}}"#,
                Some("m"),
                "not a number",
            ),
            (r#"{"m": 3}"#, Some("m"), "expected an object"),
        ];
        for (text, model, reason) in cases {
            let err = parse(text).unwrap_err();
            let ProtocolError::Prices {
                path,
                model: named,
                reason: said,
            } = &err
            else {
                panic!("{err:?}");
            };
            assert_eq!(path, Path::new("prices.json"));
            assert_eq!(named.as_deref(), model, "{text}");
            assert!(said.contains(reason), "{said:?} for {text}");
            let line = err.to_string();
            assert!(line.contains("prices.json"), "{line}");
            if let Some(model) = model {
                assert!(line.contains(&format!("model {model:?}")), "{line}");
            }
        }
    }

    #[test]
    fn patterns_are_kept_apart_in_file_order_and_later_files_win() {
        let mut table = Table::default();
        table
            .add_json(
                Path::new("built-in"),
                r#"{"GPT-X": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06}}"#,
                Origin::BuiltIn,
            )
            .unwrap();
        table
            .add_json(
                Path::new("mine.json"),
                r#"{"gpt-x": {"input_cost_per_token": 5e-07, "output_cost_per_token": 1e-06},
                    "ft:*": {"input_cost_per_token": 3e-06, "output_cost_per_token": 6e-06},
                    "acme-*": {"input_cost_per_token": 0, "output_cost_per_token": 0}}"#,
                Origin::User,
            )
            .unwrap();
        let x = &table.models["gpt-x"];
        assert_eq!((x.price.input, x.origin), (Some(5e-07), Origin::User));
        let patterns: Vec<&str> = table.patterns.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(patterns, ["ft:*", "acme-*"]);
        assert_eq!(table.sources.len(), 2);
    }
}
