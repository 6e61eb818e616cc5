//! How an Elastigroup behaves: capacity and the reconciliation of its instance count, detaching
//! instances, and Spot's CodeDeploy Blue/Green deployment — launching green (tags landing late, F5),
//! raising capacity (F8), and following CodeDeploy to Finished (blue handled per the deployment
//! group's blue action) or Failed (green and raised capacity left behind, F7).

use greenfleet_core::cloud::{
    BlueAction, Capacity, DeploymentStatus, GreenDeployment, GreenSpec, GreenState, GroupInstance, GroupView,
    InstanceState,
};
use greenfleet_core::ids::{ElastigroupId, GreenDeploymentId, InstanceId, Tag, Timestamp};
use greenfleet_core::ports::RemoteError;

use crate::faults::BlueAfterSuccess;
use crate::model::{BlueGreen, DeploymentGroupState, GroupSetup, Instance, Model};

fn rejected(code: &str, message: String) -> RemoteError {
    RemoteError::Rejected { code: code.to_owned(), message }
}

/// `a=1, b=2`, for messages.
pub(crate) fn tag_list(tags: &[Tag]) -> String {
    tags.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

impl Model {
    /// Creates a group with `capacity.target` Running instances carrying group + blue tags.
    pub(crate) fn add_group(&mut self, setup: GroupSetup) {
        let mut instances = Vec::new();
        for _ in 0..setup.capacity.target {
            let mut tags = setup.group_tags.clone();
            tags.extend(setup.blue_tags.iter().cloned());
            instances.push(self.running_instance(tags));
        }
        let group = crate::model::Group {
            id: setup.id.clone(),
            name: setup.name,
            capacity: setup.capacity,
            group_tags: setup.group_tags,
            codedeploy: setup.codedeploy,
            instances,
            greens: Vec::new(),
            green_starts: 0,
        };
        self.groups.insert(setup.id, group);
    }

    pub(crate) fn group_view(&self, id: &ElastigroupId) -> Result<GroupView, RemoteError> {
        let g = self.group(id)?;
        Ok(GroupView {
            id: g.id.clone(),
            name: g.name.clone(),
            capacity: g.capacity,
            tags: g.group_tags.clone(),
            codedeploy: g.codedeploy.clone(),
        })
    }

    pub(crate) fn instance_views(&self, id: &ElastigroupId) -> Result<Vec<GroupInstance>, RemoteError> {
        Ok(self.group(id)?.instances.iter().map(Instance::spot_view).collect())
    }

    /// `PUT …/capacity`: validated, then the instance count follows the target (unless a B/G runs).
    pub(crate) fn set_capacity(&mut self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError> {
        let group = self.group_mut(id)?;
        if !(capacity.minimum <= capacity.target && capacity.target <= capacity.maximum) {
            return Err(rejected(
                "INVALID_CAPACITY",
                format!(
                    "capacity {capacity} of Elastigroup {id} is invalid: minimum <= target <= maximum must hold; \
                     raise the maximum or lower the minimum"
                ),
            ));
        }
        group.capacity = capacity;
        self.reconcile(id);
        Ok(())
    }

    /// `PUT …/detachInstances` with terminate + decrement: ids not (or no longer) in the group are ignored.
    pub(crate) fn detach(&mut self, id: &ElastigroupId, ids: &[InstanceId]) -> Result<(), RemoteError> {
        self.group(id)?;
        let mut removed = 0;
        for instance in ids {
            if self.terminate(id, instance) {
                removed += 1;
            }
        }
        let group = self.group_mut(id)?;
        let c = &mut group.capacity;
        c.target = c.target.saturating_sub(removed);
        c.minimum = c.minimum.min(c.target);
        self.reconcile(id);
        Ok(())
    }

    /// Terminates one active instance of `group`; false when it is not there (or already going).
    fn terminate(&mut self, group: &ElastigroupId, instance: &InstanceId) -> bool {
        let (now, delay) = (self.now, self.faults.terminate_delay_ms);
        let Some(g) = self.groups.get_mut(group) else { return false };
        let Some(pos) = g.instances.iter().position(|i| &i.id == instance && i.is_active()) else { return false };
        if delay == 0 {
            g.instances.remove(pos);
        } else {
            let i = &mut g.instances[pos];
            i.state = InstanceState::Terminating;
            i.gone_at = Some(now.plus_ms(delay));
        }
        true
    }

    /// Launches `n` Pending instances with the group's tags; `late_tags` land after Running (F5).
    fn launch(&mut self, group: &ElastigroupId, n: u32, late_tags: &[Tag], green_of: Option<&GreenDeploymentId>) {
        let green = green_of.is_some();
        let delay = if green { self.faults.green_launch_delay_ms } else { self.faults.launch_delay_ms };
        let never = green && self.faults.green_never_ready;
        let running_at = (!never).then(|| self.now.plus_ms(delay));
        let tag_delay_ms = self.faults.tag_delay_ms;
        let Some(tags) = self.groups.get(group).map(|g| g.group_tags.clone()) else { return };
        for _ in 0..n {
            let instance = Instance {
                id: self.next_instance_id(),
                state: InstanceState::Pending,
                ip: self.next_ip(),
                created_at: self.now,
                tags: tags.clone(),
                running_at,
                late_tags: late_tags.iter().filter(|t| !tags.contains(t)).cloned().collect(),
                tag_delay_ms,
                gone_at: None,
                green_of: green_of.cloned(),
            };
            if let Some(g) = self.groups.get_mut(group) {
                g.instances.push(instance);
            }
        }
    }

    /// Brings the number of active instances to the target, unless a Blue/Green deployment runs.
    pub(crate) fn reconcile(&mut self, id: &ElastigroupId) {
        let Some(g) = self.groups.get(id) else { return };
        if g.active_green().is_some() {
            return;
        }
        let active: Vec<InstanceId> = g.instances.iter().filter(|i| i.is_active()).map(|i| i.id.clone()).collect();
        let target = g.capacity.target as usize;
        if active.len() < target {
            let missing = u32::try_from(target - active.len()).unwrap_or(u32::MAX);
            self.launch(id, missing, &[], None);
        } else {
            // Scale down by terminating the newest instances first.
            for victim in active.iter().skip(target).rev() {
                self.terminate(id, victim);
            }
        }
    }

    /// `POST …/codeDeploy/blueGreenDeployment`.
    pub(crate) fn start_green(&mut self, id: &ElastigroupId, spec: &GreenSpec) -> Result<GreenDeployment, RemoteError> {
        let first_deployment = self.deployments.len();
        let now = self.now;
        let group = self.group(id)?;
        if let Some(bg) = group.active_green() {
            return Err(rejected(
                "DEPLOYMENT_ALREADY_IN_PROGRESS",
                format!(
                    "Elastigroup {id} already has a CodeDeploy Blue/Green deployment {} in state {}; \
                     wait for it to end or stop it first",
                    bg.view.id,
                    bg.view.state.as_str()
                ),
            ));
        }
        if !group.codedeploy.contains(&spec.deployment_group) {
            let configured = group.codedeploy.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
            return Err(rejected(
                "CODEDEPLOY_INTEGRATION_MISSING",
                format!(
                    "Elastigroup {id} has no CodeDeploy integration for deployment group {} (configured: [{configured}]); \
                     add it under thirdPartiesIntegration.codeDeploy.deploymentGroups",
                    spec.deployment_group
                ),
            ));
        }
        if spec.tags.is_empty() {
            return Err(rejected(
                "VALIDATION_ERROR",
                format!("deployment.tags is empty: give the tags the green instances of Elastigroup {id} should carry"),
            ));
        }
        let blue: Vec<InstanceId> =
            group.instances.iter().filter(|i| i.state == InstanceState::Running).map(|i| i.id.clone()).collect();
        let pre_capacity = group.capacity;
        let n = u32::try_from(blue.len()).unwrap_or(u32::MAX);

        let green_id = self.next_green_id();
        let before = self.group(id)?.instances.len();
        self.launch(id, n, &spec.tags, Some(&green_id));
        let group = self.group_mut(id)?;
        let green = group.instances[before..].iter().map(|i| i.id.clone()).collect();
        group.capacity.target = pre_capacity.target.saturating_add(n);
        group.capacity.maximum = pre_capacity.maximum.max(group.capacity.target);
        let view = GreenDeployment { id: green_id, state: GreenState::Starting, tags: spec.tags.clone() };
        group.greens.push(BlueGreen {
            view: view.clone(),
            deployment_group: spec.deployment_group.clone(),
            timeout_minutes: spec.timeout_minutes,
            deadline: now.plus_ms(u64::from(spec.timeout_minutes) * 60_000),
            pre_capacity,
            blue,
            green,
            first_deployment,
            finish_at: None,
        });
        group.green_starts += 1;
        self.settle_greens();
        Ok(view)
    }

    /// `GET …/blueGreenDeployment`: the latest, whatever its state.
    pub(crate) fn green(&self, id: &ElastigroupId) -> Result<Option<GreenDeployment>, RemoteError> {
        Ok(self.group(id)?.greens.last().map(|bg| bg.view.clone()))
    }

    /// `PUT …/blueGreenDeployment/{id}/stop`: instances stay as they are; stopping a finished one is a no-op.
    pub(crate) fn stop_green(&mut self, id: &ElastigroupId, green: &GreenDeploymentId) -> Result<(), RemoteError> {
        let group = self.group_mut(id)?;
        let bg = group.greens.iter_mut().find(|bg| &bg.view.id == green).ok_or_else(|| {
            RemoteError::NotFound(format!("Blue/Green deployment {green} not found in Elastigroup {id}"))
        })?;
        if !bg.view.state.is_terminal() {
            bg.view.state = GreenState::Stopped;
            self.reconcile(id);
        }
        Ok(())
    }

    /// Starting → InProgress once every green instance still in the group is Running and tagged.
    pub(crate) fn settle_greens(&mut self) {
        for g in self.groups.values_mut() {
            let instances = &g.instances;
            if let Some(bg) = g.greens.last_mut().filter(|bg| bg.view.state == GreenState::Starting) {
                let ready = instances
                    .iter()
                    .filter(|i| i.is_active() && bg.green.contains(&i.id))
                    .all(|i| i.state == InstanceState::Running && i.late_tags.is_empty());
                if ready {
                    bg.view.state = GreenState::InProgress;
                }
            }
        }
    }

    /// Spot ends its Blue/Green deployment after CodeDeploy succeeded: FINISHED, and blue handled as
    /// the `blue_after_success` knob says (Spot's documents do not say which).
    pub(crate) fn green_finished(&mut self, id: &ElastigroupId, blue_action: BlueAction) {
        let detach = match self.faults.blue_after_success {
            BlueAfterSuccess::FollowDeploymentGroup => blue_action == BlueAction::Terminate,
            BlueAfterSuccess::Detach => true,
            BlueAfterSuccess::Leave => false,
        };
        let Some(bg) = self.groups.get_mut(id).and_then(|g| g.greens.last_mut()) else { return };
        bg.view.state = GreenState::Finished;
        bg.finish_at = None;
        if detach {
            let (blue, pre) = (bg.blue.clone(), bg.pre_capacity);
            for b in &blue {
                self.terminate(id, b);
            }
            if let Some(g) = self.groups.get_mut(id) {
                g.capacity = pre;
            }
        }
        self.reconcile(id);
    }

    /// A Blue/Green deployment whose CodeDeploy deployment succeeded finishes now (its delay passed).
    pub(crate) fn green_finish_due(&mut self, id: &ElastigroupId) {
        let dg = self.groups.get(id).and_then(|g| g.greens.last()).map(|bg| bg.deployment_group.clone());
        let blue_action = dg
            .and_then(|dg| self.deployment_groups.get(&dg).map(DeploymentGroupState::blue_action))
            .unwrap_or(BlueAction::KeepAlive);
        self.green_finished(id, blue_action);
    }

    /// Spot's deadline passed with no deployment succeeding: Failed, green left (F7).
    pub(crate) fn green_timed_out(&mut self, id: &ElastigroupId) {
        if let Some(bg) = self.groups.get_mut(id).and_then(|g| g.greens.last_mut())
            && !bg.view.state.is_terminal()
        {
            bg.view.state = GreenState::Failed;
        }
        self.reconcile(id);
    }

    /// The deadline of the group's running Blue/Green deployment, if any (none once CodeDeploy succeeded
    /// and Spot only has to finish).
    pub(crate) fn green_deadline(group: &crate::model::Group) -> Option<Timestamp> {
        group.active_green().filter(|bg| bg.finish_at.is_none()).map(|bg| bg.deadline)
    }

    /// When the group's Blue/Green deployment finishes after CodeDeploy's success, if it waits to.
    pub(crate) fn green_finish(group: &crate::model::Group) -> Option<Timestamp> {
        group.active_green().and_then(|bg| bg.finish_at)
    }

    /// Spot follows CodeDeploy: a deployment of the B/G's deployment group, created after the start, ended.
    pub(crate) fn spot_follow(&mut self, deployment: usize) {
        // A rollback deployment's end is no verdict on the Blue/Green: Spot failed it with the stop.
        let Some(d) = self.deployments.get(deployment).filter(|d| d.rollback_of.is_none()) else { return };
        let (dg, status) = (d.group.clone(), d.status.clone());
        let blue_action =
            self.deployment_groups.get(&dg).map_or(BlueAction::KeepAlive, DeploymentGroupState::blue_action);
        let ids: Vec<ElastigroupId> = self.groups.keys().cloned().collect();
        for id in ids {
            let Some(bg) = self.groups.get_mut(&id).and_then(|g| g.greens.last_mut()) else { continue };
            if bg.view.state.is_terminal() || bg.deployment_group != dg || deployment < bg.first_deployment {
                continue;
            }
            match status {
                DeploymentStatus::Succeeded => {
                    let delay = self.faults.spot_finish_delay_ms;
                    if delay > 0 {
                        bg.finish_at = Some(self.now.plus_ms(delay));
                        continue;
                    }
                    self.green_finished(&id, blue_action);
                }
                DeploymentStatus::Failed | DeploymentStatus::Stopped => bg.view.state = GreenState::Failed,
                _ => continue,
            }
            self.reconcile(&id);
        }
    }
}
