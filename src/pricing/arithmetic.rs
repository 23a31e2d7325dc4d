//! What a model call cost, from its tokens and its model's prices, by the
//! OpenTelemetry GenAI conventions: cache reads and cache writes are *part
//! of* the input tokens, reasoning tokens *part of* the output tokens. Each
//! part is priced at its own rate and no token is counted twice:
//!
//! ```text
//! cost = (input − cache_read − cache_creation) × input rate
//!      + cache_read × cache-read rate       (else the input rate)
//!      + cache_creation × cache-write rate  (else the input rate)
//!      + (output − reasoning) × output rate
//!      + reasoning × reasoning rate         (else the output rate)
//! ```
//!
//! Above a tier's threshold (`…_above_200k_tokens`: the call read more than
//! 200 000 input tokens, cache included) the tier's rates apply to the
//! whole call, as the providers bill it and LiteLLM computes it; a rate the
//! tier leaves out is the base rate. The highest threshold crossed wins.
//!
//! A source that reports cached tokens *beside* the input instead of inside
//! it (more cached than input) is read as "the input was at least the cached
//! tokens": the cached tokens are priced once, the uncached part is zero.

use super::table::ModelPrice;

/// The token counts of one model call, as the entry records them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Input tokens, cache reads and writes included.
    pub input: u64,
    /// Output tokens, reasoning included.
    pub output: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation: u64,
    /// Output tokens spent on reasoning.
    pub reasoning: u64,
}

impl Usage {
    /// A call that read `input` and wrote `output` tokens, nothing cached,
    /// no reasoning.
    ///
    /// ```
    /// let usage = reagentic_protocol::pricing::Usage::new(1_000, 200);
    /// assert_eq!((usage.input, usage.output), (1_000, 200));
    /// ```
    pub fn new(input: u64, output: u64) -> Self {
        Usage {
            input,
            output,
            ..Usage::default()
        }
    }

    /// Adds cache reads and writes (already counted in `input`).
    ///
    /// ```
    /// let usage = reagentic_protocol::pricing::Usage::new(1_000, 200).with_cache(600, 100);
    /// assert_eq!(usage.cache_read, 600);
    /// ```
    pub fn with_cache(mut self, read: u64, creation: u64) -> Self {
        self.cache_read = read;
        self.cache_creation = creation;
        self
    }

    /// Adds reasoning tokens (already counted in `output`).
    ///
    /// ```
    /// let usage = reagentic_protocol::pricing::Usage::new(1_000, 200).with_reasoning(150);
    /// assert_eq!(usage.reasoning, 150);
    /// ```
    pub fn with_reasoning(mut self, reasoning: u64) -> Self {
        self.reasoning = reasoning;
        self
    }
}

/// A kind of token the price has no rate for, which the call used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MissingRate {
    Input,
    Output,
}

/// The rates that apply to a call of `input` tokens: the base rates, or the
/// highest tier whose threshold the call crossed.
struct Rates {
    input: Option<f64>,
    output: Option<f64>,
    cache_read: Option<f64>,
    cache_creation: Option<f64>,
    reasoning: Option<f64>,
}

fn rates(price: &ModelPrice, input_tokens: u64) -> Rates {
    let tier = price
        .tiers
        .iter()
        .rev()
        .find(|tier| input_tokens > tier.above_tokens);
    let pick = |tiered: Option<f64>, base: Option<f64>| tiered.or(base);
    let input = pick(tier.and_then(|t| t.input), price.input);
    let output = pick(tier.and_then(|t| t.output), price.output);
    Rates {
        input,
        output,
        cache_read: pick(tier.and_then(|t| t.cache_read), price.cache_read).or(input),
        cache_creation: pick(tier.and_then(|t| t.cache_creation), price.cache_creation).or(input),
        reasoning: pick(tier.and_then(|t| t.reasoning), price.reasoning).or(output),
    }
}

/// The call's cost in US dollars, or the kind of token it used without a
/// rate to price it by.
pub(crate) fn cost(price: &ModelPrice, usage: &Usage) -> Result<f64, MissingRate> {
    let rates = rates(price, usage.input);
    let cached = usage.cache_read.saturating_add(usage.cache_creation);
    let uncached = usage.input.saturating_sub(cached);
    let visible_output = usage.output.saturating_sub(usage.reasoning);
    let part = |tokens: u64, rate: Option<f64>, missing: MissingRate| {
        if tokens == 0 {
            return Ok(0.0);
        }
        rate.map(|rate| tokens as f64 * rate).ok_or(missing)
    };
    Ok(part(uncached, rates.input, MissingRate::Input)?
        + part(usage.cache_read, rates.cache_read, MissingRate::Input)?
        + part(
            usage.cache_creation,
            rates.cache_creation,
            MissingRate::Input,
        )?
        + part(visible_output, rates.output, MissingRate::Output)?
        + part(usage.reasoning, rates.reasoning, MissingRate::Output)?)
}

#[cfg(test)]
mod tests {
    use super::super::table::PriceTier;
    use super::*;

    /// $2.50 / $10.00 per million, cache reads $1.25, writes $3.125,
    /// reasoning $12.00.
    fn price() -> ModelPrice {
        ModelPrice {
            input: Some(2.5e-6),
            output: Some(10e-6),
            cache_read: Some(1.25e-6),
            cache_creation: Some(3.125e-6),
            reasoning: Some(12e-6),
            tiers: Vec::new(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn plain_input_and_output() {
        // 1 000 × $2.50/M + 200 × $10/M = $0.0025 + $0.002
        let cost = cost(&price(), &Usage::new(1_000, 200)).unwrap();
        assert!(close(cost, 0.0045), "{cost}");
    }

    #[test]
    fn cached_tokens_are_part_of_the_input_and_priced_once() {
        // input 1 000 of which 600 cache reads and 100 cache writes:
        //   300 × 2.5e-6 = 0.00075
        // + 600 × 1.25e-6 = 0.00075
        // + 100 × 3.125e-6 = 0.0003125
        // + 200 × 10e-6 = 0.002
        let usage = Usage::new(1_000, 200).with_cache(600, 100);
        let cost = cost(&price(), &usage).unwrap();
        assert!(close(cost, 0.003_812_5), "{cost}");
    }

    #[test]
    fn reasoning_tokens_are_part_of_the_output_at_their_own_rate() {
        // output 500 of which 300 reasoning:
        //   1 000 × 2.5e-6 = 0.0025
        // + 200 × 10e-6 = 0.002
        // + 300 × 12e-6 = 0.0036
        let usage = Usage::new(1_000, 500).with_reasoning(300);
        let cost = cost(&price(), &usage).unwrap();
        assert!(close(cost, 0.0081), "{cost}");
    }

    #[test]
    fn missing_cache_and_reasoning_rates_fall_back_to_input_and_output() {
        let plain = ModelPrice {
            input: Some(1e-6),
            output: Some(2e-6),
            ..ModelPrice::default()
        };
        // Same total as with no cache and no reasoning: 1 000 × 1e-6 + 500 × 2e-6.
        let usage = Usage::new(1_000, 500)
            .with_cache(400, 100)
            .with_reasoning(300);
        let cost = cost(&plain, &usage).unwrap();
        assert!(close(cost, 0.002), "{cost}");
    }

    #[test]
    fn cached_tokens_reported_beside_the_input_are_not_counted_twice() {
        // 100 "input" but 600 cache reads: the input was at least 600, all
        // of it cached: 600 × 1.25e-6, nothing uncached.
        let usage = Usage::new(100, 0).with_cache(600, 0);
        let cost = cost(&price(), &usage).unwrap();
        assert!(close(cost, 0.00075), "{cost}");
        // More reasoning than output likewise.
        let usage = Usage::new(0, 100).with_reasoning(300);
        let cost = super::cost(&price(), &usage).unwrap();
        assert!(close(cost, 0.0036), "{cost}");
    }

    fn tiered() -> ModelPrice {
        // Base $1.25 / $10; above 200k input: $2.50 / $15, cache reads
        // $0.125 → $0.25; no tiered cache-write rate.
        ModelPrice {
            input: Some(1.25e-6),
            output: Some(10e-6),
            cache_read: Some(0.125e-6),
            cache_creation: None,
            reasoning: None,
            tiers: vec![
                PriceTier {
                    above_tokens: 128_000,
                    input: Some(2e-6),
                    ..PriceTier::default()
                },
                PriceTier {
                    above_tokens: 200_000,
                    input: Some(2.5e-6),
                    output: Some(15e-6),
                    cache_read: Some(0.25e-6),
                    ..PriceTier::default()
                },
            ],
        }
    }

    #[test]
    fn at_a_threshold_the_rates_below_it_apply() {
        // Exactly 128 000 input: the base rates.
        // 128 000 × 1.25e-6 + 1 000 × 10e-6 = 0.16 + 0.01
        let cost = cost(&tiered(), &Usage::new(128_000, 1_000)).unwrap();
        assert!(close(cost, 0.17), "{cost}");
        // Exactly 200 000: above 128k, not above 200k.
        // 200 000 × 2e-6 + 1 000 × 10e-6 = 0.4 + 0.01
        let cost = super::cost(&tiered(), &Usage::new(200_000, 1_000)).unwrap();
        assert!(close(cost, 0.41), "{cost}");
    }

    #[test]
    fn above_the_threshold_the_tier_prices_the_whole_call() {
        // 200 001 input, 50 000 cache reads, 10 000 cache writes, 1 000 output:
        //   (200 001 − 60 000) × 2.5e-6 = 0.3500025
        // + 50 000 × 0.25e-6 = 0.0125
        // + 10 000 × 2.5e-6 (no cache-write rate: the tier's input rate) = 0.025
        // + 1 000 × 15e-6 = 0.015
        let usage = Usage::new(200_001, 1_000).with_cache(50_000, 10_000);
        let cost = cost(&tiered(), &usage).unwrap();
        assert!(close(cost, 0.402_502_5), "{cost}");
    }

    #[test]
    fn between_two_thresholds_the_lower_tier_applies_with_base_rates_for_the_rest() {
        // 150 000 input above 128k: input at $2/M, output at the base $10/M.
        // 150 000 × 2e-6 + 1 000 × 10e-6 = 0.3 + 0.01
        let cost = cost(&tiered(), &Usage::new(150_000, 1_000)).unwrap();
        assert!(close(cost, 0.31), "{cost}");
    }

    #[test]
    fn tokens_without_a_rate_are_not_free() {
        let input_only = ModelPrice {
            input: Some(1e-6),
            ..ModelPrice::default()
        };
        assert_eq!(
            cost(&input_only, &Usage::new(10, 5)),
            Err(MissingRate::Output)
        );
        // No output tokens: nothing needs the missing rate.
        assert!(close(cost(&input_only, &Usage::new(10, 0)).unwrap(), 1e-5));
        assert_eq!(cost(&price(), &Usage::default()), Ok(0.0));
    }
}
