//! CodeDeploy's side of the contract: one recorded AWS JSON 1.1 exchange (`POST /`,
//! `X-Amz-Target: CodeDeploy_20141006.<Operation>`) against botocore's `codedeploy/2014-10-06`
//! model. The request body is checked against the operation's input shape, a 200 answer against its
//! output shape, and an error answer's `__type` against the errors the operation declares.
//!
//! The one exception, [`COMMON_ERRORS`]: an error an operation does not declare is accepted when
//! botocore's general retry policy (`_retry.json`, `retry.__default__`) covers that answer — the
//! throttling codes with 400, and 429/500/502/503/504/509 whatever the code. These are AWS's common
//! errors, which any operation of any service may answer and no model lists per operation.

use serde_json::Value;

use greenfleet_sim::Exchange;

use super::botocore::{Model, data_dir};
use super::{Problem, join};

/// The CodeDeploy operations greenfleet calls (`infra/src/codedeploy.rs`); UpdateDeploymentGroup is
/// being added to the client and the simulator (issue 9) and is checked as soon as it is served.
pub const OPERATIONS: &[&str] = &[
    "GetDeploymentGroup",
    "CreateDeployment",
    "ListDeployments",
    "BatchGetDeployments",
    "GetDeployment",
    "ContinueDeployment",
    "StopDeployment",
    "UpdateDeploymentGroup",
];

/// The exception to "every error is declared by its operation", with its evidence.
pub const COMMON_ERRORS: &str = "An error an operation does not declare is accepted when botocore's general retry \
     policy (`_retry.json`, `retry.__default__.policies`) covers the answer: those are AWS's common errors \
     (ThrottlingException with 400, and 429/5xx answers such as InternalFailure), which any operation may \
     answer and which botocore handles for every service outside the per-operation error lists.";

/// botocore's codedeploy model and its general retry policy.
#[derive(Debug, Clone)]
pub struct CodeDeployContract {
    /// The model.
    pub model: Model,
    /// `(error code, HTTP status)` pairs of `_retry.json`'s default policies; `None` matches any.
    common: Vec<(Option<String>, Option<u16>)>,
}

impl CodeDeployContract {
    /// Loads `codedeploy/2014-10-06` and `_retry.json` from `GREENFLEET_BOTOCORE_DATA`.
    ///
    /// # Panics
    /// When either is missing: the suite never skips.
    #[must_use]
    pub fn load() -> Self {
        let model = Model::load("codedeploy", "2014-10-06");
        let path = data_dir().join("_retry.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}; ./scripts/test.sh writes it", path.display()));
        let retry: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Self::new(model, &retry)
    }

    /// The contract of `model`, with the common errors of `retry` (botocore's `_retry.json`).
    #[must_use]
    pub fn new(model: Model, retry: &Value) -> Self {
        Self { common: common_errors(retry, model.metadata("endpointPrefix").unwrap_or_default()), model }
    }

    /// Whether botocore's general retry policy covers an error answer `code` with `status`.
    #[must_use]
    pub fn is_common(&self, code: &str, status: u16) -> bool {
        self.common.iter().any(|(c, s)| c.as_deref().is_none_or(|c| c == code) && s.is_none_or(|s| s == status))
    }

    /// The operation an exchange calls, from its `X-Amz-Target`.
    #[must_use]
    pub fn operation_of<'e>(&self, e: &'e Exchange) -> Option<&'e str> {
        let prefix = self.model.metadata("targetPrefix").unwrap_or_default();
        e.request_header("x-amz-target")?.strip_prefix(prefix)?.strip_prefix('.')
    }

    /// Every problem of one exchange.
    #[must_use]
    pub fn check(&self, e: &Exchange) -> Vec<Problem> {
        let Some(name) = self.operation_of(e) else {
            return vec![Problem::new("request.headers.x-amz-target", "not a CodeDeploy_20141006 operation")];
        };
        let Some(op) = self.model.operation(name) else {
            return vec![Problem::new("request.headers.x-amz-target", format!("the model has no operation {name}"))];
        };
        let mut out = Vec::new();
        if (e.method.as_str(), e.path.as_str()) != ("POST", "/") {
            out.push(Problem::new("request", format!("JSON 1.1 is POST /, not {} {}", e.method, e.path)));
        }
        let content_type = format!("application/x-amz-json-{}", self.model.metadata("jsonVersion").unwrap_or("1.1"));
        if e.request_header("content-type") != Some(content_type.as_str()) {
            out.push(Problem::new("request.headers.content-type", format!("not {content_type}")));
        }
        if e.response_header("content-type") != Some(content_type.as_str()) {
            out.push(Problem::new("response.headers.content-type", format!("not {content_type}")));
        }
        match (parse(&e.request_body, "request.body"), op["input"]["shape"].as_str()) {
            (Ok(v), Some(input)) => out.extend(self.model.check_json(input, &v, "request.body")),
            (Ok(v), None) if v != serde_json::json!({}) => {
                out.push(Problem::new("request.body", format!("{name} takes no input")));
            }
            (Ok(_), None) => {}
            (Err(p), _) => out.push(p),
        }
        let answer = match parse(&e.response_body, "response.body") {
            Ok(v) => v,
            Err(p) => {
                out.push(p);
                return out;
            }
        };
        if e.status == 200 {
            match op["output"]["shape"].as_str() {
                Some(output) => out.extend(self.model.check_json(output, &answer, "response.body")),
                None if answer != serde_json::json!({}) => {
                    out.push(Problem::new("response.body", format!("{name} has no output, the answer has fields")));
                }
                None => {}
            }
        } else {
            out.extend(self.check_error(name, e.status, &answer));
        }
        out
    }

    fn check_error(&self, operation: &str, status: u16, answer: &Value) -> Vec<Problem> {
        let Some(raw) = answer["__type"].as_str() else {
            return vec![Problem::new("response.body.__type", format!("missing in a {status} answer"))];
        };
        // `aws.protocoltests#Code:http://…` → `Code`.
        let code = raw.rsplit('#').next().unwrap_or(raw).split(':').next().unwrap_or(raw);
        let mut out = Vec::new();
        let declared = self.model.declared_errors(operation);
        let mut rest = answer.as_object().cloned().unwrap_or_default();
        rest.remove("__type");
        // The protocol carries an error's message in `message` (or `Message`), whatever its shape.
        for key in ["message", "Message"] {
            if let Some(m) = rest.remove(key).filter(|m| !m.is_string()) {
                out.push(Problem::new(join("response.body", key), format!("not a string: {m}")));
            }
        }
        if declared.contains(&code) {
            let shape = self.model.shape(code).cloned().unwrap_or_default();
            if let Some(expected) = shape["error"]["httpStatusCode"].as_u64()
                && expected != u64::from(status)
            {
                out.push(Problem::new("response.status", format!("{code} is declared with {expected}, not {status}")));
            }
            out.extend(self.model.check_json(code, &Value::Object(rest), "response.body"));
        } else if self.is_common(code, status) {
            if let Some(extra) = rest.keys().next() {
                out.push(Problem::new(join("response.body", extra), format!("not a field of a common error {code}")));
            }
        } else {
            out.push(Problem::new(
                "response.body.__type",
                format!("{operation} does not declare {code} (with {status}); it declares {declared:?}"),
            ));
        }
        out
    }
}

fn parse(body: &str, at: &str) -> Result<Value, Problem> {
    if body.trim().is_empty() {
        return Ok(serde_json::json!({}));
    }
    serde_json::from_str(body).map_err(|e| Problem::new(at, format!("not JSON: {e}")))
}

/// `(code, status)` of every response-matching policy that applies to `service` by default.
fn common_errors(retry: &Value, service: &str) -> Vec<(Option<String>, Option<u16>)> {
    let policies: Vec<Value> = ["__default__", service]
        .into_iter()
        .filter_map(|s| retry["retry"][s]["policies"].as_object())
        .flat_map(|p| p.values().cloned())
        .collect();
    policies
        .into_iter()
        .filter_map(|p| {
            let policy = match p["$ref"].as_str() {
                Some(name) => retry["definitions"][name].clone(),
                None => p,
            };
            let response = policy["applies_when"].get("response")?.clone();
            let code = response["service_error_code"].as_str().map(str::to_owned);
            let status = response["http_status_code"].as_u64().and_then(|s| u16::try_from(s).ok());
            (code.is_some() || status.is_some()).then_some((code, status))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contract() -> CodeDeployContract {
        let model = Model::from_json(json!({
            "metadata": {"targetPrefix": "CodeDeploy_20141006", "jsonVersion": "1.1", "endpointPrefix": "codedeploy"},
            "operations": {"GetDeployment": {"input": {"shape": "In"}, "output": {"shape": "Out"},
                "errors": [{"shape": "DeploymentDoesNotExistException"}]}},
            "shapes": {
                "In": {"type": "structure", "required": ["deploymentId"], "members": {"deploymentId": {"shape": "S"}}},
                "Out": {"type": "structure", "members": {"status": {"shape": "Status"}}},
                "S": {"type": "string"},
                "Status": {"type": "string", "enum": ["Ready", "Failed"]},
                "DeploymentDoesNotExistException": {"type": "structure", "members": {}, "exception": true},
            }
        }));
        let retry = json!({"definitions": {"t": {"applies_when": {"response": {"service_error_code": "ThrottlingException", "http_status_code": 400}}}},
            "retry": {"__default__": {"policies": {"t": {"$ref": "t"}}}}});
        CodeDeployContract::new(model, &retry)
    }

    fn exchange(request: &str, status: u16, answer: &str) -> Exchange {
        let json11 = || ("content-type".to_owned(), "application/x-amz-json-1.1".to_owned());
        Exchange {
            method: "POST".into(),
            path: "/".into(),
            query: None,
            request_headers: vec![("x-amz-target".into(), "CodeDeploy_20141006.GetDeployment".into()), json11()],
            request_body: request.into(),
            status,
            response_headers: vec![json11()],
            response_body: answer.into(),
        }
    }

    fn problems(e: &Exchange) -> Vec<String> {
        contract().check(e).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn requests_answers_and_declared_errors_are_checked() {
        let ask = r#"{"deploymentId":"d-1"}"#;
        assert!(problems(&exchange(ask, 200, r#"{"status":"Ready"}"#)).is_empty());
        assert_eq!(problems(&exchange("{}", 200, "{}")), ["request.body.deploymentId: missing, but In requires it"]);
        assert_eq!(
            problems(&exchange(ask, 200, r#"{"status":"READY"}"#)),
            ["response.body.status: `READY` is not a value of Status [\"Ready\", \"Failed\"]"]
        );
        let missing = r#"{"__type":"DeploymentDoesNotExistException","message":"no"}"#;
        assert!(problems(&exchange(ask, 400, missing)).is_empty());
        let prefixed = r#"{"__type":"com.amazonaws.codedeploy#DeploymentDoesNotExistException"}"#;
        assert!(problems(&exchange(ask, 400, prefixed)).is_empty());
        assert!(problems(&exchange(ask, 400, r#"{"__type":"ThrottlingException","message":"slow"}"#)).is_empty());
        let undeclared = problems(&exchange(ask, 400, r#"{"__type":"DeploymentLimitExceededException"}"#));
        assert_eq!(undeclared.len(), 1);
        assert!(
            undeclared[0].contains("GetDeployment does not declare DeploymentLimitExceededException"),
            "{undeclared:?}"
        );
        let extra = problems(&exchange(ask, 400, r#"{"__type":"DeploymentDoesNotExistException","id":"d-1"}"#));
        assert_eq!(extra, ["response.body.id: DeploymentDoesNotExistException has no member `id`"]);
    }

    #[test]
    fn the_general_retry_policy_gives_the_common_errors() {
        let retry = json!({
            "definitions": {
                "throttling_exception": {"applies_when": {"response": {"service_error_code": "ThrottlingException", "http_status_code": 400}}},
                "general_server_error": {"applies_when": {"response": {"http_status_code": 500}}},
                "general_socket_errors": {"applies_when": {"socket_errors": ["GENERAL_CONNECTION_ERROR"]}},
            },
            "retry": {"__default__": {"policies": {
                "throttling_exception": {"$ref": "throttling_exception"},
                "general_server_error": {"$ref": "general_server_error"},
                "general_socket_errors": {"$ref": "general_socket_errors"},
            }}, "sqs": {"policies": {"x": {"applies_when": {"response": {"service_error_code": "SqsOnly"}}}}}},
        });
        let mut common = common_errors(&retry, "codedeploy");
        common.sort();
        assert_eq!(common, [(None, Some(500)), (Some("ThrottlingException".to_owned()), Some(400))]);
        assert_eq!(common_errors(&retry, "sqs").len(), 3);
    }
}
