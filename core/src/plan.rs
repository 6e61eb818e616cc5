//! What a rollout would do, computed from the request and one [`Inspection`] of the live Elastigroup
//! and deployment group — the reads preflight makes — without changing anything (`greenfleet plan`).
//! The numbers follow the saga and Spot's behaviour: Spot launches as many green instances as run
//! and raises the target (and Max if needed) by that many (F5); after success the capacity goes back
//! to the snapshot (F8) and blue is removed — by CodeDeploy under TERMINATE, by greenfleet under
//! KEEP_ALIVE.

use serde::{Deserialize, Serialize};

use crate::cloud::{BlueAction, Capacity, DeploymentGroupRef, InstanceState, ReadyAction};
use crate::effect::Inspection;
use crate::ids::{InstanceId, RolloutId, Tag};
use crate::machine::HEALTH_FAILURES;
use crate::preflight::{self, Violation};
use crate::request::{ApprovalMode, HealthCheck, Revision, RolloutRequest, Timeouts};

/// The answer of `greenfleet plan`: whether the rollout would be accepted, and what it would do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanReport {
    /// The rollout the request would start.
    pub rollout_id: RolloutId,
    /// No violation and nothing blocking: the rollout would start changing things.
    pub accepted: bool,
    /// Preflight rules the live setup breaks, each with what to change.
    pub violations: Vec<Violation>,
    /// Found outside the preflight rules, would stop the rollout later (a Blue/Green already running).
    pub blockers: Vec<String>,
    /// Preflight warnings that would not stop it.
    pub warnings: Vec<String>,
    /// What it would do (also given when rejected, as far as it can be known).
    pub plan: Plan,
}

/// The steps a rollout would take, as numbers and names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The Elastigroup.
    pub elastigroup: GroupPlan,
    /// Capacity before, while green runs, and after.
    pub capacity: CapacityPlan,
    /// Green instances Spot would launch.
    pub launch: LaunchPlan,
    /// Blue instances that would go, and who removes them.
    pub remove: RemovePlan,
    /// The CodeDeploy deployment it would create.
    pub deployment: DeploymentPlan,
    /// What would happen at READY.
    pub gates: Gates,
    /// The deadlines of the waits.
    pub timeouts: Timeouts,
    /// Things worth knowing (instances still launching, capacity notes).
    pub notes: Vec<String>,
}

/// The Elastigroup as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupPlan {
    /// `sig-…`.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Running instances (blue).
    pub running: u32,
    /// Instances still launching (the rollout waits for them at Snapshot).
    pub pending: u32,
}

/// Capacity at each stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityPlan {
    /// Now: the snapshot the rollout would take.
    pub before: Capacity,
    /// While green and blue both run (Spot raises the target by the green count, Max if needed).
    pub during: Capacity,
    /// After success or rollback: the snapshot, restored and read back.
    pub after: Capacity,
}

/// Green instances to launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchPlan {
    /// How many (as many as run, F5).
    pub count: u32,
    /// The tags they would carry: `greenfleet:rollout=<id>` and the requested ones.
    pub tags: Vec<Tag>,
}

/// Blue instances that go after success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovePlan {
    /// Which.
    pub instances: Vec<InstanceId>,
    /// Who removes them: `CodeDeploy (TERMINATE)` or `greenfleet (KEEP_ALIVE)`.
    pub by: String,
}

/// The CodeDeploy deployment to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentPlan {
    /// Application and deployment group.
    pub deployment_group: DeploymentGroupRef,
    /// What it deploys.
    pub revision: Revision,
    /// The tags that find the green instances: the unique rollout tag alone (CodeDeploy ORs them).
    pub target_tags: Vec<Tag>,
    /// Its description (how a retry finds it, F11).
    pub description: String,
    /// The deployment group's action on blue, when known.
    pub blue_action: Option<BlueAction>,
    /// The deployment group's action at READY, when known.
    pub ready_action: Option<ReadyAction>,
    /// How the deployment group's original-fleet tags change after success, when it was read.
    pub blue_filter: Option<BlueFilterPlan>,
}

/// After success, greenfleet points the deployment group's tags at the new blue (`UpdateDeploymentGroup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueFilterPlan {
    /// `ec2TagFilters` or `ec2TagSet`.
    pub field: String,
    /// What it selects now.
    pub before: String,
    /// What it will select: this rollout's green, by its unique tag.
    pub after: String,
}

/// The gates at READY.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Gates {
    /// The health check against each green instance, if asked.
    pub health_check: Option<HealthCheck>,
    /// Consecutive failed rounds that fail the health gate.
    pub health_failures_allowed: u32,
    /// `auto` or `manual`.
    pub approval: ApprovalMode,
}

/// Computes the plan of `req` against what was read. Pure: the same inputs give the same plan.
#[must_use]
pub fn plan(req: &RolloutRequest, seen: &Inspection) -> PlanReport {
    let (violations, warnings) = match preflight::check(req, seen) {
        Ok(w) => (Vec::new(), w),
        Err(v) => (v, Vec::new()),
    };
    let mut blockers = Vec::new();
    if let Some(g) = seen.green.as_ref().filter(|g| !g.state.is_terminal()) {
        blockers.push(format!(
            "Elastigroup {} has Blue/Green deployment {} {}, started outside greenfleet: the rollout would be \
             rejected at Snapshot; wait for it to finish or stop it",
            seen.group.id,
            g.id,
            g.state.as_str()
        ));
    }
    let dg = seen.deployment_group.clone().flatten();
    let blue: Vec<InstanceId> =
        seen.instances.iter().filter(|i| i.state == InstanceState::Running).map(|i| i.id.clone()).collect();
    let pending = seen.instances.iter().filter(|i| i.state == InstanceState::Pending).count();
    let running = u32::try_from(blue.len()).unwrap_or(u32::MAX);
    let pending = u32::try_from(pending).unwrap_or(u32::MAX);
    let before = seen.group.capacity;
    let target = before.target.saturating_add(running);
    let during = Capacity { minimum: before.minimum, maximum: before.maximum.max(target), target };
    let blue_action = dg.as_ref().and_then(|d| d.blue_action);
    let mut notes = Vec::new();
    if pending > 0 {
        notes.push(format!(
            "{pending} instance(s) still launching: the rollout waits at Snapshot until the group settles, and then \
             launches as many green instances as run"
        ));
    }
    let by = match blue_action {
        Some(BlueAction::Terminate) => {
            notes.push(
                "CodeDeploy terminates blue (TERMINATE); greenfleet then checks capacity is back at the snapshot"
                    .into(),
            );
            "CodeDeploy (TERMINATE)"
        }
        _ => {
            notes.push(format!(
                "KEEP_ALIVE: Spot leaves capacity at {during} and never lowers it (F8); greenfleet detaches and \
                 terminates blue, restores {before} and reads it back"
            ));
            "greenfleet (KEEP_ALIVE)"
        }
    };
    let tags = req.all_green_tags();
    let plan = Plan {
        elastigroup: GroupPlan { id: seen.group.id.to_string(), name: seen.group.name.clone(), running, pending },
        capacity: CapacityPlan { before, during, after: before },
        launch: LaunchPlan { count: running, tags },
        remove: RemovePlan { instances: blue, by: by.to_owned() },
        deployment: DeploymentPlan {
            deployment_group: DeploymentGroupRef {
                application: req.application.clone(),
                deployment_group: req.deployment_group.clone(),
            },
            revision: req.revision.clone(),
            target_tags: vec![req.rollout_tag()],
            description: format!("greenfleet rollout {}", req.rollout_id()),
            blue_action,
            ready_action: dg.as_ref().and_then(|d| d.ready_action),
            blue_filter: dg.as_ref().map(|d| BlueFilterPlan {
                field: d.blue.field().to_owned(),
                before: d.blue.to_string(),
                after: d.blue.only(&req.rollout_tag()).to_string(),
            }),
        },
        gates: Gates {
            health_check: req.health_check.clone(),
            health_failures_allowed: HEALTH_FAILURES,
            approval: req.approval,
        },
        timeouts: req.timeouts,
        notes,
    };
    PlanReport {
        rollout_id: req.rollout_id(),
        accepted: violations.is_empty() && blockers.is_empty(),
        violations,
        blockers,
        warnings,
        plan,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::cloud::{
        BlueSelector, DeploymentGroupView, DeploymentType, GreenDeployment, GreenProvisioning, GreenState, GroupView,
        InstanceView, TagFilter,
    };
    use crate::ids::{ElastigroupId, GreenDeploymentId, Timestamp};
    use crate::preflight::Rule;

    use crate::scenarios::fixtures::{GROUP, ROLLOUT, request, tag};

    /// `running` blue instances (and `pending` launching) in a group of `capacity`, integrated with a
    /// correctly set up KEEP_ALIVE deployment group.
    fn seen(running: usize, pending: usize, capacity: Capacity) -> Inspection {
        let blue_tags = vec![tag("Name", "web"), tag("fleet", "blue")];
        let instance = |i: usize, state| InstanceView {
            id: InstanceId::parse(&format!("i-{i:04}")).unwrap(),
            state,
            private_ip: Some(format!("10.0.0.{i}")),
            tags: blue_tags.clone(),
        };
        let instances = (0..running)
            .map(|i| instance(i, InstanceState::Running))
            .chain((running..running + pending).map(|i| instance(i, InstanceState::Pending)))
            .collect();
        let name = DeploymentGroupRef { application: "web".into(), deployment_group: "web-bg".into() };
        Inspection {
            group: GroupView {
                id: ElastigroupId::parse(GROUP).unwrap(),
                name: "web".into(),
                capacity,
                tags: vec![tag("Name", "web")],
                codedeploy: vec![name.clone()],
            },
            instances,
            green: None,
            deployment_group: Some(Some(DeploymentGroupView {
                name,
                deployment_type: DeploymentType::BlueGreen,
                green_provisioning: Some(GreenProvisioning::DiscoverExisting),
                blue_action: Some(BlueAction::KeepAlive),
                ready_action: Some(ReadyAction::StopDeployment),
                blue: BlueSelector::Filters(vec![TagFilter {
                    key: "fleet".into(),
                    value: "blue".into(),
                    key_only: false,
                }]),
                load_balancer: true,
            })),
        }
    }

    fn cap(target: u32, minimum: u32, maximum: u32) -> Capacity {
        Capacity { minimum, maximum, target }
    }

    #[test]
    fn keep_alive_capacity_goes_up_by_the_green_count_and_back_to_the_snapshot() {
        let r = plan(&request(), &seen(1, 0, cap(1, 1, 1)));
        assert!(r.accepted, "{r:?}");
        assert_eq!(r.rollout_id.as_str(), ROLLOUT);
        let p = &r.plan;
        // F8's example: [Target 1, Min 1, Max 1] becomes [Target 2, Min 1, Max 2].
        assert_eq!(p.capacity, CapacityPlan { before: cap(1, 1, 1), during: cap(2, 1, 2), after: cap(1, 1, 1) });
        assert_eq!(p.launch.count, 1);
        assert_eq!(p.launch.tags, vec![tag("greenfleet:rollout", ROLLOUT), tag("version", "6.0")]);
        assert_eq!(p.remove.instances, vec![InstanceId::parse("i-0000").unwrap()]);
        assert_eq!(p.remove.by, "greenfleet (KEEP_ALIVE)");
        assert_eq!(p.deployment.target_tags, vec![tag("greenfleet:rollout", ROLLOUT)]);
        let filter = p.deployment.blue_filter.as_ref().unwrap();
        assert_eq!((filter.field.as_str(), filter.before.as_str()), ("ec2TagFilters", "fleet=blue"));
        assert_eq!(filter.after, format!("greenfleet:rollout={ROLLOUT}"));
        assert_eq!(p.deployment.ready_action, Some(ReadyAction::StopDeployment));
        assert!(p.notes.iter().any(|n| n.contains("F8")), "{:?}", p.notes);
    }

    #[test]
    fn max_is_raised_only_when_the_target_needs_it_and_pending_instances_are_noted() {
        let mut s = seen(2, 1, cap(3, 1, 8));
        if let Some(Some(dg)) = &mut s.deployment_group {
            dg.blue_action = Some(BlueAction::Terminate);
        }
        let r = plan(&request(), &s);
        assert!(r.accepted);
        assert_eq!(r.plan.capacity.during, cap(5, 1, 8), "two running → two green, Max 8 is room enough");
        assert_eq!(r.plan.launch.count, 2);
        assert_eq!((r.plan.elastigroup.running, r.plan.elastigroup.pending), (2, 1));
        assert_eq!(r.plan.remove.by, "CodeDeploy (TERMINATE)");
        assert!(r.plan.notes.iter().any(|n| n.contains("1 instance(s) still launching")), "{:?}", r.plan.notes);
        assert!(r.warnings.iter().any(|w| w.contains("TERMINATE")), "preflight's warning: {:?}", r.warnings);
    }

    #[test]
    fn every_violation_is_reported_and_the_plan_is_not_accepted() {
        let mut s = seen(2, 0, cap(2, 1, 2));
        s.group.codedeploy.clear();
        if let Some(Some(dg)) = &mut s.deployment_group {
            dg.blue = BlueSelector::Filters(vec![]);
        }
        let r = plan(&RolloutRequest { approval: ApprovalMode::Manual, ..request() }, &s);
        assert!(!r.accepted);
        let rules: Vec<Rule> = r.violations.iter().map(|v| v.rule).collect();
        assert_eq!(rules, [Rule::Integration, Rule::TagFilters]);
        assert_eq!(r.plan.gates.approval, ApprovalMode::Manual);
    }

    #[test]
    fn a_blue_green_running_outside_greenfleet_blocks_the_rollout() {
        let mut s = seen(2, 0, cap(2, 1, 2));
        s.green = Some(GreenDeployment {
            id: GreenDeploymentId::parse("cdbg-00000001").unwrap(),
            state: GreenState::Starting,
            tags: vec![],
        });
        let r = plan(&request(), &s);
        assert!(!r.accepted && r.violations.is_empty());
        assert!(r.blockers[0].contains("cdbg-00000001") && r.blockers[0].contains("rejected at Snapshot"));
    }

    #[test]
    fn the_deployment_description_is_the_one_the_saga_gives_its_deployment() {
        let saga = crate::machine::accept(request(), Timestamp(0)).next;
        let r = plan(&request(), &seen(1, 0, cap(1, 1, 1)));
        assert_eq!(r.plan.deployment.description, crate::machine::deployment_description(&saga));
    }
}
