//! Adapters from greenfleet's ports to the real world.
//!
//! * [`spot`] — the Spot Elastigroup REST API (reqwest), implementing `Elastigroups`.
//! * [`codedeploy`] — AWS CodeDeploy through the SDK, implementing `Deployments`.
//! * [`ec2`] — EC2 `DescribeInstances` through the SDK, implementing `Instances` (state and tags, where CodeDeploy looks).
//! * [`health`] — HTTP health checks against green instances, implementing `HealthProbe`.
//! * [`sqs`] — SQS queues (intake, steps, events) implementing `MessageQueue`.
//! * [`dynamo`] — the DynamoDB table: sagas (`SagaStore`) and leases (`Leases`).
//! * [`eventbridge`] — greenfleet's lifecycle events (`EventBus`) and the rules that route events.
//! * [`provision`] — `greenfleet infra up`: creates queues, table and rules idempotently.
//! * [`aws`] — loading the SDK configuration (honours `AWS_ENDPOINT_URL[_<SERVICE>]`).

pub mod aws;
pub mod codedeploy;
pub mod dynamo;
pub mod ec2;
pub mod eventbridge;
pub mod health;
pub mod provision;
pub mod spot;
pub mod sqs;

#[cfg(test)]
mod contract;
