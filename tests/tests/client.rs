//! `greenfleet-client` used the way an outside service uses it, against two worker processes on the
//! emulator: a request built with the builder and published on the bus, the README's example
//! publishing to the queue, both followed with `client.status` to their end; a bad request refused
//! by `build()` before anything is sent; a wrong prefix named in the error.

use std::time::Duration;

use greenfleet_client::{BundleType, Client, ClientError, RequestBuilder};
use greenfleet_core::ids::RolloutId;
use greenfleet_tests::env::{eventually_async, spawn_env};

#[allow(dead_code, clippy::unwrap_used)]
#[path = "../../examples/publish.rs"]
mod readme_example;

const OUTCOME: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outside_service_publishes_with_the_client_and_follows_its_rollouts() {
    let env = spawn_env().await;
    let shop = env.scenario("shop");
    let search = env.scenario("search");
    env.install(&shop);
    env.install(&search);
    let client = Client::from_env(&env.prefix).await.expect("a client for this installation");

    // A bad request never leaves the service: build() names the field.
    let bad = RequestBuilder::new(
        "search-bad",
        "sg-search",
        &env.app("search"),
        &search.deployment_group.name.deployment_group,
    )
    .s3_revision("releases", "search/7.0.zip", BundleType::Zip)
    .requested_by("search-ci")
    .build()
    .expect_err("a malformed elastigroup id is refused");
    assert_eq!(bad.problems.len(), 1, "{bad}");
    assert_eq!(bad.problems[0].field, "elastigroupId");
    assert!(bad.problems[0].message.contains("expected `sig-`"), "{bad}");

    // Through the bus: the builder, then status until done.
    let request = RequestBuilder::new(
        "search-7.0",
        search.group.id.as_str(),
        &env.app("search"),
        &search.deployment_group.name.deployment_group,
    )
    .s3_revision("releases", "search/7.0.zip", BundleType::Zip)
    .version_tag("7.0")
    .requested_by("search-ci")
    .build()
    .expect("a valid request");
    let via_bus = client.publish_via_bus(&request).await.expect("published on the bus");
    assert_eq!(via_bus.as_str(), "search-7.0");

    // Through the queue: the README's example, as written.
    let shop_status = tokio::time::timeout(
        OUTCOME,
        readme_example::publish_and_follow(
            &client,
            shop.group.id.as_str(),
            &env.app("shop"),
            &shop.deployment_group.name.deployment_group,
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("the README example did not see shop-6.0 end within {OUTCOME:?}\n{}", env.log_tails()))
    .expect("the README example runs");
    assert!(shop_status.succeeded(), "{shop_status:?}");
    assert_eq!(shop_status.step, "Done(Succeeded)");
    assert_eq!(shop_status.revision, "s3://releases/shop/6.0.zip (zip)");
    assert!(shop_status.deployment_id.is_some(), "{shop_status:?}");
    assert!(shop_status.duration_ms > 0);

    let search_status = eventually_async("search-7.0 ended", OUTCOME, || async {
        match client.status(&via_bus).await {
            Ok(Some(s)) if s.done => Ok(s),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert!(search_status.succeeded(), "{search_status:?}");
    assert_eq!(search_status.rollout_id, via_bus);
    assert_eq!(search_status.reason, None);
    assert!(search_status.deployment_id.is_some(), "{search_status:?}");

    // Only the two valid requests reached greenfleet.
    let unknown = RolloutId::parse("search-bad").expect("an id");
    assert_eq!(client.status(&unknown).await.expect("status of an unknown rollout"), None);
    assert_eq!(env.cloud.green_starts(&search.group.id), 1);

    // A wrong prefix: the error says what to run.
    let elsewhere = Client::new(&env.sdk, "gf-nowhere").expect("a valid prefix");
    let err = elsewhere.publish(&request).await.expect_err("no such queue");
    assert!(matches!(err, ClientError::QueueNotFound { .. }), "{err:?}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("run `greenfleet infra up --prefix gf-nowhere`"), "{err}");

    env.shutdown().await;
}
