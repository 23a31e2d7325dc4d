//! Alias tables parsed once, against a numbering of the attribute keys they
//! name: a span's attributes are then indexed in one pass (one hash per
//! attribute), and every alias is read by position instead of hashing its
//! text and splitting it again on every span.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use foldhash::fast::FixedState;

use super::attributes::{FLATTENED_SUFFIX, MEMBER_SEPARATOR};
use super::classify::{Shape, RULES};
use super::keys;

/// A key's number in a [`KeyIndex`].
pub(crate) type KeyId = usize;

/// No key number: a flattened alias, or a key the index does not know.
const UNNUMBERED: KeyId = KeyId::MAX;

/// Key numbers as bits: the keys a span has, or those a table reads, so a
/// table none of whose keys a span has is ruled out in a few instructions.
/// Numbers from 256 on are not held (the built-in keys and a good number of
/// the user's fit); a table reading one is always scanned.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct KeySet([u64; 4]);

impl KeySet {
    /// Adds `id`; `false` when it is beyond the capacity.
    pub(crate) fn insert(&mut self, id: KeyId) -> bool {
        match self.0.get_mut(id / 64) {
            Some(word) => {
                *word |= 1 << (id % 64);
                true
            }
            None => false,
        }
    }

    fn intersects(&self, other: &KeySet) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

/// Numbers for the attribute keys the extractor reads.
///
/// Every index starts with the built-in keys in one fixed order and numbers
/// the user's keys after them, so a built-in key has the same number in every
/// index: tables of built-in aliases ([`Fixed`], the classification rules)
/// are valid whichever index a span was read with.
#[derive(Debug, Clone)]
pub(crate) struct KeyIndex {
    /// The keys, by number.
    keys: Vec<Cow<'static, str>>,
    /// Each key's number. Only known keys are ever inserted, so a span's
    /// attribute keys can make a look-up miss but never grow the map: a fixed,
    /// fast hash is safe here.
    ids: HashMap<Cow<'static, str>, KeyId, FixedState>,
    /// The longest key: a longer attribute key is not one, and is never hashed.
    longest: usize,
}

impl KeyIndex {
    /// The built-in keys only.
    pub(crate) fn builtin() -> &'static Arc<KeyIndex> {
        static BUILTIN: OnceLock<Arc<KeyIndex>> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut index = KeyIndex {
                keys: Vec::new(),
                ids: HashMap::with_hasher(FixedState::default()),
                longest: 0,
            };
            for key in builtin_keys() {
                index.add(Cow::Borrowed(key));
            }
            Arc::new(index)
        })
    }

    /// The built-in keys, then those of `extra` not among them; the shared
    /// built-in index when that adds nothing.
    pub(crate) fn with<'k>(extra: impl IntoIterator<Item = &'k str>) -> Arc<KeyIndex> {
        let builtin = Self::builtin();
        let mut own: Option<KeyIndex> = None;
        for key in extra {
            let index = own.as_ref().unwrap_or(builtin.as_ref());
            if index.id(key).is_none() {
                own.get_or_insert_with(|| KeyIndex::clone(builtin))
                    .add(Cow::Owned(key.to_owned()));
            }
        }
        own.map_or_else(|| Arc::clone(builtin), Arc::new)
    }

    fn add(&mut self, key: Cow<'static, str>) {
        if self.id(&key).is_some() {
            return;
        }
        self.longest = self.longest.max(key.len());
        self.ids.insert(key.clone(), self.keys.len());
        self.keys.push(key);
    }

    /// The number of `key`, if it is one of the keys. Inlined into the
    /// per-attribute loops that call it, whichever codegen unit they land in.
    #[inline]
    pub(crate) fn id(&self, key: &str) -> Option<KeyId> {
        if key.len() > self.longest {
            return None;
        }
        self.ids.get(key).copied()
    }

    /// How many keys are numbered.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Every key with its number.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, KeyId)> + '_ {
        self.keys
            .iter()
            .enumerate()
            .map(|(id, key)| (key.as_ref(), id))
    }
}

/// Every attribute key a built-in table or rule reads.
fn builtin_keys() -> impl Iterator<Item = &'static str> {
    let aliases = keys::ALL_TABLES
        .iter()
        .flat_map(|table| table.iter())
        .filter_map(|alias| match AliasRef::parse(alias).form {
            Form::Key(key) | Form::Member(key, _) => Some(key.name),
            Form::Flattened(_) => None,
        });
    let outcomes = keys::FAILED_OUTCOMES.iter().map(|(key, _)| *key);
    let rules = RULES.iter().filter_map(|rule| match rule.shape {
        Shape::Attr(key, _) => Some(key),
        _ => None,
    });
    aliases
        .chain(outcomes)
        .chain([keys::ERROR_EVENT_LEVEL.0])
        .chain(rules)
}

/// An alias as [`Attributes`](super::attributes::Attributes) reads it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AliasRef<'k> {
    /// The alias as written: what a look-up reports as the key it used.
    pub name: &'k str,
    /// What it reads.
    pub form: Form<'k>,
}

/// What an alias reads (see `attributes.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Form<'k> {
    /// The value of a key.
    Key(KeyRef<'k>),
    /// A member of the JSON object a key holds as text.
    Member(KeyRef<'k>, &'k str),
    /// Every attribute under a prefix, reassembled.
    Flattened(&'k str),
}

/// An attribute key, with its number when that is valid for the index read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'k> {
    /// The key.
    pub name: &'k str,
    /// Its number; without one the key is found by name.
    pub id: Option<KeyId>,
}

impl<'k> AliasRef<'k> {
    /// Parses an alias; its key is found by name when read.
    pub(crate) fn parse(name: &'k str) -> Self {
        let form = if let Some(prefix) = name.strip_suffix(FLATTENED_SUFFIX) {
            Form::Flattened(prefix)
        } else if let Some((key, member)) = name.split_once(MEMBER_SEPARATOR) {
            Form::Member(
                KeyRef {
                    name: key,
                    id: None,
                },
                member,
            )
        } else {
            Form::Key(KeyRef { name, id: None })
        };
        Self { name, form }
    }
}

/// One alias, parsed.
#[derive(Debug, Clone)]
pub(crate) struct Alias {
    name: Cow<'static, str>,
    parsed: Parsed,
}

/// An alias's form, as positions in its text so nothing is re-split per span.
#[derive(Debug, Clone, Copy)]
enum Parsed {
    Key(Option<KeyId>),
    /// The key is the text before this position, the member after it.
    Member(Option<KeyId>, usize),
    Flattened,
}

impl Alias {
    fn new(name: Cow<'static, str>, index: &KeyIndex) -> Self {
        let parsed = match AliasRef::parse(&name).form {
            Form::Key(key) => Parsed::Key(index.id(key.name)),
            Form::Member(key, _) => Parsed::Member(index.id(key.name), key.name.len()),
            Form::Flattened(_) => Parsed::Flattened,
        };
        Self { name, parsed }
    }

    /// The alias as written.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn id(&self) -> Option<KeyId> {
        match self.parsed {
            Parsed::Key(id) | Parsed::Member(id, _) => id,
            Parsed::Flattened => None,
        }
    }

    /// The alias to read, its number kept only when `numbered`.
    fn view(&self, numbered: bool) -> AliasRef<'_> {
        let name = self.name.as_ref();
        let key = |key_name, id: Option<KeyId>| KeyRef {
            name: key_name,
            id: id.filter(|_| numbered),
        };
        let form = match self.parsed {
            Parsed::Key(id) => Form::Key(key(name, id)),
            Parsed::Member(id, at) => {
                let (key_name, member) = (&name[..at], &name[at + MEMBER_SEPARATOR.len_utf8()..]);
                Form::Member(key(key_name, id), member)
            }
            Parsed::Flattened => Form::Flattened(&name[..name.len() - FLATTENED_SUFFIX.len()]),
        };
        AliasRef { name, form }
    }
}

#[cfg(test)]
impl PartialEq<&str> for Alias {
    fn eq(&self, other: &&str) -> bool {
        self.name == *other
    }
}

/// One field's aliases, parsed and numbered once, first alias first.
#[derive(Debug, Clone)]
pub(crate) struct Aliases {
    list: Vec<Alias>,
    /// Each alias's key number ([`UNNUMBERED`] for a flattened alias or an
    /// unknown key), apart so that ruling an alias out scans only numbers.
    ids: Vec<KeyId>,
    /// The numbered keys the aliases read.
    keys: KeySet,
    /// Whether some alias cannot be ruled out by [`Aliases::keys`].
    unruled: bool,
    /// The index the user's keys are numbered in; `None` when every key is
    /// built in, and so numbered alike in every index.
    index: Option<Arc<KeyIndex>>,
}

impl Aliases {
    /// `names`, numbered in `index`.
    pub(crate) fn new(
        names: impl IntoIterator<Item = Cow<'static, str>>,
        index: &Arc<KeyIndex>,
    ) -> Self {
        let list: Vec<Alias> = names
            .into_iter()
            .map(|name| Alias::new(name, index))
            .collect();
        let builtin = KeyIndex::builtin().len();
        let ids: Vec<KeyId> = list.iter().map(|a| a.id().unwrap_or(UNNUMBERED)).collect();
        let own_keys = ids.iter().any(|&id| id != UNNUMBERED && id >= builtin);
        let mut keys = KeySet::default();
        let mut unruled = false;
        for &id in &ids {
            unruled |= id == UNNUMBERED || !keys.insert(id);
        }
        Self {
            list,
            ids,
            keys,
            unruled,
            index: own_keys.then(|| Arc::clone(index)),
        }
    }

    /// A built-in table, valid with any index.
    fn builtin(names: &'static [&'static str]) -> Self {
        Self::new(names.iter().map(|n| Cow::Borrowed(*n)), KeyIndex::builtin())
    }

    /// Whether the numbers are valid for `index`: numbers from another
    /// index would read other keys' values, so such a table is read by name,
    /// slower but right.
    fn numbered_for(&self, index: &KeyIndex) -> bool {
        self.index
            .as_deref()
            .is_none_or(|own| std::ptr::eq(own, index))
    }
}

impl Deref for Aliases {
    type Target = [Alias];

    fn deref(&self) -> &[Alias] {
        &self.list
    }
}

/// A list of aliases [`Attributes`](super::attributes::Attributes) can read.
pub(crate) trait AliasTable {
    /// Whether a span whose numbered keys (as far as the set holds them) are
    /// `span_keys` has none of the aliases: most tables name none of a
    /// span's keys, and are passed over in a few instructions.
    fn ruled_out(&self, _index: &KeyIndex, _span_keys: &KeySet) -> bool {
        false
    }

    /// The aliases in order, with the key numbers valid for `index`, leaving
    /// out those whose numbered key the span lacks.
    fn aliases<'k>(
        &'k self,
        index: &KeyIndex,
        present: impl Fn(KeyId) -> bool,
    ) -> impl Iterator<Item = AliasRef<'k>>;
}

impl AliasTable for Aliases {
    fn ruled_out(&self, index: &KeyIndex, span_keys: &KeySet) -> bool {
        !self.unruled && !self.keys.intersects(span_keys) && self.numbered_for(index)
    }

    fn aliases<'k>(
        &'k self,
        index: &KeyIndex,
        present: impl Fn(KeyId) -> bool,
    ) -> impl Iterator<Item = AliasRef<'k>> {
        let numbered = self.numbered_for(index);
        let mut next = 0;
        std::iter::from_fn(move || {
            while let Some((alias, &id)) = self.list.get(next).zip(self.ids.get(next)) {
                next += 1;
                // Most aliases are absent from any one span: ruled out by
                // number, before anything is built for them.
                if !numbered || id == UNNUMBERED || present(id) {
                    return Some(alias.view(numbered));
                }
            }
            None
        })
    }
}

#[cfg(test)]
impl<K: AsRef<str>> AliasTable for [K] {
    fn aliases<'k>(
        &'k self,
        _index: &KeyIndex,
        _present: impl Fn(KeyId) -> bool,
    ) -> impl Iterator<Item = AliasRef<'k>> {
        self.iter().map(|key| AliasRef::parse(key.as_ref()))
    }
}

#[cfg(test)]
impl<K: AsRef<str>, const N: usize> AliasTable for [K; N] {
    fn aliases<'k>(
        &'k self,
        index: &KeyIndex,
        present: impl Fn(KeyId) -> bool,
    ) -> impl Iterator<Item = AliasRef<'k>> {
        self.as_slice().aliases(index, present)
    }
}

/// The built-in tables the user cannot extend, parsed once per process.
#[derive(Debug)]
pub(crate) struct Fixed {
    pub operation: Aliases,
    pub finish_reasons: Aliases,
    pub time_to_first_chunk: Aliases,
    pub handoff_from: Aliases,
    pub handoff_to: Aliases,
    pub error_type: Aliases,
    pub exception_type: Aliases,
    pub exception_message: Aliases,
    pub exception_stacktrace: Aliases,
    pub error_event_message: Aliases,
}

impl Fixed {
    /// The tables.
    pub(crate) fn get() -> &'static Fixed {
        static FIXED: OnceLock<Fixed> = OnceLock::new();
        FIXED.get_or_init(|| Fixed {
            operation: Aliases::builtin(keys::OPERATION),
            finish_reasons: Aliases::builtin(keys::FINISH_REASONS),
            time_to_first_chunk: Aliases::builtin(keys::TIME_TO_FIRST_CHUNK_S),
            handoff_from: Aliases::builtin(keys::HANDOFF_FROM),
            handoff_to: Aliases::builtin(keys::HANDOFF_TO),
            error_type: Aliases::builtin(keys::ERROR_TYPE),
            exception_type: Aliases::builtin(keys::EXCEPTION_TYPE),
            exception_message: Aliases::builtin(keys::EXCEPTION_MESSAGE),
            exception_stacktrace: Aliases::builtin(keys::EXCEPTION_STACKTRACE),
            error_event_message: Aliases::builtin(keys::ERROR_EVENT_MESSAGE),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(table: &Aliases, index: &KeyIndex) -> Vec<(String, Option<KeyId>)> {
        table
            .aliases(index, |_| true)
            .map(|alias| match alias.form {
                Form::Key(key) | Form::Member(key, _) => (key.name.to_owned(), key.id),
                Form::Flattened(prefix) => (format!("{prefix}*"), None),
            })
            .collect()
    }

    #[test]
    fn every_builtin_key_is_numbered_and_longer_keys_are_not_looked_up() {
        let index = KeyIndex::builtin();
        for key in builtin_keys() {
            assert!(index.id(key).is_some(), "{key}");
        }
        assert!(index.id("usage_details_json").is_some());
        assert!(index.id("llm.input_messages.").is_none());
        assert!(index.id(&"x".repeat(1_000_000)).is_none());
    }

    #[test]
    fn user_keys_come_after_the_builtin_ones_which_keep_their_numbers() {
        let builtin = KeyIndex::builtin();
        assert!(Arc::ptr_eq(&KeyIndex::with(["session.id"]), builtin));
        let index = KeyIndex::with(["my.key", "session.id", "my.key", "other"]);
        assert_eq!(index.len(), builtin.len() + 2);
        assert_eq!(index.id("session.id"), builtin.id("session.id"));
        assert!(index.id("my.key").unwrap() >= builtin.len());
        assert_eq!(builtin.id("my.key"), None);
    }

    #[test]
    fn aliases_parse_members_and_flattened_prefixes_once() {
        let index = KeyIndex::with(["usage"]);
        let table = Aliases::new(
            ["usage#input", "llm.input_messages.*", "plain", "a#b#c"].map(Cow::Borrowed),
            &index,
        );
        let views: Vec<_> = table.aliases(&index, |_| true).collect();
        assert!(matches!(
            views[0].form,
            Form::Member(
                KeyRef {
                    name: "usage",
                    id: Some(_)
                },
                "input"
            )
        ));
        assert!(matches!(
            views[1].form,
            Form::Flattened("llm.input_messages.")
        ));
        assert!(matches!(
            views[2].form,
            Form::Key(KeyRef {
                name: "plain",
                id: None
            })
        ));
        assert!(matches!(
            views[3].form,
            Form::Member(
                KeyRef {
                    name: "a",
                    id: None
                },
                "b#c"
            )
        ));
        assert_eq!(views[0].name, "usage#input");
    }

    #[test]
    fn a_table_numbered_for_another_index_is_read_by_name() {
        let index = KeyIndex::with(["my.session"]);
        let table = Aliases::new(["my.session", "session.id"].map(Cow::Borrowed), &index);
        assert!(names(&table, &index).iter().all(|(_, id)| id.is_some()));
        let other = KeyIndex::with(["my.session"]);
        assert!(names(&table, &other).iter().all(|(_, id)| id.is_none()));

        // Built-in keys are numbered alike everywhere.
        let fixed = &Fixed::get().error_type;
        assert_eq!(names(fixed, &other), names(fixed, KeyIndex::builtin()));
        assert!(names(fixed, &other).iter().all(|(_, id)| id.is_some()));
    }

    #[test]
    fn key_sets_hold_numbers_below_256_and_rule_tables_out() {
        let mut set = KeySet::default();
        assert!(set.insert(0) && set.insert(255));
        assert!(!set.insert(256) && !set.insert(KeyId::MAX));
        let mut other = KeySet::default();
        other.insert(64);
        assert!(!set.intersects(&other));
        other.insert(255);
        assert!(set.intersects(&other));

        let table = &Fixed::get().handoff_to;
        let index = KeyIndex::builtin();
        assert!(table.ruled_out(index, &KeySet::default()));
        let mut span_keys = KeySet::default();
        span_keys.insert(index.id("to_agent").unwrap());
        assert!(!table.ruled_out(index, &span_keys));
        let present = |id| Some(id) == index.id("to_agent");
        let names: Vec<_> = table.aliases(index, present).map(|a| a.name).collect();
        assert_eq!(names, ["to_agent"]);

        // Numbers for another index say nothing about a span's keys there;
        // a flattened alias is never ruled out.
        let own = KeyIndex::with(["my.key"]);
        let mine = Aliases::new([Cow::Borrowed("my.key")], &own);
        assert!(mine.ruled_out(&own, &KeySet::default()));
        assert!(!mine.ruled_out(index, &KeySet::default()));
        let flat = Aliases::new([Cow::Borrowed("my.*")], &own);
        assert!(!flat.ruled_out(&own, &KeySet::default()));
    }

    #[test]
    fn keys_alike_but_in_the_middle_are_told_apart() {
        let a = "aaaaaaaa.one.zzzzzzzz";
        let b = "aaaaaaaa.two.zzzzzzzz";
        let index = KeyIndex::with([a, b, "", "x"]);
        let ids: Vec<_> = [a, b, "", "x"].iter().map(|k| index.id(k)).collect();
        assert!(ids.iter().all(Option::is_some), "{ids:?}");
        assert_ne!(ids[0], ids[1]);
        assert_eq!(index.id("aaaaaaaa.six.zzzzzzzz"), None);
        assert_eq!(index.iter().count(), index.len());
        for (key, id) in index.iter() {
            assert_eq!(index.id(key), Some(id), "{key}");
        }
    }
}
