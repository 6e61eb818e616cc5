//! [`Cloud`], the cheap-to-clone handle on the model: setup, ticking, events, fault knobs and the
//! inspection methods tests assert on. The port traits are implemented for it in `ports`.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use greenfleet_core::cloud::{Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentStatus, InstanceState};
use greenfleet_core::ids::{DeploymentId, ElastigroupId, Timestamp};
use greenfleet_core::ports::{Clock, RemoteError};

use crate::faults::Faults;
use crate::model::{GroupSetup, GroupState, Instance, Model};

/// The simulated cloud (Spot Elastigroups + CodeDeploy). Clones share one model; time comes only from
/// the clock given to [`Cloud::new`], and the model catches up with it on [`Cloud::tick`] and on every
/// port call.
#[derive(Clone)]
pub struct Cloud {
    model: Arc<Mutex<Model>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cloud").field("now", &self.clock.now()).finish_non_exhaustive()
    }
}

impl Cloud {
    /// Port calls made so far, per operation: what a real Spot API and CodeDeploy would have served.
    #[must_use]
    pub fn api_calls(&self) -> std::collections::BTreeMap<String, u64> {
        self.lock().api_calls.clone()
    }

    /// Port calls made so far that change something ([`crate::WRITE_OPS`]), per operation; empty when
    /// only reads were made (what `greenfleet plan` promises).
    #[must_use]
    pub fn api_writes(&self) -> std::collections::BTreeMap<String, u64> {
        let mut calls = self.api_calls();
        calls.retain(|op, _| crate::faults::WRITE_OPS.contains(&op.as_str()));
        calls
    }

    /// An empty cloud whose time is `clock`.
    #[must_use]
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        let model = Model::new(clock.now());
        Self { model: Arc::new(Mutex::new(model)), clock }
    }

    /// The model, caught up with the clock. A panic in another holder cannot leave the model half
    /// updated in a way that matters to a simulation, so a poisoned lock is simply taken over.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Model> {
        let mut model = self.model.lock().unwrap_or_else(PoisonError::into_inner);
        model.advance(self.clock.now());
        model
    }

    /// The clock's reading (not the model's: the model catches up only when locked).
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Creates an Elastigroup with `capacity.target` Running (blue) instances. Replaces a group with the same id.
    pub fn add_group(&self, setup: GroupSetup) {
        self.lock().add_group(setup);
    }

    /// Creates a CodeDeploy deployment group. With ready action `StopDeployment`, a Ready deployment
    /// waits `ready_wait_minutes` for ContinueDeployment before it is Stopped.
    pub fn add_deployment_group(&self, view: DeploymentGroupView, ready_wait_minutes: u32) {
        self.lock().add_deployment_group(view, ready_wait_minutes);
    }

    /// A running EC2 instance that belongs to no Elastigroup (another application's, a leftover), with
    /// `tags`: CodeDeploy's tag filters see it as much as any group's instance.
    pub fn add_instance(&self, tags: Vec<greenfleet_core::ids::Tag>) -> greenfleet_core::ids::InstanceId {
        self.lock().add_loose_instance(tags)
    }

    /// A deployment group as CodeDeploy would describe it now (its original-fleet tags change after
    /// each successful rollout).
    #[must_use]
    pub fn deployment_group_view(&self, group: &DeploymentGroupRef) -> Option<DeploymentGroupView> {
        self.lock().deployment_groups.get(group).map(|g| g.view.clone())
    }

    /// The deployments that targeted an instance, by id (to prove an instance was never deployed to).
    #[must_use]
    pub fn deployments_targeting(&self, instance: &greenfleet_core::ids::InstanceId) -> Vec<DeploymentId> {
        let model = self.lock();
        model
            .deployments
            .iter()
            .filter(|d| d.targets.iter().any(|(i, _)| i == instance))
            .map(|d| d.id.clone())
            .collect()
    }

    /// Applies everything scheduled up to the clock's now, in time order.
    pub fn tick(&self) {
        drop(self.lock());
    }

    /// When the earliest scheduled happening is due (it may already be past if nobody ticked), so a
    /// test can move a manual clock straight to it. `None`: nothing will happen without a call.
    #[must_use]
    pub fn next_due(&self) -> Option<Timestamp> {
        self.lock().next_due().map(|(t, _)| t)
    }

    /// The CodeDeploy state-change events published since the last drain, oldest first, each the
    /// EventBridge envelope JSON an SQS queue would receive.
    #[must_use]
    pub fn drain_events(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().events)
    }

    /// Reads or changes the fault knobs, e.g. `cloud.faults(|f| f.drop_next_events = 2)`.
    pub fn faults<R>(&self, change: impl FnOnce(&mut Faults) -> R) -> R {
        change(&mut self.lock().faults)
    }

    /// Capacity, instances (with their current tags) and latest Blue/Green deployment of a group.
    #[must_use]
    pub fn group_state(&self, id: &ElastigroupId) -> Option<GroupState> {
        let model = self.lock();
        let g = model.groups.get(id)?;
        Some(GroupState {
            capacity: g.capacity,
            instances: g.instances.iter().map(Instance::view).collect(),
            green: g.greens.last().map(|bg| bg.view.clone()),
        })
    }

    /// How many Blue/Green deployments were started on the group (calls that took effect).
    #[must_use]
    pub fn green_starts(&self, id: &ElastigroupId) -> u32 {
        self.lock().groups.get(id).map_or(0, |g| g.green_starts)
    }

    /// How many deployments were created in the deployment group (calls that took effect).
    #[must_use]
    pub fn deployments_created(&self, group: &DeploymentGroupRef) -> u32 {
        self.lock().deployment_groups.get(group).map_or(0, |g| g.created)
    }

    /// A deployment's status, if it exists.
    #[must_use]
    pub fn deployment_status(&self, id: &DeploymentId) -> Option<DeploymentStatus> {
        self.lock().deployments.iter().find(|d| &d.id == id).map(|d| d.status.clone())
    }

    /// Someone changes the group's capacity outside greenfleet (the console, an autoscaler). Same
    /// rules as `set_capacity`, but never subject to scripted API faults.
    ///
    /// # Errors
    /// `NotFound` for an unknown group, `Rejected` (`INVALID_CAPACITY`) unless minimum <= target <= maximum.
    pub fn set_capacity_external(&self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError> {
        self.lock().set_capacity(id, capacity)
    }

    /// Whether a health check against this instance (by instance id or private IP) would pass: it
    /// exists, is Running, and no fault marks it unhealthy.
    #[must_use]
    pub fn is_healthy(&self, instance_or_ip: &str) -> bool {
        let model = self.lock();
        // IPs wrap around, so an address belongs to the newest instance holding it.
        let found = model
            .all_instances()
            .filter(|i| i.id.as_str() == instance_or_ip || i.ip == instance_or_ip)
            .max_by_key(|i| i.id.clone());
        found.is_some_and(|i| {
            i.state == InstanceState::Running
                && !model.faults.unhealthy.contains(&i.id)
                && !(model.faults.all_green_unhealthy && i.green_of.is_some())
        })
    }

    /// The private IPs of every instance the model lists (any state), for the health face: each
    /// answers health checks on its own loopback address.
    pub(crate) fn instance_ips(&self) -> std::collections::BTreeSet<String> {
        self.lock().all_instances().map(|i| i.ip.clone()).collect()
    }
}
