//! The admin face's wire form of a deployment group (`POST /_sim/deployment-groups`): camelCase, with
//! CodeDeploy's own spellings for the values, and unknown fields refused.
//!
//! ```json
//! {"application": "web", "deploymentGroup": "web-bg", "deploymentType": "BLUE_GREEN",
//!  "greenFleetProvisioning": "DISCOVER_EXISTING", "blueAction": "KEEP_ALIVE", "readyAction": "STOP_DEPLOYMENT",
//!  "readyWaitMinutes": 5, "ec2TagFilters": [{"key": "env", "value": "blue"}], "loadBalancer": true}
//! ```
//! `ec2TagSet: [[{…}], [{…}]]` replaces `ec2TagFilters` (one or the other); a filter's `type` is
//! `KEY_AND_VALUE` (default) or `KEY_ONLY`. `loadBalancer` defaults to true.

use greenfleet_core::cloud::{
    BlueAction, BlueSelector, DeploymentGroupRef, DeploymentGroupView, DeploymentType, GreenProvisioning, ReadyAction,
    TagFilter,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum TypeWire {
    BlueGreen,
    InPlace,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ProvisioningWire {
    DiscoverExisting,
    CopyAutoScalingGroup,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum BlueWire {
    Terminate,
    KeepAlive,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum ReadyWire {
    ContinueDeployment,
    StopDeployment,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum FilterType {
    #[default]
    KeyAndValue,
    KeyOnly,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a tag filter {\"key\", \"value\", \"type\"}")]
struct FilterWire {
    key: String,
    #[serde(default)]
    value: String,
    #[serde(default, rename = "type")]
    kind: FilterType,
}

fn yes() -> bool {
    true
}

/// `POST /_sim/deployment-groups`.
#[derive(Debug, Deserialize)]
#[serde(
    rename_all = "camelCase",
    deny_unknown_fields,
    expecting = "a deployment group setup {\"application\", \"deploymentGroup\", \"deploymentType\", …}"
)]
pub(super) struct DeploymentGroupSetup {
    application: String,
    deployment_group: String,
    deployment_type: TypeWire,
    green_fleet_provisioning: Option<ProvisioningWire>,
    blue_action: Option<BlueWire>,
    ready_action: Option<ReadyWire>,
    #[serde(default)]
    ready_wait_minutes: u32,
    ec2_tag_filters: Option<Vec<FilterWire>>,
    ec2_tag_set: Option<Vec<Vec<FilterWire>>>,
    #[serde(default = "yes")]
    load_balancer: bool,
}

fn filters(wire: Vec<FilterWire>, at: &str) -> Result<Vec<TagFilter>, String> {
    wire.into_iter()
        .enumerate()
        .map(|(i, f)| {
            if f.key.is_empty() {
                return Err(format!("{at}[{i}].key must not be empty"));
            }
            Ok(match f.kind {
                FilterType::KeyAndValue => TagFilter { key: f.key, value: f.value, key_only: false },
                FilterType::KeyOnly => TagFilter { key: f.key, value: String::new(), key_only: true },
            })
        })
        .collect()
}

impl DeploymentGroupSetup {
    /// The model's view and its READY wait, or what is wrong with the setup.
    pub(super) fn into_view(self) -> Result<(DeploymentGroupView, u32), String> {
        if self.application.is_empty() || self.deployment_group.is_empty() {
            return Err("application and deploymentGroup must not be empty".into());
        }
        let blue = match (self.ec2_tag_filters, self.ec2_tag_set) {
            (Some(_), Some(_)) => return Err("give ec2TagFilters or ec2TagSet, not both (as CodeDeploy)".into()),
            (f, None) => BlueSelector::Filters(filters(f.unwrap_or_default(), "ec2TagFilters")?),
            (None, Some(sets)) => BlueSelector::TagSet(
                sets.into_iter()
                    .enumerate()
                    .map(|(i, s)| filters(s, &format!("ec2TagSet[{i}]")))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let view = DeploymentGroupView {
            name: DeploymentGroupRef { application: self.application, deployment_group: self.deployment_group },
            deployment_type: match self.deployment_type {
                TypeWire::BlueGreen => DeploymentType::BlueGreen,
                TypeWire::InPlace => DeploymentType::InPlace,
            },
            green_provisioning: self.green_fleet_provisioning.map(|p| match p {
                ProvisioningWire::DiscoverExisting => GreenProvisioning::DiscoverExisting,
                ProvisioningWire::CopyAutoScalingGroup => GreenProvisioning::CopyAutoScalingGroup,
            }),
            blue_action: self.blue_action.map(|b| match b {
                BlueWire::Terminate => BlueAction::Terminate,
                BlueWire::KeepAlive => BlueAction::KeepAlive,
            }),
            ready_action: self.ready_action.map(|r| match r {
                ReadyWire::ContinueDeployment => ReadyAction::ContinueDeployment,
                ReadyWire::StopDeployment => ReadyAction::StopDeployment,
            }),
            blue,
            load_balancer: self.load_balancer,
        };
        Ok((view, self.ready_wait_minutes))
    }
}
