//! greenfleet's lifecycle events on its EventBridge bus, behind core's `EventBus` port.
//!
//! Each event goes out as `source = "greenfleet"`, `detail-type = "Rollout <Kind>"` and the
//! [`LifecycleEvent`] as its JSON `detail`, so subscribers match on detail-type and read the detail.
//! The rules that route events (CodeDeploy → events queue, rollout requests → intake queue) are
//! created by [`crate::provision`].

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use greenfleet_core::event::{EVENT_SOURCE, LifecycleEvent};
use greenfleet_core::ports::{EventBus, QueueError};

use crate::aws::classify;

/// An EventBridge bus greenfleet publishes to. Cheap to clone; clones share the SDK client.
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: Client,
    bus_name: String,
}

impl EventBridgeBus {
    /// Publishes to `bus_name` (a name or ARN, as created by `greenfleet infra up`) through `client`.
    #[must_use]
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self { client, bus_name: bus_name.into() }
    }

    /// Publishes to `bus_name` with a new client built from `cfg`.
    #[must_use]
    pub fn from_config(cfg: &SdkConfig, bus_name: impl Into<String>) -> Self {
        Self::new(
            Client::from_conf(
                aws_sdk_eventbridge::config::Builder::from(cfg).retry_classifier(crate::aws::transport_only()).build(),
            ),
            bus_name,
        )
    }

    /// The bus's name.
    #[must_use]
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, event: &LifecycleEvent) -> Result<(), QueueError> {
        let detail = serde_json::to_string(event)
            .map_err(|e| QueueError::Rejected(format!("lifecycle event {} is not JSON: {e}", event.event_id)))?;
        self.put(EVENT_SOURCE, event.kind.detail_type(), detail, Some(&self.bus_name), Vec::new()).await
    }
}

impl EventBridgeBus {
    /// Puts one event with any source on `bus` (`None`: the default bus). The simulator uses it to
    /// publish CodeDeploy state changes the way AWS does.
    pub async fn put(
        &self,
        source: &str,
        detail_type: &str,
        detail: String,
        bus: Option<&str>,
        resources: Vec<String>,
    ) -> Result<(), QueueError> {
        let bus_name = bus.unwrap_or("default");
        let entry = PutEventsRequestEntry::builder()
            .source(source)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(bus_name)
            .set_resources(if resources.is_empty() { None } else { Some(resources) })
            .build();
        let out = self.client.put_events().entries(entry).send().await.map_err(|e| {
            let c = classify(&e);
            tracing::warn!(bus = %bus_name, detail_type, error = %c.message, "PutEvents failed");
            match c.code.as_deref() {
                _ if c.retryable => QueueError::Unavailable(format!("EventBridge PutEvents: {}", c.message)),
                Some("ResourceNotFoundException") => QueueError::Rejected(format!(
                    "event bus {bus_name} does not exist; run `greenfleet infra up` ({})",
                    c.message
                )),
                _ => QueueError::Rejected(format!(
                    "EventBridge refused PutEvents on bus {bus_name}: {}; check the bus name and the caller's permissions",
                    c.message
                )),
            }
        })?;
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .find(|e| e.error_code().is_some())
                .map(|e| format!("{}: {}", e.error_code().unwrap_or_default(), e.error_message().unwrap_or_default()))
                .unwrap_or_else(|| "no error given".to_owned());
            tracing::warn!(bus = %bus_name, detail_type, error = %why, "PutEvents entry failed");
            return Err(QueueError::Unavailable(format!(
                "EventBridge did not accept a `{detail_type}` event on bus {bus_name}: {why}"
            )));
        }
        Ok(())
    }
}
