//! Contract suites: greenfleet's clients and its simulator, both checked against what the services
//! publish. A test that passes against the simulator alone only proves that the client and the
//! simulator agree; these check every recorded exchange (the request greenfleet sent, the answer the
//! simulator gave) against the published definitions, strictly: unknown fields, missing required
//! fields, types, enums, required query parameters, and for CodeDeploy the errors each operation
//! declares.
//!
//! * [`openapi`] — a strict checker for the subset of OpenAPI 3 schemas Spot's definition uses.
//! * [`spot`] — Spot's definition (`spot-openapi.json`, derived from `spotinst/openapi`) with
//!   [`spot_exceptions`] applied; checks one exchange.
//! * [`spot_exceptions`] — where the definition is thin or wrong, each entry with its evidence.
//! * [`botocore`] — botocore's service models (`GREENFLEET_BOTOCORE_DATA`) and a strict checker of
//!   JSON values against their shapes.
//! * [`codedeploy`] — CodeDeploy's JSON 1.1 exchanges against the model, errors included.
//! * [`xml`] — EC2's query-protocol XML answers against the EC2 model, and sample answers built
//!   from the model itself.
//! * [`query`] — EC2's query-protocol form requests against the EC2 model; a whole EC2 exchange.
//! * [`served`] — the simulator served on port 0 with a record of every exchange.

pub mod botocore;
pub mod codedeploy;
pub mod openapi;
pub mod query;
pub mod served;
pub mod spot;
pub mod spot_exceptions;
pub mod xml;

use std::fmt;

use greenfleet_sim::Exchange;

/// One place where a value disagrees with a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `request`, `response` or `exchange`, then a JSON path (`response.items[0].tags`).
    pub at: String,
    /// What is wrong, in terms of the definition.
    pub message: String,
}

impl Problem {
    /// A problem at `at`.
    pub fn new(at: impl Into<String>, message: impl Into<String>) -> Self {
        Self { at: at.into(), message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.message)
    }
}

/// `PUT /aws/ec2/group/sig-1/capacity?accountId=act-1 → 200`, or the operation for JSON 1.1.
#[must_use]
pub fn describe(e: &Exchange) -> String {
    let query = e.query.as_deref().map(|q| format!("?{q}")).unwrap_or_default();
    match e.request_header("x-amz-target") {
        Some(target) => format!("{} {}{query} [{target}] → {}", e.method, e.path, e.status),
        None => format!("{} {}{query} → {}", e.method, e.path, e.status),
    }
}

/// Every problem of every exchange, one block per exchange with problems; empty when all conform.
#[must_use]
pub fn report(checked: &[(Exchange, Vec<Problem>)]) -> String {
    let mut out = String::new();
    for (exchange, problems) in checked.iter().filter(|(_, p)| !p.is_empty()) {
        out.push_str(&describe(exchange));
        out.push('\n');
        for p in problems {
            out.push_str(&format!("    {p}\n"));
        }
        out.push_str(&format!("    request body:  {}\n", abbreviate(&exchange.request_body)));
        out.push_str(&format!("    response body: {}\n", abbreviate(&exchange.response_body)));
    }
    out
}

fn abbreviate(s: &str) -> String {
    const MAX: usize = 400;
    if s.chars().count() <= MAX { s.to_owned() } else { format!("{}…", s.chars().take(MAX).collect::<String>()) }
}

/// `$.a.b[0]`-style path joining: `join("response", "items")` → `response.items`.
pub(crate) fn join(at: &str, field: &str) -> String {
    if at.is_empty() { field.to_owned() } else { format!("{at}.{field}") }
}
