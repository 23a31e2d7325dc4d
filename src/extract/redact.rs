//! Secret redaction: built-in patterns for common credentials plus the user's
//! own, each match replaced by [`REDACTED`].

use std::borrow::Cow;

use regex::Regex;

use crate::config::ProtocolConfig;
use crate::error::{ProtocolError, Result};

/// What a redacted secret becomes.
pub(crate) const REDACTED: &str = "[REDACTED]";

/// The built-in credential patterns, as (what it catches, pattern).
///
/// Token character classes exclude `"` and `\` so that a match inside JSON
/// text never swallows a string delimiter or an escape, and the redacted text
/// still parses. Word boundaries are ASCII (`(?-u:\b)`): the tokens are ASCII,
/// and a Unicode boundary would push the regex engine off its fast path on
/// non-ASCII text.
const BUILT_IN: &[(&str, &str)] = &[
    // OpenAI / Anthropic style API keys: sk-…, sk-proj-…, sk-ant-api03-…
    ("API key", r"(?-u:\b)sk-[A-Za-z0-9_\-]{16,}"),
    // RFC 6750 bearer tokens (b64token), e.g. in an Authorization header.
    ("bearer token", r"(?i-u:\bbearer)\s+[A-Za-z0-9\-._~+/]+=*"),
    (
        "AWS access key id",
        r"(?-u:\b)(?:AKIA|ASIA)[0-9A-Z]{16}(?-u:\b)",
    ),
    // A private-key block; an unterminated one (cut off by truncation, or
    // simply malformed) is redacted to the end of the text rather than leaked.
    (
        "private key block",
        r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY-----|\z)",
    ),
];

/// Replaces secrets in recorded text.
#[derive(Debug, Clone)]
pub(crate) struct Redactor {
    patterns: Vec<Regex>,
}

impl Redactor {
    /// Compiles the built-in patterns (when the config enables them) and the
    /// user's patterns (always: the user asked for them explicitly).
    pub(crate) fn new(config: &ProtocolConfig) -> Result<Self> {
        let mut patterns = Vec::new();
        if config.redact_secrets() {
            for (what, pattern) in BUILT_IN {
                let regex = Regex::new(pattern).map_err(|err| {
                    ProtocolError::InvalidConfig(format!(
                        "built-in {what} redaction pattern does not compile: {err}"
                    ))
                })?;
                patterns.push(regex);
            }
        }
        for pattern in config.redaction_patterns() {
            let regex = Regex::new(pattern).map_err(|err| {
                ProtocolError::InvalidConfig(format!(
                    "invalid redaction pattern {pattern:?}: {err}"
                ))
            })?;
            patterns.push(regex);
        }
        Ok(Self { patterns })
    }

    /// `text` with every match of every pattern replaced; borrowed when
    /// nothing matched.
    pub(crate) fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for regex in &self.patterns {
            if let Cow::Owned(replaced) = regex.replace_all(&out, REDACTED) {
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
}
