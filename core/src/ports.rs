//! Ports: the narrow capabilities the saga's shell needs, named for what they do. Adapters live in
//! `infra` (AWS, Spot), `sim` (the cloud model) and [`crate::memory`] (in-process queues and store).

use crate::cloud::{
    BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentView, Ec2Instance,
    GreenDeployment, GreenSpec, GroupInstance, GroupView,
};
use crate::event::LifecycleEvent;
use crate::ids::{DeploymentId, ElastigroupId, GreenDeploymentId, InstanceId, RolloutId, Timestamp};
use crate::saga::{Saga, SagaSummary};
use async_trait::async_trait;

pub use crate::lease::{LeaseKey, LeaseOutcome};
pub use crate::remote::RemoteError;

/// Spot Elastigroup operations greenfleet performs.
#[async_trait]
pub trait Elastigroups: Send + Sync {
    /// `GET /aws/ec2/group/{id}`.
    async fn group(&self, id: &ElastigroupId) -> Result<GroupView, RemoteError>;
    /// `GET /aws/ec2/group/{id}/status`: the group's instances, without tags (Spot returns none; read
    /// them with [`Instances::describe`]).
    async fn instances(&self, id: &ElastigroupId) -> Result<Vec<GroupInstance>, RemoteError>;
    /// `PUT /aws/ec2/group/{id}/capacity`.
    async fn set_capacity(&self, id: &ElastigroupId, capacity: Capacity) -> Result<(), RemoteError>;
    /// `PUT /aws/ec2/group/{id}/detachInstances`, terminating them and decrementing the target.
    /// Instances already gone are not an error.
    async fn detach(&self, id: &ElastigroupId, instances: &[InstanceId]) -> Result<(), RemoteError>;
    /// `POST /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment`.
    async fn start_green(&self, id: &ElastigroupId, spec: &GreenSpec) -> Result<GreenDeployment, RemoteError>;
    /// `GET /aws/ec2/group/{id}/codeDeploy/blueGreenDeployment`: the latest one, if any.
    async fn green(&self, id: &ElastigroupId) -> Result<Option<GreenDeployment>, RemoteError>;
    /// `PUT …/codeDeploy/blueGreenDeployment/{deploymentId}/stop`.
    async fn stop_green(&self, id: &ElastigroupId, deployment: &GreenDeploymentId) -> Result<(), RemoteError>;
}

/// EC2, where CodeDeploy looks: the state and tags of instances.
#[async_trait]
pub trait Instances: Send + Sync {
    /// `DescribeInstances` filtered by `instance-id` (all pages): the instances EC2 knows among `ids`.
    /// An id EC2 does not know yet (just launched) is simply missing from the answer, not an error.
    async fn describe(&self, ids: &[InstanceId]) -> Result<Vec<Ec2Instance>, RemoteError>;
}

/// CodeDeploy operations greenfleet performs.
#[async_trait]
pub trait Deployments: Send + Sync {
    /// `GetDeploymentGroup`; `NotFound` when the application or group does not exist.
    async fn deployment_group(&self, group: &DeploymentGroupRef) -> Result<DeploymentGroupView, RemoteError>;
    /// `CreateDeployment`. It takes no idempotency token: call [`Deployments::find`] first (F11).
    async fn create(&self, spec: &DeploymentSpec) -> Result<DeploymentId, RemoteError>;
    /// The deployment of `group` whose description is exactly `description`, among every one created
    /// at or after `created_after` (whatever its status: one that failed at once counts too). CodeDeploy
    /// documents no order for its list, so adapters read all of it; among several matches the latest
    /// created wins.
    async fn find(
        &self,
        group: &DeploymentGroupRef,
        description: &str,
        created_after: Timestamp,
    ) -> Result<Option<DeploymentId>, RemoteError>;
    /// `GetDeployment`.
    async fn get(&self, id: &DeploymentId) -> Result<DeploymentView, RemoteError>;
    /// `ContinueDeployment(READY_WAIT)`.
    async fn continue_deployment(&self, id: &DeploymentId) -> Result<(), RemoteError>;
    /// `UpdateDeploymentGroup` changing only the original fleet's tags: `ec2TagFilters` or `ec2TagSet`,
    /// whichever form `blue` has (the other is not sent: both at once is `InvalidEC2TagCombinationException`).
    async fn point_blue(&self, group: &DeploymentGroupRef, blue: &BlueSelector) -> Result<(), RemoteError>;
    /// `StopDeployment`, with `autoRollbackEnabled` as given: CodeDeploy then starts a rollback
    /// deployment (a new id, named by the stopped one's `rollbackInfo`).
    async fn stop(&self, id: &DeploymentId, rollback: bool) -> Result<(), RemoteError>;
}

/// One HTTP health probe.
#[async_trait]
pub trait HealthProbe: Send + Sync {
    /// GETs `url`; `Ok` when the status is `expected_status` within `timeout_ms`, else why not.
    async fn probe(&self, url: &str, expected_status: u16, timeout_ms: u64) -> Result<(), String>;
}

/// Failure of the saga store or the lease table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The conditional write lost: someone else wrote first. Reload and handle again.
    #[error("conflict: the item changed since it was read")]
    Conflict,
    /// The store could not be reached or throttled: retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item could not be decoded: a bug or a manual edit.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether retrying the same operation may succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Conflict | Self::Unavailable(_))
    }
}

/// Durable saga state with optimistic concurrency on `version`.
#[async_trait]
pub trait SagaStore: Send + Sync {
    /// Stores a new saga (version 1). `Conflict` if one with that id exists.
    async fn create(&self, saga: &Saga) -> Result<(), StoreError>;
    /// Loads a saga.
    async fn load(&self, id: &RolloutId) -> Result<Option<Saga>, StoreError>;
    /// Writes `saga` (whose `version` is already `expected_version + 1`) if the stored one is at `expected_version`.
    async fn save(&self, saga: &Saga, expected_version: u64) -> Result<(), StoreError>;
    /// The rollout that created a CodeDeploy deployment.
    async fn find_by_deployment(&self, id: &DeploymentId) -> Result<Option<RolloutId>, StoreError>;
    /// Rollouts not yet finished (through an index, never a scan).
    async fn list_active(&self) -> Result<Vec<SagaSummary>, StoreError>;
    /// Recently finished rollouts, newest first, at most `limit`.
    async fn list_recent(&self, limit: usize) -> Result<Vec<SagaSummary>, StoreError>;
    /// The status projection of a rollout ([`crate::status`]), for readers that must not depend on the
    /// saga's internal state. A store that keeps the projection beside the saga reads only that.
    async fn load_status(&self, id: &RolloutId) -> Result<Option<crate::status::RolloutStatus>, StoreError> {
        Ok(self.load(id).await?.as_ref().map(crate::status::RolloutStatus::of))
    }
}

/// Leases that serialize rollouts per Elastigroup and deployment group.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes every key for `holder` until `until`, all or none. Keys already held by `holder` count as taken;
    /// keys whose lease expired before `now` are taken over.
    async fn acquire(
        &self,
        keys: &[LeaseKey],
        holder: &RolloutId,
        until: Timestamp,
        now: Timestamp,
    ) -> Result<LeaseOutcome, StoreError>;
    /// Releases the keys `holder` holds; keys held by others are left alone.
    async fn release(&self, keys: &[LeaseKey], holder: &RolloutId) -> Result<(), StoreError>;
}

/// A message received from a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Body.
    pub body: String,
    /// Handle to ack or delay this receipt.
    pub receipt: String,
    /// How many times it was received, this one included.
    pub receive_count: u32,
}

/// Failure of a queue operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The queue could not be reached: retry.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The queue refused (missing queue, message too large): fix the configuration.
    #[error("queue refused: {0}")]
    Rejected(String),
}

/// An at-least-once queue with delayed delivery and a dead-letter queue behind it.
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Sends `body`, visible after `delay_ms` (adapters cap it at their maximum; the worker re-arms longer timers).
    async fn send(&self, body: &str, delay_ms: u64) -> Result<(), QueueError>;
    /// Receives up to `max` messages, waiting up to `wait_ms` for the first.
    async fn receive(&self, max: usize, wait_ms: u64) -> Result<Vec<Delivery>, QueueError>;
    /// Deletes received messages.
    async fn ack(&self, receipts: &[String]) -> Result<(), QueueError>;
    /// Makes a received message visible again after `delay_ms` (0 = at once).
    async fn release(&self, receipt: &str, delay_ms: u64) -> Result<(), QueueError>;
    /// Moves a received message (`body`, as received) to the queue's dead-letter queue now, without
    /// waiting for the redrive policy: for messages that can never succeed (a broken invariant).
    async fn dead_letter(&self, receipt: &str, body: &str) -> Result<(), QueueError>;
    /// Longest delay `send` supports.
    fn max_delay_ms(&self) -> u64;
}

/// Publishes greenfleet's lifecycle events.
#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes one event.
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), QueueError>;
}

/// The time. Production reads the system clock; tests and simulations move a manual one.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}
