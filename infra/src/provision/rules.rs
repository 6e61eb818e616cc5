//! greenfleet's EventBridge bus and the rules that route events into its queues.

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::{RuleState, Target};

use super::{CODEDEPLOY_DETAIL_TYPES, INTAKE_DETAIL_TYPES, ProvisionError, aws_error};

/// The one target id greenfleet puts on each of its rules.
const TARGET_ID: &str = "greenfleet-queue";

/// The pattern for CodeDeploy's state-change events, optionally only those of `applications`.
pub(crate) fn codedeploy_pattern(applications: &[String]) -> String {
    let mut p = serde_json::json!({
        "source": ["aws.codedeploy"],
        "detail-type": CODEDEPLOY_DETAIL_TYPES,
    });
    if !applications.is_empty() {
        p["detail"] = serde_json::json!({ "application": applications });
    }
    p.to_string()
}

/// The pattern for rollout requests, approvals and cancel requests published on greenfleet's bus.
/// `PutRule` replaces a rule's pattern, so `infra up` gives an existing installation the new one.
pub(crate) fn requests_pattern() -> String {
    serde_json::json!({ "detail-type": INTAKE_DETAIL_TYPES }).to_string()
}

/// Creates the bus if missing; returns its ARN.
pub(crate) async fn ensure_bus(client: &Client, name: &str) -> Result<String, ProvisionError> {
    match client.create_event_bus().name(name).send().await {
        Ok(out) => {
            if let Some(arn) = out.event_bus_arn() {
                return Ok(arn.to_owned());
            }
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_already_exists_exception()) => {}
        Err(e) => return Err(aws_error("EventBridge", "CreateEventBus", name, &e)),
    }
    let out = client
        .describe_event_bus()
        .name(name)
        .send()
        .await
        .map_err(|e| aws_error("EventBridge", "DescribeEventBus", name, &e))?;
    out.arn().map(str::to_owned).ok_or_else(|| ProvisionError::Incomplete(format!("no ARN for event bus `{name}`")))
}

/// Creates or updates the rule `name` on `bus` (None = the default bus) to send what matches
/// `pattern` to the queue `queue_arn`; returns the rule's ARN.
pub(crate) async fn ensure_rule_to_queue(
    client: &Client,
    bus: Option<&str>,
    name: &str,
    pattern: &str,
    description: &str,
    queue_arn: &str,
) -> Result<String, ProvisionError> {
    let out = client
        .put_rule()
        .name(name)
        .set_event_bus_name(bus.map(str::to_owned))
        .event_pattern(pattern)
        .description(description)
        .state(RuleState::Enabled)
        .send()
        .await
        .map_err(|e| aws_error("EventBridge", "PutRule", name, &e))?;
    let rule_arn = out
        .rule_arn()
        .map(str::to_owned)
        .ok_or_else(|| ProvisionError::Incomplete(format!("no ARN for rule `{name}`")))?;
    let target = Target::builder()
        .id(TARGET_ID)
        .arn(queue_arn)
        .build()
        .map_err(|e| ProvisionError::Incomplete(format!("could not build the target of rule `{name}`: {e}")))?;
    let out = client
        .put_targets()
        .rule(name)
        .set_event_bus_name(bus.map(str::to_owned))
        .targets(target)
        .send()
        .await
        .map_err(|e| aws_error("EventBridge", "PutTargets", name, &e))?;
    if out.failed_entry_count() > 0 {
        let message = out
            .failed_entries()
            .iter()
            .map(|f| format!("{}: {}", f.error_code().unwrap_or("?"), f.error_message().unwrap_or("no message")))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(ProvisionError::Target { rule: name.to_owned(), message });
    }
    Ok(rule_arn)
}

/// Deletes the rule `name` on `bus` and its target, if they exist.
pub(crate) async fn delete_rule(client: &Client, bus: Option<&str>, name: &str) -> Result<(), ProvisionError> {
    let removed = client
        .remove_targets()
        .rule(name)
        .set_event_bus_name(bus.map(str::to_owned))
        .ids(TARGET_ID)
        .force(true)
        .send()
        .await;
    match removed {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(()),
        Err(e) => return Err(aws_error("EventBridge", "RemoveTargets", name, &e)),
    }
    match client.delete_rule().name(name).set_event_bus_name(bus.map(str::to_owned)).force(true).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
        Err(e) => Err(aws_error("EventBridge", "DeleteRule", name, &e)),
    }
}

/// The names of the rules on `bus` (None = the default bus) whose names start with `prefix`.
pub(crate) async fn list_rules(
    client: &Client,
    bus: Option<&str>,
    prefix: &str,
) -> Result<Vec<String>, ProvisionError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = client
            .list_rules()
            .name_prefix(prefix)
            .set_event_bus_name(bus.map(str::to_owned))
            .set_next_token(token.take())
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            // The bus is gone already: it has no rules.
            Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(names),
            Err(e) => return Err(aws_error("EventBridge", "ListRules", prefix, &e)),
        };
        names.extend(out.rules().iter().filter_map(|r| r.name()).filter(|n| n.starts_with(prefix)).map(str::to_owned));
        match out.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => return Ok(names),
        }
    }
}

/// Deletes the bus `name` if it exists (its rules must be gone first).
pub(crate) async fn delete_bus(client: &Client, name: &str) -> Result<(), ProvisionError> {
    match client.delete_event_bus().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(()),
        Err(e) => Err(aws_error("EventBridge", "DeleteEventBus", name, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codedeploy_pattern_matches_both_detail_types_and_filters_applications() {
        let all: serde_json::Value = serde_json::from_str(&codedeploy_pattern(&[])).unwrap_or_default();
        assert_eq!(all["source"][0], "aws.codedeploy");
        assert_eq!(all["detail-type"].as_array().map(Vec::len), Some(2));
        assert!(all.get("detail").is_none());
        let some: serde_json::Value =
            serde_json::from_str(&codedeploy_pattern(&["web".to_owned()])).unwrap_or_default();
        assert_eq!(some["detail"]["application"][0], "web");
    }

    #[test]
    fn requests_pattern_routes_requests_approvals_and_cancels_only() {
        let p: serde_json::Value = serde_json::from_str(&requests_pattern()).unwrap_or_default();
        assert_eq!(
            p,
            serde_json::json!({
                "detail-type": ["Rollout Requested", "Rollout Approved", "Rollout Cancel Requested"]
            })
        );
    }
}
