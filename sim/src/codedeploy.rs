//! How CodeDeploy behaves for an EC2 Blue/Green deployment group with manually provisioned
//! (tag-identified) green instances: one active deployment per group, a lifecycle that advances one
//! step per `deployment_step_ms` (Created → START → fleets evaluated → installed → READY / SUCCESS),
//! the NO_INSTANCES failures behind F3 and F4, ContinueDeployment, StopDeployment and the READY wait.

use greenfleet_core::cloud::{
    BlueSelector, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentStatus, DeploymentType,
    DeploymentView, EventState, GreenProvisioning, InstanceCounts, InstanceState, ReadyAction,
};
use greenfleet_core::ids::{DeploymentId, InstanceId, Tag, Timestamp};
use greenfleet_core::ports::RemoteError;

use crate::events::uuid_from;
use crate::model::{Deployment, DeploymentGroupState, Model, Phase, TargetState, deployment_group_not_found};
use crate::spot::tag_list;

fn rejected(code: &str, message: String) -> RemoteError {
    RemoteError::Rejected { code: code.to_owned(), message }
}

impl Model {
    pub(crate) fn add_deployment_group(&mut self, view: DeploymentGroupView, ready_wait_minutes: u32) {
        self.deployment_groups.insert(view.name.clone(), DeploymentGroupState { view, ready_wait_minutes, created: 0 });
    }

    pub(crate) fn deployment_group(&self, group: &DeploymentGroupRef) -> Result<&DeploymentGroupState, RemoteError> {
        self.deployment_groups.get(group).ok_or_else(|| deployment_group_not_found(group))
    }

    /// `UpdateDeploymentGroup` changing only which tags select the original fleet.
    pub(crate) fn point_blue(&mut self, group: &DeploymentGroupRef, blue: &BlueSelector) -> Result<(), RemoteError> {
        let state = self.deployment_groups.get_mut(group).ok_or_else(|| deployment_group_not_found(group))?;
        state.view.blue = blue.clone();
        Ok(())
    }

    /// `CreateDeployment` with `targetInstances.tagFilters` = the green tags.
    pub(crate) fn create_deployment(&mut self, spec: &DeploymentSpec) -> Result<DeploymentId, RemoteError> {
        let dg = self.deployment_group(&spec.group)?;
        let name = &spec.group.deployment_group;
        if dg.view.deployment_type != DeploymentType::BlueGreen {
            return Err(rejected(
                "InvalidTargetInstancesException",
                format!(
                    "Target instances can only be given for a blue/green deployment; deployment group '{name}' is IN_PLACE"
                ),
            ));
        }
        if dg.view.green_provisioning != Some(GreenProvisioning::DiscoverExisting) {
            return Err(rejected(
                "InvalidTargetInstancesException",
                format!(
                    "Target instances need green fleet provisioning DISCOVER_EXISTING; deployment group '{name}' \
                     copies an Auto Scaling group"
                ),
            ));
        }
        if spec.target_tags.is_empty() {
            return Err(rejected(
                "InvalidTargetInstancesException",
                "targetInstances.tagFilters is empty: give the tags that identify the replacement instances".to_owned(),
            ));
        }
        if let Some(active) = self.deployments.iter().find(|d| d.group == spec.group && !d.status.is_terminal()) {
            return Err(rejected(
                "DeploymentLimitExceededException",
                format!("The Deployment Group '{name}' already has an active Deployment '{}'", active.id),
            ));
        }
        let id = self.next_deployment_id();
        let seq = self.deployments.len() as u64;
        self.deployments.push(Deployment {
            id: id.clone(),
            group: spec.group.clone(),
            description: spec.description.clone(),
            revision: spec.revision.clone(),
            target_tags: spec.target_tags.clone(),
            created_at: self.now,
            started_at: None,
            completed_at: None,
            status: DeploymentStatus::Created,
            error: None,
            phase: Phase::Created,
            next_at: Some(self.now.plus_ms(self.faults.deployment_step_ms)),
            targets: Vec::new(),
            instance_group_id: uuid_from(0x4000_0000_0000_0000 | seq),
            rolled_back_by: None,
            rollback_of: None,
        });
        if let Some(dg) = self.deployment_groups.get_mut(&spec.group) {
            dg.created += 1;
        }
        Ok(id)
    }

    /// The most recent deployment of `group` described exactly `description`, created at or after
    /// `created_after`, whatever its status.
    pub(crate) fn find_deployment(
        &self,
        group: &DeploymentGroupRef,
        description: &str,
        created_after: Timestamp,
    ) -> Result<Option<DeploymentId>, RemoteError> {
        self.deployment_group(group)?;
        Ok(self
            .deployments
            .iter()
            .rev()
            .find(|d| &d.group == group && d.description == description && d.created_at >= created_after)
            .map(|d| d.id.clone()))
    }

    /// `GetDeployment`.
    pub(crate) fn deployment_view(&self, id: &DeploymentId) -> Result<DeploymentView, RemoteError> {
        let d = &self.deployments[self.deployment_index(id)?];
        let mut overview = InstanceCounts::default();
        for (_, state) in &d.targets {
            match state {
                TargetState::InProgress => overview.in_progress += 1,
                TargetState::Ready => overview.ready += 1,
                TargetState::Succeeded => overview.succeeded += 1,
                TargetState::Failed => overview.failed += 1,
                TargetState::Skipped => {}
            }
        }
        Ok(DeploymentView {
            id: d.id.clone(),
            status: d.status.clone(),
            error: d.error.clone(),
            overview,
            rollback: d.rolled_back_by.clone(),
        })
    }

    /// `ContinueDeployment(READY_WAIT)`.
    pub(crate) fn continue_deployment(&mut self, id: &DeploymentId) -> Result<(), RemoteError> {
        let idx = self.deployment_index(id)?;
        let step = self.faults.deployment_step_ms;
        let now = self.now;
        let d = &mut self.deployments[idx];
        if d.status.is_terminal() {
            return Err(rejected(
                "DeploymentAlreadyCompletedException",
                format!("The deployment {id} has already completed ({})", d.status.as_str()),
            ));
        }
        if d.status != DeploymentStatus::Ready {
            return Err(rejected(
                "DeploymentIsNotInReadyStateException",
                format!("The deployment {id} is not in the Ready state (it is {})", d.status.as_str()),
            ));
        }
        d.status = DeploymentStatus::InProgress;
        d.phase = Phase::Rerouting;
        d.next_at = Some(now.plus_ms(step));
        Ok(())
    }

    /// `StopDeployment`. With `rollback` (autoRollbackEnabled), a deployment that had started is rolled
    /// back by a new deployment (`creator=codeDeployRollback`) that moves traffic back to the original
    /// fleet over two steps and holds the deployment group meanwhile.
    pub(crate) fn stop_deployment(&mut self, id: &DeploymentId, rollback: bool) -> Result<(), RemoteError> {
        let idx = self.deployment_index(id)?;
        let d = &mut self.deployments[idx];
        if d.status.is_terminal() {
            return Err(rejected(
                "DeploymentAlreadyCompletedException",
                format!("The deployment {id} has already completed ({})", d.status.as_str()),
            ));
        }
        let started = d.started_at.is_some();
        for (_, t) in &mut d.targets {
            if *t == TargetState::InProgress {
                *t = TargetState::Skipped;
            }
        }
        let error = ("MANUAL_STOP".to_owned(), "The deployment was stopped by a StopDeployment request".to_owned());
        self.finish(idx, DeploymentStatus::Stopped, Some(error), &EventState::Stop);
        if rollback && started {
            self.start_rollback(idx);
        }
        Ok(())
    }

    /// The rollback deployment of deployment `idx`: InProgress at once, Succeeded two steps later.
    fn start_rollback(&mut self, idx: usize) {
        let id = self.next_deployment_id();
        let seq = self.deployments.len() as u64;
        let of = &self.deployments[idx];
        let rollback = Deployment {
            id: id.clone(),
            group: of.group.clone(),
            description: String::new(),
            revision: of.revision.clone(),
            target_tags: Vec::new(),
            created_at: self.now,
            started_at: Some(self.now),
            completed_at: None,
            status: DeploymentStatus::InProgress,
            error: None,
            phase: Phase::Rerouting,
            next_at: Some(self.now.plus_ms(2 * self.faults.deployment_step_ms)),
            targets: Vec::new(),
            instance_group_id: uuid_from(0x4000_0000_0000_0000 | seq),
            rolled_back_by: None,
            rollback_of: Some(of.id.clone()),
        };
        self.deployments[idx].rolled_back_by = Some(id);
        self.deployments.push(rollback);
        let new = self.deployments.len() - 1;
        self.emit(new, &EventState::Start, None);
    }

    /// Applies the deployment's next scheduled step (it is due).
    pub(crate) fn step_deployment(&mut self, idx: usize) {
        let step = self.faults.deployment_step_ms;
        let now = self.now;
        let phase = self.deployments[idx].phase;
        self.deployments[idx].next_at = None;
        match phase {
            Phase::Created => {
                let d = &mut self.deployments[idx];
                d.status = DeploymentStatus::InProgress;
                d.started_at = Some(now);
                d.phase = Phase::Started;
                d.next_at = Some(now.plus_ms(step));
                self.emit(idx, &EventState::Start, None);
            }
            Phase::Started => self.evaluate_fleets(idx),
            Phase::Installing => self.install(idx),
            Phase::AwaitingContinue => {
                let group = &self.deployments[idx].group;
                let minutes = self.deployment_group(group).map_or(0, |g| g.ready_wait_minutes);
                let error = (
                    "TIMEOUT".to_owned(),
                    format!(
                        "The deployment was stopped: nobody continued it within the ready wait of {minutes} minutes"
                    ),
                );
                self.finish(idx, DeploymentStatus::Stopped, Some(error), &EventState::Stop);
            }
            Phase::Rerouting => {
                self.set_targets(idx, TargetState::Succeeded, &EventState::Success);
                self.finish(idx, DeploymentStatus::Succeeded, None, &EventState::Success);
            }
            Phase::Hung | Phase::Done => {}
        }
    }

    /// Finds the original fleet (whatever the deployment group's tags select: `ec2TagFilters` OR'ed,
    /// `ec2TagSet` AND'ed across sets) and the replacement fleet (every running EC2 instance of the
    /// account matching *any* of the target tag filters, which CodeDeploy ORs), as CodeDeploy does.
    fn evaluate_fleets(&mut self, idx: usize) {
        let d = &self.deployments[idx];
        let Ok(dg) = self.deployment_group(&d.group) else { return };
        if !dg.view.load_balancer {
            let message = format!(
                "The deployment group '{}' has no load balancer information: a blue/green deployment with traffic \
                 control needs loadBalancerInfo",
                d.group.deployment_group
            );
            self.finish(
                idx,
                DeploymentStatus::Failed,
                Some(("MISSING_ELB_INFORMATION".to_owned(), message)),
                &EventState::Failure,
            );
            return;
        }
        let blue = &dg.view.blue;
        let targeted = |tags: &[Tag]| d.target_tags.iter().any(|t| tags.contains(t));
        let replacement: Vec<_> =
            self.all_instances().filter(|i| i.state == InstanceState::Running && targeted(&i.tags)).collect();
        let green: Vec<InstanceId> =
            replacement.iter().filter(|i| !blue.matches(&i.tags)).map(|i| i.id.clone()).collect();
        if green.is_empty() {
            let (tags, filters) = (tag_list(&d.target_tags), blue.to_string());
            let message = if replacement.is_empty() || blue.matches(&d.target_tags) {
                // F4 (or F5 not waited for): the target tags select nothing running, or blue itself.
                format!(
                    "No instances found in the green fleet: no running instance carries any of the target tags \
                     [{tags}] without also being in the original fleet (tags [{filters}])"
                )
            } else {
                // F3/F4: green exists but also matches the group's tags, so it counts as original.
                format!(
                    "The deployment has no replacement instances: the instances tagged [{tags}] also match the \
                     deployment group's tags [{filters}], so every instance is part of the original fleet"
                )
            };
            self.finish(
                idx,
                DeploymentStatus::Failed,
                Some(("NO_INSTANCES".to_owned(), message)),
                &EventState::Failure,
            );
            return;
        }
        let step = self.faults.deployment_step_ms;
        let d = &mut self.deployments[idx];
        d.targets = green.into_iter().map(|i| (i, TargetState::InProgress)).collect();
        d.phase = Phase::Installing;
        d.next_at = Some(self.now.plus_ms(step));
        for i in d.targets.iter().map(|(i, _)| i.clone()).collect::<Vec<_>>() {
            self.emit(idx, &EventState::Start, Some(&i));
        }
    }

    /// The revision is installed: failure fault, hang fault, READY or SUCCESS.
    fn install(&mut self, idx: usize) {
        let group = self.deployments[idx].group.clone();
        if let Some(fault) = self.faults.fail_deployments.get(&group).cloned() {
            self.set_targets(idx, TargetState::Failed, &EventState::Failure);
            let error = Some((fault.code, fault.message));
            self.finish(idx, DeploymentStatus::Failed, error, &EventState::Failure);
            return;
        }
        if self.faults.hang_deployments.contains(&group) {
            self.deployments[idx].phase = Phase::Hung;
            return;
        }
        let Ok(dg) = self.deployment_group(&group) else { return };
        if dg.ready_action() == ReadyAction::StopDeployment {
            let wait_ms = u64::from(dg.ready_wait_minutes) * 60_000;
            self.set_targets(idx, TargetState::Ready, &EventState::Ready);
            let d = &mut self.deployments[idx];
            d.status = DeploymentStatus::Ready;
            d.phase = Phase::AwaitingContinue;
            d.next_at = Some(self.now.plus_ms(wait_ms));
            self.emit(idx, &EventState::Ready, None);
        } else {
            self.set_targets(idx, TargetState::Succeeded, &EventState::Success);
            self.finish(idx, DeploymentStatus::Succeeded, None, &EventState::Success);
        }
    }

    /// Moves every unfinished replacement instance to `state`, with one instance event each.
    fn set_targets(&mut self, idx: usize, state: TargetState, event: &EventState) {
        let mut changed = Vec::new();
        for (i, t) in &mut self.deployments[idx].targets {
            if matches!(t, TargetState::InProgress | TargetState::Ready) {
                *t = state;
                changed.push(i.clone());
            }
        }
        for i in &changed {
            self.emit(idx, event, Some(i));
        }
    }

    /// Ends a deployment with a deployment event, and lets Spot see it.
    fn finish(&mut self, idx: usize, status: DeploymentStatus, error: Option<(String, String)>, event: &EventState) {
        let d = &mut self.deployments[idx];
        d.status = status;
        d.error = error;
        d.phase = Phase::Done;
        d.next_at = None;
        d.completed_at = Some(self.now);
        self.emit(idx, event, None);
        self.spot_follow(idx);
    }
}
