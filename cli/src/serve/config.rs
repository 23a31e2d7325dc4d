//! What `serve` extracts: `--config FILE` (JSON) and the flags that
//! override it, turned into the library's `ProtocolConfig` — the same
//! settings an in-process pipeline takes.

use std::path::Path;

use reagentic_protocol::{DetailLevel, Field, ProtocolConfig, SpanMatch, StepKind};
use serde::Deserialize;

use crate::failure::Failure;

/// The `--config` file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    detail: Option<Detail>,
    max_content_chars: Option<usize>,
    keep_other_spans: Option<bool>,
    redact_secrets: Option<bool>,
    #[serde(default)]
    redaction_patterns: Vec<String>,
    #[serde(default)]
    aliases: Vec<Alias>,
    #[serde(default)]
    span_rules: Vec<Rule>,
}

/// A detail level as written in the file and on the command line.
#[derive(Debug, Clone, Copy, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// Ids, names, types, times, status, model and tokens; no content.
    Minimal,
    /// Minimal plus inputs and outputs, truncated, secrets redacted.
    Standard,
    /// Standard plus every other attribute and event.
    Full,
}

impl From<Detail> for DetailLevel {
    fn from(detail: Detail) -> Self {
        match detail {
            Detail::Minimal => DetailLevel::Minimal,
            Detail::Standard => DetailLevel::Standard,
            Detail::Full => DetailLevel::Full,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Alias {
    field: Field,
    key: String,
}

/// A span rule: one way of matching, and the kind of step it makes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rule {
    name: Option<String>,
    name_prefix: Option<String>,
    attribute: Option<String>,
    value: Option<String>,
    has_attribute: Option<String>,
    kind: Kind,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Agent,
    Llm,
    Tool,
    Guardrail,
    Handoff,
    Other,
}

impl From<Kind> for StepKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Agent => StepKind::Agent,
            Kind::Llm => StepKind::Llm,
            Kind::Tool => StepKind::Tool,
            Kind::Guardrail => StepKind::Guardrail,
            Kind::Handoff => StepKind::Handoff,
            Kind::Other => StepKind::Other,
        }
    }
}

impl Rule {
    fn matcher(&self) -> Result<SpanMatch, String> {
        match (
            &self.name,
            &self.name_prefix,
            &self.attribute,
            &self.value,
            &self.has_attribute,
        ) {
            (Some(name), None, None, None, None) => Ok(SpanMatch::name(name)),
            (None, Some(prefix), None, None, None) => Ok(SpanMatch::name_prefix(prefix)),
            (None, None, Some(key), Some(value), None) => Ok(SpanMatch::attribute(key, value)),
            (None, None, None, None, Some(key)) => Ok(SpanMatch::has_attribute(key)),
            _ => Err(
                "a span rule has exactly one of: name, name_prefix, attribute with value, has_attribute"
                    .into(),
            ),
        }
    }
}

impl ConfigFile {
    /// Reads and checks a config file.
    pub fn read(path: &Path) -> Result<Self, Failure> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::new(format!("cannot read {}: {e}", path.display())))?;
        serde_json::from_str(&text)
            .map_err(|e| Failure::new(format!("{} is not a valid config: {e}", path.display())))
    }

    /// The extraction settings, with `detail` from the command line winning.
    pub fn protocol_config(
        &self,
        detail: Option<Detail>,
        keep_other_spans: bool,
    ) -> Result<ProtocolConfig, Failure> {
        let mut config = ProtocolConfig::default();
        if let Some(detail) = detail.or(self.detail) {
            config = config.with_detail(detail.into());
        }
        if let Some(chars) = self.max_content_chars {
            config = config.with_max_content_chars(chars);
        }
        if keep_other_spans || self.keep_other_spans == Some(true) {
            config = config.with_keep_other_spans(true);
        }
        if let Some(redact) = self.redact_secrets {
            config = config.with_secret_redaction(redact);
        }
        for pattern in &self.redaction_patterns {
            config = config.with_redaction_pattern(pattern);
        }
        for alias in &self.aliases {
            config = config.with_alias(alias.field, &alias.key);
        }
        for rule in &self.span_rules {
            config = config.with_span_rule(rule.matcher().map_err(Failure::new)?, rule.kind.into());
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_sets_rules_aliases_and_detail_and_the_flag_wins() {
        let file: ConfigFile = serde_json::from_str(
            r#"{"detail": "full", "aliases": [{"field": "session_id", "key": "my.session"}],
                "span_rules": [{"name_prefix": "my.", "kind": "agent"},
                               {"attribute": "k", "value": "v", "kind": "tool"}]}"#,
        )
        .unwrap();
        let config = file.protocol_config(None, false).unwrap();
        assert_eq!(config.detail(), DetailLevel::Full);
        assert_eq!(
            config.aliases(),
            &[(Field::SessionId, "my.session".to_owned())]
        );
        assert_eq!(config.span_rules().len(), 2);
        let config = file.protocol_config(Some(Detail::Minimal), false).unwrap();
        assert_eq!(config.detail(), DetailLevel::Minimal);
        let ambiguous: ConfigFile = serde_json::from_str(
            r#"{"span_rules": [{"name": "a", "name_prefix": "b", "kind": "llm"}]}"#,
        )
        .unwrap();
        assert!(ambiguous.protocol_config(None, false).is_err());
        assert!(serde_json::from_str::<ConfigFile>(r#"{"detial": "full"}"#).is_err());
    }
}
