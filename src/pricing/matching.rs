//! Which price a span's model gets: the rules, in order, each a small pure
//! function.
//!
//! 1. `with_provider`: `<provider>/<model>`, when the entry names its
//!    provider (`groq` + `openai/gpt-oss-120b` → `groq/openai/gpt-oss-120b`;
//!    GenAI provider names are mapped to LiteLLM's prefixes: `gcp.gemini` →
//!    `gemini`, `aws.bedrock` → `bedrock`, `mistral_ai` → `mistral`, …). The
//!    most specific name, so a host's own price wins over the model maker's.
//! 2. `exact`: the model name itself (`gpt-4o-2024-05-13`, which has its own price).
//! 3. `without_provider`: the name without its leading `provider/` parts
//!    (`openai/gpt-4o` → `gpt-4o`).
//! 4. `without_version`: the name without a date or version suffix
//!    (`gpt-4o-2024-08-06`, `claude-sonnet-4-5-20250929`,
//!    `claude-3-5-haiku@20241022`, `…-v1:0`, `-0613`, `-001`, `-latest`),
//!    with and without the provider prefix.
//! 5. `pattern:<pattern>`: the user's patterns (model names with `*`), in
//!    the order of their files.
//!
//! Names are compared ignoring case. Every rule names what it matched, so a
//! price found by a looser rule is never mistaken for an exact one.

use std::borrow::Cow;

/// The rule that found a model's price.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PriceRule {
    /// `<provider>/<model>` is in the table.
    WithProvider,
    /// The model name is in the table.
    Exact,
    /// The name without its `provider/` prefix is in the table.
    WithoutProvider,
    /// The name without a date or version suffix is in the table.
    WithoutVersion,
    /// A user pattern (a table name with `*`) matched.
    Pattern(String),
}

impl PriceRule {
    /// The rule as the protocol's `price_match` field stores it:
    /// `with_provider`, `exact`, `without_provider`, `without_version` or
    /// `pattern:<pattern>`.
    ///
    /// ```
    /// use reagentic_protocol::pricing::PriceRule;
    /// assert_eq!(PriceRule::WithoutVersion.as_text(), "without_version");
    /// assert_eq!(PriceRule::Pattern("ft:*".into()).as_text(), "pattern:ft:*");
    /// ```
    pub fn as_text(&self) -> Cow<'static, str> {
        match self {
            PriceRule::WithProvider => "with_provider".into(),
            PriceRule::Exact => "exact".into(),
            PriceRule::WithoutProvider => "without_provider".into(),
            PriceRule::WithoutVersion => "without_version".into(),
            PriceRule::Pattern(pattern) => format!("pattern:{pattern}").into(),
        }
    }
}

/// Offers `look` the names to look up for `model`, most specific first,
/// with the rule each stands for (patterns aside), until it finds one.
/// Lower-cased; may offer a name twice. Lazy because most models are found
/// by the first or second name: with every name built first (versions cut,
/// prefixes joined) a model call's look-up took 4 200 instructions, 2 600
/// this way (callgrind, `--scenario jsonl_storage_limit`).
pub(crate) fn first_candidate<T>(
    model: &str,
    provider: Option<&str>,
    mut look: impl FnMut(&str, PriceRule) -> Option<T>,
) -> Option<T> {
    let model = model.trim().to_lowercase();
    if model.is_empty() {
        return None;
    }
    let prefixes = provider.map(provider_prefixes).unwrap_or_default();
    let mut joined = String::new();
    let mut with_prefixes =
        |name: &str, rule: PriceRule, look: &mut dyn FnMut(&str, PriceRule) -> Option<T>| {
            prefixes.iter().find_map(|prefix| {
                joined.clear();
                joined.push_str(prefix);
                joined.push('/');
                joined.push_str(name);
                look(&joined, rule.clone())
            })
        };
    if let Some(found) = with_prefixes(&model, PriceRule::WithProvider, &mut look) {
        return Some(found);
    }
    if let Some(found) = look(&model, PriceRule::Exact) {
        return Some(found);
    }
    let bare = without_provider(&model);
    if let Some(found) = bare
        .iter()
        .find_map(|name| look(name, PriceRule::WithoutProvider))
    {
        return Some(found);
    }
    for name in std::iter::once(model.as_str()).chain(bare) {
        for shorter in without_versions(name) {
            if let Some(found) = with_prefixes(shorter, PriceRule::WithoutVersion, &mut look) {
                return Some(found);
            }
            if let Some(found) = look(shorter, PriceRule::WithoutVersion) {
                return Some(found);
            }
        }
    }
    None
}

/// Every name [`first_candidate`] offers, in order.
#[cfg(test)]
fn candidates(model: &str, provider: Option<&str>) -> Vec<(String, PriceRule)> {
    let mut out = Vec::new();
    first_candidate(model, provider, |name, rule| {
        out.push((name.to_owned(), rule));
        None::<()>
    });
    out
}

/// `a/b/c` → `b/c`, `c`: the name with its leading parts taken off one at a time.
fn without_provider(model: &str) -> Vec<&str> {
    model
        .match_indices('/')
        .map(|(at, _)| &model[at + 1..])
        .filter(|rest| !rest.is_empty())
        .collect()
}

/// The name with one version suffix after another taken off its end, each
/// a candidate: `claude-x-20240620-v1:0` → `claude-x-20240620`, `claude-x`.
pub(crate) fn without_versions(name: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = name;
    // A name carries at most a date and a revision; three is plenty.
    for _ in 0..3 {
        match strip_version(rest) {
            Some(shorter) if !shorter.is_empty() => {
                out.push(shorter);
                rest = shorter;
            }
            _ => break,
        }
    }
    out
}

/// `name` without one version suffix, if it ends in one.
fn strip_version(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    // `-latest`
    if let Some(rest) = name.strip_suffix("-latest") {
        return Some(rest);
    }
    // `-v1:0`, `-v2:0` (Bedrock revisions)
    if let Some(colon) = name.rfind(':') {
        if let Some(v) = name[..colon].rfind("-v") {
            if digits(&bytes[v + 2..colon]) && digits(&bytes[colon + 1..]) {
                return Some(&name[..v]);
            }
        }
    }
    // `-2024-08-06`, `@2024-08-06`: a date in three parts
    // `split_at_checked`: a cut inside a multi-byte character is no suffix
    // (model names come from spans, and spans carry any text).
    if let Some((head, date)) = name
        .len()
        .checked_sub(11)
        .and_then(|at| name.split_at_checked(at))
    {
        let d = date.as_bytes();
        if !head.is_empty()
            && matches!(d[0], b'-' | b'@')
            && digits(&d[1..5])
            && d[5] == b'-'
            && digits(&d[6..8])
            && d[8] == b'-'
            && digits(&d[9..11])
        {
            return Some(head);
        }
    }
    // `-09-2025`, `-05-20`: month and year, or month and day
    for tail in [8, 6] {
        if let Some((head, part)) = name
            .len()
            .checked_sub(tail)
            .and_then(|at| name.split_at_checked(at))
        {
            let p = part.as_bytes();
            if !head.is_empty()
                && p[0] == b'-'
                && digits(&p[1..3])
                && p[3] == b'-'
                && digits(&p[4..])
            {
                return Some(head);
            }
        }
    }
    // `-20241022`, `@20240620` (a date in one), `-0613`, `-2411`, `-001`
    let cut = name.rfind(['-', '@'])?;
    let suffix = &bytes[cut + 1..];
    let dated = suffix.len() == 8 || (bytes[cut] == b'-' && matches!(suffix.len(), 3 | 4));
    (dated && digits(suffix)).then(|| &name[..cut])
}

/// LiteLLM's prefixes for a provider as the entry names it (the GenAI
/// `gen_ai.provider.name` values and common spellings), plus the name itself.
fn provider_prefixes(provider: &str) -> Vec<String> {
    let provider = provider.trim().to_lowercase();
    if provider.is_empty() {
        return Vec::new();
    }
    let mapped = match provider.as_str() {
        "gcp.gemini" | "google" | "google_genai" | "gemini" => Some("gemini"),
        "gcp.vertex_ai" | "vertexai" | "vertex" => Some("vertex_ai"),
        "aws.bedrock" => Some("bedrock"),
        "azure.ai.openai" => Some("azure"),
        "azure.ai.inference" => Some("azure_ai"),
        "mistral_ai" | "mistralai" => Some("mistral"),
        "x_ai" | "x.ai" => Some("xai"),
        "together" | "togetherai" | "together.ai" => Some("together_ai"),
        "fireworks" | "fireworks.ai" => Some("fireworks_ai"),
        "ibm.watsonx.ai" => Some("watsonx"),
        _ => None,
    };
    let mut prefixes = Vec::with_capacity(2);
    if let Some(mapped) = mapped {
        prefixes.push(mapped.to_owned());
    }
    if mapped != Some(provider.as_str()) {
        prefixes.push(provider);
    }
    prefixes
}

/// Whether `name` matches `pattern`, where `*` stands for any run of
/// characters (ignoring case).
pub(crate) fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let name: Vec<char> = name.to_lowercase().chars().collect();
    // Iterative wildcard matching with one backtrack point: linear in
    // practice, never exponential.
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(model: &str, provider: Option<&str>) -> Vec<(String, String)> {
        candidates(model, provider)
            .into_iter()
            .map(|(name, rule)| (name, rule.as_text().into_owned()))
            .collect()
    }

    #[test]
    fn names_of_any_text_never_panic() {
        // Found by the extractor's property test: a suffix cut inside a
        // multi-byte character.
        for name in [
            "🕴🕴🕴🕴",
            "a🕴es'*",
            "x-2024-08-🕴",
            "-05-20",
            "-2024-08-06",
            "§^🕴-0613",
        ] {
            for provider in [None, Some("openai"), Some("🕴")] {
                let _ = candidates(name, provider);
            }
        }
        assert_eq!(strip_version("-05-20"), None);
        assert_eq!(strip_version("gpt-4o-2024-08-06"), Some("gpt-4o"));
    }

    #[test]
    fn an_exact_name_comes_before_the_looser_rules() {
        assert_eq!(
            names("GPT-4o-2024-08-06", None),
            [
                ("gpt-4o-2024-08-06".to_owned(), "exact".to_owned()),
                ("gpt-4o".to_owned(), "without_version".to_owned()),
            ]
        );
    }

    #[test]
    fn a_provider_prefix_is_tried_first_and_taken_off_after() {
        assert_eq!(
            names("openai/gpt-oss-120b", Some("groq")),
            [
                (
                    "groq/openai/gpt-oss-120b".to_owned(),
                    "with_provider".into()
                ),
                ("openai/gpt-oss-120b".to_owned(), "exact".into()),
                ("gpt-oss-120b".to_owned(), "without_provider".into()),
            ]
        );
        let gemini = names("gemini-2.5-pro-001", Some("gcp.gemini"));
        assert_eq!(gemini[0].0, "gemini/gemini-2.5-pro-001");
        assert_eq!(gemini[1].0, "gcp.gemini/gemini-2.5-pro-001");
        assert!(gemini.contains(&("gemini/gemini-2.5-pro".into(), "without_version".into())));
        assert!(names("m", Some("  "))
            .iter()
            .all(|(_, rule)| rule != "with_provider"));
        assert!(names("   ", Some("openai")).is_empty());
    }

    #[test]
    fn version_suffixes_come_off_and_model_words_stay() {
        let cases = [
            ("gpt-4o-2024-08-06", vec!["gpt-4o"]),
            ("claude-sonnet-4-5-20250929", vec!["claude-sonnet-4-5"]),
            ("claude-3-5-haiku@20241022", vec!["claude-3-5-haiku"]),
            (
                "anthropic.claude-3-5-sonnet-20240620-v1:0",
                vec![
                    "anthropic.claude-3-5-sonnet-20240620",
                    "anthropic.claude-3-5-sonnet",
                ],
            ),
            ("gpt-4-0613", vec!["gpt-4"]),
            ("gemini-2.0-flash-001", vec!["gemini-2.0-flash"]),
            ("mistral-large-2411", vec!["mistral-large"]),
            ("mistral-large-latest", vec!["mistral-large"]),
            (
                "gemini-2.5-flash-preview-09-2025",
                vec!["gemini-2.5-flash-preview"],
            ),
            (
                "gemini-2.5-flash-preview-05-20",
                vec!["gemini-2.5-flash-preview"],
            ),
            ("gpt-4o-mini", vec![]),
            ("gpt-3.5-turbo-16k", vec![]),
            ("deepseek-v3", vec![]),
            ("o1", vec![]),
            ("qwen-2.5-72b", vec![]),
        ];
        for (name, expected) in cases {
            assert_eq!(without_versions(name), expected, "{name}");
        }
    }

    #[test]
    fn globs_match_any_run_and_ignore_case() {
        assert!(glob_matches(
            "ft:gpt-4o-mini:acme:*",
            "ft:GPT-4o-mini:acme:run-7"
        ));
        assert!(glob_matches("*-instruct", "llama-3-70b-instruct"));
        assert!(glob_matches("a*b*c", "aXXbYYc"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a*b", "ac"));
        assert!(!glob_matches("abc", "abcd"));
        // No exponential blow-up on a hostile pattern.
        let started = std::time::Instant::now();
        let name = "a".repeat(10_000);
        assert!(glob_matches(&"*a".repeat(50), &name));
        assert!(!glob_matches(&format!("{}b", "*a".repeat(50)), &name));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
