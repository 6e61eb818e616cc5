//! The fault command language of `POST /_sim/faults`: one command is an object with exactly one key,
//! camelCase throughout, unknown fields refused; a batch (an array) is checked whole before any of it
//! is applied. Operation names are the port operations of [`crate::OPS`] in camelCase (`setCapacity`),
//! and a scripted error is `{"kind": "throttled" | "unavailable" | "notFound" | "rejected", …}`.

use greenfleet_core::cloud::DeploymentGroupRef;
use greenfleet_core::ids::InstanceId;
use greenfleet_core::ports::RemoteError;
use serde::Deserialize;
use serde_json::Value;

use super::admin_wire::{GroupRefWire, decode_value};
use crate::faults::{BlueAfterSuccess, Faults, OPS};

/// One fault command: an object with exactly one of these keys.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Command {
    FailDeployments(FailDeployments),
    HangDeployments(GroupRefWire),
    ClearDeployments(GroupRefWire),
    DropAllEvents(bool),
    DropNextEvents(u32),
    DuplicateNextEvents(u32),
    FailNext(FailNext),
    LoseResponse(LoseResponse),
    Delays(Delays),
    Unhealthy(Unhealthy),
    GreenNeverReady(bool),
    BlueAfterSuccess(BlueAfterSuccess),
    SpotFinishDelayMs(u64),
    Reset(bool),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailDeployments {
    application: String,
    deployment_group: String,
    #[serde(default = "default_failure_code")]
    code: String,
    #[serde(default = "default_failure_message")]
    message: String,
}

fn default_failure_code() -> String {
    "HOOK_EXECUTION_FAILURE".to_owned()
}

fn default_failure_message() -> String {
    "The ApplicationStart lifecycle hook failed (simulated)".to_owned()
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FailNext {
    op: String,
    error: ErrorWire,
    #[serde(default = "one")]
    times: u32,
}

/// A scripted error, as the caller of the operation will see it (each face renders it its own way).
#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase", deny_unknown_fields)]
enum ErrorWire {
    Throttled { message: Option<String>, retry_after_ms: Option<u64> },
    Unavailable { message: Option<String> },
    NotFound { message: Option<String> },
    Rejected { code: String, message: Option<String> },
}

impl ErrorWire {
    fn into_remote(self) -> Result<RemoteError, String> {
        let or = |m: Option<String>, default: &str| m.unwrap_or_else(|| format!("{default} (simulated)"));
        Ok(match self {
            Self::Throttled { message, retry_after_ms } => {
                RemoteError::Throttled { message: or(message, "rate exceeded"), retry_after_ms }
            }
            Self::Unavailable { message } => RemoteError::Unavailable(or(message, "service unavailable")),
            Self::NotFound { message } => RemoteError::NotFound(or(message, "not found")),
            Self::Rejected { code, .. } if code.is_empty() => return Err("error.code must not be empty".into()),
            Self::Rejected { code, message } => RemoteError::Rejected { code, message: or(message, "refused") },
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LoseResponse {
    op: String,
    #[serde(default = "one")]
    times: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Delays {
    green_launch_ms: Option<u64>,
    launch_ms: Option<u64>,
    tag_ms: Option<u64>,
    terminate_ms: Option<u64>,
    deployment_step_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Unhealthy {
    #[serde(default)]
    instances: Vec<String>,
    all_green: Option<bool>,
}

/// The admin face's name of a port operation: `set_capacity` is `setCapacity`.
pub(super) fn wire_op(op: &str) -> String {
    let mut out = String::with_capacity(op.len());
    let mut upper = false;
    for c in op.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// The port operation (one of [`OPS`]) named `wire` on the admin face.
fn port_op(n: usize, wire: &str) -> Result<&'static str, String> {
    OPS.iter().copied().find(|op| wire_op(op) == wire).ok_or_else(|| {
        let known: Vec<String> = OPS.iter().map(|op| wire_op(op)).collect();
        format!("fault command #{n}: unknown operation `{wire}`; expected one of {}", known.join(", "))
    })
}

/// A command checked against everything that could make applying it fail or panic.
pub(super) struct Checked(Checks);

enum Checks {
    FailDeployments(DeploymentGroupRef, String, String),
    HangDeployments(DeploymentGroupRef),
    ClearDeployments(DeploymentGroupRef),
    DropAllEvents(bool),
    DropNextEvents(u32),
    DuplicateNextEvents(u32),
    FailNext(&'static str, RemoteError, u32),
    LoseResponse(&'static str, u32),
    Delays(Delays),
    Unhealthy(Vec<InstanceId>, Option<bool>),
    GreenNeverReady(bool),
    BlueAfterSuccess(BlueAfterSuccess),
    SpotFinishDelayMs(u64),
    Reset(bool),
}

/// Parses and checks fault command number `n` (counted from 1).
pub(super) fn parse_command(n: usize, value: Value) -> Result<Checked, String> {
    let example = r#"{"dropNextEvents": 2}"#;
    match &value {
        Value::Object(map) if map.len() == 1 => {}
        _ => return Err(format!("fault command #{n} must be an object with exactly one key, e.g. {example}")),
    }
    let command: Command = decode_value(value).map_err(|e| format!("fault command #{n}: {e}"))?;
    let group = |g: GroupRefWire, key: &str| g.valid(key).map_err(|e| format!("fault command #{n}: {e}"));
    Ok(Checked(match command {
        Command::FailDeployments(c) => {
            let g = GroupRefWire { application: c.application, deployment_group: c.deployment_group };
            Checks::FailDeployments(group(g, "failDeployments")?, c.code, c.message)
        }
        Command::HangDeployments(g) => Checks::HangDeployments(group(g, "hangDeployments")?),
        Command::ClearDeployments(g) => Checks::ClearDeployments(group(g, "clearDeployments")?),
        Command::DropAllEvents(on) => Checks::DropAllEvents(on),
        Command::DropNextEvents(k) => Checks::DropNextEvents(k),
        Command::DuplicateNextEvents(k) => Checks::DuplicateNextEvents(k),
        Command::FailNext(f) => {
            let error = f.error.into_remote().map_err(|e| format!("fault command #{n}: failNext.{e}"))?;
            Checks::FailNext(port_op(n, &f.op)?, error, f.times)
        }
        Command::LoseResponse(l) => Checks::LoseResponse(port_op(n, &l.op)?, l.times),
        Command::Delays(d) => Checks::Delays(d),
        Command::Unhealthy(u) => {
            let ids = u
                .instances
                .iter()
                .enumerate()
                .map(|(i, id)| {
                    InstanceId::parse(id).map_err(|e| format!("fault command #{n}: unhealthy.instances[{i}]: {}", e.0))
                })
                .collect::<Result<_, _>>()?;
            Checks::Unhealthy(ids, u.all_green)
        }
        Command::GreenNeverReady(on) => Checks::GreenNeverReady(on),
        Command::BlueAfterSuccess(b) => Checks::BlueAfterSuccess(b),
        Command::SpotFinishDelayMs(ms) => Checks::SpotFinishDelayMs(ms),
        Command::Reset(on) => Checks::Reset(on),
    }))
}

/// Applies a checked command to the knobs; cannot fail.
pub(super) fn apply(f: &mut Faults, Checked(command): Checked) {
    match command {
        Checks::FailDeployments(group, code, message) => f.fail_deployments(&group, &code, &message),
        Checks::HangDeployments(group) => f.hang_deployments(&group),
        Checks::ClearDeployments(group) => {
            f.fail_deployments.remove(&group);
            f.hang_deployments.remove(&group);
        }
        Checks::DropAllEvents(on) => f.drop_all_events = on,
        Checks::DropNextEvents(k) => f.drop_next_events = k,
        Checks::DuplicateNextEvents(k) => f.duplicate_next_events = k,
        // The op is one of OPS (port_op found it there), so these cannot panic.
        Checks::FailNext(op, error, times) => f.fail_next(op, error, times),
        Checks::LoseResponse(op, times) => f.lose_response(op, times),
        Checks::Delays(d) => {
            let set = |knob: &mut u64, value: Option<u64>| *knob = value.unwrap_or(*knob);
            set(&mut f.green_launch_delay_ms, d.green_launch_ms);
            set(&mut f.launch_delay_ms, d.launch_ms);
            set(&mut f.tag_delay_ms, d.tag_ms);
            set(&mut f.terminate_delay_ms, d.terminate_ms);
            set(&mut f.deployment_step_ms, d.deployment_step_ms);
        }
        Checks::Unhealthy(ids, all_green) => {
            f.unhealthy.extend(ids);
            if let Some(all) = all_green {
                f.all_green_unhealthy = all;
            }
        }
        Checks::GreenNeverReady(on) => f.green_never_ready = on,
        Checks::BlueAfterSuccess(b) => f.blue_after_success = b,
        Checks::SpotFinishDelayMs(ms) => f.spot_finish_delay_ms = ms,
        Checks::Reset(true) => *f = Faults::default(),
        Checks::Reset(false) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_port_operation_has_a_distinct_camel_case_name_that_maps_back() {
        for op in OPS {
            let wire = wire_op(op);
            assert!(!wire.contains('_'), "{wire}");
            assert_eq!(port_op(1, &wire), Ok(*op));
        }
        assert_eq!(wire_op("describe_instances"), "describeInstances");
        assert!(port_op(1, "set_capacity").unwrap_err().contains("setCapacity"));
    }
}
