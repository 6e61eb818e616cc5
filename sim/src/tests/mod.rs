//! Scenario tests: a manual clock, a small world (one group, one deployment group) and helpers to
//! move time and read events. The scenarios live in `spot`, `codedeploy` and `events`.

#![allow(clippy::unwrap_used)]

mod codedeploy;
mod events;
mod spot;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, Waker};

use greenfleet_core::cloud::{
    BlueAction, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentSpec, DeploymentStatus, DeploymentType,
    GreenDeployment, GreenProvisioning, GreenSpec, ReadyAction, TagFilter,
};
use greenfleet_core::ids::{DeploymentId, ElastigroupId, Tag, Timestamp};
use greenfleet_core::ports::{Clock, Deployments, Elastigroups};
use greenfleet_core::request::{BundleType, Revision, S3Revision};
use serde_json::Value;

use crate::{Cloud, GroupSetup};

/// 2026-01-01T00:00:00Z.
const T0: u64 = 1_767_225_600_000;

/// A clock that moves only when told.
#[derive(Debug)]
struct ManualClock(AtomicU64);

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Runs a future that never waits (every sim call completes at once).
fn ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("a sim call waited"),
    }
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::new(k, v).unwrap()
}

fn cap(target: u32, minimum: u32, maximum: u32) -> Capacity {
    Capacity { minimum, maximum, target }
}

/// One Elastigroup (`Name=web` on every instance, `env=blue` on the initial ones) with the CodeDeploy
/// integration for `app/dg`, whose tag filter is `env=blue`.
struct World {
    clock: Arc<ManualClock>,
    cloud: Cloud,
    group: ElastigroupId,
    dg: DeploymentGroupRef,
}

struct Setup {
    capacity: Capacity,
    blue_action: BlueAction,
    ready_action: ReadyAction,
    filter: TagFilter,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            capacity: cap(1, 1, 1),
            blue_action: BlueAction::Terminate,
            ready_action: ReadyAction::ContinueDeployment,
            filter: TagFilter { key: "env".into(), value: "blue".into(), key_only: false },
        }
    }
}

impl World {
    fn new(setup: Setup) -> Self {
        let clock = Arc::new(ManualClock(AtomicU64::new(T0)));
        let cloud = Cloud::new(clock.clone());
        let group = ElastigroupId::parse("sig-1234abcd").unwrap();
        let dg = DeploymentGroupRef { application: "app".into(), deployment_group: "dg".into() };
        cloud.add_deployment_group(
            DeploymentGroupView {
                name: dg.clone(),
                deployment_type: DeploymentType::BlueGreen,
                green_provisioning: Some(GreenProvisioning::DiscoverExisting),
                blue_action: Some(setup.blue_action),
                ready_action: Some(setup.ready_action),
                blue: greenfleet_core::cloud::BlueSelector::Filters(vec![setup.filter]),
                load_balancer: true,
            },
            5,
        );
        cloud.add_group(GroupSetup {
            id: group.clone(),
            name: "web".into(),
            capacity: setup.capacity,
            group_tags: vec![tag("Name", "web")],
            blue_tags: vec![tag("env", "blue")],
            codedeploy: vec![dg.clone()],
        });
        Self { clock, cloud, group, dg }
    }

    fn now(&self) -> u64 {
        self.clock.0.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `ms` and ticks.
    fn advance(&self, ms: u64) {
        self.clock.0.fetch_add(ms, Ordering::SeqCst);
        self.cloud.tick();
    }

    /// Moves the clock to each due happening in turn until `done` holds; panics after 1000 steps.
    fn run_until(&self, what: &str, done: impl Fn(&Self) -> bool) {
        for _ in 0..1_000 {
            if done(self) {
                return;
            }
            let Some(due) = self.cloud.next_due() else { panic!("idle before {what}") };
            self.clock.0.store(due.0.max(self.now()), Ordering::SeqCst);
            self.cloud.tick();
        }
        panic!("{what} did not happen");
    }

    fn green_spec(&self, tags: Vec<Tag>) -> GreenSpec {
        GreenSpec { timeout_minutes: 30, tags, deployment_group: self.dg.clone() }
    }

    fn start_green(&self, tags: Vec<Tag>) -> GreenDeployment {
        ready(self.cloud.start_green(&self.group, &self.green_spec(tags))).unwrap()
    }

    /// Starts Blue/Green with `env=green` and waits until Spot reports it InProgress.
    fn green_up(&self) -> GreenDeployment {
        let g = self.start_green(vec![tag("env", "green")]);
        self.run_until("green in progress", |w| w.green_state() == "IN_PROGRESS");
        g
    }

    fn green_state(&self) -> String {
        ready(self.cloud.green(&self.group)).unwrap().map(|g| g.state.as_str().to_owned()).unwrap_or_default()
    }

    fn deployment_spec(&self, target_tags: Vec<Tag>, description: &str) -> DeploymentSpec {
        DeploymentSpec {
            group: self.dg.clone(),
            revision: Revision::S3(S3Revision {
                bucket: "bucket".into(),
                key: "app.zip".into(),
                bundle_type: BundleType::Zip,
                version: None,
                e_tag: None,
            }),
            target_tags,
            description: description.into(),
            created_after: Timestamp::default(),
        }
    }

    fn create(&self, target_tags: Vec<Tag>) -> DeploymentId {
        ready(self.cloud.create(&self.deployment_spec(target_tags, "greenfleet rollout r-1"))).unwrap()
    }

    fn status(&self, id: &DeploymentId) -> DeploymentStatus {
        self.cloud.deployment_status(id).unwrap()
    }

    fn run_until_terminal(&self, id: &DeploymentId) {
        self.run_until("deployment terminal", |w| w.status(id).is_terminal());
    }

    fn capacity(&self) -> Capacity {
        self.cloud.group_state(&self.group).unwrap().capacity
    }

    fn instance_count(&self) -> usize {
        self.cloud.group_state(&self.group).unwrap().instances.len()
    }
}

/// The drained events as `(kind, state, instance)`, kind being `deployment` or `instance`.
fn event_states(events: &[String]) -> Vec<(String, String, Option<String>)> {
    events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(e).unwrap();
            let kind = if v["detail-type"] == crate::DEPLOYMENT_DETAIL_TYPE { "deployment" } else { "instance" };
            let d = &v["detail"];
            (kind.to_owned(), d["state"].as_str().unwrap().to_owned(), d["instanceId"].as_str().map(str::to_owned))
        })
        .collect()
}

/// Only the deployment-level states, in order.
fn deployment_states(events: &[String]) -> Vec<String> {
    event_states(events).into_iter().filter(|(k, _, _)| k == "deployment").map(|(_, s, _)| s).collect()
}
