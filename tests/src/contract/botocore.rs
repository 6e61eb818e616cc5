//! botocore's service models, found through `GREENFLEET_BOTOCORE_DATA` (`./scripts/test.sh` writes
//! plain copies of the models of the venv's botocore there), and a strict check of JSON values against
//! their shapes, as the AWS JSON protocols put them on the wire.
//!
//! Checked: member names (unknown members are reported), required members, types (structure, list,
//! map, string, integer, long, float, double, boolean, timestamp, blob), enums, and `min`/`max`
//! (lengths of strings and lists, values of numbers). Not checked: `pattern`. Protocol-specific
//! rendering lives with each protocol: JSON here, EC2's XML in [`super::xml`], which walks the same
//! shapes.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Problem, join};

/// The environment variable naming the directory of botocore's models.
pub const DATA_ENV: &str = "GREENFLEET_BOTOCORE_DATA";

/// One service model, e.g. `codedeploy/2014-10-06`.
#[derive(Debug, Clone)]
pub struct Model {
    doc: Value,
    /// botocore's version (from `VERSION` beside the models), or `unknown`.
    pub botocore_version: String,
    /// The model file read.
    pub path: PathBuf,
}

/// The directory of botocore's models.
///
/// # Panics
/// When `GREENFLEET_BOTOCORE_DATA` is unset: these suites never skip.
#[must_use]
pub fn data_dir() -> PathBuf {
    match std::env::var_os(DATA_ENV).filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => panic!(
            "{DATA_ENV} is not set: the CodeDeploy and EC2 contract suites check against botocore's service \
             models. Run them through ./scripts/test.sh, which installs botocore (with moto) into .venv and \
             exports {DATA_ENV}, or point it at a directory holding <service>/<version>/service-2.json"
        ),
    }
}

impl Model {
    /// Loads `<GREENFLEET_BOTOCORE_DATA>/<service>/<api_version>/service-2.json`.
    ///
    /// # Panics
    /// When the variable is unset or the file is missing or not a model: the suite fails loudly.
    #[must_use]
    pub fn load(service: &str, api_version: &str) -> Self {
        let dir = data_dir();
        let path = dir.join(service).join(api_version).join("service-2.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read botocore's {service} model {}: {e}. botocore ships it gzipped \
                 (service-2.json.gz); ./scripts/test.sh writes the plain copy",
                path.display()
            )
        });
        let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        assert!(doc["shapes"].is_object(), "{} has no shapes: not a botocore service model", path.display());
        let botocore_version = read_trimmed(&dir.join("VERSION")).unwrap_or_else(|| "unknown".to_owned());
        Self { doc, botocore_version, path }
    }

    /// A model from its JSON (tests build small ones).
    #[must_use]
    pub fn from_json(doc: Value) -> Self {
        Self { doc, botocore_version: "given".to_owned(), path: PathBuf::from("(given)") }
    }

    /// `metadata.<key>` as a string (`targetPrefix`, `jsonVersion`, `apiVersion`, …).
    #[must_use]
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.doc["metadata"][key].as_str()
    }

    /// An operation by name.
    #[must_use]
    pub fn operation(&self, name: &str) -> Option<&Value> {
        self.doc["operations"].get(name)
    }

    /// A shape by name.
    #[must_use]
    pub fn shape(&self, name: &str) -> Option<&Value> {
        self.doc["shapes"].get(name)
    }

    /// The errors `operation` declares, by shape name.
    #[must_use]
    pub fn declared_errors(&self, operation: &str) -> Vec<&str> {
        self.operation(operation)
            .and_then(|o| o["errors"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|e| e["shape"].as_str())
            .collect()
    }

    /// Every problem of `value` (a JSON-protocol body) against shape `shape`.
    #[must_use]
    pub fn check_json(&self, shape: &str, value: &Value, at: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        self.json_into(shape, value, at, &mut out);
        out
    }

    fn json_into(&self, name: &str, value: &Value, at: &str, out: &mut Vec<Problem>) {
        let Some(shape) = self.shape(name) else {
            out.push(Problem::new(at, format!("the model has no shape `{name}`")));
            return;
        };
        if value.is_null() {
            out.push(Problem::new(at, format!("null: the protocol leaves an absent {name} out instead")));
            return;
        }
        let kind = shape["type"].as_str().unwrap_or_default();
        match kind {
            "structure" => {
                let Some(fields) = value.as_object() else {
                    out.push(Problem::new(at, format!("{name} is a structure, the value is {}", kind_of(value))));
                    return;
                };
                for (member, v) in fields {
                    let here = join(at, member);
                    match member_target(shape, member) {
                        Some(target) => self.json_into(target, v, &here, out),
                        None => out.push(Problem::new(here, format!("{name} has no member `{member}`"))),
                    }
                }
                for required in required_members(shape) {
                    if !fields.contains_key(required) {
                        out.push(Problem::new(join(at, required), format!("missing, but {name} requires it")));
                    }
                }
            }
            "list" => match value.as_array() {
                Some(items) => {
                    check_length(shape, items.len(), at, out);
                    let member = shape["member"]["shape"].as_str().unwrap_or_default();
                    for (i, v) in items.iter().enumerate() {
                        self.json_into(member, v, &format!("{at}[{i}]"), out);
                    }
                }
                None => out.push(Problem::new(at, format!("{name} is a list, the value is {}", kind_of(value)))),
            },
            "map" => match value.as_object() {
                Some(entries) => {
                    check_length(shape, entries.len(), at, out);
                    let (key, val) = (shape["key"]["shape"].as_str(), shape["value"]["shape"].as_str());
                    for (k, v) in entries {
                        self.json_into(key.unwrap_or_default(), &Value::String(k.clone()), &join(at, k), out);
                        self.json_into(val.unwrap_or_default(), v, &join(at, k), out);
                    }
                }
                None => out.push(Problem::new(at, format!("{name} is a map, the value is {}", kind_of(value)))),
            },
            "string" | "blob" => match value.as_str() {
                Some(s) => check_scalar_text(name, shape, s, at, out),
                None => out.push(Problem::new(at, format!("{name} is a {kind}, the value is {}", kind_of(value)))),
            },
            "integer" | "long" => match value.as_i64() {
                Some(n) => check_range(shape, n as f64, at, out),
                None => out.push(Problem::new(at, format!("{name} is an {kind}, the value is {}", kind_of(value)))),
            },
            "float" | "double" => match value.as_f64() {
                Some(n) => check_range(shape, n, at, out),
                None => out.push(Problem::new(at, format!("{name} is a {kind}, the value is {}", kind_of(value)))),
            },
            "boolean" if !value.is_boolean() => {
                out.push(Problem::new(at, format!("{name} is a boolean, the value is {}", kind_of(value))));
            }
            // JSON protocols send timestamps as epoch seconds (fractions allowed).
            "timestamp" if !value.is_number() => {
                out.push(Problem::new(
                    at,
                    format!("{name} is a timestamp (epoch seconds), the value is {}", kind_of(value)),
                ));
            }
            "boolean" | "timestamp" => {}
            other => out.push(Problem::new(at, format!("the checker does not know shape type `{other}` ({name})"))),
        }
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// The target shape of `member` of a structure.
pub(crate) fn member_target<'a>(structure: &'a Value, member: &str) -> Option<&'a str> {
    structure["members"].get(member).and_then(|m| m["shape"].as_str())
}

/// The members a structure requires.
pub(crate) fn required_members(structure: &Value) -> impl Iterator<Item = &str> {
    structure["required"].as_array().into_iter().flatten().filter_map(Value::as_str)
}

/// Enum membership and length bounds of a string (or blob) shape.
pub(crate) fn check_scalar_text(name: &str, shape: &Value, s: &str, at: &str, out: &mut Vec<Problem>) {
    if let Some(allowed) = shape["enum"].as_array()
        && !allowed.iter().any(|a| a == s)
    {
        let allowed: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        out.push(Problem::new(at, format!("`{s}` is not a value of {name} {allowed:?}")));
    }
    check_length(shape, s.chars().count(), at, out);
}

fn check_length(shape: &Value, len: usize, at: &str, out: &mut Vec<Problem>) {
    if let Some(min) = shape["min"].as_u64()
        && (len as u64) < min
    {
        out.push(Problem::new(at, format!("length {len} is below the model's min {min}")));
    }
    if let Some(max) = shape["max"].as_u64()
        && (len as u64) > max
    {
        out.push(Problem::new(at, format!("length {len} is above the model's max {max}")));
    }
}

/// `min`/`max` of a number shape.
pub(crate) fn check_range(shape: &Value, n: f64, at: &str, out: &mut Vec<Problem>) {
    if let Some(min) = shape["min"].as_f64()
        && n < min
    {
        out.push(Problem::new(at, format!("{n} is below the model's min {min}")));
    }
    if let Some(max) = shape["max"].as_f64()
        && n > max
    {
        out.push(Problem::new(at, format!("{n} is above the model's max {max}")));
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a fractional number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A model in botocore's format, small enough to read.
    fn tiny() -> Model {
        let doc = json!({
            "metadata": {"targetPrefix": "Tiny_1", "jsonVersion": "1.1"},
            "operations": {"Get": {"input": {"shape": "GetInput"}, "errors": [{"shape": "NopeException"}]}},
            "shapes": {
                "GetInput": {"type": "structure", "required": ["id"], "members": {
                    "id": {"shape": "Id"}, "when": {"shape": "Time"}, "tags": {"shape": "Tags"},
                    "status": {"shape": "Status"}, "count": {"shape": "Count"}, "labels": {"shape": "Labels"}}},
                "Id": {"type": "string", "min": 2, "max": 4},
                "Time": {"type": "timestamp"},
                "Tags": {"type": "list", "member": {"shape": "Id"}, "max": 2},
                "Status": {"type": "string", "enum": ["Ready", "Failed"]},
                "Count": {"type": "integer", "min": 0},
                "Labels": {"type": "map", "key": {"shape": "Id"}, "value": {"shape": "Count"}},
                "NopeException": {"type": "structure", "members": {"message": {"shape": "Id"}}, "exception": true},
            }
        });
        Model::from_json(doc)
    }

    #[test]
    fn members_types_enums_and_bounds_are_checked() {
        let m = tiny();
        let ok = json!({"id": "ab", "when": 1.5, "tags": ["abc"], "status": "Ready", "count": 0, "labels": {"xy": 1}});
        assert!(m.check_json("GetInput", &ok, "in").is_empty());
        let bad = json!({"when": "2026-01-01", "tags": ["a", "bb", "cc"], "status": "ready", "count": -1,
            "labels": {"xy": "1"}, "extra": null});
        let got: Vec<String> = m.check_json("GetInput", &bad, "in").iter().map(ToString::to_string).collect();
        for expected in [
            "in.when: Time is a timestamp",
            "in.tags: length 3 is above the model's max 2",
            "in.tags[0]: length 1 is below the model's min 2",
            "in.status: `ready` is not a value of Status",
            "in.count: -1 is below the model's min 0",
            "in.labels.xy: Count is an integer, the value is a string",
            "in.extra: GetInput has no member `extra`",
            "in.id: missing, but GetInput requires it",
        ] {
            assert!(got.iter().any(|g| g.starts_with(expected)), "{expected} not in {got:#?}");
        }
        assert_eq!(got.len(), 8, "{got:#?}");
        assert_eq!(m.declared_errors("Get"), ["NopeException"]);
    }
}
