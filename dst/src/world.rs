//! The world of one seed: the plan's Elastigroups, deployment groups and cloud-wide faults installed
//! in the simulated cloud, and the two workers that share the engine's store, leases and queues, each
//! behind its own crash switch and recorder.

use std::sync::{Arc, Mutex};

use greenfleet_core::ids::RolloutId;
use greenfleet_core::ports::{Clock, EventBus, MessageQueue, SagaStore};
use greenfleet_sim::Cloud;

use super::faults::{Ctx, FaultyBus, FaultyQueue, FaultyStore, Fuse, YieldingLeases};
use super::recorder::Recorder;
use super::scheduler::Plan;
use greenfleet_workers::embedded::{Embedded, SimHealth};
use greenfleet_workers::executor::Executor;
use greenfleet_workers::worker::{Deps, Worker};

/// One worker, its crash switch, and the rollout whose message it handles now.
pub(crate) struct Slot {
    pub(crate) worker: Worker,
    pub(crate) fuse: Arc<Fuse>,
    pub(crate) current: Arc<Mutex<Option<RolloutId>>>,
    pub(crate) name: &'static str,
}

/// A worker over the engine's store, leases and queues, behind its own fuse and recorder.
pub(crate) fn slot(env: &Embedded, ctx: &Arc<Ctx>, name: &'static str) -> Slot {
    let fuse = Arc::new(Fuse::default());
    let current = Arc::new(Mutex::new(None));
    let recorder = Arc::new(Recorder { cloud: env.cloud.clone(), ctx: ctx.clone(), current: current.clone() });
    let executor = Executor {
        elastigroups: recorder.clone(),
        instances: recorder.clone(),
        deployments: recorder,
        leases: Arc::new(YieldingLeases { inner: env.leases.clone(), cloud: env.cloud.clone(), ctx: ctx.clone() }),
        health: Arc::new(SimHealth(env.cloud.clone())),
    };
    let store: Arc<dyn SagaStore> = env.store.clone();
    let steps: Arc<dyn MessageQueue> = env.steps.clone();
    let bus: Arc<dyn EventBus> = env.bus.clone();
    let clock: Arc<dyn Clock> = env.clock.clone();
    let worker = Worker::new(Deps {
        store: Arc::new(FaultyStore { inner: store, fuse: fuse.clone(), ctx: ctx.clone() }),
        intake: env.intake.clone(),
        steps: Arc::new(FaultyQueue { inner: steps, fuse: fuse.clone(), ctx: ctx.clone() }),
        events: env.events.clone(),
        bus: Arc::new(FaultyBus { inner: bus, fuse: fuse.clone(), ctx: ctx.clone() }),
        executor,
        clock,
    });
    Slot { worker, fuse, current, name }
}

/// Creates the plan's groups and deployment groups, and sets the cloud-wide faults.
pub(crate) fn install(plan: &Plan, cloud: &Cloud) {
    for g in &plan.groups {
        cloud.add_group(g.setup.clone());
        if g.owns_dg {
            cloud.add_deployment_group(g.dg.clone(), 60);
        }
    }
    let c = &plan.cloud;
    let dg = |i: &usize| plan.groups.get(*i).map(|g| g.dg.name.clone());
    cloud.faults(|f| {
        f.green_launch_delay_ms = c.green_launch_delay_ms;
        f.tag_delay_ms = c.tag_delay_ms;
        f.terminate_delay_ms = c.terminate_delay_ms;
        f.deployment_step_ms = c.deployment_step_ms;
        f.green_never_ready = c.green_never_ready;
        f.all_green_unhealthy = c.all_green_unhealthy;
        f.blue_after_success = c.blue_after_success;
        f.spot_finish_delay_ms = c.spot_finish_delay_ms;
        for name in c.fail_deployments.iter().filter_map(dg) {
            f.fail_deployments(&name, "HOOK_EXECUTION_FAILURE", "ApplicationStart failed with exit code 1");
        }
        for name in c.hang_deployments.iter().filter_map(dg) {
            f.hang_deployments(&name);
        }
    });
}
