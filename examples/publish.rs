//! Another service starts a rollout with `greenfleet-client` and follows it to its end.

use std::time::Duration;

use greenfleet_client::{BundleType, Client, RequestBuilder, RolloutStatus};

/// Builds the request (refused here, field by field, if greenfleet would refuse it), sends it to
/// the intake queue and polls the rollout's status until it ends.
pub(crate) async fn publish_and_follow(
    client: &Client,
    elastigroup_id: &str,
    application: &str,
    deployment_group: &str,
) -> Result<RolloutStatus, Box<dyn std::error::Error + Send + Sync>> {
    let request = RequestBuilder::new("shop-6.0", elastigroup_id, application, deployment_group)
        .s3_revision("releases", "shop/6.0.zip", BundleType::Zip)
        .version_tag("6.0")
        .requested_by("ci@example.com")
        .build()?;
    let id = client.publish(&request).await?; // or client.publish_via_bus(&request)
    loop {
        match client.status(&id).await {
            Ok(Some(status)) if status.done => return Ok(status),
            Ok(_) => {}                      // not accepted yet, or still running
            Err(e) if e.is_retryable() => {} // throttled, network: ask again
            Err(e) => return Err(e.into()),  // e.g. table not found: run `greenfleet infra up`
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // The prefix given to `greenfleet infra up`; AWS settings come from the usual SDK chain.
    let client = Client::from_env("greenfleet").await?;
    let status = publish_and_follow(&client, "sig-1234abcd", "shop", "shop-bg").await?;
    println!("{} ended {:?} after {} ms", status.rollout_id, status.outcome, status.duration_ms);
    Ok(())
}
