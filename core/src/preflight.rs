//! Preflight: the field facts F1–F4 (and the gates' needs) as named rules over what was read from
//! Spot and CodeDeploy. Each failure names the setting or tag to change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::cloud::{DeploymentGroupView, DeploymentType, GreenProvisioning, InstanceState, InstanceView, ReadyAction};
use crate::effect::Inspection;
use crate::ids::Tag;
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
    /// F1: it identifies blue by EC2 tags (`ec2TagFilters` or `ec2TagSet`).
    TagFilters,
    /// F1: Blue/Green moves traffic through a load balancer (`loadBalancerInfo`).
    LoadBalancer,
    /// The deployment group's tags select every running instance of the group in EC2: CodeDeploy's
    /// original fleet is whatever they select.
    FilterSelectsBlue,
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
            Self::TagFilters => "F1 EC2 tags identify blue",
            Self::LoadBalancer => "F1 load balancer",
            Self::FilterSelectsBlue => "F1 tags select every blue instance",
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
            if dg.deployment_type == DeploymentType::BlueGreen && !dg.load_balancer {
                push(
                    Rule::LoadBalancer,
                    format!(
                        "deployment group {dg_name} has no load balancer, and a Blue/Green deployment fails without one \
                         (MISSING_ELB_INFORMATION); set loadBalancerInfo.targetGroupInfoList to the target group that \
                         serves the application, with deploymentStyle.deploymentOption WITH_TRAFFIC_CONTROL"
                    ),
                );
            }
            let running: Vec<&InstanceView> =
                seen.instances.iter().filter(|i| i.state == InstanceState::Running).collect();
            for (rule, message) in blue_rules(dg, &group.tags, green_tags, &running, &req.rollout_tag()) {
                push(rule, message);
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

/// F1, F3 and F4 over how the deployment group selects blue, against the tags EC2 holds.
fn blue_rules(
    dg: &DeploymentGroupView,
    group_tags: &[Tag],
    green_tags: &[Tag],
    running: &[&InstanceView],
    rollout_tag: &Tag,
) -> Vec<(Rule, String)> {
    let name = &dg.name;
    let field = dg.blue.field();
    if dg.blue.is_empty() {
        return vec![(
            Rule::TagFilters,
            format!(
                "deployment group {name} has no EC2 tag filters or tag set, so CodeDeploy finds no original (blue) \
                 instances; {}",
                suggest_filter(running, group_tags, green_tags)
            ),
        )];
    }
    let mut out = Vec::new();
    if dg.blue.matches(group_tags) {
        out.push((
            Rule::GroupTagsNotInFilters,
            format!(
                "the deployment group's {field} `{}` match the Elastigroup's own tags, so every instance — green \
                 included — counts as blue and CodeDeploy would see no replacement instances (F3); use tags on the \
                 Elastigroup that identify the group, like Name and Owner, and keep blue/green tags off it",
                dg.blue
            ),
        ));
    } else {
        let mut green: Vec<Tag> = group_tags.to_vec();
        green.extend(green_tags.iter().cloned());
        green.push(rollout_tag.clone());
        if dg.blue.matches(&green) {
            out.push((
                Rule::GreenTagsDistinct,
                format!(
                    "green tags match the deployment group's {field} `{}`, so green would count as blue (F4); \
                     choose green tags the filter does not match",
                    dg.blue
                ),
            ));
        }
    }
    let missed: Vec<String> = running.iter().filter(|i| !dg.blue.matches(&i.tags)).map(|i| i.id.to_string()).collect();
    if !missed.is_empty() {
        let shown = missed.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
        let more = if missed.len() > 5 { format!(" and {} more", missed.len() - 5) } else { String::new() };
        out.push((
            Rule::FilterSelectsBlue,
            format!(
                "the deployment group's {field} `{}` do not select {} of the {} running instances in EC2 ({shown}{more}), \
                 so CodeDeploy would leave them out of the original fleet; {}",
                dg.blue,
                missed.len(),
                running.len(),
                suggest_filter(running, group_tags, green_tags)
            ),
        ));
    }
    out
}

/// What to filter on: a tag every running instance carries in EC2 that is neither the group's own
/// (F3) nor a green tag (F4), preferring the previous rollout's tag; or how to make one.
fn suggest_filter(running: &[&InstanceView], group_tags: &[Tag], green_tags: &[Tag]) -> String {
    let Some(first) = running.first() else {
        return "filter on a tag that only the current (blue) instances carry".to_owned();
    };
    let mut shared: Vec<&Tag> = first
        .tags
        .iter()
        .filter(|t| running.iter().all(|i| i.tags.contains(t)))
        .filter(|t| !group_tags.contains(t) && !green_tags.iter().any(|g| g.key == t.key && g.value == t.value))
        .collect();
    shared.sort_by_key(|t| (t.key != crate::request::ROLLOUT_TAG_KEY, t.key.clone(), t.value.clone()));
    match shared.first() {
        Some(t) => format!(
            "set the deployment group's EC2 tag filter to {}={} (KEY_AND_VALUE), which every running instance carries",
            t.key, t.value
        ),
        None => format!(
            "no tag is shared by every running instance apart from the Elastigroup's own: tag them (aws ec2 create-tags \
             --resources {} --tags Key=fleet,Value=blue) and filter on that tag",
            running.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(" ")
        ),
    }
}
