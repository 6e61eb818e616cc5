//! `greenfleet sim`: the simulated Spot API and CodeDeploy served over HTTP, publishing CodeDeploy's
//! state-change events to EventBridge (PutEvents, source `aws.codedeploy`) as AWS does, so the
//! EventBridge rule → SQS path is exercised for real.

use std::sync::Arc;

use async_trait::async_trait;
use greenfleet_infra::eventbridge::EventBridgeBus;
use greenfleet_sim::{Cloud, EventSink};

/// Sends the simulator's event envelopes to EventBridge's default bus.
pub struct PutEventsSink(pub EventBridgeBus);

#[async_trait]
impl EventSink for PutEventsSink {
    async fn put(&self, envelopes: Vec<String>) -> Result<(), String> {
        for envelope in envelopes {
            let v: serde_json::Value = serde_json::from_str(&envelope).map_err(|e| format!("bad envelope: {e}"))?;
            let text = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_owned();
            let resources = v
                .get("resources")
                .and_then(|r| r.as_array())
                .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            let detail = v.get("detail").map(ToString::to_string).unwrap_or_else(|| "{}".into());
            self.0
                .put(&text("source"), &text("detail-type"), detail, None, resources)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Serves the simulator on `listener` until `shutdown`; with `demo`, the demo's groups are set up
/// first. The instances answer health checks on their loopback IPs and `health_port` (`None`: the
/// listener's port, or no health checks when it listens on a wildcard address; see
/// [`greenfleet_sim::ServeOptions::health_port`]).
pub async fn run(
    listener: tokio::net::TcpListener,
    token: Option<String>,
    demo: bool,
    health_port: Option<u16>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let clock: Arc<dyn greenfleet_core::ports::Clock> = Arc::new(crate::clock::SystemClock);
    let cloud = Cloud::new(clock);
    if demo {
        for s in crate::scenarios::demo() {
            s.install(&cloud);
        }
    }
    let sdk = greenfleet_infra::aws::load_sdk_config().await;
    let sink = Arc::new(PutEventsSink(EventBridgeBus::from_config(&sdk, "default")));
    let opts = greenfleet_sim::ServeOptions { expected_token: token, health_port, ..Default::default() };
    greenfleet_sim::serve(listener, cloud, opts, sink, shutdown).await?;
    Ok(())
}
