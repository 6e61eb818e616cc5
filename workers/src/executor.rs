//! Executes the saga's commands against the ports, turning each into a [`CallResult`]. The two
//! non-idempotent calls are guarded here: StartGreen and CreateDeployment first look for what an
//! earlier attempt may have created (F11), so a redelivered step never creates a second one.

use std::sync::Arc;

use greenfleet_core::cloud::{GreenDeployment, GreenSpec, InstanceView, join_instances};
use greenfleet_core::effect::{CallResult, Command, HealthRound, Inspection};
use greenfleet_core::ids::{ElastigroupId, InstanceId, RolloutId, Timestamp};
use greenfleet_core::ports::{Deployments, Elastigroups, HealthProbe, Instances, Leases, RemoteError, StoreError};
use greenfleet_core::request::ROLLOUT_TAG_KEY;

/// The ports a command may need.
#[derive(Clone)]
pub struct Executor {
    /// Spot.
    pub elastigroups: Arc<dyn Elastigroups>,
    /// EC2: instance state and tags, where CodeDeploy looks.
    pub instances: Arc<dyn Instances>,
    /// CodeDeploy.
    pub deployments: Arc<dyn Deployments>,
    /// Lease table.
    pub leases: Arc<dyn Leases>,
    /// HTTP health checks.
    pub health: Arc<dyn HealthProbe>,
}

/// A group's instances: Spot's list (what belongs to the group) joined with EC2's description of
/// those instances (their state and tags). Fails when either cannot be read: missing tags must never
/// be mistaken for "not green" or "not blue".
pub async fn group_instances(
    spot: &dyn Elastigroups,
    ec2: &dyn Instances,
    group: &ElastigroupId,
) -> Result<Vec<InstanceView>, RemoteError> {
    let listed = spot.instances(group).await?;
    let ids: Vec<InstanceId> = listed.iter().map(|i| i.id.clone()).collect();
    let described = if ids.is_empty() { Vec::new() } else { ec2.describe(&ids).await? };
    Ok(join_instances(&listed, &described))
}

fn store_error(e: StoreError) -> RemoteError {
    match e {
        StoreError::Conflict | StoreError::Unavailable(_) => RemoteError::Unavailable(e.to_string()),
        StoreError::Corrupt(m) => RemoteError::Rejected { code: "CorruptItem".into(), message: m },
    }
}

impl Executor {
    /// Runs one command for `rollout`.
    pub async fn execute(&self, rollout: &RolloutId, command: Command, now: Timestamp) -> CallResult {
        match command {
            Command::Inspect { group, deployment_group } => {
                CallResult::Inspected(self.inspect(&group, deployment_group.as_ref()).await)
            }
            Command::AcquireLeases { keys, until } => {
                CallResult::LeasesAcquired(self.leases.acquire(&keys, rollout, until, now).await.map_err(store_error))
            }
            Command::ReleaseLeases { keys } => {
                CallResult::LeasesReleased(self.leases.release(&keys, rollout).await.map_err(store_error))
            }
            Command::StartGreen { group, spec } => {
                CallResult::GreenStarted(self.start_green(rollout, &group, &spec).await)
            }
            Command::CreateDeployment(spec) => {
                let d = &self.deployments;
                let found = d.find(&spec.group, &spec.description, spec.created_after).await;
                let result = match found {
                    Ok(Some(id)) => Ok(id),
                    Ok(None) => match d.create(&spec).await {
                        Err(RemoteError::Rejected { code, message }) if code.contains("DeploymentLimitExceeded") => {
                            // Another attempt may have just created ours: CodeDeploy allows one active deployment.
                            match d.find(&spec.group, &spec.description, spec.created_after).await {
                                Ok(Some(id)) => Ok(id),
                                _ => Err(RemoteError::Rejected { code, message }),
                            }
                        }
                        other => other,
                    },
                    Err(e) => Err(e),
                };
                CallResult::DeploymentCreated(result)
            }
            Command::FindDeployment(spec) => CallResult::DeploymentFound(
                self.deployments.find(&spec.group, &spec.description, spec.created_after).await,
            ),
            Command::GetDeployment(id) => CallResult::DeploymentRead(self.deployments.get(&id).await),
            Command::ContinueDeployment(id) => CallResult::Continued(self.deployments.continue_deployment(&id).await),
            Command::StopDeployment(id) => CallResult::DeploymentStopped(self.deployments.stop(&id, true).await),
            Command::StopWithoutRollback(id) => CallResult::DeploymentStopped(self.deployments.stop(&id, false).await),
            Command::PointBlue { group, blue } => {
                CallResult::BluePointed(self.deployments.point_blue(&group, &blue).await)
            }
            Command::StopGreen { group, id } => {
                CallResult::GreenStopped(self.elastigroups.stop_green(&group, &id).await)
            }
            Command::Detach { group, instances } => {
                CallResult::Detached(self.elastigroups.detach(&group, &instances).await)
            }
            Command::SetCapacity { group, capacity } => {
                CallResult::CapacitySet(self.elastigroups.set_capacity(&group, capacity).await)
            }
            Command::CheckHealth { group, instances, url_template, expected_status, timeout_ms } => CallResult::Health(
                self.check_health(&group, &instances, &url_template, expected_status, timeout_ms).await,
            ),
        }
    }

    async fn inspect(
        &self,
        group: &ElastigroupId,
        dg: Option<&greenfleet_core::cloud::DeploymentGroupRef>,
    ) -> Result<Inspection, RemoteError> {
        let e = &self.elastigroups;
        let (g, instances, green) =
            tokio::join!(e.group(group), group_instances(e.as_ref(), self.instances.as_ref(), group), e.green(group));
        let deployment_group = match dg {
            None => None,
            Some(dg) => match self.deployments.deployment_group(dg).await {
                Ok(v) => Some(Some(v)),
                Err(RemoteError::NotFound(_)) => Some(None),
                Err(err) => return Err(err),
            },
        };
        Ok(Inspection { group: g?, instances: instances?, green: green?, deployment_group })
    }

    async fn start_green(
        &self,
        rollout: &RolloutId,
        group: &ElastigroupId,
        spec: &GreenSpec,
    ) -> Result<GreenDeployment, RemoteError> {
        let ours = |g: &GreenDeployment| g.tags.iter().any(|t| t.key == ROLLOUT_TAG_KEY && t.value == rollout.as_str());
        if let Some(existing) = self.elastigroups.green(group).await?.filter(|g| ours(g)) {
            return Ok(existing);
        }
        match self.elastigroups.start_green(group, spec).await {
            Err(e @ RemoteError::Rejected { .. }) => match self.elastigroups.green(group).await {
                Ok(Some(g)) if ours(&g) => Ok(g),
                _ => Err(e),
            },
            other => other,
        }
    }

    async fn check_health(
        &self,
        group: &ElastigroupId,
        instances: &[InstanceId],
        url_template: &str,
        expected_status: u16,
        timeout_ms: u64,
    ) -> Result<HealthRound, RemoteError> {
        // A group that cannot be read (throttling, 5xx) says nothing of green's health: no round.
        let all = self.elastigroups.instances(group).await?;
        let mut out = Vec::with_capacity(instances.len());
        for id in instances {
            let ip = all.iter().find(|i| &i.id == id).and_then(|i| i.private_ip.clone());
            let result = match ip {
                None => Err("instance not found in the group or has no private IP".to_owned()),
                Some(ip) => self.health.probe(&url_template.replace("{ip}", &ip), expected_status, timeout_ms).await,
            };
            out.push((id.clone(), result));
        }
        Ok(out)
    }
}
