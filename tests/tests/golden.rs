//! Golden fixtures of what greenfleet stores and sends (`tests/golden/`): the promise that workers can
//! be upgraded while rollouts are in flight.
//!
//! * `sagas/<scenario>--<step>.json`: a saga as stored (`stateVersion` 1) by the first write that
//!   enters a step, whether the rollout rests there between two messages or passes through it while
//!   handling one, with the scenario that led there, the simulated cloud state it implies (groups,
//!   capacity, instances and their tags, Spot's Blue/Green state, the CodeDeploy deployment), how many
//!   messages were queued, and the outcome it must reach.
//! * `events/<kind>.json`: a lifecycle event of every kind.
//! * `messages/<kind>.json`: a step or timer message of every kind.
//!
//! Every write goes through a [`Recorder`] wrapped around the embedded store. To restore a rollout at
//! a step, the scenario runs until the recorder has written the saga entering that step, and the
//! worker "dies" right after that write, as a worker killed during an upgrade would: its effects are
//! not run and the message it was handling is neither acked nor released. The stored saga is then
//! replaced with the fixture (decoded with `greenfleet_core::stored`) and the engine (redelivery,
//! outbox replay, timers) runs it to the outcome the fixture names.
//!
//! Without `GREENFLEET_BLESS` the test only reads the committed files: every saga fixture must load
//! and run to its outcome, every event and message must decode, and the files must cover every stable
//! name the step table can produce, every `LifecycleKind` and every step-message kind.
//! `GREENFLEET_BLESS=1 ./scripts/test.sh -p greenfleet-tests --test integration golden` regenerates
//! the files from the scenarios.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use greenfleet_core::effect::WakeKind;
use greenfleet_core::event::{LifecycleEvent, LifecycleKind};
use greenfleet_core::ids::RolloutId;
use greenfleet_core::lease::LeaseKey;
use greenfleet_core::message::{StepBody, StepMessage};
use greenfleet_core::ports::{Clock as _, Leases as _, MessageQueue, RemoteError, SagaStore as _};
use greenfleet_core::saga::{Compensation, FinalizeStage, Outcome, Phase, Saga};
use greenfleet_core::stored;
use greenfleet_workers::demo::{DEMO_LIMIT_MS, DEMO_START};
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::scenarios::{self, Scenario};
use greenfleet_workers::worker::{Disposition, Source};
use serde_json::{Value, json};

mod recorder;

use recorder::{Recorder, Tape, locked};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");
const BLESS: &str = "GREENFLEET_BLESS=1 ./scripts/test.sh -p greenfleet-tests --test integration golden";

fn blessing() -> bool {
    std::env::var_os("GREENFLEET_BLESS").is_some()
}

/// A file name for a step name: `Finalize(AwaitSpot)` → `finalize-awaitspot`.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// Every stable name the step table can produce. The matches have no wildcard arm: a new phase,
/// Finalize stage, compensation step or outcome does not compile here until it is listed, and once
/// listed the coverage check asks for its fixture.
fn every_step_name() -> Vec<&'static str> {
    let phases = [
        Phase::Preflight,
        Phase::Lock,
        Phase::Snapshot,
        Phase::StartGreen,
        Phase::AwaitGreen,
        Phase::CreateDeployment,
        Phase::AwaitDeployment,
        Phase::Verify,
        Phase::AwaitApproval,
        Phase::Release,
    ];
    for p in &phases {
        match p {
            Phase::Preflight
            | Phase::Lock
            | Phase::Snapshot
            | Phase::StartGreen
            | Phase::AwaitGreen
            | Phase::CreateDeployment
            | Phase::AwaitDeployment
            | Phase::Verify
            | Phase::AwaitApproval
            | Phase::Release
            | Phase::Finalize(_)
            | Phase::Compensating { .. }
            | Phase::Done(_) => {}
        }
    }
    let stages =
        [FinalizeStage::AwaitSpot, FinalizeStage::PointBlue, FinalizeStage::RemoveBlue, FinalizeStage::RestoreCapacity];
    for s in stages {
        match s {
            FinalizeStage::AwaitSpot
            | FinalizeStage::PointBlue
            | FinalizeStage::RemoveBlue
            | FinalizeStage::RestoreCapacity => {}
        }
    }
    let compensations = [
        Compensation::StopDeployment,
        Compensation::StopGreen,
        Compensation::RemoveGreen,
        Compensation::RestoreCapacity,
        Compensation::ReleaseLeases,
    ];
    for c in compensations {
        match c {
            Compensation::StopDeployment
            | Compensation::StopGreen
            | Compensation::RemoveGreen
            | Compensation::RestoreCapacity
            | Compensation::ReleaseLeases => {}
        }
    }
    let outcomes = [
        Outcome::Succeeded,
        Outcome::Rejected { reason: String::new() },
        Outcome::RolledBack { reason: String::new() },
        Outcome::NeedsAttention { reason: String::new(), left: Vec::new() },
    ];
    for o in &outcomes {
        match o {
            Outcome::Succeeded
            | Outcome::Rejected { .. }
            | Outcome::RolledBack { .. }
            | Outcome::NeedsAttention { .. } => {}
        }
    }
    let mut names: Vec<&'static str> = phases.iter().map(|p| p.policy().name).collect();
    let none_left = Phase::Compensating { reason: String::new(), remaining: Vec::new(), left: Vec::new() };
    names.push(none_left.policy().name);
    names.extend(stages.iter().map(|s| s.names().0));
    names.extend(compensations.iter().map(|c| c.names().0));
    names.extend(outcomes.iter().map(|o| o.names().0));
    names
}

/// Step names no rollout can be stored at, and why.
const UNREACHABLE: &[(&str, &str)] = &[(
    "Compensating",
    "compensation with no step left: entering a step runs its action at once (`Cx::enter`), and with \
     none left that action ends the rollout (`end_compensation`) in the same transition, so no write \
     ever stores it",
)];

/// Every lifecycle event kind (no wildcard: a new kind does not compile here until listed).
fn every_event_kind() -> Vec<String> {
    LifecycleKind::ALL
        .into_iter()
        .map(|k| {
            match k {
                LifecycleKind::Accepted
                | LifecycleKind::Rejected
                | LifecycleKind::Started
                | LifecycleKind::Succeeded
                | LifecycleKind::RolledBack
                | LifecycleKind::NeedsAttention
                | LifecycleKind::RequestConflicted => {}
            }
            slug(k.name())
        })
        .collect()
}

/// The fixture name of a step message's kind (no wildcard: a new kind needs a name here).
fn message_kind(body: &StepBody) -> String {
    match body {
        StepBody::Wake { kind, .. } => format!("wake-{}", slug(kind.name())),
        StepBody::Cancel { .. } => "cancel".into(),
        StepBody::Approve { .. } => "approve".into(),
    }
}

/// Every step-message kind.
fn every_message_kind() -> Vec<String> {
    let wakes = [WakeKind::Step, WakeKind::Poll, WakeKind::Deadline];
    let mut kinds: Vec<String> =
        wakes.into_iter().map(|kind| message_kind(&StepBody::Wake { fence: 0, kind, seq: 0 })).collect();
    kinds.push(message_kind(&StepBody::Cancel { by: String::new(), reason: String::new() }));
    kinds.push(message_kind(&StepBody::Approve { by: String::new() }));
    kinds
}

/// What an operator (or another publisher) does during a golden rollout.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operator {
    Nobody,
    /// Approves at READY (the request asks for manual approval).
    Approve,
    /// Cancels while green is launched.
    Cancel,
    /// Publishes a different request under the same requestId while green is launched.
    Conflict,
}

/// One golden rollout: a demo scenario, what is done to it, and how its cloud is prepared.
#[derive(Clone)]
struct Golden {
    s: Scenario,
    operator: Operator,
    /// Request fields set over the scenario's own.
    request: Value,
    /// Faults set up before the request is sent.
    prepare: fn(&Embedded, &Scenario),
    /// Another rollout holds the scenario's leases for this long from the start (0: nobody).
    leases_held_ms: u64,
}

fn demo(name: &str) -> Scenario {
    scenarios::demo().into_iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no demo scenario {name}"))
}

fn unprepared(_: &Embedded, _: &Scenario) {}

/// The demo's four rollouts, and variants that reach every other step, outcome, event and message.
fn golden_scenarios() -> Vec<Golden> {
    let plain = |s: Scenario| Golden {
        s,
        operator: Operator::Nobody,
        request: json!({}),
        prepare: unprepared,
        leases_held_ms: 0,
    };
    let variant = |base: &str, name: &'static str, about: &'static str, expect: &'static str| {
        let mut s = demo(base);
        (s.name, s.about, s.expect) = (name, about, expect);
        plain(s)
    };
    let mut list: Vec<Golden> = scenarios::demo().into_iter().map(plain).collect();
    list.push(Golden {
        operator: Operator::Approve,
        request: json!({"approval": "manual"}),
        ..variant("search-6.0", "search-approved", "waits at READY for a person's approval, then succeeds", "Succeeded")
    });
    list.push(Golden {
        operator: Operator::Cancel,
        ..variant(
            "shop-6.0",
            "shop-cancelled",
            "cancelled while green is launched; compensation removes green",
            "RolledBack",
        )
    });
    list.push(Golden {
        operator: Operator::Conflict,
        request: json!({"healthCheck": {"urlTemplate": "http://{ip}/health", "consecutiveSuccesses": 2, "intervalSeconds": 10}}),
        ..variant(
            "search-6.0",
            "search-verified",
            "health-checked at Verify before traffic moves; a different request under its requestId is refused",
            "Succeeded",
        )
    });
    list.push(Golden {
        prepare: |env, _| {
            env.cloud.faults(|f| {
                f.fail_next("detach", RemoteError::Unavailable("Spot is down".into()), 100);
                f.fail_next("set_capacity", RemoteError::Unavailable("Spot is down".into()), 100);
            });
        },
        ..variant(
            "checkout-6.0",
            "checkout-stranded",
            "CodeDeploy fails and Spot stays down: green cannot be removed, a person must finish",
            "NeedsAttention",
        )
    });
    list.push(Golden {
        leases_held_ms: 5 * 60_000,
        ..variant(
            "shop-6.0",
            "shop-locked",
            "waits 5 minutes for the lease another rollout holds, then succeeds",
            "Succeeded",
        )
    });
    list.push(Golden {
        prepare: |env, _| env.cloud.faults(|f| f.spot_finish_delay_ms = 90_000),
        ..variant(
            "search-6.0",
            "search-slow-spot",
            "Spot reports its Blue/Green deployment FINISHED 90 s after CodeDeploy succeeded",
            "Succeeded",
        )
    });
    list
}

fn request(g: &Golden) -> String {
    let mut r = g.s.request();
    r["requestId"] = json!(g.s.name);
    if let Some(extra) = g.request.as_object() {
        for (k, v) in extra {
            r[k] = v.clone();
        }
    }
    r.to_string()
}

/// The scenario's request reused for another revision.
fn conflicting(g: &Golden) -> String {
    let mut r: Value = serde_json::from_str(&request(g)).expect("JSON");
    r["revision"]["s3"]["key"] = json!(format!("{}/other.zip", g.s.group.name));
    r.to_string()
}

/// What the operator does once the live saga is at `saga`'s step; true when it acted.
async fn operate(env: &Embedded, g: &Golden, saga: &Saga) -> bool {
    let step = saga.phase.name();
    let now = env.clock.now();
    let body = match g.operator {
        Operator::Approve if step == "AwaitApproval" => StepBody::Approve { by: "golden".into() },
        Operator::Cancel if step == "AwaitGreen" => {
            StepBody::Cancel { by: "golden".into(), reason: "golden cancel".into() }
        }
        Operator::Conflict if step == "AwaitGreen" => {
            env.submit(&conflicting(g)).await;
            return true;
        }
        _ => return false,
    };
    let msg = StepMessage { rollout_id: saga.id.clone(), id: format!("golden:{step}"), due: now, body };
    let _ = env.steps.send(&msg.encode(), 0).await;
    true
}

/// What the simulated cloud holds for scenario `s`, while its saga is `saga`.
fn cloud_state(env: &Embedded, s: &Scenario, saga: Option<&Saga>) -> Value {
    let group = env.cloud.group_state(&s.group.id).map(|g| {
        json!({
            "id": s.group.id.as_str(),
            "capacity": {"minimum": g.capacity.minimum, "maximum": g.capacity.maximum, "target": g.capacity.target},
            "instances": g.instances.iter().map(|i| json!({
                "id": i.id.as_str(),
                "state": format!("{:?}", i.state),
                "tags": i.tags.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "blueGreen": g.green.as_ref().map(|bg| format!("{bg:?}")),
        })
    });
    let deployment = saga
        .and_then(|x| x.facts.deployment_id.clone())
        .map(|d| json!({"id": d.as_str(), "status": env.cloud.deployment_status(&d).map(|st| format!("{st:?}"))}));
    json!({"group": group, "codeDeployDeployment": deployment})
}

/// Handles one visible message (the cloud's events first delivered), as a worker would. `None` when
/// nothing was visible; `Some(false)` when the worker died handling it (the message stays in flight).
async fn handle_one(env: &Embedded, recorder: &Recorder, sent: &mut BTreeMap<String, String>) -> Option<bool> {
    for envelope in env.cloud.drain_events() {
        let _ = env.events.send(&envelope, 0).await;
    }
    for (source, queue) in [(Source::Intake, &env.intake), (Source::Events, &env.events), (Source::Steps, &env.steps)] {
        let Ok(batch) = queue.receive(1, 0).await else { continue };
        let Some(d) = batch.into_iter().next() else { continue };
        if source == Source::Steps
            && let Ok(msg) = StepMessage::decode(&d.body)
        {
            sent.entry(message_kind(&msg.body)).or_insert_with(|| d.body.clone());
        }
        let disposition = env.worker.process(source, &d).await;
        if locked(&recorder.tape).dead {
            return Some(false);
        }
        let _ = match disposition {
            Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await,
            Disposition::Retry(ms) => queue.release(&d.receipt, ms).await,
            Disposition::Poison(_) => queue.release(&d.receipt, 0).await,
            Disposition::DeadLetter(why) => panic!("a golden rollout met a broken invariant: {why}"),
        };
        return Some(true);
    }
    None
}

/// What one run of a golden rollout saw.
#[derive(Default)]
struct Run {
    /// The steps it entered, in order.
    steps: Vec<String>,
    /// The fixture written at the worker's death, when it was asked to die.
    fixture: Option<Value>,
    messages: BTreeMap<String, String>,
    events: Vec<LifecycleEvent>,
    outcome: Option<String>,
}

/// Runs golden rollout `g` in a fresh engine, one message at a time, to its end. With `restore`, the
/// worker dies right after first writing step `restore.0`, and the stored saga is replaced by
/// `restore.1` (when blessing: by the saga written, round-tripped through the stored format).
async fn run(g: &Golden, mut restore: Option<(&str, Option<Saga>)>) -> Run {
    let tape = Tape { die_at: restore.as_ref().map(|(step, _)| (*step).to_owned()), ..Tape::default() };
    let mut recorder = None;
    let env = Embedded::with_store(DEMO_START, |store| {
        let r = Arc::new(Recorder { inner: store, tape: Mutex::new(tape) });
        recorder = Some(r.clone());
        r
    });
    let recorder = recorder.expect("the engine wraps its store");
    g.s.install(&env.cloud);
    (g.prepare)(&env, &g.s);
    if g.leases_held_ms > 0 {
        let keys = [LeaseKey::group(&g.s.group.id), LeaseKey::deployment_group(&g.s.deployment_group.name)];
        let other = RolloutId::parse("golden-other").expect("a valid id");
        let until = DEMO_START.plus_ms(g.leases_held_ms);
        env.leases.acquire(&keys, &other, until, DEMO_START).await.expect("the other rollout takes the leases");
    }
    env.submit(&request(g)).await;
    let mut out = Run::default();
    let mut operated = false;
    loop {
        match handle_one(&env, &recorder, &mut out.messages).await {
            Some(true) => {
                let live = env.store.all().into_iter().find(|x| x.id.as_str() == g.s.name);
                if !operated && let Some(saga) = live {
                    operated = operate(&env, g, &saga).await;
                }
                continue;
            }
            Some(false) => {
                let (step, fixture) = restore.take().expect("the worker dies only when asked to");
                let written = locked(&recorder.tape).entries.last().expect("it died after a write").1.clone();
                let mut fixture = fixture.unwrap_or_else(|| {
                    stored::decode_value(stored::encode_value(&written).expect("encodes")).expect("decodes")
                });
                let now = env.clock.now();
                out.fixture = Some(json!({
                    "scenario": g.s.name,
                    "about": g.s.about,
                    "step": step,
                    "atMs": now.since(DEMO_START),
                    "outcome": g.s.expect,
                    "cloud": cloud_state(&env, &g.s, Some(&written)),
                    "queued": {"steps": env.steps.len(), "events": env.events.len(), "intake": env.intake.len()},
                    "state": stored::encode_value(&written).expect("encodes"),
                }));
                fixture.version = written.version + 1;
                env.store.save(&fixture, written.version).await.expect("the fixture takes the stored saga's place");
                locked(&recorder.tape).dead = false;
                if !operated {
                    operated = operate(&env, g, &fixture).await;
                }
                continue;
            }
            None => {}
        }
        let now = env.clock.now();
        match env.next_due() {
            Some(t) if t.since(DEMO_START) <= DEMO_LIMIT_MS => env.clock.set(if t > now { t } else { now.plus_ms(1) }),
            _ => break,
        }
    }
    out.steps = locked(&recorder.tape).entries.iter().map(|(step, _)| step.clone()).collect();
    let saga = env.store.all().into_iter().find(|x| x.id.as_str() == g.s.name).expect("the saga exists");
    out.outcome = saga.outcome().map(|o| o.kind().to_owned());
    out.events = env.bus.events();
    out
}

fn write_json(path: &Path, value: &Value) {
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("create the golden folder");
    let text = serde_json::to_string_pretty(value).expect("encodes") + "\n";
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn files(folder: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(GOLDEN).join(folder))
        .unwrap_or_else(|e| panic!("tests/golden/{folder}: {e}; bless with GREENFLEET_BLESS=1"))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

/// Regenerates every fixture from the scenarios.
async fn bless() {
    let root = Path::new(GOLDEN);
    for folder in ["sagas", "events", "messages"] {
        let _ = std::fs::remove_dir_all(root.join(folder));
    }
    for g in golden_scenarios() {
        let fresh = run(&g, None).await;
        assert_eq!(fresh.outcome.as_deref(), Some(g.s.expect), "{} must end {}", g.s.name, g.s.expect);
        for step in &fresh.steps {
            let restored = run(&g, Some((step, None))).await;
            assert_eq!(restored.outcome.as_deref(), Some(g.s.expect), "{} restored at {step}", g.s.name);
            let file = restored.fixture.expect("the worker died at the step");
            write_json(&root.join("sagas").join(format!("{}--{}.json", g.s.name, slug(step))), &file);
        }
        for e in &fresh.events {
            let path = root.join("events").join(format!("{}.json", slug(e.kind.name())));
            if !path.exists() {
                write_json(&path, &serde_json::to_value(e).expect("encodes"));
            }
        }
        for (kind, body) in &fresh.messages {
            let path = root.join("messages").join(format!("{kind}.json"));
            if !path.exists() {
                write_json(&path, &serde_json::from_str(body).expect("a JSON body"));
            }
        }
    }
}

#[tokio::test]
async fn golden_sagas_load_and_run_to_their_outcome() {
    if blessing() {
        bless().await;
    }
    let scenarios: BTreeMap<&str, Golden> = golden_scenarios().into_iter().map(|g| (g.s.name, g)).collect();
    // Every fixture loads with this build, at the step it names.
    let mut loaded = Vec::new();
    for path in files("sagas") {
        let file = read_json(&path);
        let name = file["scenario"].as_str().expect("scenario").to_owned();
        let step = file["step"].as_str().expect("step").to_owned();
        let expect = file["outcome"].as_str().expect("outcome").to_owned();
        let saga = stored::decode_value(file["state"].clone())
            .unwrap_or_else(|e| panic!("{}: this build cannot load it: {e}", path.display()));
        assert_eq!(saga.id.as_str(), name, "{}", path.display());
        assert_eq!(saga.phase.name(), step, "{}: the stored saga is not at its step", path.display());
        loaded.push((path, name, step, expect, saga));
    }
    // Together they cover every name the step table can produce.
    let steps: BTreeSet<&str> = loaded.iter().map(|(_, _, step, _, _)| step.as_str()).collect();
    let unreachable: BTreeSet<&str> = UNREACHABLE.iter().map(|(name, _)| *name).collect();
    let missing: Vec<&str> =
        every_step_name().into_iter().filter(|name| !steps.contains(name) && !unreachable.contains(name)).collect();
    assert!(
        missing.is_empty(),
        "no golden saga at {missing:?}: add a golden scenario that reaches it (or list it in UNREACHABLE with the reason), then run {BLESS}"
    );
    for (name, why) in UNREACHABLE {
        assert!(!steps.contains(name), "{name} has a golden saga now: remove it from UNREACHABLE (\"{why}\")");
    }
    golden_events_and_messages_decode();
    // Every step a scenario enters has its fixture, and no fixture is left of a step none enters.
    let fixed: BTreeSet<String> = loaded.iter().map(|(_, name, step, _, _)| format!("{name}--{step}")).collect();
    let mut reached = BTreeSet::new();
    for g in scenarios.values() {
        let fresh = run(g, None).await;
        assert_eq!(fresh.outcome.as_deref(), Some(g.s.expect), "{}", g.s.name);
        reached.extend(fresh.steps.into_iter().map(|step| format!("{}--{step}", g.s.name)));
    }
    let unfixed: Vec<&String> = reached.difference(&fixed).collect();
    let stale: Vec<&String> = fixed.difference(&reached).collect();
    assert!(
        unfixed.is_empty() && stale.is_empty(),
        "the golden sagas differ from the steps the scenarios enter: without a fixture {unfixed:?}, never entered {stale:?}; run {BLESS}"
    );
    // A rollout restored from each runs to its outcome.
    for (path, name, step, expect, saga) in loaded {
        let g =
            scenarios.get(name.as_str()).unwrap_or_else(|| panic!("{}: no golden scenario `{name}`", path.display()));
        let run = run(g, Some((&step, Some(saga)))).await;
        assert!(run.fixture.is_some(), "{}: the scenario never reached {step}", path.display());
        assert_eq!(run.outcome.as_deref(), Some(expect.as_str()), "{}: restored at {step}", path.display());
    }
}

/// Every golden event and message decodes, and there is one of every kind (called after blessing,
/// so it reads the files written).
fn golden_events_and_messages_decode() {
    let mut kinds = BTreeSet::new();
    for path in &files("events") {
        let event: LifecycleEvent = serde_json::from_value(read_json(path))
            .unwrap_or_else(|e| panic!("{}: not a lifecycle event: {e}", path.display()));
        let kind = slug(event.kind.name());
        assert!(path.ends_with(format!("{kind}.json")), "{} holds a {kind} event", path.display());
        kinds.insert(kind);
    }
    let missing: Vec<String> = every_event_kind().into_iter().filter(|k| !kinds.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "no golden lifecycle event of kind {missing:?}: add a scenario that publishes it, then run {BLESS}"
    );
    let mut kinds = BTreeSet::new();
    for path in &files("messages") {
        let body = read_json(path).to_string();
        let msg = StepMessage::decode(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let kind = message_kind(&msg.body);
        assert!(path.ends_with(format!("{kind}.json")), "{} holds a {kind} message", path.display());
        kinds.insert(kind);
    }
    let missing: Vec<String> = every_message_kind().into_iter().filter(|k| !kinds.contains(k)).collect();
    assert!(
        missing.is_empty(),
        "no golden step message of kind {missing:?}: add a scenario that sends it, then run {BLESS}"
    );
}
