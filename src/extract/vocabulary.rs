//! The attribute aliases and classification rules in force: the user's
//! (from [`ProtocolConfig`]) ahead of the built-in tables of `keys.rs` and
//! `classify.rs`, assembled once when the pipeline is built.

use std::borrow::Cow;
use std::sync::Arc;

use crate::config::{Field, ProtocolConfig, SpanMatch};

use super::aliases::{AliasRef, Aliases, Form, KeyIndex};
use super::classify::StepKind;
use super::keys;

/// Every alias table and the user's rules.
#[derive(Debug, Clone)]
pub(crate) struct Vocabulary {
    /// The keys the tables and rules read, numbered.
    pub index: Arc<KeyIndex>,
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
    /// Which keys `DetailLevel::Full` leaves out whatever supplied them.
    hidden: Hidden,
}

/// The keys [`Vocabulary::is_hidden`] answers for, worked out once: it is
/// asked for every attribute of every `Full` entry.
#[derive(Debug, Clone)]
struct Hidden {
    /// For each numbered key, whether it is hidden.
    by_id: Vec<bool>,
    /// Flattened aliases' prefixes: every key under one is hidden.
    prefixes: Vec<String>,
    /// Hidden aliases that are no numbered key (a `key#member` written out).
    names: Vec<String>,
}

impl Vocabulary {
    /// The built-in tables with `config`'s aliases and rules in front.
    pub(crate) fn new(config: &ProtocolConfig) -> Self {
        let user_aliases = || config.aliases().iter().map(|(_, key)| key.trim());
        let alias_keys = user_aliases().filter_map(|alias| match AliasRef::parse(alias).form {
            Form::Key(key) | Form::Member(key, _) => Some(key.name),
            Form::Flattened(_) => None,
        });
        let rule_keys = config
            .span_rules()
            .iter()
            .filter_map(|(rule, _)| match rule {
                SpanMatch::Attribute { key, .. } | SpanMatch::HasAttribute(key) => {
                    Some(key.as_str())
                }
                SpanMatch::Name(_) | SpanMatch::NamePrefix(_) => None,
            });
        let index = KeyIndex::with(alias_keys.chain(rule_keys));
        let table = |field: Field, builtin: &'static [&'static str]| -> Aliases {
            let user = config
                .aliases()
                .iter()
                .filter(|(f, _)| *f == field)
                .map(|(_, key)| Cow::Owned(key.trim().to_owned()));
            Aliases::new(
                user.chain(builtin.iter().map(|k| Cow::Borrowed(*k))),
                &index,
            )
        };
        let mut vocab = Self {
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
            index,
            hidden: Hidden {
                by_id: Vec::new(),
                prefixes: Vec::new(),
                names: Vec::new(),
            },
        };
        vocab.hidden = vocab.hidden_keys();
        vocab
    }

    /// Whether `key` is represented by a content field, whichever alias
    /// (built-in or the user's) supplied it.
    pub(crate) fn is_content_key(&self, key: &str) -> bool {
        self.input.iter().chain(self.output.iter()).any(|alias| {
            match alias
                .name()
                .strip_suffix(super::attributes::FLATTENED_SUFFIX)
            {
                Some(prefix) => key.starts_with(prefix),
                None => alias.name() == key,
            }
        })
    }

    /// Whether `DetailLevel::Full` leaves `key` out whatever supplied it: a
    /// content or error key ([`keys::is_always_mapped`],
    /// [`Vocabulary::is_content_key`]).
    pub(crate) fn is_hidden(&self, key: &str) -> bool {
        let hidden = &self.hidden;
        match self.index.id(key) {
            Some(id) => hidden.by_id.get(id).copied().unwrap_or(false),
            None => {
                hidden.prefixes.iter().any(|p| key.starts_with(p.as_str()))
                    || hidden.names.iter().any(|name| name == key)
            }
        }
    }

    fn hidden_keys(&self) -> Hidden {
        let is_hidden = |key: &str| keys::is_always_mapped(key) || self.is_content_key(key);
        let mut by_id = vec![false; self.index.len()];
        for (key, id) in self.index.iter() {
            if let Some(slot) = by_id.get_mut(id) {
                *slot = is_hidden(key);
            }
        }
        let aliases = keys::ALWAYS_MAPPED
            .iter()
            .flat_map(|table| table.iter().copied())
            .chain(self.input.iter().map(|a| a.name()))
            .chain(self.output.iter().map(|a| a.name()));
        let (mut prefixes, mut names) = (Vec::new(), Vec::new());
        for alias in aliases {
            match alias.strip_suffix(super::attributes::FLATTENED_SUFFIX) {
                Some(prefix) => prefixes.push(prefix.to_owned()),
                None if self.index.id(alias).is_none() => names.push(alias.to_owned()),
                None => {}
            }
        }
        Hidden {
            by_id,
            prefixes,
            names,
        }
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

    #[test]
    fn hidden_keys_are_the_content_and_error_keys() {
        let config = ProtocolConfig::default()
            .with_alias(Field::Input, "my.prompt")
            .with_alias(Field::Output, "my.reply#text")
            .with_alias(Field::Output, "my.out.*")
            .with_alias(Field::Model, "my.model");
        for vocab in [
            Vocabulary::new(&config),
            Vocabulary::new(&ProtocolConfig::default()),
        ] {
            for key in [
                "my.prompt",
                "my.reply",
                "my.reply#text",
                "my.out.0.x",
                "my.out",
                "my.model",
                "input.value",
                "llm.input_messages.3.message.role",
                "exception.message",
                "error.type",
                "gen_ai.request.model",
                "http.method",
                "",
            ] {
                let expected = keys::is_always_mapped(key) || vocab.is_content_key(key);
                assert_eq!(vocab.is_hidden(key), expected, "{key}");
            }
        }
    }
}
