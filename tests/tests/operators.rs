//! The operator commands end to end on the emulator: `greenfleet plan` against the simulator's live
//! groups (a clean one, then each preflight failure), proving it writes nothing to Spot, CodeDeploy
//! or the table; and `greenfleet watch` following a rollout to its end.
//!
//! The plan tests set the simulator up as `greenfleet sim --demo` does and run the README's example
//! request (`examples/plan-request.json`), comparing the output with `examples/plan-output.txt`.

use std::path::PathBuf;

use greenfleet_core::cloud::{DeploymentGroupRef, DeploymentType, GreenProvisioning};
use greenfleet_core::ids::{ElastigroupId, Tag};
use greenfleet_tests::env::{TestEnv, spawn_env};
use greenfleet_workers::scenarios::{self, Scenario};
use serde_json::Value;

/// A file of the repository's `examples/` folder.
fn example(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join(name)
}

fn read_example(name: &str) -> String {
    let path = example(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The world `greenfleet sim --demo` serves: the demo's four groups, installed in the same order.
fn install_demo(env: &TestEnv) {
    for s in scenarios::demo() {
        s.install(&env.cloud);
    }
}

/// Items in the environment's table (sagas, leases, index entries): none until a rollout is submitted.
async fn table_items(env: &TestEnv) -> i32 {
    let out = aws_sdk_dynamodb::Client::new(&env.sdk)
        .scan()
        .table_name(&env.provisioned.table)
        .select(aws_sdk_dynamodb::types::Select::Count)
        .send()
        .await
        .expect("counting the table's items");
    out.count()
}

/// Asserts that nothing was written: no Spot or CodeDeploy call that changes something, no table item.
async fn assert_nothing_written(env: &TestEnv) {
    assert!(env.cloud.api_writes().is_empty(), "plan wrote to Spot or CodeDeploy: {:?}", env.cloud.api_writes());
    assert_eq!(table_items(env).await, 0, "plan wrote to greenfleet's table");
}

/// Runs `greenfleet plan <file> [extra]` against the simulator.
async fn plan(env: &TestEnv, file: &std::path::Path, extra: &[&str]) -> (Option<i32>, String, String) {
    let path = file.to_str().expect("a UTF-8 path");
    let args: Vec<&str> = ["plan", path].into_iter().chain(extra.iter().copied()).collect();
    env.cli_on_sim(&args, &[]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_shows_what_the_readme_example_would_do_and_changes_nothing() {
    let env = spawn_env().await;
    install_demo(&env);
    let request = example("plan-request.json");

    let (code, out, err) = plan(&env, &request, &[]).await;
    assert_eq!(code, Some(0), "greenfleet plan: {out}{err}");
    assert_eq!(out, read_example("plan-output.txt"), "the README's plan output");

    let (code, out, err) = plan(&env, &request, &["--output", "json"]).await;
    assert_eq!(code, Some(0), "{out}{err}");
    let v: Value = serde_json::from_str(&out).expect("plan --output json prints JSON");
    assert_eq!(v["accepted"], true);
    let c = &v["plan"]["capacity"];
    let cap = |t: u32, min: u32, max: u32| serde_json::json!({ "minimum": min, "maximum": max, "target": t });
    // The search group runs one instance at [Target 1, Min 1, Max 1] under KEEP_ALIVE (F8's example).
    assert_eq!((&c["before"], &c["during"], &c["after"]), (&cap(1, 1, 1), &cap(2, 1, 2), &cap(1, 1, 1)));
    let search = env.cloud.group_state(&ElastigroupId::parse("sig-5b0b0002").unwrap()).unwrap();
    assert_eq!(v["plan"]["launch"]["count"], 1);
    assert_eq!(v["plan"]["remove"]["instances"], serde_json::json!([search.instances[0].id]));
    assert_eq!(
        v["plan"]["launch"]["tags"],
        serde_json::json!([{ "key": "greenfleet:rollout", "value": "search-6.0" }, { "key": "version", "value": "6.0" }])
    );
    // Green is targeted by its unique tag alone: CodeDeploy ORs target tag filters.
    assert_eq!(
        v["plan"]["deployment"]["targetTags"],
        serde_json::json!([{ "key": "greenfleet:rollout", "value": "search-6.0" }])
    );
    assert_eq!(v["plan"]["deployment"]["blueFilter"]["after"], "greenfleet:rollout=search-6.0");
    assert_eq!(v["plan"]["deployment"]["deploymentGroup"]["deployment_group"], "search-bg");
    assert_eq!(v["plan"]["gates"]["approval"], "manual");

    // It read the group, its instances, its Blue/Green and the deployment group, once per run.
    let calls = env.cloud.api_calls();
    for op in ["group", "instances", "describe_instances", "green", "deployment_group"] {
        assert_eq!(calls.get(op), Some(&2), "{op} calls: {calls:?}");
    }
    assert_nothing_written(&env).await;
    env.shutdown().await;
}

/// One way a setup breaks preflight: what to change from the demo's search group, and the rule named.
struct Case {
    what: &'static str,
    rule: &'static str,
    change: fn(&mut Scenario, &mut bool, &mut Value),
}

const CASES: &[Case] = &[
    Case {
        what: "an IN_PLACE deployment group (F1)",
        rule: "[F1 blue/green deployment type]",
        change: |s, _, _| s.deployment_group.deployment_type = DeploymentType::InPlace,
    },
    Case {
        what: "a deployment group that copies an Auto Scaling group (F1)",
        rule: "[F1 discover existing instances]",
        change: |s, _, _| s.deployment_group.green_provisioning = Some(GreenProvisioning::CopyAutoScalingGroup),
    },
    Case {
        what: "no EC2 tag filters (F1)",
        rule: "[F1 EC2 tags identify blue]",
        change: |s, _, _| s.deployment_group.blue = greenfleet_core::cloud::BlueSelector::Filters(vec![]),
    },
    Case {
        what: "no deployment group (F1)",
        rule: "[F1 deployment group exists]",
        change: |_, install_dg, _| *install_dg = false,
    },
    Case {
        what: "no CodeDeploy integration (F2)",
        rule: "[F2 Elastigroup CodeDeploy integration] Elastigroup sig-0000c004 is not integrated with CodeDeploy deployment group plan/case-4 (it has no CodeDeploy integration)",
        change: |s, _, _| s.group.codedeploy.clear(),
    },
    Case {
        what: "an integration naming another deployment group (F2)",
        rule: "[F2 Elastigroup CodeDeploy integration] Elastigroup sig-0000c005 is not integrated with CodeDeploy deployment group plan/case-5 (it names plan/elsewhere)",
        change: |s, _, _| {
            s.group.codedeploy =
                vec![DeploymentGroupRef { application: "plan".into(), deployment_group: "elsewhere".into() }];
        },
    },
    Case {
        what: "the deployment group's filter among the group's tags (F3)",
        rule: "[F3 group tags are not blue/green tags]",
        change: |s, _, _| s.group.group_tags.push(Tag { key: "release".into(), value: "search-5.0".into() }),
    },
    Case {
        what: "green tags equal to blue's (F4)",
        rule: "[F4 green tags differ from blue]",
        change: |_, _, r| r["greenTags"] = serde_json::json!([{ "key": "release", "value": "search-5.0" }]),
    },
    Case {
        what: "EC2 tags that miss the running instances (F1)",
        rule: "[F1 tags select every blue instance]",
        change: |s, _, _| {
            s.deployment_group.blue =
                greenfleet_core::cloud::BlueSelector::Filters(vec![greenfleet_core::cloud::TagFilter {
                    key: "release".into(),
                    value: "search-4.9".into(),
                    key_only: false,
                }]);
        },
    },
    Case {
        what: "no load balancer (F1)",
        rule: "[F1 load balancer]",
        change: |s, _, _| s.deployment_group.load_balancer = false,
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_rejects_each_preflight_failure_naming_the_rule_with_exit_2() {
    let env = spawn_env().await;
    let base = scenarios::demo().into_iter().find(|s| s.name == "search-6.0").expect("the demo's search rollout");
    let example: Value = serde_json::from_str(&read_example("plan-request.json")).unwrap();
    let dir = std::env::temp_dir().join(&env.prefix);
    std::fs::create_dir_all(&dir).unwrap();

    for (i, case) in CASES.iter().enumerate() {
        // Each case its own group and deployment group, the example request pointed at them.
        let mut s = base.clone();
        s.group.id = ElastigroupId::parse(&format!("sig-0000c{i:03}")).unwrap();
        s.deployment_group.name =
            DeploymentGroupRef { application: "plan".into(), deployment_group: format!("case-{i}") };
        s.group.codedeploy = vec![s.deployment_group.name.clone()];
        let (mut install_dg, mut request) = (true, example.clone());
        request["elastigroupId"] = Value::from(s.group.id.as_str());
        request["application"] = Value::from("plan");
        request["deploymentGroup"] = Value::from(format!("case-{i}"));
        (case.change)(&mut s, &mut install_dg, &mut request);
        env.cloud.add_group(s.group.clone());
        if install_dg {
            env.cloud.add_deployment_group(s.deployment_group.clone(), 60);
        }
        let file = dir.join(format!("case-{i}.json"));
        std::fs::write(&file, request.to_string()).unwrap();

        let (code, out, err) = plan(&env, &file, &[]).await;
        assert_eq!(code, Some(2), "{}: exit code\n{out}{err}", case.what);
        assert!(out.contains("would be REJECTED (nothing was changed)"), "{}: {out}", case.what);
        assert!(out.contains(case.rule), "{}: the output names `{}`:\n{out}", case.what, case.rule);

        let (code, out, _) = plan(&env, &file, &["--output", "json"]).await;
        assert_eq!(code, Some(2), "{}", case.what);
        let v: Value = serde_json::from_str(&out).expect("JSON");
        assert_eq!(v["accepted"], false, "{}", case.what);
        assert!(!v["violations"].as_array().unwrap().is_empty(), "{}: {v}", case.what);
    }
    // The F1 IN_PLACE case in JSON names the rule for scripts.
    let (_, out, _) = plan(&env, &dir.join("case-0.json"), &["--output", "json"]).await;
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["violations"][0]["rule"], "BlueGreenStyle", "{v}");
    assert!(v["violations"][0]["message"].as_str().unwrap().contains("deploymentStyle.deploymentType"), "{v}");

    assert_nothing_written(&env).await;
    let _ = std::fs::remove_dir_all(&dir);
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_says_what_to_do_about_a_bad_request_an_unknown_group_and_a_refused_token() {
    let env = spawn_env().await;
    install_demo(&env);
    let dir = std::env::temp_dir().join(&env.prefix);
    std::fs::create_dir_all(&dir).unwrap();
    let mut request: Value = serde_json::from_str(&read_example("plan-request.json")).unwrap();

    request["timeouts"]["approvalMinutes"] = Value::from(0);
    let invalid = dir.join("invalid.json");
    std::fs::write(&invalid, request.to_string()).unwrap();
    let (code, out, err) = plan(&env, &invalid, &[]).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("timeouts.approvalMinutes: 0 is out of range; use 1 to 2880"), "{out}");

    request["timeouts"]["approvalMinutes"] = Value::from(30);
    request["elastigroupId"] = Value::from("sig-00000bad");
    let unknown = dir.join("unknown.json");
    std::fs::write(&unknown, request.to_string()).unwrap();
    let (code, out, err) = plan(&env, &unknown, &[]).await;
    assert_eq!(code, Some(2), "{out}{err}");
    assert!(out.contains("sig-00000bad not found"), "{out}");

    let (code, out, err) =
        env.cli_on_sim(&["plan", example("plan-request.json").to_str().unwrap()], &[("SPOTINST_TOKEN", "wrong")]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("check GREENFLEET_SPOT_URL, SPOTINST_TOKEN"), "the error says what to check: {err}");

    // Without the Spot account, Spot would act on the organization's oldest account: plan refuses to start.
    let (code, out, err) =
        env.cli_on_sim(&["plan", example("plan-request.json").to_str().unwrap()], &[("SPOTINST_ACCOUNT", "")]).await;
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains("set SPOTINST_ACCOUNT (or --spot-account)") && err.contains("act-1a2b3c4d"), "{err}");

    assert_nothing_written(&env).await;
    let _ = std::fs::remove_dir_all(&dir);
    env.shutdown().await;
}

/// The steps a rollout went through, in order, from its history (consecutive repeats folded).
fn history_steps(saga: &greenfleet_core::saga::Saga) -> Vec<String> {
    let mut steps: Vec<String> = Vec::new();
    for h in saga.history.iter() {
        if steps.last() != Some(&h.step) {
            steps.push(h.step.clone());
        }
    }
    steps
}

/// Whether `seen` appears in `all` in the same order (not necessarily next to each other).
fn in_order(seen: &[String], all: &[String]) -> bool {
    let mut rest = all.iter();
    seen.iter().all(|s| rest.any(|a| a == s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_follows_a_rollout_step_by_step_to_its_outcome() {
    let env = spawn_env().await;
    let shop = env.scenario("shop");
    let checkout = env.scenario("checkout");
    env.install(&shop);
    env.install(&checkout);
    env.submit(&env.request(&shop, "shop-watch")).await;
    env.submit(&env.request(&checkout, "checkout-watch")).await;

    // Plain lines for one (stdout is a pipe), JSON lines for the other, both from the first step.
    let ((code, text, err), (json_code, json, json_err)) = tokio::join!(
        env.cli_on_sim(&["watch", "shop-watch", "--interval-ms", "200"], &[]),
        env.cli_on_sim(&["watch", "checkout-watch", "--interval-ms", "200", "--output", "json"], &[]),
    );

    assert_eq!(code, Some(0), "watch exits 0 for a rollout that succeeded\n{text}{err}");
    let saga = env.saga("shop-watch").await.expect("stored");
    env.assert_outcome(&saga, "Succeeded");
    let status_lines: Vec<&str> = text
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.split(' ').next().is_some_and(|t| t.ends_with('Z')))
        .collect();
    let phases: Vec<String> =
        status_lines.iter().filter_map(|l| l.split_whitespace().nth(1)).map(str::to_owned).collect();
    let steps = history_steps(&saga);
    let mut distinct = phases.clone();
    distinct.dedup();
    assert!(
        in_order(&distinct, &steps),
        "the lines follow the rollout's steps in order\n{phases:?}\n{steps:?}\n{text}"
    );
    assert!(phases.iter().any(|p| p == "AwaitGreen"), "a line while green launched:\n{text}");
    assert!(status_lines.iter().any(|l| l.contains("; green 2/2")), "green ready / expected:\n{text}");
    assert_eq!(phases.last().map(String::as_str), Some("Done(Succeeded)"), "{text}");
    let without_time: Vec<&str> = status_lines.iter().map(|l| l.split_once(' ').map_or(*l, |(_, rest)| rest)).collect();
    assert!(without_time.windows(2).all(|w| w[0] != w[1]), "a line only when something changes:\n{text}");
    assert!(text.contains("shop-watch — Succeeded after"), "the final timeline follows:\n{text}");

    assert_eq!(json_code, Some(3), "watch exits 3 for a rollout that did not succeed\n{json}{json_err}");
    let objects: Vec<Value> =
        json.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let (last, changes) = objects.split_last().expect("at least the final object");
    assert_eq!(last["outcome"], "RolledBack", "{last}");
    assert!(last["reason"].as_str().unwrap().contains("HOOK_EXECUTION_FAILURE"), "{last}");
    assert!(!last["history"].as_array().unwrap().is_empty());
    assert!(changes.windows(2).all(|w| w[0] != w[1]), "one object per change");
    assert!(changes.iter().any(|o| o["phase"].as_str().unwrap().starts_with("Compensating(")), "{json}");
    assert_eq!(changes.last().unwrap()["phase"], "Done(RolledBack)");
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_list_and_history_speak_json_for_scripts_and_errors_say_what_to_do() {
    let env = spawn_env().await;
    let s = env.scenario("shop");
    env.install(&s);
    env.submit(&env.request(&s, "shop-ops")).await;
    let saga = env.wait_for_outcome("shop-ops", std::time::Duration::from_secs(120)).await;
    env.assert_outcome(&saga, "Succeeded");

    let json = async |args: &[&str]| {
        let (code, out, err) = env.cli(args, "").await;
        assert_eq!(code, Some(0), "greenfleet {args:?}: {out}{err}");
        serde_json::from_str::<Value>(&out).unwrap_or_else(|e| panic!("greenfleet {args:?} prints JSON ({e}): {out}"))
    };
    let status = json(&["status", "shop-ops", "--output", "json"]).await;
    assert_eq!((&status["rolloutId"], &status["outcome"]), (&Value::from("shop-ops"), &Value::from("Succeeded")));
    assert_eq!(status["step"], "Done(Succeeded)");
    assert_eq!(status["deploymentId"], Value::from(saga.facts.deployment_id.as_ref().unwrap().as_str()));
    let list = json(&["list", "--output", "json"]).await;
    assert_eq!(list["active"], serde_json::json!([]));
    assert!(
        list["recent"].as_array().unwrap().iter().any(|r| r["id"] == "shop-ops" && r["outcome"] == "Succeeded"),
        "{list}"
    );
    let history = json(&["history", "shop-ops", "--output", "json"]).await;
    let steps: Vec<&str> = history.as_array().unwrap().iter().map(|h| h["step"].as_str().unwrap()).collect();
    assert_eq!((steps.first(), steps.last()), (Some(&"Preflight"), Some(&"Done(Succeeded)")), "{history}");

    // Errors name what was wrong and what to do.
    let (code, _, err) = env.cli(&["status", "shop-nope"], "").await;
    assert_eq!(code, Some(1));
    assert!(err.contains("no rollout `shop-nope`; `greenfleet list` shows the active and recent ones"), "{err}");
    let (code, _, err) = env.cli(&["cancel", "shop-ops", "--output", "json"], "").await;
    assert_eq!(code, Some(1));
    assert!(err.contains("rollout shop-ops already ended: Succeeded; nothing to cancel"), "{err}");
    let (code, _, err) = env.cli(&["--prefix", "gf-nothing-here", "list"], "").await;
    assert_eq!(code, Some(1));
    assert!(err.contains("greenfleet infra up"), "a missing installation says how to create it: {err}");
    env.shutdown().await;
}
