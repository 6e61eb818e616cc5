//! Spot's side of the contract: `tests/contract/spot-openapi.json` (derived from `spotinst/openapi`
//! by `derive_spot_openapi.py`, commit in its `source`) with [`EXCEPTIONS`] applied, and the check of
//! one recorded exchange against it: the operation (method and path), path and query parameters
//! (required ones such as `accountId`, and no unknown ones), Bearer authorization, the request body,
//! and the answer's body and headers for its status.

use serde_json::Value;

use greenfleet_sim::Exchange;

use super::openapi::{self, at_path, at_path_mut};
use super::spot_exceptions::{Change, EXCEPTIONS, Exception};
use super::{Problem, join};

/// The derived definition, as checked in.
pub const DERIVED: &str = include_str!("../../contract/spot-openapi.json");

/// Spot's definition with the exception list applied.
#[derive(Debug, Clone)]
pub struct SpotContract {
    derived: Value,
    /// Operation id → operation, after the exceptions.
    operations: serde_json::Map<String, Value>,
}

impl Default for SpotContract {
    fn default() -> Self {
        Self::new()
    }
}

impl SpotContract {
    /// The checked-in definition with every exception applied.
    ///
    /// # Panics
    /// When the derived file does not parse or an exception does not fit it.
    #[must_use]
    pub fn new() -> Self {
        let derived: Value = serde_json::from_str(DERIVED).expect("tests/contract/spot-openapi.json is JSON");
        let mut operations = derived["operations"].as_object().expect("operations").clone();
        for e in EXCEPTIONS {
            apply(&derived, &mut operations, e);
        }
        Self { derived, operations }
    }

    /// The commit of `spotinst/openapi` the definition was derived from.
    #[must_use]
    pub fn commit(&self) -> &str {
        self.derived["source"]["commit"].as_str().unwrap_or_default()
    }

    /// The operation ids, after the exceptions.
    #[must_use]
    pub fn operation_ids(&self) -> Vec<&str> {
        self.operations.keys().map(String::as_str).collect()
    }

    /// Exceptions the definition no longer needs, with the reason: each must still override something
    /// the derived definition says, or it is to be removed.
    #[must_use]
    pub fn stale_exceptions(&self) -> Vec<String> {
        EXCEPTIONS.iter().filter_map(|e| stale(&self.derived, e).map(|why| format!("{}: {why}", e.id))).collect()
    }

    /// The operation `method path` is, with its id.
    #[must_use]
    pub fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        self.operations
            .iter()
            .find(|(_, op)| op["method"] == method && template_matches(op["path"].as_str().unwrap_or_default(), path))
            .map(|(id, op)| (id.as_str(), op))
    }

    /// Every problem of one exchange.
    #[must_use]
    pub fn check(&self, e: &Exchange) -> Vec<Problem> {
        let Some((_, op)) = self.operation(&e.method, &e.path) else {
            return vec![Problem::new(
                "exchange",
                format!("{} {} is no operation of the definition or of the exception list", e.method, e.path),
            )];
        };
        let mut out = check_request(op, e);
        out.extend(check_response(op, e));
        out
    }
}

/// Whether `path` fits `template` (`{name}` matches one non-empty segment).
fn template_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| if t.starts_with('{') && t.ends_with('}') { !p.is_empty() } else { t == p })
}

fn apply(derived: &Value, operations: &mut serde_json::Map<String, Value>, e: &Exception) {
    if let Change::Operation { method, path, like, extra_path_parameter, response } = e.change {
        let mut parameters = operations[like]["parameters"].clone();
        if let Some(list) = parameters.as_array_mut() {
            list.push(serde_json::json!({"in": "path", "name": extra_path_parameter, "required": true,
                "schema": {"type": "string"}}));
        }
        let op = serde_json::json!({"method": method, "path": path, "parameters": parameters,
            "requestBody": null, "responses": {"200": response(derived)}});
        operations.insert(e.operations[0].to_owned(), op);
        return;
    }
    for id in e.operations {
        let op = operations.get_mut(*id).unwrap_or_else(|| panic!("exception {} names unknown operation {id}", e.id));
        match e.change {
            Change::ResponseField { at, schema } => {
                *at_path_mut(&mut op["responses"]["200"], at).expect("the path fits the answer") = schema(derived);
            }
            Change::RequestField { at, schema } => {
                *at_path_mut(&mut op["requestBody"]["schema"], at).expect("the path fits the body") = schema(derived);
            }
            Change::Nullable { at } => {
                for place in at {
                    at_path_mut(&mut op["responses"]["200"], place).expect("the path fits the answer")["nullable"] =
                        Value::Bool(true);
                }
            }
            Change::NoRequestBody => op["requestBody"] = Value::Null,
            Change::Answers { statuses, schema, headers } => {
                for status in statuses {
                    op["responses"][*status] = schema(derived);
                    op["responseHeaders"][*status] = serde_json::json!(headers);
                }
            }
            Change::Operation { .. } => unreachable!("handled above"),
        }
    }
}

/// Why `e` is no longer needed, if it is not.
fn stale(derived: &Value, e: &Exception) -> Option<String> {
    let ops = &derived["operations"];
    let first = e.operations.first().copied().unwrap_or_default();
    let op = &ops[first];
    match e.change {
        Change::ResponseField { at, schema } => {
            (at_path(&op["responses"]["200"], at) == Some(&schema(derived))).then(|| format!("{at} is as replaced"))
        }
        Change::RequestField { at, schema } => (at_path(&op["requestBody"]["schema"], at) == Some(&schema(derived)))
            .then(|| format!("{at} is as replaced")),
        Change::Nullable { at } => at
            .iter()
            .all(|p| at_path(&op["responses"]["200"], p).is_some_and(|s| s["nullable"] == true))
            .then(|| "every place is nullable".to_owned()),
        Change::NoRequestBody => (op["requestBody"]["required"] != true).then(|| "no required body".to_owned()),
        Change::Operation { method, path, .. } => ops
            .as_object()
            .into_iter()
            .flatten()
            .any(|(_, o)| o["method"] == method && o["path"] == path)
            .then(|| format!("{method} {path} is defined")),
        Change::Answers { statuses, .. } => e
            .operations
            .iter()
            .filter(|id| ops.get(**id).is_some())
            .all(|id| statuses.iter().all(|s| !ops[*id]["responses"][*s].is_null()))
            .then(|| format!("{statuses:?} are defined with bodies")),
    }
}

fn check_request(op: &Value, e: &Exchange) -> Vec<Problem> {
    let mut out = Vec::new();
    let parameters = op["parameters"].as_array().cloned().unwrap_or_default();
    let query: Vec<(String, String)> = e
        .query
        .as_deref()
        .map(|q| reqwest::Url::parse(&format!("http://x/?{q}")).map(|u| u.query_pairs().into_owned().collect()))
        .transpose()
        .unwrap_or_default()
        .unwrap_or_default();
    for (name, value) in &query {
        match parameters.iter().find(|p| p["in"] == "query" && p["name"] == name.as_str()) {
            Some(p) => out.extend(check_parameter(p, value, &format!("request.query.{name}"))),
            None => out.push(Problem::new(format!("request.query.{name}"), "unknown query parameter")),
        }
    }
    let template: Vec<&str> = op["path"].as_str().unwrap_or_default().split('/').collect();
    for p in &parameters {
        let name = p["name"].as_str().unwrap_or_default();
        let at = format!("request.{}.{name}", p["in"].as_str().unwrap_or_default());
        match p["in"].as_str() {
            Some("query") if p["required"] == true && !query.iter().any(|(n, _)| n == name) => {
                out.push(Problem::new(at, "missing, but the definition requires this query parameter"));
            }
            Some("path") => {
                let value =
                    template.iter().position(|t| *t == format!("{{{name}}}")).and_then(|i| e.path.split('/').nth(i));
                match value {
                    Some(v) => out.extend(check_parameter(p, v, &at)),
                    None => out.push(Problem::new(at, "the path template has no such parameter")),
                }
            }
            _ => {}
        }
    }
    // The definition's one security scheme: `Authorization: Bearer <token>` (commons/security.yaml).
    let scheme = e.request_header("authorization").and_then(|a| a.split_whitespace().next());
    if !scheme.is_some_and(|s| s.eq_ignore_ascii_case("bearer")) {
        out.push(Problem::new("request.headers.authorization", "not a Bearer token (the BearerAuth scheme)"));
    }
    let body = e.request_body.trim();
    match (&op["requestBody"], body.is_empty()) {
        (Value::Null, true) => {}
        (Value::Null, false) => out.push(Problem::new("request.body", "a body, but the operation takes none")),
        (rb, true) if rb["required"] == true => {
            out.push(Problem::new("request.body", "missing, but the definition requires a body"));
        }
        (_, true) => {}
        (rb, false) => {
            if e.request_header("content-type").is_none_or(|c| !c.starts_with("application/json")) {
                out.push(Problem::new("request.headers.content-type", "a JSON body needs application/json"));
            }
            match serde_json::from_str::<Value>(body) {
                Ok(v) => out.extend(openapi::check(&rb["schema"], &v, "request.body")),
                Err(err) => out.push(Problem::new("request.body", format!("not JSON: {err}"))),
            }
        }
    }
    out
}

fn check_parameter(p: &Value, value: &str, at: &str) -> Vec<Problem> {
    let fits = match p["schema"]["type"].as_str() {
        Some("integer") => value.parse::<i64>().is_ok(),
        Some("boolean") => matches!(value, "true" | "false"),
        Some("number") => value.parse::<f64>().is_ok(),
        _ => !value.is_empty(),
    };
    if fits { Vec::new() } else { vec![Problem::new(at, format!("`{value}` does not fit {}", p["schema"]))] }
}

fn check_response(op: &Value, e: &Exchange) -> Vec<Problem> {
    let status = e.status.to_string();
    let range = format!("{}XX", &status[..1]);
    let responses = &op["responses"];
    let key = [status.as_str(), range.as_str()].into_iter().find(|k| responses.get(*k).is_some());
    let Some(key) = key else {
        return vec![Problem::new("response.status", format!("the definition lists no {status} answer"))];
    };
    let mut out = Vec::new();
    for header in op["responseHeaders"][key].as_array().into_iter().flatten().filter_map(Value::as_str) {
        if e.response_header(header).is_none() {
            out.push(Problem::new(format!("response.headers.{header}"), "missing"));
        }
    }
    if e.response_header("content-type").is_none_or(|c| !c.starts_with("application/json")) {
        out.push(Problem::new("response.headers.content-type", "Spot answers application/json"));
    }
    let schema = &responses[key];
    if schema.is_null() {
        out.push(Problem::new(join("response", key), "listed without a body schema: nothing to check against"));
        return out;
    }
    match serde_json::from_str::<Value>(&e.response_body) {
        Ok(v) => out.extend(openapi::check(schema, &v, "response.body")),
        Err(err) => out.push(Problem::new("response.body", format!("not JSON: {err}"))),
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn exchange(method: &str, path: &str, query: Option<&str>, body: &str, status: u16, answer: &str) -> Exchange {
        Exchange {
            method: method.into(),
            path: path.into(),
            query: query.map(Into::into),
            request_headers: vec![
                ("authorization".into(), "Bearer ***".into()),
                ("content-type".into(), "application/json".into()),
            ],
            request_body: body.into(),
            status,
            response_headers: vec![("content-type".into(), "application/json".into())],
            response_body: answer.into(),
        }
    }

    fn problems(e: &Exchange) -> Vec<String> {
        SpotContract::new().check(e).iter().map(ToString::to_string).collect()
    }

    const OK: &str = r#"{"request":{"id":"r","url":"/","method":"PUT","timestamp":"t"},
        "response":{"status":{"code":200,"message":"OK"},"kind":"spotinst:aws:ec2:group:capacity",
        "items":[{"capacity":{"minimum":1,"maximum":2,"target":1}}],"count":1}}"#;

    #[test]
    fn a_conforming_capacity_call_passes_and_each_departure_is_named() {
        let path = "/aws/ec2/group/sig-1/capacity";
        let body = r#"{"capacity":{"minimum":1,"maximum":2,"target":1}}"#;
        assert_eq!(problems(&exchange("PUT", path, Some("accountId=act-1"), body, 200, OK)), Vec::<String>::new());

        let no_account = problems(&exchange("PUT", path, None, body, 200, OK));
        assert_eq!(no_account, ["request.query.accountId: missing, but the definition requires this query parameter"]);
        let unknown = problems(&exchange("PUT", path, Some("accountId=act-1&dryRun=true"), body, 200, OK));
        assert_eq!(unknown, ["request.query.dryRun: unknown query parameter"]);
        let wrapped = problems(&exchange("PUT", path, Some("accountId=act-1"), r#"{"target":1}"#, 200, OK));
        assert_eq!(wrapped, ["request.body.target: unknown field; the definition knows [capacity]"]);
        let mut basic = exchange("PUT", path, Some("accountId=act-1"), body, 200, OK);
        basic.request_headers[0].1 = "Basic ***".into();
        assert_eq!(problems(&basic), ["request.headers.authorization: not a Bearer token (the BearerAuth scheme)"]);
        let teapot = problems(&exchange("PUT", path, Some("accountId=act-1"), body, 302, OK));
        assert_eq!(teapot, ["response.status: the definition lists no 302 answer"]);
        let unrouted = problems(&exchange("DELETE", path, None, "", 200, OK));
        assert_eq!(unrouted.len(), 1);
        assert!(unrouted[0].contains("no operation of the definition"), "{unrouted:?}");
    }

    #[test]
    fn error_and_rate_limit_answers_follow_the_exception_list() {
        let path = "/aws/ec2/group/sig-1";
        let error = r#"{"request":{"id":"r","url":"/","method":"GET","timestamp":"t"},
            "response":{"status":{"code":404,"message":"Not Found"},"errors":[{"code":"GROUP_DOESNT_EXIST","message":"no"}]}}"#;
        assert_eq!(problems(&exchange("GET", path, None, "", 404, error)), Vec::<String>::new());
        let limited = r#"{"request":{"id":"r","url":"/","method":"GET","timestamp":"t"},
            "response":{"status":{"code":429,"message":"Too Many Requests"},"data":"Rate limit exceeded"}}"#;
        let found = problems(&exchange("GET", path, None, "", 429, limited));
        assert_eq!(found.len(), 3, "the X-RateLimit headers are required: {found:?}");
        let mut with_headers = exchange("GET", path, None, "", 429, limited);
        for h in ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"] {
            with_headers.response_headers.push((h.into(), "1".into()));
        }
        assert_eq!(problems(&with_headers), Vec::<String>::new());
    }

    #[test]
    fn paths_match_templates_segment_by_segment() {
        assert!(template_matches("/aws/ec2/group/{groupId}", "/aws/ec2/group/sig-1"));
        assert!(!template_matches("/aws/ec2/group/{groupId}", "/aws/ec2/group/sig-1/status"));
        assert!(!template_matches("/aws/ec2/group/{groupId}", "/aws/ec2/group/"));
    }
}
