//! core's `Elastigroups`, `Instances` (EC2) and `Deployments` ports, served by the model. Every call first catches the
//! model up with the clock, then consumes a scripted error for its operation if one is queued (the call
//! then does nothing), then acts, then may lose its response (the action stands, the caller sees
//! `Unavailable`).

use async_trait::async_trait;
use greenfleet_core::cloud::{
    BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentView, Ec2Instance,
    GreenDeployment, GreenSpec, GroupInstance, GroupView,
};
use greenfleet_core::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, Timestamp};
use greenfleet_core::ports::{Deployments, Elastigroups, Instances, RemoteError};

use crate::cloud::Cloud;
use crate::model::Model;

impl Cloud {
    /// One call of port operation `op` (one of [`crate::OPS`]): catches the model up, consumes a scripted
    /// error if one is queued (then does nothing), acts, and may lose the response. The HTTP faces go
    /// through here too, so the scripted faults show up over HTTP as they do in process.
    pub(crate) fn call<T>(
        &self,
        op: &str,
        act: impl FnOnce(&mut Model) -> Result<T, RemoteError>,
    ) -> Result<T, RemoteError> {
        let mut model = self.lock();
        match model.api_calls.get_mut(op) {
            Some(n) => *n += 1,
            None => {
                model.api_calls.insert(op.to_owned(), 1);
            }
        }
        if let Some(error) = model.faults.take_scripted(op) {
            return Err(error);
        }
        let out = act(&mut model)?;
        if model.faults.take_lost(op) {
            return Err(RemoteError::Unavailable(format!(
                "{op}: connection reset before the response arrived (the request may have taken effect)"
            )));
        }
        Ok(out)
    }
}

#[async_trait]
impl Elastigroups for Cloud {
    async fn group(&self, id: &ElastigroupId) -> Result<GroupView, RemoteError> {
        self.call("group", |m| m.group_view(id))
    }

    async fn instances(&self, id: &ElastigroupId) -> Result<Vec<GroupInstance>, RemoteError> {
        self.call("instances", |m| m.instance_views(id))
    }

    async fn set_capacity(&self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError> {
        self.call("set_capacity", |m| m.set_capacity(id, capacity))
    }

    async fn detach(&self, id: &ElastigroupId, instances: &[InstanceId]) -> Result<(), RemoteError> {
        self.call("detach", |m| m.detach(id, instances))
    }

    async fn start_green(&self, id: &ElastigroupId, spec: &GreenSpec) -> Result<GreenDeployment, RemoteError> {
        self.call("start_green", |m| m.start_green(id, spec))
    }

    async fn green(&self, id: &ElastigroupId) -> Result<Option<GreenDeployment>, RemoteError> {
        self.call("green", |m| m.green(id))
    }

    async fn stop_green(&self, id: &ElastigroupId, deployment: &GreenDeploymentId) -> Result<(), RemoteError> {
        self.call("stop_green", |m| m.stop_green(id, deployment))
    }
}

#[async_trait]
impl Instances for Cloud {
    async fn describe(&self, ids: &[InstanceId]) -> Result<Vec<Ec2Instance>, RemoteError> {
        self.call("describe_instances", |m| Ok(m.describe(ids)))
    }
}

#[async_trait]
impl Deployments for Cloud {
    async fn deployment_group(&self, group: &DeploymentGroupRef) -> Result<DeploymentGroupView, RemoteError> {
        self.call("deployment_group", |m| m.deployment_group(group).map(|g| g.view.clone()))
    }

    async fn create(&self, spec: &DeploymentSpec) -> Result<DeploymentId, RemoteError> {
        self.call("create", |m| m.create_deployment(spec))
    }

    async fn find(
        &self,
        group: &DeploymentGroupRef,
        description: &str,
        created_after: Timestamp,
    ) -> Result<Option<DeploymentId>, RemoteError> {
        self.call("find", |m| m.find_deployment(group, description, created_after))
    }

    async fn get(&self, id: &DeploymentId) -> Result<DeploymentView, RemoteError> {
        self.call("get", |m| m.deployment_view(id))
    }

    async fn continue_deployment(&self, id: &DeploymentId) -> Result<(), RemoteError> {
        self.call("continue_deployment", |m| m.continue_deployment(id))
    }

    async fn point_blue(&self, group: &DeploymentGroupRef, blue: &BlueSelector) -> Result<(), RemoteError> {
        self.call("point_blue", |m| m.point_blue(group, blue))
    }

    async fn stop(&self, id: &DeploymentId, rollback: bool) -> Result<(), RemoteError> {
        self.call("stop", |m| m.stop_deployment(id, rollback))
    }
}
