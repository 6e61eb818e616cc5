//! Preflight: the field facts F1–F4 (and the gates' needs) as named rules over what was read from
//! Spot and CodeDeploy. Each failure names the setting or tag to change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::{DeploymentType, GreenProvisioning, InstanceState, ReadyAction};
use crate::effect::Inspection;
use crate::request::{ApprovalMode, RolloutRequest};

/// A preflight rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Rule {
    /// F1: the deployment group exists.
    DeploymentGroupExists,
    /// F1: it is BLUE_GREEN.
    BlueGreenStyle,
    /// F1: green fleet provisioning is DISCOVER_EXISTING ("manually provision instances").
    DiscoverExisting,
    /// F1: it identifies blue by EC2 tag filters.
    TagFilters,
    /// F2: the Elastigroup's CodeDeploy integration names this application and deployment group.
    Integration,
    /// F3: the Elastigroup's own tags must not match the deployment group's tag filters.
    GroupTagsNotInFilters,
    /// F4: green tags must differ from blue's and from the deployment group's filters.
    GreenTagsDistinct,
    /// The group has running instances to replace.
    HasInstances,
    /// Approval or health gates need the deployment group to wait at READY.
    GatesNeedReadyWait,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Self::DeploymentGroupExists => "F1 deployment group exists",
            Self::BlueGreenStyle => "F1 blue/green deployment type",
            Self::DiscoverExisting => "F1 discover existing instances",
            Self::TagFilters => "F1 EC2 tag filters",
            Self::Integration => "F2 Elastigroup CodeDeploy integration",
            Self::GroupTagsNotInFilters => "F3 group tags are not blue/green tags",
            Self::GreenTagsDistinct => "F4 green tags differ from blue",
            Self::HasInstances => "group has running instances",
            Self::GatesNeedReadyWait => "gates need a READY wait",
        };
        f.write_str(s)
    }
}

/// A rule that failed, with what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which rule.
    pub rule: Rule,
    /// What is wrong and what to do.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.rule, self.message)
    }
}

/// The verdict: warnings that do not stop the rollout, or the violations that do.
pub type Verdict = Result<Vec<String>, Vec<Violation>>;

/// Checks every rule against what was read; all violations are reported together.
pub fn check(req: &RolloutRequest, seen: &Inspection) -> Verdict {
    let mut v = Vec::new();
    let mut warnings = Vec::new();
    let dg_name = format!("{}/{}", req.application, req.deployment_group);
    let group = &seen.group;
    let mut push = |rule, message: String| v.push(Violation { rule, message });

    if !group.codedeploy.iter().any(|d| d.application == req.application && d.deployment_group == req.deployment_group)
    {
        let has = if group.codedeploy.is_empty() {
            "it has no CodeDeploy integration".to_owned()
        } else {
            let names: Vec<String> = group.codedeploy.iter().map(ToString::to_string).collect();
            format!("it names {}", names.join(", "))
        };
        push(
            Rule::Integration,
            format!(
                "Elastigroup {} is not integrated with CodeDeploy deployment group {dg_name} ({has}); add it under \
                 thirdPartiesIntegration.codeDeploy.deploymentGroups (Spot console → Elastigroup → Integrations → CodeDeploy)",
                group.id
            ),
        );
    }
    let running = seen.instances.iter().filter(|i| i.state == InstanceState::Running).count();
    if running == 0 {
        push(
            Rule::HasInstances,
            format!(
                "Elastigroup {} has no running instance; Spot launches as many green instances as run (F5), so there is nothing to replace",
                group.id
            ),
        );
    }
    let green_tags = &req.green_tags;
    for t in green_tags {
        let on_all_blue = running > 0
            && seen.instances.iter().filter(|i| i.state == InstanceState::Running).all(|i| i.tags.contains(t));
        if on_all_blue || group.tags.contains(t) {
            push(
                Rule::GreenTagsDistinct,
                format!(
                    "green tag `{t}` is already carried by the blue instances, so CodeDeploy would find no instances in \
                     the green fleet (F4); give green a new value for `{}` (for example the version you deploy)",
                    t.key
                ),
            );
        }
    }
    match &seen.deployment_group {
        None | Some(None) => push(
            Rule::DeploymentGroupExists,
            format!(
                "CodeDeploy deployment group {dg_name} does not exist; create it as BLUE_GREEN with 'manually provision instances' and EC2 tag filters"
            ),
        ),
        Some(Some(dg)) => {
            if dg.deployment_type != DeploymentType::BlueGreen {
                push(
                    Rule::BlueGreenStyle,
                    format!("deployment group {dg_name} is IN_PLACE; set deploymentStyle.deploymentType to BLUE_GREEN"),
                );
            }
            if dg.deployment_type == DeploymentType::BlueGreen
                && dg.green_provisioning != Some(GreenProvisioning::DiscoverExisting)
            {
                push(
                    Rule::DiscoverExisting,
                    format!(
                        "deployment group {dg_name} copies an Auto Scaling group; set greenFleetProvisioningOption.action \
                         to DISCOVER_EXISTING ('manually provision instances') so it deploys to the instances Spot launches"
                    ),
                );
            }
            if dg.ec2_tag_filters.is_empty() {
                push(
                    Rule::TagFilters,
                    format!(
                        "deployment group {dg_name} has no EC2 tag filters; add filters that identify the current (blue) instances"
                    ),
                );
            }
            for f in &dg.ec2_tag_filters {
                if f.matches(&group.tags) {
                    push(
                        Rule::GroupTagsNotInFilters,
                        format!(
                            "the deployment group's tag filter `{f}` is also an Elastigroup tag, so every instance — green \
                             included — counts as blue and CodeDeploy would see no replacement instances (F3); use tags \
                             on the Elastigroup that identify the group, like Name and Owner, and keep blue/green tags off it"
                        ),
                    );
                }
                if f.matches(green_tags) {
                    push(
                        Rule::GreenTagsDistinct,
                        format!(
                            "green tags match the deployment group's tag filter `{f}`, so green would count as blue (F4); \
                             choose green tags the filter does not match"
                        ),
                    );
                }
            }
            let gated = req.approval == ApprovalMode::Manual || req.health_check.is_some();
            if gated && dg.ready_action != Some(ReadyAction::StopDeployment) {
                push(
                    Rule::GatesNeedReadyWait,
                    format!(
                        "manual approval and health checks need deployment group {dg_name} to wait at READY; set \
                         blueGreenDeploymentConfiguration.deploymentReadyOption.actionOnTimeout to STOP_DEPLOYMENT"
                    ),
                );
            }
            if dg.blue_action == Some(crate::cloud::BlueAction::Terminate) {
                warnings.push(format!(
                    "deployment group {dg_name} terminates blue itself (TERMINATE); KEEP_ALIVE lets greenfleet scale blue down and restore capacity (F8)"
                ));
            }
        }
    }
    if v.is_empty() { Ok(warnings) } else { Err(v) }
}
