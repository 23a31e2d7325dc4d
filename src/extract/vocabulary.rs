//! The attribute aliases and classification rules in force: the user's
//! (from [`ProtocolConfig`]) ahead of the built-in tables of `keys.rs` and
//! `classify.rs`, assembled once when the pipeline is built.

use std::borrow::Cow;

use crate::config::{Field, ProtocolConfig, SpanMatch};

use super::classify::StepKind;
use super::keys;

/// One field's aliases, the user's first.
pub(crate) type Aliases = Vec<Cow<'static, str>>;

/// Every alias table and the user's rules.
#[derive(Debug, Clone)]
pub(crate) struct Vocabulary {
    pub session: Aliases,
    pub agent: Aliases,
    pub model: Aliases,
    pub provider: Aliases,
    pub tool_name: Aliases,
    pub tool_call_id: Aliases,
    pub input_tokens: Aliases,
    pub output_tokens: Aliases,
    pub cache_read: Aliases,
    pub cache_creation: Aliases,
    pub reasoning: Aliases,
    pub cost: Aliases,
    pub input: Aliases,
    pub output: Aliases,
    /// The user's classification rules, checked before the built-in ones.
    pub rules: Vec<(SpanMatch, StepKind)>,
}

impl Vocabulary {
    /// The built-in tables with `config`'s aliases and rules in front.
    pub(crate) fn new(config: &ProtocolConfig) -> Self {
        let table = |field: Field, builtin: &'static [&'static str]| -> Aliases {
            config
                .aliases()
                .iter()
                .filter(|(f, _)| *f == field)
                .map(|(_, key)| Cow::Owned(key.trim().to_owned()))
                .chain(builtin.iter().map(|k| Cow::Borrowed(*k)))
                .collect()
        };
        Self {
            session: table(Field::SessionId, keys::SESSION_ID),
            agent: table(Field::AgentName, keys::AGENT_NAME),
            model: table(Field::Model, keys::MODEL),
            provider: table(Field::Provider, keys::PROVIDER),
            tool_name: table(Field::ToolName, keys::TOOL_NAME),
            tool_call_id: table(Field::ToolCallId, keys::TOOL_CALL_ID),
            input_tokens: table(Field::InputTokens, keys::INPUT_TOKENS),
            output_tokens: table(Field::OutputTokens, keys::OUTPUT_TOKENS),
            cache_read: table(Field::CacheReadInputTokens, keys::CACHE_READ_TOKENS),
            cache_creation: table(Field::CacheCreationInputTokens, keys::CACHE_CREATION_TOKENS),
            reasoning: table(Field::ReasoningTokens, keys::REASONING_TOKENS),
            cost: table(Field::CostUsd, keys::COST_USD),
            input: table(Field::Input, keys::INPUT_CONTENT),
            output: table(Field::Output, keys::OUTPUT_CONTENT),
            rules: config.span_rules().to_vec(),
        }
    }

    /// Whether `key` is represented by a content field, whichever alias
    /// (built-in or the user's) supplied it.
    pub(crate) fn is_content_key(&self, key: &str) -> bool {
        self.input.iter().chain(self.output.iter()).any(|alias| {
            match alias.strip_suffix(super::attributes::FLATTENED_SUFFIX) {
                Some(prefix) => key.starts_with(prefix),
                None => alias == key,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_aliases_go_first_and_the_built_ins_stay() {
        let config = ProtocolConfig::default()
            .with_alias(Field::SessionId, " my.session ")
            .with_alias(Field::Input, "my.prompt");
        let vocab = Vocabulary::new(&config);
        assert_eq!(vocab.session[0], "my.session");
        assert_eq!(vocab.session[1], keys::SESSION_ID[0]);
        assert_eq!(vocab.session.len(), keys::SESSION_ID.len() + 1);
        assert!(vocab.is_content_key("my.prompt"));
        assert!(vocab.is_content_key("llm.output_messages.0.message.role"));
        assert!(!vocab.is_content_key("my.session"));
    }
}
