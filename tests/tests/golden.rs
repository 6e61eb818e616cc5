//! Golden fixtures of what greenfleet stores and sends (`tests/golden/`): the promise that workers can
//! be upgraded while rollouts are in flight.
//!
//! * `sagas/<scenario>--<step>.json`: a saga as stored (`stateVersion` 1) at its first entry into a
//!   step, with the scenario that led there, the simulated cloud state it implies (groups, capacity,
//!   instances and their tags, Spot's Blue/Green state, the CodeDeploy deployment), how many messages
//!   were queued, and the outcome it must reach.
//! * `events/<kind>.json`: a lifecycle event of each kind the scenarios publish.
//! * `messages/<kind>.json`: a step or timer message of each kind the scenarios send.
//!
//! Without `GREENFLEET_BLESS` the test only reads the committed files: every saga fixture must load
//! with this build, and a rollout restored from it (the stored saga put in place of the live one at
//! that point of the scenario, in the embedded engine on the simulated cloud) must run to the outcome
//! the fixture names; every event and message must decode. `GREENFLEET_BLESS=1 cargo test -p
//! greenfleet-tests --test integration golden` regenerates the files from the scenarios.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use greenfleet_core::event::LifecycleEvent;
use greenfleet_core::ids::Timestamp;
use greenfleet_core::message::{StepBody, StepMessage};
use greenfleet_core::ports::{Clock as _, MessageQueue, SagaStore as _};
use greenfleet_core::saga::Saga;
use greenfleet_core::stored;
use greenfleet_workers::demo::{DEMO_LIMIT_MS, DEMO_START};
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::scenarios::{self, Scenario};
use greenfleet_workers::worker::{Disposition, Source};
use serde_json::{Value, json};

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/golden");

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

/// The golden scenarios: the demo's four, one approved by hand and one cancelled while green starts.
fn golden_scenarios() -> Vec<(Scenario, Option<&'static str>)> {
    let mut list: Vec<(Scenario, Option<&'static str>)> = scenarios::demo().into_iter().map(|s| (s, None)).collect();
    let mut approved = list[1].0.clone();
    approved.name = "search-approved";
    approved.about = "waits at READY for a person's approval, then succeeds";
    list.push((approved, Some("approve")));
    let mut cancelled = list[0].0.clone();
    cancelled.name = "shop-cancelled";
    cancelled.about = "cancelled while green is launched; compensation removes green";
    cancelled.expect = "RolledBack";
    list.push((cancelled, Some("cancel")));
    list
}

fn request(s: &Scenario, operator: Option<&str>) -> String {
    let mut r = s.request();
    r["requestId"] = json!(s.name);
    if operator == Some("approve") {
        r["approval"] = json!("manual");
    }
    r.to_string()
}

/// What an operator does, and when: approve at READY, cancel while green is launched.
fn operator_message(operator: Option<&str>, saga: &Saga, now: Timestamp) -> Option<StepMessage> {
    let step = saga.phase.name();
    let body = match operator? {
        "approve" if step == "AwaitApproval" => StepBody::Approve { by: "golden".into() },
        "cancel" if step == "AwaitGreen" => StepBody::Cancel { by: "golden".into(), reason: "golden cancel".into() },
        _ => return None,
    };
    Some(StepMessage { rollout_id: saga.id.clone(), id: format!("golden:{step}"), due: now, body })
}

/// What the simulated cloud holds for scenario `s`.
fn cloud_state(env: &Embedded, s: &Scenario) -> Value {
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
    let saga = env.store.all().into_iter().find(|x| x.id.as_str() == s.name);
    let deployment = saga
        .and_then(|x| x.facts.deployment_id.clone())
        .map(|d| json!({"id": d.as_str(), "status": env.cloud.deployment_status(&d).map(|st| format!("{st:?}"))}));
    json!({"group": group, "codeDeployDeployment": deployment})
}

/// Handles one visible message (the cloud's events first delivered), as a worker would.
async fn handle_one(env: &Embedded, sent: &mut BTreeMap<String, String>) -> bool {
    for envelope in env.cloud.drain_events() {
        let _ = env.events.send(&envelope, 0).await;
    }
    for (source, queue) in [(Source::Intake, &env.intake), (Source::Events, &env.events), (Source::Steps, &env.steps)] {
        let Ok(batch) = queue.receive(1, 0).await else { continue };
        let Some(d) = batch.into_iter().next() else { continue };
        if source == Source::Steps
            && let Ok(msg) = StepMessage::decode(&d.body)
        {
            let kind = match &msg.body {
                StepBody::Wake { kind, .. } => format!("wake-{}", slug(&format!("{kind:?}"))),
                StepBody::Cancel { .. } => "cancel".into(),
                StepBody::Approve { .. } => "approve".into(),
            };
            sent.entry(kind).or_insert_with(|| d.body.clone());
        }
        let _ = match env.worker.process(source, &d).await {
            Disposition::Ack => queue.ack(std::slice::from_ref(&d.receipt)).await,
            Disposition::Retry(ms) => queue.release(&d.receipt, ms).await,
            Disposition::Poison(_) => queue.release(&d.receipt, 0).await,
            Disposition::DeadLetter(why) => panic!("a golden rollout met a broken invariant: {why}"),
        };
        return true;
    }
    false
}

/// A saga fixture as found at the first entry into its step.
struct Point {
    step: String,
    file: Value,
}

/// What one run of a scenario saw.
#[derive(Default)]
struct Run {
    points: Vec<Point>,
    messages: BTreeMap<String, String>,
    events: Vec<LifecycleEvent>,
    outcome: Option<String>,
}

/// Runs scenario `s` in a fresh engine, one message at a time. At the first entry into each step the
/// saga is recorded; at the first entry into `restore.0`, the live saga is replaced by `restore.1`.
async fn run(s: &Scenario, operator: Option<&str>, mut restore: Option<(&str, Saga)>) -> Run {
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    env.submit(&request(s, operator)).await;
    let mut out = Run::default();
    let mut seen = BTreeSet::new();
    loop {
        if handle_one(&env, &mut out.messages).await {
            let Some(saga) = env.store.all().into_iter().find(|x| x.id.as_str() == s.name) else { continue };
            let step = saga.phase.name();
            if !seen.insert(step.clone()) {
                continue;
            }
            let now = env.clock.now();
            if let Some(msg) = operator_message(operator, &saga, now) {
                let _ = env.steps.send(&msg.encode(), 0).await;
            }
            if restore.as_ref().is_some_and(|(at, _)| *at == step) {
                let (_, mut fixture) = restore.take().expect("checked above");
                fixture.version = saga.version + 1;
                env.store.save(&fixture, saga.version).await.expect("the fixture takes the live saga's place");
            }
            out.points.push(Point {
                step: step.clone(),
                file: json!({
                    "scenario": s.name,
                    "about": s.about,
                    "step": step,
                    "atMs": now.since(DEMO_START),
                    "outcome": s.expect,
                    "cloud": cloud_state(&env, s),
                    "queued": {"steps": env.steps.len(), "events": env.events.len()},
                    "state": stored::encode_value(&saga).expect("encodes"),
                }),
            });
            continue;
        }
        let now = env.clock.now();
        match env.next_due() {
            Some(t) if t.since(DEMO_START) <= DEMO_LIMIT_MS => env.clock.set(if t > now { t } else { now.plus_ms(1) }),
            _ => break,
        }
    }
    let saga = env.store.all().into_iter().find(|x| x.id.as_str() == s.name).expect("the saga exists");
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
    for (s, operator) in golden_scenarios() {
        let run = run(&s, operator, None).await;
        assert_eq!(run.outcome.as_deref(), Some(s.expect), "{} must end {}", s.name, s.expect);
        for p in &run.points {
            write_json(&root.join("sagas").join(format!("{}--{}.json", s.name, slug(&p.step))), &p.file);
        }
        for e in &run.events {
            let path = root.join("events").join(format!("{}.json", slug(&format!("{:?}", e.kind))));
            if !path.exists() {
                write_json(&path, &serde_json::to_value(e).expect("encodes"));
            }
        }
        for (kind, body) in &run.messages {
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
    let scenarios: BTreeMap<&str, (Scenario, Option<&str>)> =
        golden_scenarios().into_iter().map(|(s, o)| (s.name, (s, o))).collect();
    let fixtures = files("sagas");
    let mut steps = BTreeSet::new();
    for path in &fixtures {
        let file = read_json(path);
        let name = file["scenario"].as_str().expect("scenario");
        let step = file["step"].as_str().expect("step");
        let expect = file["outcome"].as_str().expect("outcome");
        let saga = stored::decode_value(file["state"].clone())
            .unwrap_or_else(|e| panic!("{}: this build cannot load it: {e}", path.display()));
        assert_eq!(saga.id.as_str(), name, "{}", path.display());
        let (s, operator) = scenarios.get(name).unwrap_or_else(|| panic!("{}: no scenario `{name}`", path.display()));
        let run = run(s, *operator, Some((step, saga))).await;
        assert!(run.points.iter().any(|p| p.step == step), "{}: the scenario never reached {step}", path.display());
        assert_eq!(run.outcome.as_deref(), Some(expect), "{}: restored at {step}", path.display());
        steps.insert(step.to_owned());
    }
    // Every step a scenario is stored at between two messages has a fixture (a missing one means:
    // bless again). Steps passed within the handling of one message are stored only if a worker dies
    // there; the scenarios do not stop at them.
    let mut reached = BTreeSet::new();
    for (s, operator) in scenarios.values() {
        let fresh = run(s, *operator, None).await;
        assert_eq!(fresh.outcome.as_deref(), Some(s.expect), "{}", s.name);
        reached.extend(fresh.points.into_iter().map(|p| format!("{}--{}", s.name, p.step)));
    }
    let fixed: BTreeSet<String> = fixtures
        .iter()
        .map(|p| {
            let f = read_json(p);
            format!("{}--{}", f["scenario"].as_str().unwrap_or_default(), f["step"].as_str().unwrap_or_default())
        })
        .collect();
    assert_eq!(
        fixed, reached,
        "the golden sagas differ from the steps the scenarios reach: run GREENFLEET_BLESS=1 cargo test -p greenfleet-tests --test integration golden"
    );
    for needed in ["AwaitApproval", "Done(Succeeded)", "Done(RolledBack)", "Done(Rejected)"] {
        assert!(steps.contains(needed), "no golden saga at {needed}: {steps:?}");
    }
    assert!(steps.iter().any(|s| s.starts_with("Finalize(")), "no golden saga in Finalize: {steps:?}");
    assert!(steps.iter().any(|s| s.starts_with("Compensating(")), "no golden saga in compensation: {steps:?}");
    golden_events_and_messages_decode();
}

/// Every golden event and message decodes (called after blessing, so it reads the files written).
fn golden_events_and_messages_decode() {
    let events = files("events");
    assert!(!events.is_empty(), "no golden lifecycle events: bless with GREENFLEET_BLESS=1");
    for path in &events {
        let event: LifecycleEvent = serde_json::from_value(read_json(path))
            .unwrap_or_else(|e| panic!("{}: not a lifecycle event: {e}", path.display()));
        let kind = slug(&format!("{:?}", event.kind));
        assert!(path.ends_with(format!("{kind}.json")), "{} holds a {kind} event", path.display());
    }
    let messages = files("messages");
    assert!(!messages.is_empty(), "no golden step messages: bless with GREENFLEET_BLESS=1");
    for path in &messages {
        let body = read_json(path).to_string();
        StepMessage::decode(&body).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}
