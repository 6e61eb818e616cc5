//! The deployment-group operations of the CodeDeploy face: `GetDeploymentGroup` (the original fleet's
//! tags as `ec2TagFilters` or `ec2TagSet`, `loadBalancerInfo`) and `UpdateDeploymentGroup`, of which
//! the simulator honours only what greenfleet changes: the original fleet's tags. Member names follow
//! botocore's `codedeploy/2014-10-06` model.

use greenfleet_core::cloud::{
    BlueAction, BlueSelector, DeploymentGroupView, DeploymentType, GreenProvisioning, ReadyAction, TagFilter,
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::codedeploy::{DEPLOYMENT_CONFIG, Fault, Missing, TagFilterIn, from_remote, group_ref};
use crate::cloud::Cloud;
use crate::events::{ACCOUNT, uuid_from};
use crate::model::DeploymentGroupState;

/// The target group every simulated Blue/Green group with a load balancer names.
pub(crate) const TARGET_GROUP: &str = "greenfleet-sim-tg";

pub(super) fn deployment_style(view: &DeploymentGroupView) -> Value {
    match view.deployment_type {
        DeploymentType::BlueGreen => {
            json!({ "deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL" })
        }
        DeploymentType::InPlace => {
            json!({ "deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL" })
        }
    }
}

/// `blueGreenDeploymentConfiguration`, with only the options the group sets; `None` when it sets none.
pub(super) fn blue_green_configuration(g: &DeploymentGroupState) -> Option<Value> {
    let v = &g.view;
    let mut config = serde_json::Map::new();
    if let Some(action) = v.blue_action {
        let action = match action {
            BlueAction::Terminate => "TERMINATE",
            BlueAction::KeepAlive => "KEEP_ALIVE",
        };
        // The model acts on blue as soon as the deployment succeeds: no termination wait.
        config.insert(
            "terminateBlueInstancesOnDeploymentSuccess".into(),
            json!({ "action": action, "terminationWaitTimeInMinutes": 0 }),
        );
    }
    if let Some(ready) = v.ready_action {
        let (action, wait) = match ready {
            ReadyAction::ContinueDeployment => ("CONTINUE_DEPLOYMENT", 0),
            ReadyAction::StopDeployment => ("STOP_DEPLOYMENT", g.ready_wait_minutes),
        };
        config.insert("deploymentReadyOption".into(), json!({ "actionOnTimeout": action, "waitTimeInMinutes": wait }));
    }
    if let Some(provisioning) = v.green_provisioning {
        let action = match provisioning {
            GreenProvisioning::DiscoverExisting => "DISCOVER_EXISTING",
            GreenProvisioning::CopyAutoScalingGroup => "COPY_AUTO_SCALING_GROUP",
        };
        config.insert("greenFleetProvisioningOption".into(), json!({ "action": action }));
    }
    (!config.is_empty()).then_some(Value::Object(config))
}

fn tag_filter_json(f: &TagFilter) -> Value {
    if f.key_only {
        json!({ "Key": f.key, "Type": "KEY_ONLY" })
    } else {
        json!({ "Key": f.key, "Value": f.value, "Type": "KEY_AND_VALUE" })
    }
}

fn filters_json(filters: &[TagFilter]) -> Vec<Value> {
    filters.iter().map(tag_filter_json).collect()
}

/// A stable, UUID-shaped id for a name (FNV-1a), so `deploymentGroupId` does not change between calls.
fn stable_uuid(name: &str) -> String {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    uuid_from(hash)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GroupInput {
    application_name: Option<String>,
    deployment_group_name: Option<String>,
}

pub(super) fn get_deployment_group(cloud: &Cloud, input: GroupInput) -> Result<Value, Fault> {
    let group = group_ref(input.application_name, input.deployment_group_name)?;
    let state = cloud
        .call("deployment_group", |m| m.deployment_group(&group).cloned())
        .map_err(|e| from_remote(cloud, e, &Missing::Group(&group.application)))?;
    let mut info = json!({
        "applicationName": group.application,
        "deploymentGroupId": stable_uuid(&group.to_string()),
        "deploymentGroupName": group.deployment_group,
        "deploymentConfigName": DEPLOYMENT_CONFIG,
        "onPremisesInstanceTagFilters": [],
        "autoScalingGroups": [],
        "serviceRoleArn": format!("arn:aws:iam::{ACCOUNT}:role/CodeDeployServiceRole"),
        "deploymentStyle": deployment_style(&state.view),
        "outdatedInstancesStrategy": "UPDATE",
        "computePlatform": "Server",
    });
    // CodeDeploy answers one form: filters (possibly empty) or a tag set.
    match &state.view.blue {
        BlueSelector::Filters(filters) => info["ec2TagFilters"] = json!(filters_json(filters)),
        BlueSelector::TagSet(sets) => {
            info["ec2TagFilters"] = json!([]);
            info["ec2TagSet"] = json!({ "ec2TagSetList": sets.iter().map(|s| filters_json(s)).collect::<Vec<_>>() });
        }
    }
    if state.view.load_balancer {
        info["loadBalancerInfo"] = json!({ "targetGroupInfoList": [{ "name": TARGET_GROUP }] });
    }
    if let Some(bg) = blue_green_configuration(&state) {
        info["blueGreenDeploymentConfiguration"] = bg;
    }
    Ok(json!({ "deploymentGroupInfo": info }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UpdateInput {
    application_name: Option<String>,
    current_deployment_group_name: Option<String>,
    ec2_tag_filters: Option<Vec<TagFilterIn>>,
    ec2_tag_set: Option<TagSetIn>,
    /// Any other member: greenfleet never sends them, and the simulator does not model them.
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TagSetIn {
    ec2_tag_set_list: Option<Vec<Vec<TagFilterIn>>>,
}

fn filters(input: Vec<TagFilterIn>) -> Result<Vec<TagFilter>, Fault> {
    input
        .into_iter()
        .map(|f| match (f.kind.as_deref(), f.key, f.value) {
            (Some("KEY_AND_VALUE") | None, Some(key), Some(value)) if !key.is_empty() => {
                Ok(TagFilter { key, value, key_only: false })
            }
            (Some("KEY_ONLY"), Some(key), _) if !key.is_empty() => {
                Ok(TagFilter { key, value: String::new(), key_only: true })
            }
            (kind, key, _) => Err(Fault::client(
                "InvalidEC2TagException",
                format!(
                    "EC2 tag filter `{}` of type {} is not valid: give Key (and Value for KEY_AND_VALUE)",
                    key.unwrap_or_default(),
                    kind.unwrap_or("(none)")
                ),
            )),
        })
        .collect()
}

pub(super) fn update_deployment_group(cloud: &Cloud, input: UpdateInput) -> Result<Value, Fault> {
    let group = group_ref(input.application_name, input.current_deployment_group_name)?;
    if let Some(member) = input.other.keys().find(|k| k.as_str() != "newDeploymentGroupName") {
        return Err(Fault::client(
            "InvalidInputException",
            format!("the simulator updates only ec2TagFilters or ec2TagSet, not {member}"),
        ));
    }
    let blue = match (input.ec2_tag_filters, input.ec2_tag_set) {
        (Some(_), Some(_)) => {
            return Err(Fault::client(
                "InvalidEC2TagCombinationException",
                "ec2TagFilters and ec2TagSet cannot both be given",
            ));
        }
        (Some(f), None) => BlueSelector::Filters(filters(f)?),
        (None, Some(set)) => BlueSelector::TagSet(
            set.ec2_tag_set_list.unwrap_or_default().into_iter().map(filters).collect::<Result<_, _>>()?,
        ),
        (None, None) => return Ok(json!({ "hooksNotCleanedUp": [] })),
    };
    cloud
        .call("point_blue", |m| m.point_blue(&group, &blue))
        .map_err(|e| from_remote(cloud, e, &Missing::Group(&group.application)))?;
    Ok(json!({ "hooksNotCleanedUp": [] }))
}
