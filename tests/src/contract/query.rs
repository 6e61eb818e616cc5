//! EC2's query-protocol requests (`POST /`, form body `Action=DescribeInstances&Version=2016-11-15&
//! InstanceId.1=i-…&Filter.1.Name=…&Filter.1.Value.1=…`) against botocore's `ec2` model, and
//! [`check_exchange`], which checks a recorded EC2 exchange on both sides (the answer with
//! [`super::xml`]). On the wire a member is named by its `queryName`, else its `locationName`
//! capitalized, else its own name; list items are numbered from 1 (`Name.1`, `Name.2`), structures
//! nest with dots.

use std::collections::BTreeMap;

use serde_json::Value;

use greenfleet_sim::Exchange;

use super::botocore::{Model, check_range, check_scalar_text, required_members};
use super::{Problem, xml};

/// Every problem of a recorded EC2 exchange: the form request and the XML answer.
#[must_use]
pub fn check_exchange(model: &Model, e: &Exchange) -> Vec<Problem> {
    let mut out = Vec::new();
    if (e.method.as_str(), e.path.as_str()) != ("POST", "/") {
        out.push(Problem::new("request", format!("the query protocol is POST /, not {} {}", e.method, e.path)));
    }
    if e.request_header("content-type").is_none_or(|c| !c.starts_with("application/x-www-form-urlencoded")) {
        out.push(Problem::new("request.headers.content-type", "not application/x-www-form-urlencoded"));
    }
    let (operation, problems) = check_request(model, &e.request_body);
    out.extend(problems);
    if let Some(operation) = operation {
        out.extend(xml::check_answer(model, &operation, e.status, &e.response_body));
    }
    out
}

/// The operation a form body calls (its `Action`), and every problem of the body against the
/// operation's input shape.
#[must_use]
pub fn check_request(model: &Model, body: &str) -> (Option<String>, Vec<Problem>) {
    let mut out = Vec::new();
    let pairs: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{body}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default();
    let mut fields: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in pairs {
        if fields.insert(k.clone(), v).is_some() {
            out.push(Problem::new(format!("request.body.{k}"), "given twice"));
        }
    }
    let action = fields.remove("Action");
    let version = fields.remove("Version");
    let expected = model.metadata("apiVersion").unwrap_or_default();
    if version.as_deref() != Some(expected) {
        out.push(Problem::new("request.body.Version", format!("{version:?}, not {expected}")));
    }
    let Some(op) = action.as_deref().and_then(|a| model.operation(a)) else {
        out.push(Problem::new("request.body.Action", format!("{action:?} is no operation of the model")));
        return (None, out);
    };
    if let Some(input) = op["input"]["shape"].as_str() {
        let entries: Vec<(Vec<&str>, &str)> =
            fields.iter().map(|(k, v)| (k.split('.').collect(), v.as_str())).collect();
        check_into(model, input, &entries, "request.body", &mut out);
    } else if let Some(k) = fields.keys().next() {
        out.push(Problem::new(format!("request.body.{k}"), "the operation takes no input"));
    }
    (action, out)
}

/// The wire name of a member in a query request.
fn query_name(name: &str, member: &Value) -> String {
    if let Some(q) = member["queryName"].as_str() {
        return q.to_owned();
    }
    match member["locationName"].as_str() {
        Some(l) => l.chars().take(1).flat_map(char::to_uppercase).chain(l.chars().skip(1)).collect(),
        None => name.to_owned(),
    }
}

/// `entries` are the keys below this shape (split at dots) with their values.
fn check_into(model: &Model, name: &str, entries: &[(Vec<&str>, &str)], at: &str, out: &mut Vec<Problem>) {
    let Some(shape) = model.shape(name) else {
        out.push(Problem::new(at, format!("the model has no shape `{name}`")));
        return;
    };
    let kind = shape["type"].as_str().unwrap_or_default();
    match kind {
        "structure" => {
            let members = shape["members"].as_object().cloned().unwrap_or_default();
            let mut groups: BTreeMap<&str, Vec<(Vec<&str>, &str)>> = BTreeMap::new();
            for (key, value) in entries {
                match key.split_first() {
                    Some((head, rest)) => groups.entry(head).or_default().push((rest.to_vec(), value)),
                    None => out.push(Problem::new(at, format!("{name} is a structure, given the value `{value}`"))),
                }
            }
            for (head, below) in &groups {
                let here = format!("{at}.{head}");
                match members.iter().find(|(n, m)| query_name(n, m) == *head) {
                    Some((_, m)) => check_into(model, m["shape"].as_str().unwrap_or_default(), below, &here, out),
                    None => out.push(Problem::new(here, format!("{name} has no member sent as `{head}`"))),
                }
            }
            for required in required_members(shape) {
                let wire = members.get(required).map_or_else(|| required.to_owned(), |m| query_name(required, m));
                if !groups.contains_key(wire.as_str()) {
                    out.push(Problem::new(format!("{at}.{wire}"), format!("missing, but {name} requires it")));
                }
            }
        }
        "list" => {
            let target = shape["member"]["shape"].as_str().unwrap_or_default();
            let mut items: BTreeMap<usize, Vec<(Vec<&str>, &str)>> = BTreeMap::new();
            for (key, value) in entries {
                match key.split_first().map(|(i, rest)| (i.parse::<usize>(), rest)) {
                    Some((Ok(i), rest)) if i >= 1 => items.entry(i).or_default().push((rest.to_vec(), value)),
                    _ => out.push(Problem::new(
                        format!("{at}.{}", key.join(".")),
                        format!("{name} items are numbered from 1 (`.1`, `.2`, …)"),
                    )),
                }
            }
            if let Some((&last, _)) = items.last_key_value()
                && last != items.len()
            {
                out.push(Problem::new(at, format!("{name} items are not numbered 1..{}", items.len())));
            }
            for (i, below) in &items {
                check_into(model, target, below, &format!("{at}.{i}"), out);
            }
        }
        _ => match entries {
            [(key, value)] if key.is_empty() => check_scalar(name, shape, kind, value, at, out),
            _ => out.push(Problem::new(at, format!("{name} is a {kind}: one value, no nested keys"))),
        },
    }
}

fn check_scalar(name: &str, shape: &Value, kind: &str, value: &str, at: &str, out: &mut Vec<Problem>) {
    match kind {
        "string" | "blob" => check_scalar_text(name, shape, value, at, out),
        "integer" | "long" => match value.parse::<i64>() {
            Ok(n) => check_range(shape, n as f64, at, out),
            Err(_) => out.push(Problem::new(at, format!("{name} is an {kind}, the value is `{value}`"))),
        },
        "float" | "double" => match value.parse::<f64>() {
            Ok(n) => check_range(shape, n, at, out),
            Err(_) => out.push(Problem::new(at, format!("{name} is a {kind}, the value is `{value}`"))),
        },
        "boolean" if !matches!(value, "true" | "false") => {
            out.push(Problem::new(at, format!("{name} is a boolean, the value is `{value}`")));
        }
        "boolean" | "timestamp" => {}
        other => out.push(Problem::new(at, format!("the checker does not know shape type `{other}` ({name})"))),
    }
}
