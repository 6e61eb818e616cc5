//! The EC2 face: the one operation greenfleet calls, `DescribeInstances`, in EC2's query protocol
//! (`POST /`, a form body `Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=…&Filter.1.Value.1=…`,
//! XML answers), so aws-sdk-ec2 reaches the model through `AWS_ENDPOINT_URL_EC2`. It describes every
//! instance of the model (groups' and loose ones) with the tags that have landed (F5), filtered by
//! `instance-id`, `tag:<key>` and `tag-key`, paged by `MaxResults` / `NextToken`. SigV4 is not checked.
//!
//! Errors are EC2's `<Response><Errors><Error><Code>…` bodies; scripted faults of the port operation
//! `describe_instances` show up as `RequestLimitExceeded` (503) or `Unavailable` (503).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use greenfleet_core::cloud::{Ec2Instance, Ec2State};
use greenfleet_core::ports::RemoteError;

use super::AppState;
use crate::events::ACCOUNT;
use crate::model::Instance;

const VERSION: &str = "2016-11-15";

/// An EC2 error answer.
struct Fault {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Fault {
    Fault { status: StatusCode::BAD_REQUEST, code, message: message.into() }
}

/// Answers one EC2 query-protocol request.
pub(super) fn dispatch(state: &AppState, body: &Bytes) -> Response {
    let request_id = state.next_request_id();
    let (status, xml) = match handle(state, body, &request_id) {
        Ok(xml) => (StatusCode::OK, xml),
        Err(f) => (
            f.status,
            format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{}</Code><Message>{}</Message>\
                 </Error></Errors><RequestID>{request_id}</RequestID></Response>",
                f.code,
                escape(&f.message)
            ),
        ),
    };
    let mut response = (status, xml).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/xml;charset=UTF-8"));
    response
}

fn handle(state: &AppState, body: &Bytes, request_id: &str) -> Result<String, Fault> {
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| invalid("InvalidParameterValue", format!("the request body is not a form: {e}")))?;
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    match get("Action") {
        Some("DescribeInstances") => {}
        Some(other) => {
            return Err(invalid("InvalidAction", format!("the simulator serves DescribeInstances only, not {other}")));
        }
        None => return Err(invalid("MissingAction", "the request has no Action parameter")),
    }
    if get("Version") != Some(VERSION) {
        return Err(invalid("InvalidParameterValue", format!("Version must be {VERSION}")));
    }
    if params.iter().any(|(k, _)| k.starts_with("InstanceId.")) {
        // Unknown ids would be an InvalidInstanceID.NotFound error there; greenfleet filters instead.
        return Err(invalid(
            "InvalidParameterCombination",
            "the simulator describes instances by Filter (instance-id, tag:<key>, tag-key), not InstanceId",
        ));
    }
    let filters = filters(&params)?;
    let max = match get("MaxResults") {
        None => usize::MAX,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n @ 5..=1000) => n,
            _ => return Err(invalid("InvalidParameterValue", format!("MaxResults {raw} must be from 5 to 1000"))),
        },
    };
    let from = match get("NextToken") {
        None => 0,
        Some(raw) => {
            raw.parse::<usize>().map_err(|_| invalid("InvalidNextToken", format!("NextToken {raw} is not valid")))?
        }
    };
    let matching: Vec<Ec2Instance> = state
        .cloud
        .call("describe_instances", |m| {
            let mut all: Vec<&Instance> = m.all_instances().collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(all.into_iter().map(Instance::ec2_view).filter(|i| filters.iter().all(|f| f.matches(i))).collect())
        })
        .map_err(remote)?;
    let page: Vec<&Ec2Instance> = matching.iter().skip(from).take(max).collect();
    let next = (from + page.len() < matching.len()).then(|| (from + page.len()).to_string());
    Ok(render(&page, next.as_deref(), request_id))
}

fn remote(e: RemoteError) -> Fault {
    match e {
        RemoteError::Throttled { message, .. } => {
            Fault { status: StatusCode::SERVICE_UNAVAILABLE, code: "RequestLimitExceeded", message }
        }
        RemoteError::Unavailable(message) => {
            Fault { status: StatusCode::SERVICE_UNAVAILABLE, code: "Unavailable", message }
        }
        RemoteError::NotFound(message) => invalid("InvalidParameterValue", message),
        RemoteError::Rejected { message, .. } => invalid("InvalidParameterValue", message),
    }
}

/// One `Filter.N`: its name and values.
enum Filter {
    InstanceId(Vec<String>),
    Tag(String, Vec<String>),
    TagKey(Vec<String>),
}

impl Filter {
    fn matches(&self, i: &Ec2Instance) -> bool {
        match self {
            Self::InstanceId(ids) => ids.iter().any(|id| id == i.id.as_str()),
            Self::Tag(key, values) => i.tags.iter().any(|t| &t.key == key && values.contains(&t.value)),
            Self::TagKey(keys) => i.tags.iter().any(|t| keys.contains(&t.key)),
        }
    }
}

fn filters(params: &[(String, String)]) -> Result<Vec<Filter>, Fault> {
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    let mut values: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for (k, v) in params {
        let Some(rest) = k.strip_prefix("Filter.") else { continue };
        let bad = || invalid("InvalidParameterValue", format!("{k} is not Filter.N.Name or Filter.N.Value.M"));
        let (n, field) = rest.split_once('.').ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        if field == "Name" {
            names.insert(n, v.clone());
        } else if field.starts_with("Value.") {
            values.entry(n).or_default().push(v.clone());
        } else {
            return Err(bad());
        }
    }
    names
        .into_iter()
        .map(|(n, name)| {
            let vals = values.remove(&n).unwrap_or_default();
            if let Some(key) = name.strip_prefix("tag:") {
                Ok(Filter::Tag(key.to_owned(), vals))
            } else if name == "instance-id" {
                Ok(Filter::InstanceId(vals))
            } else if name == "tag-key" {
                Ok(Filter::TagKey(vals))
            } else {
                Err(invalid("InvalidParameterValue", format!("the simulator does not support the filter `{name}`")))
            }
        })
        .collect()
}

/// EC2's `instanceState.code`.
fn state_code(state: &Ec2State) -> u16 {
    match state {
        Ec2State::Pending => 0,
        Ec2State::Running => 16,
        Ec2State::ShuttingDown => 32,
        Ec2State::Terminated => 48,
        Ec2State::Stopping => 64,
        Ec2State::Stopped | Ec2State::Other(_) => 80,
    }
}

fn render(instances: &[&Ec2Instance], next: Option<&str>, request_id: &str) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/{VERSION}/\">\
         <requestId>{request_id}</requestId><reservationSet>"
    );
    for i in instances {
        // One reservation per instance, named after it, as instances launched one by one are.
        let _ = write!(
            xml,
            "<item><reservationId>r-{}</reservationId><ownerId>{ACCOUNT}</ownerId><groupSet/><instancesSet><item>\
             <instanceId>{}</instanceId><instanceState><code>{}</code><name>{}</name></instanceState>",
            i.id.as_str().trim_start_matches("i-"),
            escape(i.id.as_str()),
            state_code(&i.state),
            escape(i.state.as_str())
        );
        if let Some(ip) = &i.private_ip {
            let _ = write!(xml, "<privateIpAddress>{}</privateIpAddress>", escape(ip));
        }
        xml.push_str("<tagSet>");
        for t in &i.tags {
            let _ = write!(xml, "<item><key>{}</key><value>{}</value></item>", escape(&t.key), escape(&t.value));
        }
        xml.push_str("</tagSet></item></instancesSet></item>");
    }
    xml.push_str("</reservationSet>");
    if let Some(token) = next {
        let _ = write!(xml, "<nextToken>{token}</nextToken>");
    }
    xml.push_str("</DescribeInstancesResponse>");
    xml
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&apos;")
}
