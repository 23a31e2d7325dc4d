//! What model calls cost: price tables, matching a model to its price, the
//! token arithmetic, and totals that never count a cost twice.
//!
//! [`Prices`] holds the built-in table (dated, in the format of LiteLLM's
//! `model_prices_and_context_window.json`) plus any files the user adds,
//! user entries winning. It is never fetched at run time: the built-in
//! table is compiled in, user files are read once, when the pipeline is
//! built ([`ProtocolConfig::with_prices`](crate::ProtocolConfig::with_prices))
//! or the reader opened.
//!
//! Every model call's end entry (`llm_end`) records how its cost was
//! obtained in `cost_source`: `reported` (the framework said so), `priced`
//! (computed here, with the table key in `price_model` and the matching rule
//! in `price_rule`) or `unpriced` (no price for the model: no cost, and its
//! tokens in `unpriced_tokens` — never a silent $0).
//!
//! ```
//! use reagentic_protocol::pricing::{Prices, PriceRule, Usage};
//!
//! let prices = Prices::built_in();
//! let found = prices.find("openai/gpt-4o-2024-08-06", None).unwrap();
//! assert_eq!((found.key(), found.rule()), ("gpt-4o", &PriceRule::WithoutVersion));
//! // 1 000 input tokens of which 400 cache reads, 200 output tokens:
//! // 600 × $2.50/M + 400 × $1.25/M + 200 × $10/M = $0.0040
//! let usd = found.cost(&Usage::new(1_000, 200).with_cache(400, 0)).unwrap();
//! assert!((usd - 0.004).abs() < 1e-12);
//! ```

mod arithmetic;
mod matching;
mod table;
pub(crate) mod totals;

use std::path::Path;
use std::sync::OnceLock;

pub use self::arithmetic::Usage;
pub use self::matching::PriceRule;
pub use self::table::{ModelPrice, PriceTier};
pub use self::totals::CostTotal;

use self::table::{Origin, Table};
use crate::entry::{CostSource, EventType, ProtocolEntry};
use crate::error::{ProtocolError, Result};

/// The built-in price table, as shipped.
const BUILT_IN: &str = include_str!("prices.json");

/// A price table: the built-in prices plus the user's files.
///
/// ```no_run
/// # fn main() -> reagentic_protocol::Result<()> {
/// let prices = reagentic_protocol::pricing::Prices::built_in().with_file("my-prices.json")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Prices {
    table: Table,
}

/// The price a model name matched: the table's key, the rule that found it,
/// and its rates.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PriceMatch<'p> {
    key: &'p str,
    rule: PriceRule,
    price: &'p ModelPrice,
    from_user: bool,
}

impl<'p> PriceMatch<'p> {
    /// The model's name in the price table (`gpt-4o`, `ft:*`).
    pub fn key(&self) -> &'p str {
        self.key
    }

    /// How the model's name led to [`key`](Self::key).
    pub fn rule(&self) -> &PriceRule {
        &self.rule
    }

    /// The rates.
    pub fn price(&self) -> &'p ModelPrice {
        self.price
    }

    /// Whether a user file, not the built-in table, supplied the price.
    pub fn from_user(&self) -> bool {
        self.from_user
    }

    /// What a call of `usage` costs at this price, in US dollars; `None`
    /// when it used a kind of token the price has no rate for.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        arithmetic::cost(self.price, usage).ok()
    }
}

/// One file a [`Prices`] was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PriceSource {
    /// `built-in`, or the file's path.
    pub name: String,
    /// The date the file says its prices were taken (its `_updated` member).
    pub updated: Option<String>,
    /// How many models and patterns it priced.
    pub models: usize,
}

impl Prices {
    /// The built-in table: the models people use most (OpenAI, Anthropic,
    /// Google, Mistral, DeepSeek, xAI, and open models on Groq and
    /// Together), token prices only, dated (see [`sources`](Self::sources)).
    ///
    /// ```
    /// let prices = reagentic_protocol::pricing::Prices::built_in();
    /// assert!(prices.find("gpt-4o-mini", Some("openai")).is_some());
    /// ```
    pub fn built_in() -> Self {
        static BUILT: OnceLock<Table> = OnceLock::new();
        let table = BUILT.get_or_init(|| {
            let mut table = Table::default();
            // The file ships with the crate and a unit test parses it, so
            // this cannot fail in a released build; an empty table (every
            // call unpriced, never a wrong price) is the safe fallback.
            if table
                .add_json(Path::new("built-in"), BUILT_IN, Origin::BuiltIn)
                .is_err()
            {
                table = Table::default();
            }
            table
        });
        Prices {
            table: table.clone(),
        }
    }

    /// An empty table: nothing is priced (reported costs are still kept).
    ///
    /// ```
    /// let prices = reagentic_protocol::pricing::Prices::empty();
    /// assert!(prices.find("gpt-4o", None).is_none());
    /// ```
    pub fn empty() -> Self {
        Prices {
            table: Table::default(),
        }
    }

    /// Adds the prices of a file in the format of LiteLLM's
    /// `model_prices_and_context_window.json` (the whole upstream file, or
    /// a snippet of it); its models replace the table's. A model name with
    /// `*` is a pattern, tried after every other rule.
    ///
    /// Fails with [`ProtocolError::Prices`], naming the file and the model,
    /// when the file cannot be read, is not a JSON object of models, or has
    /// a price that is negative or not a number.
    ///
    /// ```no_run
    /// # fn main() -> reagentic_protocol::Result<()> {
    /// let prices = reagentic_protocol::pricing::Prices::built_in().with_file("prices.json")?;
    /// # Ok(()) }
    /// ```
    pub fn with_file(mut self, path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ProtocolError::Prices {
            path: path.to_path_buf(),
            model: None,
            reason: format!("cannot be read: {e}"),
        })?;
        self.table.add_json(path, &text, Origin::User)?;
        Ok(self)
    }

    /// The files this table was built from, in order, later ones winning.
    ///
    /// ```
    /// let prices = reagentic_protocol::pricing::Prices::built_in();
    /// assert_eq!(prices.sources()[0].name, "built-in");
    /// ```
    pub fn sources(&self) -> Vec<PriceSource> {
        self.table
            .sources
            .iter()
            .map(|s| PriceSource {
                name: s.name.clone(),
                updated: s.updated.clone(),
                models: s.models,
            })
            .collect()
    }

    /// The price of `model` (as served by `provider`, when known): the
    /// name with the provider's prefix, the exact name, the name without
    /// its provider prefix, without a date or version suffix, then the user's
    /// patterns. Names are compared ignoring case.
    ///
    /// ```
    /// use reagentic_protocol::pricing::{Prices, PriceRule};
    /// let prices = Prices::built_in();
    /// let found = prices.find("claude-sonnet-4-5-20250929", Some("anthropic")).unwrap();
    /// assert_eq!((found.key(), found.rule()), ("claude-sonnet-4-5", &PriceRule::WithoutVersion));
    /// assert!(prices.find("my-own-model", None).is_none());
    /// ```
    pub fn find(&self, model: &str, provider: Option<&str>) -> Option<PriceMatch<'_>> {
        let named = matching::first_candidate(model, provider, |name, rule| {
            let entry = self.table.models.get(name)?;
            Some(PriceMatch {
                key: &entry.key,
                rule,
                price: &entry.price,
                from_user: entry.origin == Origin::User,
            })
        });
        if named.is_some() {
            return named;
        }
        let model = model.trim();
        self.table
            .patterns
            .iter()
            .find(|entry| matching::glob_matches(&entry.key, model))
            .map(|entry| PriceMatch {
                key: &entry.key,
                rule: PriceRule::Pattern(entry.key.clone()),
                price: &entry.price,
                from_user: entry.origin == Origin::User,
            })
    }

    /// Sets how an entry's cost was obtained, and prices it when it can.
    ///
    /// - A model call's end entry (`llm_end`) with a cost the source
    ///   reported keeps it, marked `reported`. Otherwise its model's price
    ///   and tokens give its cost (`priced`, with `price_model` and
    ///   `price_rule`); without a price, or without a rate for a kind of
    ///   token it used, it is `unpriced`, with no cost and its tokens in
    ///   `unpriced_tokens`.
    /// - Any other entry with a reported cost (a tool, an agent's total) is
    ///   marked `reported`; the rest are left alone.
    ///
    /// An entry already `priced` or `unpriced` is priced again, so a newer
    /// table (or the reader's `--prices`) can replace the price it was
    /// recorded with; a reported cost is never replaced.
    ///
    /// ```
    /// use reagentic_protocol::entry::CostSource;
    /// use reagentic_protocol::pricing::Prices;
    /// use reagentic_protocol::{EventType, ProtocolEntry};
    ///
    /// let mut call = ProtocolEntry::new(EventType::LlmEnd, "t", "s", "chat", chrono::Utc::now());
    /// call.model = Some("gpt-4o-mini".into());
    /// (call.input_tokens, call.output_tokens) = (Some(10_000), Some(1_000));
    /// Prices::built_in().apply(&mut call);
    /// assert_eq!(call.cost_source, Some(CostSource::Priced));
    /// // 10 000 × $0.15/M + 1 000 × $0.60/M
    /// assert!((call.cost_usd.unwrap() - 0.0021).abs() < 1e-12);
    /// ```
    pub fn apply(&self, entry: &mut ProtocolEntry) {
        let reported = match entry.cost_source {
            Some(CostSource::Reported) => true,
            Some(CostSource::Priced | CostSource::Unpriced) => false,
            // Not yet marked (being recorded, or written before schema 4):
            // a cost already there came from the source.
            None => entry.cost_usd.is_some(),
        };
        if reported {
            entry.cost_source = Some(CostSource::Reported);
            return;
        }
        if entry.event_type != EventType::LlmEnd {
            return;
        }
        entry.cost_usd = None;
        entry.price_model = None;
        entry.price_rule = None;
        entry.unpriced_tokens = None;
        let found = entry
            .model
            .as_deref()
            .and_then(|model| self.find(model, entry.provider.as_deref()));
        let usage = Usage::new(
            entry.input_tokens.unwrap_or(0),
            entry.output_tokens.unwrap_or(0),
        )
        .with_cache(
            entry.cache_read_input_tokens.unwrap_or(0),
            entry.cache_creation_input_tokens.unwrap_or(0),
        )
        .with_reasoning(entry.reasoning_tokens.unwrap_or(0));
        let has_tokens = entry.input_tokens.is_some() || entry.output_tokens.is_some();
        let cost = found
            .as_ref()
            .filter(|_| has_tokens)
            .and_then(|found| found.cost(&usage));
        if let Some(found) = found {
            entry.price_model = Some(found.key().to_owned());
            entry.price_rule = Some(found.rule().as_text().into_owned());
        }
        match cost {
            Some(usd) => {
                entry.cost_usd = Some(usd);
                entry.cost_source = Some(CostSource::Priced);
            }
            None => {
                entry.cost_source = Some(CostSource::Unpriced);
                entry.unpriced_tokens = has_tokens.then(|| {
                    entry
                        .input_tokens
                        .unwrap_or(0)
                        .saturating_add(entry.output_tokens.unwrap_or(0))
                });
            }
        }
    }

    /// [`apply`](Self::apply) for a reader given a price file: every
    /// computed cost is priced again. Without one ([`Repricing::Missing`]),
    /// only what the recording could not price is: prices the recording
    /// took from its own files stay.
    pub(crate) fn reprice(&self, entry: &mut ProtocolEntry, repricing: Repricing) {
        let again = match entry.cost_source {
            Some(CostSource::Reported) => false,
            Some(CostSource::Priced) => repricing == Repricing::All,
            Some(CostSource::Unpriced) => true,
            None => entry.event_type == EventType::LlmEnd && entry.cost_usd.is_none(),
        };
        if again {
            self.apply(entry);
        } else if entry.cost_source.is_none() && entry.cost_usd.is_some() {
            entry.cost_source = Some(CostSource::Reported);
        }
    }
}

/// Which recorded costs a reader prices again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Repricing {
    /// Only entries without a cost (unpriced, or written before costs were
    /// computed).
    Missing,
    /// Every computed cost too (the user gave a price file to read with).
    All,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_entries::at;

    #[test]
    fn the_built_in_table_parses_and_is_dated() {
        let mut table = Table::default();
        table
            .add_json(Path::new("built-in"), BUILT_IN, Origin::BuiltIn)
            .unwrap();
        assert!(table.models.len() > 50, "{}", table.models.len());
        let sources = Prices::built_in().sources();
        assert_eq!(sources[0].name, "built-in");
        assert!(sources[0].updated.is_some());
    }

    fn call(model: &str, provider: Option<&str>, input: u64, output: u64) -> ProtocolEntry {
        let mut e = ProtocolEntry::new(EventType::LlmEnd, "t", "s", "chat", at(0, 0));
        e.model = Some(model.into());
        e.provider = provider.map(str::to_owned);
        e.input_tokens = Some(input);
        e.output_tokens = Some(output);
        e
    }

    #[test]
    fn each_rule_is_named_with_the_key_it_found() {
        let prices = Prices::built_in();
        let cases = [
            ("gpt-4o", None, "gpt-4o", "exact"),
            ("GPT-4o", None, "gpt-4o", "exact"),
            ("openai/gpt-4o", None, "gpt-4o", "without_provider"),
            ("gpt-4o-2024-08-06", None, "gpt-4o", "without_version"),
            ("gpt-4o-2024-05-13", None, "gpt-4o-2024-05-13", "exact"),
            (
                "openai/gpt-oss-120b",
                Some("groq"),
                "groq/openai/gpt-oss-120b",
                "with_provider",
            ),
        ];
        for (model, provider, key, rule) in cases {
            let mut e = call(model, provider, 1, 1);
            prices.apply(&mut e);
            assert_eq!(e.cost_source, Some(CostSource::Priced), "{model}");
            assert_eq!(e.price_model.as_deref(), Some(key), "{model}");
            assert_eq!(e.price_rule.as_deref(), Some(rule), "{model}");
        }
    }

    #[test]
    fn unknown_models_are_unpriced_with_their_tokens() {
        let mut e = call("acme-llm-9", Some("acme"), 300, 20);
        Prices::built_in().apply(&mut e);
        assert_eq!(e.cost_source, Some(CostSource::Unpriced));
        assert_eq!((e.cost_usd, e.unpriced_tokens), (None, Some(320)));
        assert_eq!((e.price_model, e.price_rule), (None, None));
        // A call that recorded no tokens has nothing to price either.
        let mut bare = ProtocolEntry::new(EventType::LlmEnd, "t", "s", "chat", at(0, 0));
        bare.model = Some("gpt-4o".into());
        Prices::built_in().apply(&mut bare);
        assert_eq!(bare.cost_source, Some(CostSource::Unpriced));
        assert_eq!(bare.unpriced_tokens, None);
    }

    #[test]
    fn reported_costs_are_kept_and_marked() {
        let mut e = call("gpt-4o", None, 1_000, 100);
        e.cost_usd = Some(0.5);
        Prices::built_in().apply(&mut e);
        assert_eq!(
            (e.cost_usd, e.cost_source),
            (Some(0.5), Some(CostSource::Reported))
        );
        assert_eq!(e.price_model, None);
        let mut tool = ProtocolEntry::new(EventType::ToolEnd, "t", "s", "search", at(0, 0));
        Prices::built_in().apply(&mut tool);
        assert_eq!(tool.cost_source, None, "no cost, nothing to say");
        tool.cost_usd = Some(0.01);
        Prices::built_in().apply(&mut tool);
        assert_eq!(tool.cost_source, Some(CostSource::Reported));
    }

    #[test]
    fn a_user_file_overrides_a_built_in_price_and_adds_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.json");
        std::fs::write(
            &path,
            r#"{"gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
                "ft:gpt-4o-mini:acme:*": {"input_cost_per_token": 3e-07, "output_cost_per_token": 1.2e-06}}"#,
        )
        .unwrap();
        let prices = Prices::built_in().with_file(&path).unwrap();
        let mut e = call("gpt-4o", None, 1_000, 500);
        prices.apply(&mut e);
        // 1 000 × 1e-6 + 500 × 2e-6
        assert!((e.cost_usd.unwrap() - 0.002).abs() < 1e-12);
        assert!(prices.find("gpt-4o", None).unwrap().from_user());
        let mut tuned = call("ft:gpt-4o-mini:acme:run-7", None, 10_000, 1_000);
        prices.apply(&mut tuned);
        assert_eq!(
            tuned.price_rule.as_deref(),
            Some("pattern:ft:gpt-4o-mini:acme:*")
        );
        // 10 000 × 3e-7 + 1 000 × 1.2e-6
        assert!((tuned.cost_usd.unwrap() - 0.0042).abs() < 1e-12);
        assert_eq!(prices.sources().len(), 2);
    }

    #[test]
    fn a_missing_price_file_is_an_error_naming_it() {
        let err = Prices::built_in()
            .with_file("/nonexistent/prices.json")
            .unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/prices.json"),
            "{err}"
        );
    }

    #[test]
    fn repricing_keeps_reported_costs_and_recorded_prices_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.json");
        std::fs::write(
            &path,
            r#"{"gpt-4o": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06},
                "acme-llm": {"input_cost_per_token": 1e-06, "output_cost_per_token": 1e-06}}"#,
        )
        .unwrap();
        let mine = Prices::built_in().with_file(&path).unwrap();
        let mut priced = call("gpt-4o", None, 1_000, 0);
        Prices::built_in().apply(&mut priced);
        let built_in_cost = priced.cost_usd;
        mine.reprice(&mut priced, Repricing::Missing);
        assert_eq!(priced.cost_usd, built_in_cost, "kept without a file");
        mine.reprice(&mut priced, Repricing::All);
        assert!((priced.cost_usd.unwrap() - 0.001).abs() < 1e-12);

        let mut unpriced = call("acme-llm", None, 1_000, 0);
        Prices::built_in().apply(&mut unpriced);
        mine.reprice(&mut unpriced, Repricing::Missing);
        assert_eq!(unpriced.cost_source, Some(CostSource::Priced));

        let mut reported = call("gpt-4o", None, 1_000, 0);
        reported.cost_usd = Some(9.0);
        mine.reprice(&mut reported, Repricing::All);
        assert_eq!(
            (reported.cost_usd, reported.cost_source),
            (Some(9.0), Some(CostSource::Reported))
        );

        // Written before costs were computed: priced when read.
        let mut legacy = call("gpt-4o", None, 1_000, 0);
        Prices::built_in().reprice(&mut legacy, Repricing::Missing);
        assert_eq!(legacy.cost_source, Some(CostSource::Priced));
    }
}
