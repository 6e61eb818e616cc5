//! A strict checker for the subset of OpenAPI 3 schemas that Spot's definition uses, after
//! `derive_spot_openapi.py` inlined its references and merged its `allOf`s.
//!
//! Stricter than OpenAPI on one point, on purpose: an object accepts only the properties its schema
//! names (as if every object said `additionalProperties: false`), so a field that the definition
//! does not know is reported. `null` is accepted only where the schema says `nullable: true`. A
//! keyword the checker does not understand is reported too, so a constraint is never skipped
//! silently.

use serde_json::Value;

use super::{Problem, join};

/// Keywords that describe but do not constrain.
const METADATA: &[&str] = &["example", "format", "readOnly", "file", "title", "description", "default"];
/// Keywords the checker applies.
const CHECKED: &[&str] =
    &["type", "properties", "required", "items", "enum", "nullable", "anyOf", "oneOf", "additionalProperties"];

/// Every problem of `value` against `schema`; `at` names where `value` is.
#[must_use]
pub fn check(schema: &Value, value: &Value, at: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    check_into(schema, value, at, &mut out);
    out
}

fn check_into(schema: &Value, value: &Value, at: &str, out: &mut Vec<Problem>) {
    let Some(s) = schema.as_object() else {
        out.push(Problem::new(at, format!("the definition's schema here is not an object: {schema}")));
        return;
    };
    for key in s.keys() {
        if !METADATA.contains(&key.as_str()) && !CHECKED.contains(&key.as_str()) {
            out.push(Problem::new(at, format!("the checker does not understand the keyword `{key}`")));
        }
    }
    if value.is_null() {
        if s.get("nullable") != Some(&Value::Bool(true)) {
            out.push(Problem::new(at, "null, but the definition does not mark it nullable"));
        }
        return;
    }
    for (keyword, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(branches) = s.get(keyword).and_then(Value::as_array) {
            let fits = branches.iter().filter(|b| check(b, value, at).is_empty()).count();
            if fits == 0 || (exactly_one && fits > 1) {
                out.push(Problem::new(at, format!("{fits} of the {} `{keyword}` branches fit", branches.len())));
            }
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        out.push(Problem::new(at, format!("{value} is not one of the enum {}", Value::Array(allowed.clone()))));
    }
    let kind = s.get("type").and_then(Value::as_str).or_else(|| s.contains_key("properties").then_some("object"));
    match kind {
        Some("object") => check_object(s, value, at, out),
        Some("array") => match value.as_array() {
            Some(items) => {
                if let Some(item) = s.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        check_into(item, v, &format!("{at}[{i}]"), out);
                    }
                }
            }
            None => out.push(mismatch(at, "an array", value)),
        },
        Some("string") if !value.is_string() => out.push(mismatch(at, "a string", value)),
        Some("integer") if !(value.is_i64() || value.is_u64()) => out.push(mismatch(at, "an integer", value)),
        Some("number") if !value.is_number() => out.push(mismatch(at, "a number", value)),
        Some("boolean") if !value.is_boolean() => out.push(mismatch(at, "a boolean", value)),
        Some("string" | "integer" | "number" | "boolean") => {}
        Some(other) => out.push(Problem::new(at, format!("the checker does not know the type `{other}`"))),
        // No type and no properties: the definition leaves the value open (only composites do this).
        None => {}
    }
}

fn check_object(s: &serde_json::Map<String, Value>, value: &Value, at: &str, out: &mut Vec<Problem>) {
    let Some(fields) = value.as_object() else {
        out.push(mismatch(at, "an object", value));
        return;
    };
    let properties = s.get("properties").and_then(Value::as_object);
    for (name, v) in fields {
        let here = join(at, name);
        match (properties.and_then(|p| p.get(name)), s.get("additionalProperties")) {
            (Some(schema), _) => check_into(schema, v, &here, out),
            (None, Some(Value::Bool(true))) => {}
            (None, Some(extra @ Value::Object(_))) => check_into(extra, v, &here, out),
            (None, _) => {
                let known = properties.map(|p| p.keys().cloned().collect::<Vec<_>>().join(", ")).unwrap_or_default();
                out.push(Problem::new(here, format!("unknown field; the definition knows [{known}]")));
            }
        }
    }
    for name in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !fields.contains_key(name) {
            out.push(Problem::new(join(at, name), "missing, but the definition requires it"));
        }
    }
}

fn mismatch(at: &str, expected: &str, value: &Value) -> Problem {
    let got = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    Problem::new(at, format!("the definition says {expected}, the value is {got}: {}", short(value)))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() <= 80 { s } else { format!("{}…", s.chars().take(80).collect::<String>()) }
}

/// The schema reached by `path` from `schema`: property names separated by dots, `[]` for the items
/// of an array (`response.items[].compute.launchSpecification.tags`).
#[must_use]
pub fn at_path<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    segments(path).try_fold(schema, |s, seg| match seg {
        Segment::Items => s.get("items"),
        Segment::Property(name) => s.get("properties")?.get(name),
    })
}

/// Like [`at_path`], mutably, creating the last property (as `{}`) when its parent object lacks it.
pub fn at_path_mut<'a>(schema: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    segments(path).try_fold(schema, |s, seg| match seg {
        Segment::Items => s.get_mut("items"),
        Segment::Property(name) => {
            let object = s.as_object_mut()?;
            let properties = object.entry("properties").or_insert_with(|| Value::Object(serde_json::Map::new()));
            Some(properties.as_object_mut()?.entry(name.to_owned()).or_insert_with(|| serde_json::json!({})))
        }
    })
}

enum Segment<'a> {
    Property(&'a str),
    Items,
}

fn segments(path: &str) -> impl Iterator<Item = Segment<'_>> {
    path.split('.').filter(|p| !p.is_empty()).flat_map(|part| {
        let name = part.trim_end_matches("[]");
        let arrays = (part.len() - name.len()) / 2;
        std::iter::once(Segment::Property(name)).chain(std::iter::repeat_with(|| Segment::Items).take(arrays))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn messages(schema: &Value, value: &Value) -> Vec<String> {
        check(schema, value, "v").into_iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn unknown_missing_wrong_type_enum_and_null_are_each_reported() {
        let schema = json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"},
            "count": {"type": "integer", "example": 1},
            "lock": {"type": "string", "enum": ["locked", "unlocked"]},
            "tags": {"type": "array", "items": {"type": "object", "properties": {"tagKey": {"type": "string"}}}},
            "when": {"type": "string", "nullable": true},
        }});
        assert!(messages(&schema, &json!({"id": "a", "count": 2, "lock": "locked", "when": null})).is_empty());
        let got = messages(
            &schema,
            &json!({"count": 1.5, "lock": "open", "tags": [{"tagKey": "k", "tagValue": "v"}], "extra": 1, "lock2": null}),
        );
        let expected = [
            "v.count: the definition says an integer, the value is a fractional number",
            "v.lock: \"open\" is not one of the enum",
            "v.tags[0].tagValue: unknown field",
            "v.extra: unknown field",
            "v.lock2: unknown field",
            "v.id: missing, but the definition requires it",
        ];
        assert_eq!(got.len(), expected.len(), "{got:#?}");
        for e in expected {
            assert!(got.iter().any(|g| g.starts_with(e)), "{e} not in {got:#?}");
        }
        assert_eq!(
            messages(&json!({"type": "string"}), &Value::Null),
            ["v: null, but the definition does not mark it nullable"]
        );
    }

    #[test]
    fn an_object_without_properties_accepts_no_field_and_unknown_keywords_are_reported() {
        assert_eq!(messages(&json!({"type": "object"}), &json!({"a": 1})).len(), 1);
        assert!(messages(&json!({"type": "object", "additionalProperties": true}), &json!({"a": 1})).is_empty());
        assert_eq!(
            messages(&json!({"type": "string", "pattern": "^a"}), &json!("b")),
            ["v: the checker does not understand the keyword `pattern`"]
        );
        let any = json!({"anyOf": [{"type": "string"}, {"type": "integer"}]});
        assert!(messages(&any, &json!(1)).is_empty());
        assert_eq!(messages(&any, &json!(true)), ["v: 0 of the 2 `anyOf` branches fit"]);
    }

    #[test]
    fn paths_reach_properties_and_array_items() {
        let mut schema = json!({"properties": {"response": {"properties": {"items": {"type": "array",
            "items": {"properties": {"id": {"type": "string"}}}}}}}});
        assert_eq!(at_path(&schema, "response.items[].id"), Some(&json!({"type": "string"})));
        assert_eq!(at_path(&schema, "response.items[].region"), None);
        *at_path_mut(&mut schema, "response.items[].region").unwrap() = json!({"type": "string"});
        assert_eq!(at_path(&schema, "response.items[].region"), Some(&json!({"type": "string"})));
    }
}
