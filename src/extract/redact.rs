//! Secret redaction: built-in patterns for common credentials plus the user's
//! own, each match replaced by [`REDACTED`].

use std::borrow::Cow;

use regex::{NoExpand, Regex};

use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};

/// What a redacted secret becomes.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The built-in credential patterns, as (what it catches, pattern, a needle
/// every match contains).
///
/// Token character classes exclude `"` and `\` so that a match inside JSON
/// text never swallows a string delimiter or an escape, and the redacted text
/// still parses. Word boundaries are ASCII (`(?-u:\b)`): the tokens are ASCII,
/// and a Unicode boundary would push the regex engine off its fast path on
/// non-ASCII text.
///
/// The needles are pure literals, searched for all at once: most text holds
/// none of them, and one literal scan rules out every pattern (a fifth of the
/// cost of running the four patterns over clean text).
const BUILT_IN: &[(&str, &str, &str)] = &[
    // OpenAI / Anthropic style API keys: sk-…, sk-proj-…, sk-ant-api03-…
    ("API key", r"(?-u:\b)sk-[A-Za-z0-9_\-]{16,}", "sk-"),
    // RFC 6750 bearer tokens (b64token), e.g. in an Authorization header.
    (
        "bearer token",
        r"(?i-u:\bbearer)\s+[A-Za-z0-9\-._~+/]+=*",
        "(?i-u:bearer)",
    ),
    (
        "AWS access key id",
        r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)",
        "AKIA|ASIA",
    ),
    // A private-key block; an unterminated one (cut off by truncation, or
    // simply malformed) is redacted to the end of the text rather than leaked.
    (
        "private key block",
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)",
        "-----BEGIN",
    ),
];

/// Replaces secrets in recorded text.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    /// The built-in patterns (when enabled), then the user's.
    patterns: Vec<Regex>,
    /// How many of `patterns` are built in.
    built_in: usize,
    /// Every built-in needle; text without one holds no built-in match.
    needles: Option<Regex>,
}

impl Redactor {
    /// Compiles the built-in patterns (when the config enables them) and the
    /// user's patterns (always: the user asked for them explicitly).
    pub(crate) fn new(config: &ProtocolConfig) -> Result<Self> {
        let mut patterns = Vec::new();
        let mut needles = None;
        if config.redact_secrets() {
            for (what, pattern, _) in BUILT_IN {
                let regex = Regex::new(pattern).map_err(|err| {
                    ProtocolError::InvalidConfig(format!(
                        "built-in {what} redaction pattern does not compile: {err}"
                    ))
                })?;
                patterns.push(regex);
            }
            let any: Vec<&str> = BUILT_IN.iter().map(|(_, _, needle)| *needle).collect();
            needles = Some(Regex::new(&any.join("|")).map_err(|err| {
                ProtocolError::InvalidConfig(format!(
                    "built-in redaction needles do not compile: {err}"
                ))
            })?);
        }
        let built_in = patterns.len();
        for pattern in config.redaction_patterns() {
            let regex = Regex::new(pattern).map_err(|err| {
                ProtocolError::InvalidConfig(format!(
                    "invalid redaction pattern {pattern:?}: {err}"
                ))
            })?;
            patterns.push(regex);
        }
        Ok(Self {
            patterns,
            built_in,
            needles,
        })
    }

    /// `text` with every match of every pattern replaced; borrowed when
    /// nothing matched.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // No needle: no built-in pattern matches, so none changes the text
        // the user's patterns then see.
        let skip = match &self.needles {
            Some(needles) if !needles.is_match(text) => self.built_in,
            _ => 0,
        };
        let mut out = Cow::Borrowed(text);
        for regex in self.patterns.iter().skip(skip) {
            // `NoExpand`: the replacement is literal, and is not searched
            // for `$` references on every call.
            if let Cow::Owned(replaced) = regex.replace_all(&out, NoExpand(REDACTED)) {
                out = Cow::Owned(replaced);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor() -> Redactor {
        Redactor::new(&ProtocolConfig::default()).unwrap()
    }

    #[test]
    fn api_keys_of_each_flavour_are_redacted() {
        let r = redactor();
        for key in [
            "sk-abcdefghijklmnopqrstuvwxyz0123456789",
            "sk-proj-AbC_dEf-1234567890abcdefGHIJ",
            "sk-ant-api03-abcdefghijklmnop_QRSTUV-wxyz",
        ] {
            let text = format!("key={key} end");
            assert_eq!(r.redact(&text), "key=[REDACTED] end", "{key}");
        }
    }

    #[test]
    fn short_or_embedded_sk_words_are_left_alone() {
        let r = redactor();
        assert_eq!(r.redact("use sk-learn for this"), "use sk-learn for this");
        assert_eq!(
            r.redact("task-abcdefghijklmnopqrstuvwxyz"),
            "task-abcdefghijklmnopqrstuvwxyz"
        );
    }

    #[test]
    fn bearer_tokens_are_redacted_in_any_case() {
        let r = redactor();
        assert_eq!(
            r.redact("Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-_~+/=="),
            "Authorization: [REDACTED]"
        );
        assert_eq!(r.redact("bearer abc123"), "[REDACTED]");
    }

    #[test]
    fn aws_access_key_ids_are_redacted() {
        let r = redactor();
        assert_eq!(r.redact("id AKIAIOSFODNN7EXAMPLE."), "id [REDACTED].");
        assert_eq!(r.redact("ASIAABCDEFGHIJKLMNOP"), "[REDACTED]");
        // Not 16 characters after the prefix: not a key id.
        assert_eq!(r.redact("AKIASHORT"), "AKIASHORT");
    }

    #[test]
    fn private_key_blocks_are_redacted_whole_and_when_unterminated() {
        let r = redactor();
        let pem = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nafter";
        assert_eq!(r.redact(pem), "before\n[REDACTED]\nafter");
        let plain = "-----BEGIN PRIVATE KEY-----\\nabc\\n-----END PRIVATE KEY-----";
        assert_eq!(r.redact(plain), "[REDACTED]");
        let cut = "x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA";
        assert_eq!(r.redact(cut), "x [REDACTED]");
    }

    #[test]
    fn redaction_inside_json_keeps_it_parseable() {
        let r = redactor();
        let json =
            r#"{"headers":{"Authorization":"Bearer abc.def"},"key":"sk-abcdefghijklmnopqrstu"}"#;
        let out = r.redact(json);
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["headers"]["Authorization"], "[REDACTED]");
        assert_eq!(value["key"], "[REDACTED]");
    }

    #[test]
    fn user_patterns_apply_even_with_built_ins_off() {
        let config = ProtocolConfig::default()
            .with_secret_redaction(false)
            .with_redaction_pattern(r"ACME-[0-9]{6}");
        let r = Redactor::new(&config).unwrap();
        assert_eq!(
            r.redact("ACME-123456 sk-abcdefghijklmnopqrstu"),
            "[REDACTED] sk-abcdefghijklmnopqrstu"
        );
    }

    #[test]
    fn invalid_user_pattern_is_a_config_error_naming_it() {
        let config = ProtocolConfig::default().with_redaction_pattern("(unclosed");
        let err = Redactor::new(&config).unwrap_err();
        assert!(matches!(err, ProtocolError::InvalidConfig(_)));
        assert!(err.to_string().contains("(unclosed"), "{err}");
    }

    #[test]
    fn large_non_ascii_text_is_redacted_quickly() {
        let text = format!(
            "{} AKIAIOSFODNN7EXAMPLE {}",
            "é€".repeat(400_000),
            "ü".repeat(400_000)
        );
        let started = std::time::Instant::now();
        let out = redactor().redact(&text);
        let elapsed = started.elapsed();
        assert!(out.contains(" [REDACTED] ") && !out.contains("AKIA"));
        assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    }

    #[test]
    fn clean_text_is_borrowed() {
        assert!(matches!(
            redactor().redact("nothing here"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn every_built_in_match_holds_its_needle() {
        let samples = [
            "key=sk-abcdefghijklmnopqrstuvwxyz0123456789 end",
            "Authorization: BeArEr eyJhbGciOi.eyJzdWIi.sig-_~+/==",
            "id AKIAIOSFODNN7EXAMPLE. and ASIAABCDEFGHIJKLMNOP",
            "x -----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEA",
        ];
        for ((what, pattern, needle), sample) in BUILT_IN.iter().zip(samples) {
            let pattern = Regex::new(pattern).unwrap();
            let needle = Regex::new(needle).unwrap();
            let found = pattern.find(sample).unwrap_or_else(|| panic!("{what}"));
            assert!(needle.is_match(found.as_str()), "{what}");
        }
        // Text without any needle is returned as it is, user patterns applied.
        let config = ProtocolConfig::default().with_redaction_pattern("[0-9]{6}");
        let r = Redactor::new(&config).unwrap();
        assert_eq!(
            r.redact("no secrets 123456 here"),
            "no secrets [REDACTED] here"
        );
        assert!(matches!(r.redact("nothing here"), Cow::Borrowed(_)));
    }
}
