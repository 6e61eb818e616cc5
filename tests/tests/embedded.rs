//! The embedded engine under hostile delivery: each message handled twice, events shuffled and
//! duplicated, acks lost. The outcomes must not change, and no Blue/Green deployment or CodeDeploy
//! deployment may be started twice.

use greenfleet_tests::chaos::{self, Hostility, Rng};
use greenfleet_workers::demo::{self, DEMO_LIMIT_MS, DEMO_START};
use greenfleet_workers::embedded::Embedded;
use greenfleet_workers::scenarios;

async fn run_demo(seed: u64, h: Hostility) {
    let list = scenarios::demo();
    let env = Embedded::new(DEMO_START);
    for s in &list {
        s.install(&env.cloud);
        env.submit(&s.request().to_string()).await;
    }
    let mut rng = Rng::new(seed);
    chaos::run(&env, &mut rng, h, DEMO_LIMIT_MS).await;
    for s in &list {
        let saga = env.store.all().into_iter().find(|x| x.id.as_str() == s.name).expect("saga stored");
        let outcome = saga.outcome().map(|o| o.kind().to_owned());
        assert_eq!(outcome.as_deref(), Some(s.expect), "seed {seed}: {}\n{}", s.name, demo::timeline(&saga));
        let problems = demo::check_cloud(s, &saga, &env.cloud);
        assert!(problems.is_empty(), "seed {seed}: {}: {problems:?}\n{}", s.name, demo::timeline(&saga));
        let starts = env.cloud.green_starts(&s.group.id);
        let created = env.cloud.deployments_created(&s.deployment_group.name);
        let want = u32::from(s.expect != "Rejected");
        assert_eq!((starts, created), (want, want), "seed {seed}: {} B/G starts / CreateDeployments", s.name);
    }
    // A message whose ack was lost on every receive ends in the dead-letter queue, as on SQS; that may
    // only ever be a message the saga no longer needed.
    for body in env.steps.dead_letters() {
        let msg = greenfleet_core::message::StepMessage::decode(&body).expect("step message");
        let saga = env.store.all().into_iter().find(|x| x.id == msg.rollout_id).expect("saga");
        assert!(saga.phase.is_done(), "seed {seed}: a needed step message was dead-lettered: {body}");
    }
    // Events dead-lettered the same way are simply lost events: the reconcile poll covers them, and the
    // outcomes above are asserted regardless.
}

#[tokio::test]
async fn demo_outcomes_hold_when_every_message_is_delivered_twice() {
    let h = Hostility { deliveries: 2, lost_acks: 0, duplicate_events: 0, shuffle: false };
    run_demo(1, h).await;
}

#[tokio::test]
async fn demo_outcomes_hold_with_shuffled_duplicated_events_and_lost_acks() {
    let h = Hostility { deliveries: 2, lost_acks: 10, duplicate_events: 50, shuffle: true };
    let seeds: u64 = std::env::var("GREENFLEET_CHAOS_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(40);
    for seed in 0..seeds {
        run_demo(seed, h).await;
    }
}

/// Three rollouts in a row on one group, with an unrelated EC2 instance in the account that carries
/// the version tag the second one deploys. Each must find blue where CodeDeploy looks (the deployment
/// group's tags, which Finalize points at the new blue) and target green by its unique tag alone.
#[tokio::test]
async fn successive_rollouts_on_one_group_keep_the_deployment_group_on_blue() {
    let s = scenarios::demo().into_iter().find(|s| s.name == "search-6.0").expect("the search scenario");
    let env = Embedded::new(DEMO_START);
    s.install(&env.cloud);
    let version_tag = |v: &str| greenfleet_core::ids::Tag::new("version", v).expect("a tag");
    let stranger = env.cloud.add_instance(vec![version_tag("6.1")]);
    let dg = &s.deployment_group.name;
    assert_eq!(env.cloud.deployment_group_view(dg).expect("dg").blue.to_string(), "release=search-5.0");
    for (n, version) in ["6.0", "6.1", "6.2"].into_iter().enumerate() {
        let id = format!("search-{version}");
        let mut request = s.request();
        request["requestId"] = serde_json::json!(id);
        request["greenTags"] = serde_json::json!([{"key": "version", "value": version}]);
        env.submit(&request.to_string()).await;
        env.run_until_idle(DEMO_LIMIT_MS, |_| {}).await;
        let saga = env.store.all().into_iter().find(|x| x.id.as_str() == id).expect("saga stored");
        assert_eq!(saga.outcome().map(|o| o.kind()), Some("Succeeded"), "rollout {n}: {}", demo::timeline(&saga));
        let view = env.cloud.deployment_group_view(dg).expect("dg");
        assert_eq!(view.blue.to_string(), format!("greenfleet:rollout={id}"), "rollout {n}");
        let state = env.cloud.group_state(&s.group.id).expect("group");
        let live: Vec<_> =
            state.instances.iter().filter(|i| i.state != greenfleet_core::cloud::InstanceState::Terminating).collect();
        assert!(
            !live.is_empty() && live.iter().all(|i| view.blue.matches(&i.tags)),
            "rollout {n}: only the new blue: {live:?}"
        );
    }
    assert_eq!(env.cloud.deployments_created(dg), 3);
    assert!(
        env.cloud.deployments_targeting(&stranger).is_empty(),
        "the unrelated instance tagged version=6.1 was deployed to"
    );
}
