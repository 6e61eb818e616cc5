//! Keys given twice in one JSON object. serde_json, like most JSON readers, keeps the last of them
//! without a word, so `{"key": "a", "key": "b"}` would quietly mean `b`; documents people write
//! (rollout requests, trigger files) are checked here first and refused, each such key named by its
//! JSON path.

use std::collections::HashSet;
use std::fmt::Write as _;

use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// At most this many keys are named; a document full of them gets one more problem with the count,
/// so a rejection stays small enough to publish as an event.
pub(crate) const MAX_NAMED: usize = 10;

/// The message for a key given twice (its field is the key's path).
pub(crate) const MESSAGE: &str =
    "is given twice in the same object; give it once (JSON readers disagree on which one counts)";

/// What [`find`] found: the paths of the first [`MAX_NAMED`] keys given twice, and how many more.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Duplicates {
    /// JSON paths in document order, each once: `application`, `revision.s3.key`, `greenTags[1].value`.
    pub(crate) paths: Vec<String>,
    /// Keys given twice beyond the named ones.
    pub(crate) more: usize,
}

impl Duplicates {
    /// Whether no key is given twice.
    pub(crate) fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The message for the keys beyond [`MAX_NAMED`], if any.
    pub(crate) fn more_message(&self) -> Option<String> {
        (self.more > 0).then(|| format!("{} more keys are given twice; give each key once", self.more))
    }
}

/// The keys of `bytes` given twice in the same object. Call it on a document that already parsed as
/// JSON: one that does not gives no duplicates (the caller's own parse says what is wrong with it).
/// Keys are compared as decoded (`"k\u0065y"` is `"key"`). serde_json's recursion limit (128 levels)
/// holds here as in every parse, so deep nesting is an error, never a deep stack.
pub(crate) fn find(bytes: &[u8]) -> Duplicates {
    let mut walk = Walk::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match Node(&mut walk).deserialize(&mut de) {
        Ok(()) => walk.found,
        Err(_) => Duplicates::default(),
    }
}

/// One step of a path: a member's key or an element's index.
enum Step {
    Key(String),
    Index(usize),
}

/// The path to the value being read, and what was found so far. The path is written out only for a
/// key given twice, so reading stays linear in the document's size.
#[derive(Default)]
struct Walk {
    path: Vec<Step>,
    found: Duplicates,
    named: HashSet<String>,
}

impl Walk {
    fn key_given_twice(&mut self) {
        let mut path = String::new();
        for step in &self.path {
            match step {
                Step::Key(k) if path.is_empty() => path.push_str(k),
                Step::Key(k) => {
                    path.push('.');
                    path.push_str(k);
                }
                Step::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
            }
        }
        // A key three times, or inside a value itself given twice, is named once.
        if self.named.contains(&path) {
            return;
        }
        if self.found.paths.len() < MAX_NAMED {
            self.named.insert(path.clone());
            self.found.paths.push(path);
        } else {
            self.named.insert(path);
            self.found.more += 1;
        }
    }
}

/// Reads one value of any kind, descending into arrays and objects.
struct Node<'w>(&'w mut Walk);

impl<'de> DeserializeSeed<'de> for Node<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Node<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let walk = self.0;
        for i in 0.. {
            walk.path.push(Step::Index(i));
            let more = seq.next_element_seed(Node(&mut *walk))?.is_some();
            walk.path.pop();
            if !more {
                break;
            }
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let walk = self.0;
        let mut seen: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let twice = seen.contains(&key);
            walk.path.push(Step::Key(key));
            if twice {
                walk.key_given_twice();
            }
            map.next_value_seed(Node(&mut *walk))?;
            if let Some(Step::Key(key)) = walk.path.pop() {
                seen.insert(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(text: &str) -> Vec<String> {
        find(text.as_bytes()).paths
    }

    #[test]
    fn keys_are_named_by_their_path() {
        assert!(find(br#"{"a": 1, "b": {"a": 2}, "c": [{"a": 3}, {"a": 4}]}"#).is_empty());
        assert_eq!(paths(r#"{"a": 1, "a": 2}"#), ["a"]);
        assert_eq!(paths(r#"{"b": {"x": [], "x": {}}}"#), ["b.x"]);
        assert_eq!(paths(r#"[0, {"c": [{"k": 1}, {"k": 1, "k": 1, "k": 1}]}]"#), ["[1].c[1].k"]);
        assert_eq!(paths(r#"{"a": {"b": 1, "b": 2}, "a": {"b": 1, "b": 2}}"#), ["a.b", "a"]);
        assert_eq!(paths(r#"{"k\u0065y": 1, "key": 2}"#), ["key"]);
        assert_eq!(paths(r#"{"": 1, "": 2}"#), [""]);
    }

    #[test]
    fn many_keys_given_twice_are_counted_beyond_the_first_ten() {
        let objects: Vec<String> = (0..25).map(|_| r#"{"a":0,"a":0}"#.to_owned()).collect();
        let found = find(format!("[{}]", objects.join(",")).as_bytes());
        assert_eq!(found.paths.len(), MAX_NAMED);
        assert_eq!(found.paths[9], "[9].a");
        assert_eq!(found.more, 15);
        assert_eq!(found.more_message().as_deref(), Some("15 more keys are given twice; give each key once"));
    }

    #[test]
    fn deep_nesting_and_broken_json_find_nothing_and_do_not_overflow() {
        let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        assert!(find(deep.as_bytes()).is_empty());
        let deep = format!("{}1{}", r#"{"a":"#.repeat(20_000), "}".repeat(20_000));
        assert!(find(deep.as_bytes()).is_empty());
        assert!(find(br#"{"a": 1, "a": "#).is_empty());
        // Within the limit, a key given twice deep down is found.
        let nested = format!("{}{{\"k\":1,\"k\":2}}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(paths(&nested), [format!("{}.k", "[0]".repeat(100))]);
    }
}
