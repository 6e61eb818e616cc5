//! The seeded scheduler: one random source per seed, and the fault plan drawn from it before the run
//! starts — which rollouts, on which groups, with which cloud faults, API fault bursts, cancels,
//! approvals, outside capacity changes, and how hostile message delivery is. Everything the driver
//! does later draws from the same source in a fixed order, so a seed replays exactly.

use greenfleet_core::cloud::{
    BlueAction, BlueSelector, Capacity, DeploymentGroupRef, DeploymentGroupView, DeploymentType, GreenProvisioning,
    ReadyAction, TagFilter,
};
use greenfleet_core::ids::{ElastigroupId, Tag};
use greenfleet_core::machine::MAX_ATTEMPTS;
use greenfleet_core::ports::RemoteError;
use greenfleet_sim::{BlueAfterSuccess, GroupSetup};

/// A small, fast, seedable random source (splitmix64). Not for cryptography: for replayable chaos.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// The generator for `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6A09_E667_F3BC_C909)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.next_u64() % (hi - lo + 1) }
    }

    /// A `u32` in `lo..=hi`.
    pub fn range32(&mut self, lo: u32, hi: u32) -> u32 {
        u32::try_from(self.range(u64::from(lo), u64::from(hi))).unwrap_or(lo)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u32) -> bool {
        percent > 0 && self.next_u64() % 100 < u64::from(percent)
    }

    /// An index below `len` (0 for an empty range).
    pub fn index(&mut self, len: usize) -> usize {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        usize::try_from(self.range(0, len.saturating_sub(1))).unwrap_or(0)
    }

    /// Shuffles in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.index(i + 1);
            v.swap(i, j);
        }
    }
}

/// Where a saga is, as an ordinal, for triggers ("cancel once it reaches AwaitGreen").
pub type Stage = u8;

/// Stage names, by ordinal (Compensating and Done last).
pub const STAGES: &[&str] = &[
    "Preflight",
    "Lock",
    "Snapshot",
    "StartGreen",
    "AwaitGreen",
    "CreateDeployment",
    "AwaitDeployment",
    "Verify",
    "AwaitApproval",
    "Finalize",
    "Release",
    "Compensating",
    "Done",
];

/// A setup mistake a rollout is planned with; preflight must reject it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mistake {
    /// F4: the green tag is the one the deployment group's filter picks blue by.
    GreenTagIsBlue,
    /// F1/F2: the request names a deployment group that does not exist.
    UnknownDeploymentGroup,
    /// Manual approval on a deployment group that does not wait at READY.
    GateWithoutReadyWait,
}

/// How someone changes a group's capacity from outside during a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapacityChange {
    /// Target (and Max if needed) up by one.
    Raise,
    /// Target (and Min if needed) down by one.
    Lower,
    /// Max up by two.
    RaiseMax,
}

/// One Elastigroup of a seed, with its deployment group.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// The Elastigroup.
    pub setup: GroupSetup,
    /// The deployment group it deploys through (possibly shared with another group).
    pub dg: DeploymentGroupView,
    /// Whether this group created `dg` (false: it shares another group's).
    pub owns_dg: bool,
    /// F3: the deployment group's filter is one of the group's own tags.
    pub f3_mistake: bool,
    /// Someone changes the capacity once a rollout on the group reaches this stage.
    pub external: Option<(Stage, CapacityChange)>,
}

/// One rollout of a seed.
#[derive(Debug, Clone)]
pub struct RolloutPlan {
    /// Its request id (and rollout id).
    pub id: String,
    /// Index into [`Plan::groups`].
    pub group: usize,
    /// The request, as published.
    pub request: serde_json::Value,
    /// Virtual milliseconds after the start at which it is published.
    pub submit_at_ms: u64,
    /// A setup mistake preflight must catch.
    pub mistake: Option<Mistake>,
    /// Manual approval.
    pub manual: bool,
    /// Health checks before traffic moves.
    pub health_check: bool,
    /// When approval is manual: `Some(delay)` sends an approval that long after READY (or in advance).
    pub approve: Option<(bool, u64)>,
    /// A cancel once the saga reaches this stage, after this delay.
    pub cancel: Option<(Stage, u64)>,
    /// Its timeouts (minutes): green ready, deployment, approval, lock wait.
    pub timeouts: (u32, u32, u32, u32),
}

/// How an API fault burst fails its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BurstKind {
    /// A scripted error (throttling or 5xx): the call does nothing.
    Error(RemoteError),
    /// The call takes effect but its answer is lost (a timeout).
    LostResponse,
}

/// Calls of one port operation that fail, from a moment on.
#[derive(Debug, Clone)]
pub struct Burst {
    /// Virtual milliseconds after the start.
    pub at_ms: u64,
    /// The port operation (one of the simulator's `OPS`).
    pub op: &'static str,
    /// How its calls fail.
    pub kind: BurstKind,
    /// How many calls.
    pub times: u32,
}

/// Cloud-wide faults of a seed.
#[derive(Debug, Clone)]
pub struct CloudPlan {
    /// Launch → Running of green instances.
    pub green_launch_delay_ms: u64,
    /// Running → green tags landed.
    pub tag_delay_ms: u64,
    /// How long terminated instances stay listed.
    pub terminate_delay_ms: u64,
    /// Time per CodeDeploy lifecycle step.
    pub deployment_step_ms: u64,
    /// Green instances never reach Running.
    pub green_never_ready: bool,
    /// Green instances fail health checks.
    pub all_green_unhealthy: bool,
    /// Groups (by index) whose deployment group fails deployments.
    pub fail_deployments: Vec<usize>,
    /// Groups (by index) whose deployment group hangs deployments.
    pub hang_deployments: Vec<usize>,
    /// What Spot does with blue when its Blue/Green deployment finishes (undocumented: all three drawn).
    pub blue_after_success: BlueAfterSuccess,
    /// How long after CodeDeploy's success Spot's Blue/Green deployment turns FINISHED.
    pub spot_finish_delay_ms: u64,
}

/// How hostile message delivery is, in percent per delivery or event.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hostility {
    /// Handled twice in a row (two workers, one after the other).
    pub duplicate: u32,
    /// Handled by two workers at once, interleaved (with the next message, or itself again).
    pub race: u32,
    /// The worker dies between persist, effects and ack.
    pub crash: u32,
    /// The store or queue fails a write (the worker gives the message back).
    pub store_error: u32,
    /// The ack is lost.
    pub lost_ack: u32,
    /// Left for later: made visible again after a delay, behind newer messages.
    pub delay: u32,
    /// CodeDeploy events lost.
    pub event_drop: u32,
    /// CodeDeploy events delivered twice.
    pub event_duplicate: u32,
    /// Up to this many milliseconds of delay per event (reordering).
    pub event_jitter_ms: u64,
    /// A deployment event is followed by a forged SUCCESS for the same deployment, which the API
    /// does not confirm (an event is a hint, GetDeployment the truth).
    pub event_lie: u32,
    /// A rollout request is followed by a different request under the same requestId (issue 13):
    /// it must be refused with `Rollout Request Conflicted` and never change the rollout.
    pub conflicting_request: u32,
}

/// Everything a seed decides up front.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The seed.
    pub seed: u64,
    /// The Elastigroups.
    pub groups: Vec<GroupPlan>,
    /// The rollouts.
    pub rollouts: Vec<RolloutPlan>,
    /// API fault bursts.
    pub bursts: Vec<Burst>,
    /// Cloud faults.
    pub cloud: CloudPlan,
    /// Message and event hostility.
    pub hostility: Hostility,
}

fn tag(k: &str, v: &str) -> Tag {
    Tag { key: k.to_owned(), value: v.to_owned() }
}

impl Plan {
    /// The plan of `seed`; `rng` continues from here into the run.
    #[must_use]
    pub fn draw(seed: u64, rng: &mut Rng) -> Self {
        let groups = draw_groups(rng);
        let rollouts = draw_rollouts(rng, &groups);
        let cloud = draw_cloud(rng, groups.len());
        let bursts = draw_bursts(rng);
        let calm = rng.chance(20);
        let hot = |rng: &mut Rng, max: u32| if calm { 0 } else { rng.range32(0, max) };
        let hostility = Hostility {
            duplicate: hot(rng, 15),
            race: hot(rng, 15),
            crash: hot(rng, 12),
            store_error: hot(rng, 6),
            lost_ack: hot(rng, 10),
            delay: hot(rng, 10),
            event_drop: if rng.chance(10) { 100 } else { hot(rng, 40) },
            event_duplicate: hot(rng, 40),
            event_jitter_ms: if calm { 0 } else { rng.range(0, 10_000) },
            event_lie: 0,
            conflicting_request: 0,
        };
        // Drawn last, so the draws above stay what they were for every seed.
        let mut hostility = hostility;
        hostility.event_lie = hot(rng, 15);
        hostility.conflicting_request = hot(rng, 25);
        let mut cloud = cloud;
        cloud.blue_after_success = match rng.range(0, 2) {
            0 => BlueAfterSuccess::FollowDeploymentGroup,
            1 => BlueAfterSuccess::Detach,
            _ => BlueAfterSuccess::Leave,
        };
        cloud.spot_finish_delay_ms = if rng.chance(40) { rng.range(1_000, 60_000) } else { 0 };
        Self { seed, groups, rollouts, bursts, cloud, hostility }
    }

    /// Whether some API fault outlasts every retry: at least [`MAX_ATTEMPTS`] failing calls in all.
    /// Below that, no step can exhaust its retries, so every fault must be absorbed.
    #[must_use]
    pub fn persistent_faults(&self) -> bool {
        self.bursts.iter().map(|b| b.times).sum::<u32>() >= MAX_ATTEMPTS
    }

    /// Rollouts sharing an Elastigroup or a deployment group with `r` (lease contention).
    #[must_use]
    pub fn shares(&self, r: usize) -> bool {
        let Some(me) = self.rollouts.get(r) else { return false };
        let dg = |g: usize| self.groups.get(g).map(|p| p.dg.name.clone());
        self.rollouts.iter().enumerate().any(|(i, o)| i != r && (o.group == me.group || dg(o.group) == dg(me.group)))
    }
}

/// The deployment group's first original-fleet filter (the DST's groups use one filter).
fn first_filter(dg: &DeploymentGroupView) -> Option<&TagFilter> {
    match &dg.blue {
        BlueSelector::Filters(f) => f.first(),
        BlueSelector::TagSet(sets) => sets.first().and_then(|s| s.first()),
    }
}

fn draw_groups(rng: &mut Rng) -> Vec<GroupPlan> {
    let n = rng.range(1, 3);
    let mut groups: Vec<GroupPlan> = Vec::new();
    for g in 0..n {
        let app = format!("app{g}");
        let target = rng.range32(1, 3);
        let minimum = rng.range32(0, target);
        let maximum = target + rng.range32(0, 2);
        let shared = groups.first().filter(|_| rng.chance(15)).map(|first| first.dg.clone());
        let owns_dg = shared.is_none();
        let dg = shared.unwrap_or_else(|| DeploymentGroupView {
            name: DeploymentGroupRef { application: app.clone(), deployment_group: format!("{app}-bg") },
            deployment_type: DeploymentType::BlueGreen,
            green_provisioning: Some(GreenProvisioning::DiscoverExisting),
            blue_action: Some(if rng.chance(50) { BlueAction::KeepAlive } else { BlueAction::Terminate }),
            ready_action: Some(if rng.chance(50) {
                ReadyAction::StopDeployment
            } else {
                ReadyAction::ContinueDeployment
            }),
            // Blue by one filter, or by a tag set (AND across sets) whose second set is a group tag.
            blue: {
                let release = TagFilter { key: "release".into(), value: format!("{app}-5.0"), key_only: false };
                if rng.chance(30) {
                    let name = TagFilter { key: "Name".into(), value: app.clone(), key_only: false };
                    BlueSelector::TagSet(vec![vec![release], vec![name]])
                } else {
                    BlueSelector::Filters(vec![release])
                }
            },
            load_balancer: true,
        });
        let f3_mistake = rng.chance(4);
        let mut group_tags = vec![tag("Name", &app), tag("Owner", "platform")];
        if f3_mistake {
            let f = first_filter(&dg).map(|f| tag(&f.key, &f.value));
            group_tags.extend(f);
        }
        let setup = GroupSetup {
            id: ElastigroupId::parse(&format!("sig-d57{g:05}")).unwrap_or_else(|_| unreachable!("sig- and digits")),
            name: app.clone(),
            capacity: Capacity { minimum, maximum, target },
            group_tags,
            blue_tags: vec![tag("release", &format!("{app}-5.0"))],
            codedeploy: vec![dg.name.clone()],
        };
        let external = rng.chance(20).then(|| {
            let change = match rng.range(0, 2) {
                0 => CapacityChange::Raise,
                1 => CapacityChange::Lower,
                _ => CapacityChange::RaiseMax,
            };
            (u8::try_from(rng.range(2, 9)).unwrap_or(2), change)
        });
        groups.push(GroupPlan { setup, dg, owns_dg, f3_mistake, external });
    }
    groups
}

fn draw_rollouts(rng: &mut Rng, groups: &[GroupPlan]) -> Vec<RolloutPlan> {
    let n = rng.range(1, 3) + u64::from(groups.len() > 1);
    let mut out = Vec::new();
    for i in 0..n {
        let g = rng.index(groups.len());
        let Some(group) = groups.get(g) else { continue };
        let id = format!("ro-{i}");
        let waits = group.dg.ready_action == Some(ReadyAction::StopDeployment);
        let mistake = if rng.chance(6) {
            Some(match rng.range(0, 2) {
                0 => Mistake::GreenTagIsBlue,
                1 => Mistake::UnknownDeploymentGroup,
                _ => Mistake::GateWithoutReadyWait,
            })
        } else {
            None
        };
        let mistake = mistake.filter(|m| *m != Mistake::GateWithoutReadyWait || !waits);
        let gate_mistake = mistake == Some(Mistake::GateWithoutReadyWait);
        let manual = gate_mistake || (waits && rng.chance(30));
        let health_check = waits && rng.chance(25);
        let approve = (manual && rng.chance(80)).then(|| (rng.chance(25), rng.range(0, 120_000)));
        let cancel = rng.chance(20).then(|| (u8::try_from(rng.range(0, 10)).unwrap_or(0), rng.range(0, 30_000)));
        let timeouts = (
            rng.range32(5, 15),
            rng.range32(5, 20),
            rng.range32(5, 10),
            if rng.chance(30) { 0 } else { rng.range32(30, 240) },
        );
        let (app, dg_name) = (&group.dg.name.application, &group.dg.name.deployment_group);
        let dg_name =
            if mistake == Some(Mistake::UnknownDeploymentGroup) { "missing-bg".to_owned() } else { dg_name.clone() };
        let blue_filter = first_filter(&group.dg).filter(|_| mistake == Some(Mistake::GreenTagIsBlue));
        let green_tag = if let Some(f) = blue_filter {
            serde_json::json!({"key": f.key, "value": f.value})
        } else {
            serde_json::json!({"key": "version", "value": format!("6.{i}")})
        };
        let mut request = serde_json::json!({
            "schemaVersion": 1,
            "requestId": id,
            "elastigroupId": group.setup.id.as_str(),
            "application": app,
            "deploymentGroup": dg_name,
            "revision": {"s3": {"bucket": "releases", "key": format!("{app}/{id}.zip"), "bundleType": "zip"}},
            "greenTags": [green_tag],
            "timeouts": {
                "greenReadyMinutes": timeouts.0,
                "deploymentMinutes": timeouts.1,
                "approvalMinutes": timeouts.2,
                "lockWaitMinutes": timeouts.3,
            },
            "approval": if manual { "manual" } else { "auto" },
            "requestedBy": "dst",
        });
        if health_check {
            request["healthCheck"] = serde_json::json!({
                "urlTemplate": "http://{ip}:8080/health",
                "consecutiveSuccesses": rng.range(1, 3),
                "timeoutSeconds": 2,
                "intervalSeconds": 10,
            });
        }
        let submit_at_ms = if i == 0 || rng.chance(40) { 0 } else { rng.range(0, 15 * 60_000) };
        out.push(RolloutPlan {
            id,
            group: g,
            request,
            submit_at_ms,
            mistake,
            manual,
            health_check,
            approve,
            cancel,
            timeouts,
        });
    }
    out
}

fn draw_cloud(rng: &mut Rng, groups: usize) -> CloudPlan {
    let pick = |rng: &mut Rng, percent| (0..groups).filter(|_| rng.chance(percent)).collect::<Vec<_>>();
    CloudPlan {
        green_launch_delay_ms: if rng.chance(30) { rng.range(10_000, 120_000) } else { rng.range(500, 5_000) },
        tag_delay_ms: if rng.chance(30) { rng.range(5_000, 60_000) } else { rng.range(0, 2_000) },
        terminate_delay_ms: if rng.chance(40) { rng.range(1_000, 10_000) } else { 0 },
        deployment_step_ms: rng.range(500, 20_000),
        green_never_ready: rng.chance(5),
        all_green_unhealthy: rng.chance(15),
        fail_deployments: pick(rng, 12),
        hang_deployments: pick(rng, 6),
        blue_after_success: BlueAfterSuccess::FollowDeploymentGroup,
        spot_finish_delay_ms: 0,
    }
}

fn draw_bursts(rng: &mut Rng) -> Vec<Burst> {
    let ops = greenfleet_sim::OPS;
    let mut bursts = Vec::new();
    let persistent = rng.chance(10);
    // Transient faults stay below MAX_ATTEMPTS in all, so no step can run out of retries.
    let mut budget = MAX_ATTEMPTS - 1;
    let count = rng.range(0, 4);
    for _ in 0..count {
        if budget == 0 {
            break;
        }
        let times = rng.range32(1, budget.min(3));
        budget -= times;
        bursts.push(burst(rng, ops, times));
    }
    if persistent {
        let times = rng.range32(MAX_ATTEMPTS, MAX_ATTEMPTS + 4);
        bursts.push(burst(rng, ops, times));
    }
    bursts
}

fn burst(rng: &mut Rng, ops: &'static [&'static str], times: u32) -> Burst {
    let op = ops.get(rng.index(ops.len())).copied().unwrap_or("group");
    let kind = match rng.range(0, 2) {
        0 => BurstKind::Error(RemoteError::Throttled {
            message: "Rate exceeded".into(),
            retry_after_ms: rng.chance(50).then(|| rng.range(1_000, 30_000)),
        }),
        1 => BurstKind::Error(RemoteError::Unavailable("503 Service Unavailable".into())),
        _ => BurstKind::LostResponse,
    };
    Burst { at_ms: rng.range(0, 20 * 60_000), op, kind, times }
}

/// The stage of a phase name as [`greenfleet_core::saga::Phase::name`] spells it.
#[must_use]
pub fn stage_of(phase_name: &str) -> Stage {
    let head = phase_name.split('(').next().unwrap_or(phase_name);
    let head = if phase_name.starts_with("Compensating") { "Compensating" } else { head };
    let head = if phase_name.starts_with("Done") { "Done" } else { head };
    STAGES.iter().position(|s| *s == head).and_then(|p| u8::try_from(p).ok()).unwrap_or(0)
}
