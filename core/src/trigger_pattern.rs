//! EventBridge event patterns, for the subset greenfleet's triggers support: exact values, `prefix`,
//! `suffix`, `exists`, `anything-but` (values or a prefix), `equals-ignore-case`, nested fields, and
//! arrays in the event (any element matches). Anything else is refused when the configuration is
//! loaded, so a trigger never silently matches differently in the worker than in EventBridge.

use serde_json::{Map, Value};

/// The operators a pattern may use, for error messages.
pub const SUPPORTED_OPERATORS: &str =
    "exact values, `prefix`, `suffix`, `exists`, `anything-but`, `equals-ignore-case`";

/// A compiled event pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPattern {
    fields: Vec<(String, Node)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Nested(EventPattern),
    AnyOf(Vec<Matcher>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Matcher {
    Exact(Value),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    Exists(bool),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(String),
}

/// Why a pattern was refused: where in it, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern `{at}`: {message}")]
pub struct PatternError {
    /// The path in the pattern, e.g. `detail.object.key`.
    pub at: String,
    /// What is wrong and what would be accepted.
    pub message: String,
}

fn err(at: &str, message: impl Into<String>) -> PatternError {
    PatternError { at: if at.is_empty() { "(root)".into() } else { at.to_owned() }, message: message.into() }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

impl EventPattern {
    /// Compiles a pattern given as JSON; refuses operators greenfleet does not evaluate.
    pub fn compile(pattern: &Value) -> Result<Self, PatternError> {
        let Value::Object(map) = pattern else {
            return Err(err("", "an event pattern is a JSON object, e.g. {\"source\": [\"aws.s3\"]}"));
        };
        if map.is_empty() {
            return Err(err("", "an empty pattern would match every event; name at least a `source`"));
        }
        Self::object(map, "")
    }

    fn object(map: &Map<String, Value>, at: &str) -> Result<Self, PatternError> {
        let mut fields = Vec::with_capacity(map.len());
        for (key, value) in map {
            let here = join(at, key);
            if key.starts_with('$') {
                return Err(err(&here, format!("`{key}` is not supported; supported: {SUPPORTED_OPERATORS}")));
            }
            let node = match value {
                Value::Object(inner) if !inner.is_empty() => Node::Nested(Self::object(inner, &here)?),
                Value::Array(items) if !items.is_empty() => {
                    Node::AnyOf(items.iter().map(|m| matcher(m, &here)).collect::<Result<_, _>>()?)
                }
                _ => return Err(err(&here, "must be a non-empty array of values or operators, or a nested object")),
            };
            fields.push((key.clone(), node));
        }
        Ok(Self { fields })
    }

    /// Whether `event` (an EventBridge envelope: `source`, `detail-type`, `detail`...) matches.
    #[must_use]
    pub fn matches(&self, event: &Value) -> bool {
        self.fields.iter().all(|(key, node)| {
            let field = event.get(key);
            match node {
                Node::Nested(p) => field.is_some_and(|f| f.is_object() && p.matches(f)),
                Node::AnyOf(ms) => ms.iter().any(|m| m.matches(field)),
            }
        })
    }
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null)
}

fn string_arg<'a>(v: &'a Value, op: &str, at: &str) -> Result<&'a str, PatternError> {
    v.as_str().ok_or_else(|| err(at, format!("`{op}` takes a string")))
}

fn matcher(m: &Value, at: &str) -> Result<Matcher, PatternError> {
    if is_scalar(m) {
        return Ok(Matcher::Exact(m.clone()));
    }
    let Value::Object(op) = m else {
        return Err(err(at, format!("`{m}` is neither a value nor an operator")));
    };
    let mut entries = op.iter();
    let (Some((name, arg)), None) = (entries.next(), entries.next()) else {
        return Err(err(at, "an operator object has exactly one key, e.g. {\"prefix\": \"shop/\"}"));
    };
    Ok(match name.as_str() {
        "prefix" => Matcher::Prefix(string_arg(arg, name, at)?.to_owned()),
        "suffix" => Matcher::Suffix(string_arg(arg, name, at)?.to_owned()),
        "equals-ignore-case" => Matcher::EqualsIgnoreCase(string_arg(arg, name, at)?.to_owned()),
        "exists" => Matcher::Exists(arg.as_bool().ok_or_else(|| err(at, "`exists` takes true or false"))?),
        "anything-but" => match arg {
            Value::Array(values) if values.iter().all(is_scalar) && !values.is_empty() => {
                Matcher::AnythingBut(values.clone())
            }
            Value::Object(inner) if inner.len() == 1 && inner.contains_key("prefix") => {
                Matcher::AnythingButPrefix(string_arg(&inner["prefix"], "anything-but prefix", at)?.to_owned())
            }
            v if is_scalar(v) => Matcher::AnythingBut(vec![v.clone()]),
            _ => return Err(err(at, "`anything-but` takes a value, a list of values, or {\"prefix\": …}")),
        },
        other => {
            return Err(err(at, format!("operator `{other}` is not supported; supported: {SUPPORTED_OPERATORS}")));
        }
    })
}

impl Matcher {
    /// Whether the event's field (None: absent) matches. Arrays match when any element does.
    fn matches(&self, field: Option<&Value>) -> bool {
        match (self, field) {
            (Self::Exists(want), f) => f.is_some() == *want,
            (_, None) => false,
            (_, Some(Value::Array(items))) => items.iter().any(|i| self.matches_one(i)),
            (_, Some(v)) => self.matches_one(v),
        }
    }

    fn matches_one(&self, v: &Value) -> bool {
        let s = v.as_str();
        match self {
            Self::Exact(want) => want == v,
            Self::Prefix(p) => s.is_some_and(|s| s.starts_with(p.as_str())),
            Self::Suffix(p) => s.is_some_and(|s| s.ends_with(p.as_str())),
            Self::EqualsIgnoreCase(p) => s.is_some_and(|s| s.eq_ignore_ascii_case(p)),
            Self::Exists(_) => true,
            Self::AnythingBut(values) => !values.contains(v),
            Self::AnythingButPrefix(p) => s.is_some_and(|s| !s.starts_with(p.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn s3_event(bucket: &str, key: &str) -> Value {
        json!({
            "id": "7f6b1c52-0a8e-4c1d-9d3e-1b2c3d4e5f60", "source": "aws.s3", "detail-type": "Object Created",
            "resources": ["arn:aws:s3:::releases"],
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1024, "etag": "abc"}, "reason": "PutObject"}
        })
    }

    fn p(v: Value) -> EventPattern {
        EventPattern::compile(&v).expect("a supported pattern")
    }

    #[test]
    fn exact_nested_prefix_and_suffix() {
        let pat = p(json!({
            "source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": ["releases"]}, "object": {"key": [{"prefix": "shop/"}]}}
        }));
        assert!(pat.matches(&s3_event("releases", "shop/6.0.zip")));
        assert!(!pat.matches(&s3_event("releases", "search/6.0.zip")));
        assert!(!pat.matches(&s3_event("other", "shop/6.0.zip")));
        assert!(!pat.matches(&json!({"source": "aws.s3"})));
        let zip = p(json!({"detail": {"object": {"key": [{"suffix": ".zip"}, {"suffix": ".tgz"}]}}}));
        assert!(zip.matches(&s3_event("r", "shop/6.0.tgz")));
        assert!(!zip.matches(&s3_event("r", "shop/6.0.txt")));
    }

    #[test]
    fn exists_anything_but_numbers_and_arrays() {
        let e = s3_event("releases", "shop/6.0.zip");
        assert!(p(json!({"detail": {"object": {"etag": [{"exists": true}]}}})).matches(&e));
        assert!(p(json!({"detail": {"object": {"version": [{"exists": false}]}}})).matches(&e));
        assert!(!p(json!({"detail": {"object": {"etag": [{"exists": false}]}}})).matches(&e));
        assert!(p(json!({"detail": {"reason": [{"anything-but": ["CopyObject"]}]}})).matches(&e));
        assert!(!p(json!({"detail": {"reason": [{"anything-but": "PutObject"}]}})).matches(&e));
        assert!(!p(json!({"detail": {"object": {"key": [{"anything-but": {"prefix": "shop/"}}]}}})).matches(&e));
        assert!(p(json!({"detail": {"object": {"size": [1024]}}})).matches(&e));
        assert!(p(json!({"resources": ["arn:aws:s3:::releases"]})).matches(&e));
        assert!(p(json!({"detail-type": [{"equals-ignore-case": "object created"}]})).matches(&e));
        // anything-but does not match an absent field (as in EventBridge).
        assert!(!p(json!({"detail": {"missing": [{"anything-but": "x"}]}})).matches(&e));
    }

    #[test]
    fn unsupported_operators_are_refused_at_compile_time() {
        for (pattern, want) in [
            (json!({"detail": {"size": [{"numeric": [">", 0]}]}}), "operator `numeric` is not supported"),
            (json!({"$or": [{"source": ["a"]}]}), "`$or` is not supported"),
            (json!({"source": [{"wildcard": "aws.*"}]}), "operator `wildcard` is not supported"),
            (json!({"source": "aws.s3"}), "non-empty array"),
            (json!({"source": []}), "non-empty array"),
            (json!({}), "empty pattern"),
            (json!(["aws.s3"]), "JSON object"),
            (json!({"source": [{"prefix": 1}]}), "takes a string"),
            (json!({"source": [{"prefix": "a", "suffix": "b"}]}), "exactly one key"),
        ] {
            let e = EventPattern::compile(&pattern).expect_err("refused").to_string();
            assert!(e.contains(want), "{pattern}: {e}");
        }
        let e = EventPattern::compile(&json!({"detail": {"size": [{"numeric": [">", 0]}]}})).expect_err("refused");
        assert_eq!(e.at, "detail.size");
    }
}
