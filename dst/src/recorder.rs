//! Spot and CodeDeploy as one worker sees them: the simulated cloud behind a recorder that may yield
//! while workers race, and counts per rollout the Blue/Green starts and CreateDeployments that took
//! effect (answer lost or not) and the calls that failed, by the step that made them.

use std::future::Future;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use greenfleet_core::cloud::{
    BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentView, Ec2Instance,
    GreenDeployment, GreenSpec, GroupInstance, GroupView,
};
use greenfleet_core::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, RolloutId, Timestamp};
use greenfleet_core::ports::{Deployments, Elastigroups, Instances, RemoteError};
use greenfleet_core::request::ROLLOUT_TAG_KEY;
use greenfleet_sim::Cloud;

use super::faults::{Ctx, lock};

/// Spot and CodeDeploy (the simulated cloud) as one worker sees them: every call may yield while
/// workers race, and is recorded against the rollout whose message the worker handles.
pub(crate) struct Recorder {
    pub(crate) cloud: Cloud,
    pub(crate) ctx: Arc<Ctx>,
    /// The rollout whose message this worker handles now.
    pub(crate) current: Arc<Mutex<Option<RolloutId>>>,
}

impl Recorder {
    async fn call<T: std::fmt::Debug>(
        &self,
        op: &str,
        args: impl FnOnce() -> String,
        fut: impl Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        self.ctx.maybe_yield().await;
        self.record(op, args, fut).await
    }

    /// Makes the call at once (no yield: a count taken just before stays true) and records it.
    async fn record<T: std::fmt::Debug>(
        &self,
        op: &str,
        args: impl FnOnce() -> String,
        fut: impl Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        let result = fut.await;
        let current = lock(&self.current).clone();
        if result.is_err()
            && let Some(id) = &current
        {
            let fence = lock(&self.ctx.fences).get(id).copied().unwrap_or(0);
            *lock(&self.ctx.calls).entry(id.clone()).or_default().failures.entry(fence).or_default() += 1;
        }
        self.ctx.trace(|| {
            let who = current.as_ref().map_or_else(|| "?".to_owned(), ToString::to_string);
            match &result {
                Ok(v) => format!("    call {who} {op}({}) -> {}", args(), short(&format!("{v:?}"))),
                Err(e) => format!("    call {who} {op}({}) -> ERR {e}", args()),
            }
        });
        result
    }

    fn credit(&self, rollout: Option<String>, start: bool) {
        let Some(r) = rollout.and_then(|r| RolloutId::parse(&r).ok()) else { return };
        let mut calls = lock(&self.ctx.calls);
        let c = calls.entry(r.clone()).or_default();
        if start {
            c.starts += 1;
        } else {
            c.creates += 1;
        }
        drop(calls);
        self.ctx.trace(|| {
            format!("    ** {} took effect for {r}", if start { "Blue/Green start" } else { "CreateDeployment" })
        });
    }
}

fn short(s: &str) -> String {
    if s.len() > 120 { format!("{}…", s.chars().take(120).collect::<String>()) } else { s.to_owned() }
}

#[async_trait]
impl Elastigroups for Recorder {
    async fn group(&self, id: &ElastigroupId) -> Result<GroupView, RemoteError> {
        self.call("group", || id.to_string(), Elastigroups::group(&self.cloud, id)).await
    }

    async fn instances(&self, id: &ElastigroupId) -> Result<Vec<GroupInstance>, RemoteError> {
        self.call("instances", || id.to_string(), Elastigroups::instances(&self.cloud, id)).await
    }

    async fn set_capacity(&self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError> {
        let args = || format!("{id}, {capacity}");
        self.call("set_capacity", args, self.cloud.set_capacity(id, capacity)).await
    }

    async fn detach(&self, id: &ElastigroupId, instances: &[InstanceId]) -> Result<(), RemoteError> {
        let args = || format!("{id}, {instances:?}");
        self.call("detach", args, self.cloud.detach(id, instances)).await
    }

    async fn start_green(&self, id: &ElastigroupId, spec: &GreenSpec) -> Result<GreenDeployment, RemoteError> {
        self.ctx.maybe_yield().await;
        let before = self.cloud.green_starts(id);
        let result = self.record("start_green", || id.to_string(), self.cloud.start_green(id, spec)).await;
        if self.cloud.green_starts(id) > before {
            let ours = spec.tags.iter().find(|t| t.key == ROLLOUT_TAG_KEY).map(|t| t.value.clone());
            self.credit(ours, true);
        }
        result
    }

    async fn green(&self, id: &ElastigroupId) -> Result<Option<GreenDeployment>, RemoteError> {
        self.call("green", || id.to_string(), Elastigroups::green(&self.cloud, id)).await
    }

    async fn stop_green(&self, id: &ElastigroupId, deployment: &GreenDeploymentId) -> Result<(), RemoteError> {
        let args = || format!("{id}, {deployment}");
        self.call("stop_green", args, self.cloud.stop_green(id, deployment)).await
    }
}

#[async_trait]
impl Instances for Recorder {
    async fn describe(&self, ids: &[InstanceId]) -> Result<Vec<Ec2Instance>, RemoteError> {
        self.call("describe_instances", || format!("{} ids", ids.len()), self.cloud.describe(ids)).await
    }
}

#[async_trait]
impl Deployments for Recorder {
    async fn deployment_group(&self, group: &DeploymentGroupRef) -> Result<DeploymentGroupView, RemoteError> {
        self.call("deployment_group", || group.to_string(), self.cloud.deployment_group(group)).await
    }

    async fn create(&self, spec: &DeploymentSpec) -> Result<DeploymentId, RemoteError> {
        self.ctx.maybe_yield().await;
        let before = self.cloud.deployments_created(&spec.group);
        let result = self.record("create", || spec.group.to_string(), self.cloud.create(spec)).await;
        if self.cloud.deployments_created(&spec.group) > before {
            let ours = spec.description.strip_prefix("greenfleet rollout ").map(str::to_owned);
            self.credit(ours, false);
        }
        result
    }

    async fn find(
        &self,
        group: &DeploymentGroupRef,
        description: &str,
        created_after: Timestamp,
    ) -> Result<Option<DeploymentId>, RemoteError> {
        self.call("find", || group.to_string(), self.cloud.find(group, description, created_after)).await
    }

    async fn point_blue(&self, group: &DeploymentGroupRef, blue: &BlueSelector) -> Result<(), RemoteError> {
        let args = || format!("{group}, {blue}");
        self.call("point_blue", args, self.cloud.point_blue(group, blue)).await
    }

    async fn get(&self, id: &DeploymentId) -> Result<DeploymentView, RemoteError> {
        self.call("get", || id.to_string(), self.cloud.get(id)).await
    }

    async fn continue_deployment(&self, id: &DeploymentId) -> Result<(), RemoteError> {
        self.call("continue_deployment", || id.to_string(), self.cloud.continue_deployment(id)).await
    }

    async fn stop(&self, id: &DeploymentId, rollback: bool) -> Result<(), RemoteError> {
        self.call("stop", || format!("{id}, rollback {rollback}"), self.cloud.stop(id, rollback)).await
    }
}
