//! The connection to one greenfleet installation: publish requests, approve and cancel rollouts,
//! read status.

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_eventbridge::error::ProvideErrorMetadata as _;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use greenfleet_core::ids::RolloutId;
use greenfleet_core::layout::{
    Names, PUBLISHER_SOURCE, QueueKind, ROLLOUT_APPROVED, ROLLOUT_CANCEL_REQUESTED, ROLLOUT_REQUESTED, table,
};
use greenfleet_core::operator_event::{ApprovalDetail, CancelDetail};
use greenfleet_core::request::{RolloutRequest, RolloutRequestDoc};
use tokio::sync::OnceCell;

use crate::error::ClientError;
use crate::status::{RolloutStatus, STATUS_VERSION};

/// The region used when neither the environment nor a profile names one (as greenfleet's own).
const DEFAULT_REGION: &str = "us-east-1";

/// A publisher's handle on one greenfleet installation (the prefix given to `greenfleet infra up`).
/// Cheap to clone; clones share the SDK clients.
#[derive(Debug, Clone)]
pub struct Client {
    names: Names,
    sqs: aws_sdk_sqs::Client,
    events: aws_sdk_eventbridge::Client,
    dynamo: aws_sdk_dynamodb::Client,
    intake_url: std::sync::Arc<OnceCell<String>>,
}

impl Client {
    /// Connects with the AWS SDK's default chain (environment, profile, instance role); honours
    /// `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>`, so it works unchanged against LocalStack or moto.
    pub async fn from_env(prefix: &str) -> Result<Self, ClientError> {
        let region = RegionProviderChain::default_provider().or_else(Region::from_static(DEFAULT_REGION));
        let cfg = aws_config::defaults(BehaviorVersion::latest()).region(region).load().await;
        Self::new(&cfg, prefix)
    }

    /// Uses an SDK configuration the service already has.
    pub fn new(cfg: &SdkConfig, prefix: &str) -> Result<Self, ClientError> {
        Ok(Self {
            names: Names::new(prefix)?,
            sqs: aws_sdk_sqs::Client::new(cfg),
            events: aws_sdk_eventbridge::Client::new(cfg),
            dynamo: aws_sdk_dynamodb::Client::new(cfg),
            intake_url: std::sync::Arc::new(OnceCell::new()),
        })
    }

    /// The installation's resource names.
    #[must_use]
    pub fn names(&self) -> &Names {
        &self.names
    }

    fn encode(request: &RolloutRequest) -> String {
        // A validated request always encodes; `to_string` of a derived `Serialize` cannot fail.
        serde_json::to_string(&RolloutRequestDoc::from(request)).unwrap_or_default()
    }

    async fn intake_url(&self) -> Result<&str, ClientError> {
        let url = self
            .intake_url
            .get_or_try_init(|| async {
                let queue = self.names.queue(QueueKind::Intake);
                match self.sqs.get_queue_url().queue_name(&queue).send().await {
                    Ok(out) => out
                        .queue_url()
                        .map(str::to_owned)
                        .ok_or_else(|| ClientError::QueueNotFound { queue, prefix: self.names.prefix().to_owned() }),
                    Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => {
                        Err(ClientError::QueueNotFound { queue, prefix: self.names.prefix().to_owned() })
                    }
                    Err(e) => Err(ClientError::aws("SQS", "GetQueueUrl", &e)),
                }
            })
            .await?;
        Ok(url)
    }

    /// Refuses `request` when its requestId already names a rollout created from a different request
    /// (another fingerprint). Only when the table is readable: if it is not (no permission, not there
    /// yet), the request is sent, and greenfleet's `Rollout Request Conflicted` event is the answer.
    async fn refuse_conflict(&self, request: &RolloutRequest) -> Result<(), ClientError> {
        let Ok(Some(status)) = self.status(&request.rollout_id()).await else { return Ok(()) };
        // A request greenfleet accepted always validates again; if it no longer does, greenfleet decides.
        let Ok(stored) = RolloutRequest::validate(status.request) else { return Ok(()) };
        match greenfleet_core::fingerprint::conflict_with(
            &status.rollout_id,
            status.fingerprint.as_deref(),
            &stored,
            request,
        ) {
            Some(c) => Err(ClientError::RequestConflict {
                request_id: c.request_id.to_string(),
                differences: c.differences.clone(),
                message: c.explain(),
            }),
            None => Ok(()),
        }
    }

    /// Sends the request to greenfleet's intake queue; returns the rollout it starts. Publishing the
    /// same request id again starts no second rollout; publishing it for a different request is
    /// refused ([`ClientError::RequestConflict`]) before sending when greenfleet's table is readable,
    /// and by greenfleet (a `Rollout Request Conflicted` event) otherwise.
    pub async fn publish(&self, request: &RolloutRequest) -> Result<RolloutId, ClientError> {
        self.refuse_conflict(request).await?;
        let url = self.intake_url().await?;
        self.sqs.send_message().queue_url(url).message_body(Self::encode(request)).send().await.map_err(|e| {
            if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) {
                ClientError::QueueNotFound {
                    queue: self.names.queue(QueueKind::Intake),
                    prefix: self.names.prefix().to_owned(),
                }
            } else {
                ClientError::aws("SQS", "SendMessage", &e)
            }
        })?;
        Ok(request.rollout_id())
    }

    /// Puts the request on greenfleet's EventBridge bus (detail-type `Rollout Requested`), where a
    /// rule routes it to the intake queue; returns the rollout it starts. A reused requestId is
    /// handled as by [`Self::publish`].
    pub async fn publish_via_bus(&self, request: &RolloutRequest) -> Result<RolloutId, ClientError> {
        self.refuse_conflict(request).await?;
        self.put_on_bus(ROLLOUT_REQUESTED, Self::encode(request)).await?;
        Ok(request.rollout_id())
    }

    /// Approves rollout `rollout_id` (approval `manual`, waiting at READY) on behalf of `by`: puts a
    /// `Rollout Approved` event on greenfleet's bus; a worker then lets CodeDeploy move traffic, as
    /// after `greenfleet approve`. An empty id or `by`, or a `by` longer than 256 characters, is
    /// refused before anything is sent. An approval for an unknown or finished rollout is ignored.
    pub async fn approve(&self, rollout_id: &str, by: &str) -> Result<(), ClientError> {
        let detail = ApprovalDetail::new(rollout_id, by)?;
        self.put_on_bus(ROLLOUT_APPROVED, Self::encode_detail(&detail)).await
    }

    /// Cancels rollout `rollout_id` on behalf of `by` because of `reason` (recorded in its history and
    /// its `Rollout RolledBack` event): puts a `Rollout Cancel Requested` event on greenfleet's bus; a
    /// worker then runs compensation, as after `greenfleet cancel`. An empty id, `by` or `reason`, or
    /// one too long (256 characters for `by`, 1024 for `reason`), is refused before anything is sent.
    pub async fn cancel(&self, rollout_id: &str, by: &str, reason: &str) -> Result<(), ClientError> {
        let detail = CancelDetail::new(rollout_id, by, reason)?;
        self.put_on_bus(ROLLOUT_CANCEL_REQUESTED, Self::encode_detail(&detail)).await
    }

    fn encode_detail(detail: &impl serde::Serialize) -> String {
        // A struct of strings always encodes.
        serde_json::to_string(detail).unwrap_or_default()
    }

    /// Puts one event with `detail` on greenfleet's bus.
    async fn put_on_bus(&self, detail_type: &str, detail: String) -> Result<(), ClientError> {
        let bus = self.names.bus();
        let entry = PutEventsRequestEntry::builder()
            .source(PUBLISHER_SOURCE)
            .detail_type(detail_type)
            .detail(detail)
            .event_bus_name(&bus)
            .build();
        let not_found = || ClientError::BusNotFound { bus: bus.clone(), prefix: self.names.prefix().to_owned() };
        let out = self.events.put_events().entries(entry).send().await.map_err(|e| {
            if e.code() == Some("ResourceNotFoundException") {
                not_found()
            } else {
                ClientError::aws("EventBridge", "PutEvents", &e)
            }
        })?;
        if out.failed_entry_count() > 0 {
            let failed = out.entries().iter().find(|e| e.error_code().is_some());
            let code = failed.and_then(|e| e.error_code()).unwrap_or_default();
            if code.contains("NotFound") {
                return Err(not_found());
            }
            // A failed entry carries a code but no HTTP status of its own: the code decides.
            let kind = greenfleet_core::failure::classify(greenfleet_core::failure::Observed::Answered {
                status: 400,
                code: Some(code),
            });
            return Err(ClientError::Aws {
                service: "EventBridge",
                op: "PutEvents",
                message: format!("{code}: {}", failed.and_then(|e| e.error_message()).unwrap_or_default()),
                kind,
            });
        }
        Ok(())
    }

    /// Where rollout `id` is; `None` while greenfleet has not accepted it (yet). Reads the status
    /// projection greenfleet writes beside the saga (`schema/rollout-status.v1.json`), never the
    /// saga's internal state, so a new greenfleet release does not break this client.
    pub async fn status(&self, id: &RolloutId) -> Result<Option<RolloutStatus>, ClientError> {
        let table_name = self.names.table();
        let out = self
            .dynamo
            .get_item()
            .table_name(&table_name)
            .key(table::PK, AttributeValue::S(table::saga_pk(id)))
            .projection_expression("#s")
            .expression_attribute_names("#s", table::ROLLOUT_STATUS)
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) {
                    ClientError::TableNotFound { table: table_name.clone(), prefix: self.names.prefix().to_owned() }
                } else {
                    ClientError::aws("DynamoDB", "GetItem", &e)
                }
            })?;
        let Some(item) = out.item() else { return Ok(None) };
        let unreadable = |message: String| ClientError::Unreadable { rollout_id: id.to_string(), message };
        let raw = item
            .get(table::ROLLOUT_STATUS)
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| unreadable(format!("no `{}` string", table::ROLLOUT_STATUS)))?;
        decode_status(raw).map(Some).map_err(unreadable)
    }
}

/// A status projection this client can read: `statusVersion` up to [`STATUS_VERSION`].
fn decode_status(raw: &str) -> Result<RolloutStatus, String> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| format!("not JSON: {e}"))?;
    match value.get("statusVersion").and_then(serde_json::Value::as_u64) {
        Some(v) if v > u64::from(STATUS_VERSION) => {
            return Err(format!("statusVersion {v}, newer than the {STATUS_VERSION} this client reads"));
        }
        Some(_) => {}
        None => return Err("no `statusVersion`".into()),
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose every call would fail: only checks made before sending can pass.
    fn offline() -> Client {
        let cfg = SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::from_static(DEFAULT_REGION))
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Client::new(&cfg, "greenfleet").expect("a valid prefix")
    }

    #[test]
    fn status_documents_are_read_up_to_this_clients_version() {
        let doc = |version: u64| {
            serde_json::json!({
                "statusVersion": version, "rolloutId": "shop-6.0",
                "request": {
                    "schemaVersion": 1, "requestId": "shop-6.0", "elastigroupId": "sig-1234abcd",
                    "application": "shop", "deploymentGroup": "shop-bg",
                    "revision": {"s3": {"bucket": "releases", "key": "shop/6.0.zip", "bundleType": "zip"}},
                    "greenTags": [{"key": "version", "value": "6.0"}], "requestedBy": "ci"
                },
                "step": "Done(Succeeded)", "waitingFor": "Succeeded", "done": true, "outcome": "Succeeded",
                "revision": "s3://releases/shop/6.0.zip (zip)", "greenReady": 2, "greenExpected": 2,
                "greenCount": 2, "blueCount": 2, "awaitingDeployment": false, "instancesDone": 2, "acceptedAt": 1, "since": 5,
                "updatedAt": 9, "durationMs": 8, "history": [{"at": 1, "step": "Preflight", "note": "accepted"}]
            })
            .to_string()
        };
        let status = decode_status(&doc(1)).expect("version 1");
        assert!(status.succeeded() && status.done, "{status:?}");
        assert_eq!((status.step.as_str(), status.history.len()), ("Done(Succeeded)", 1));
        assert!(decode_status(&doc(2)).expect_err("newer").contains("statusVersion 2"));
        assert!(decode_status("{}").expect_err("no version").contains("statusVersion"));
    }

    #[tokio::test]
    async fn an_unreadable_table_leaves_the_conflict_check_to_greenfleet() {
        let request = crate::RequestBuilder::new("shop-6.0", "sig-1234abcd", "shop", "shop-bg")
            .s3_revision("releases", "shop/6.0.zip", crate::BundleType::Zip)
            .requested_by("ci")
            .build()
            .expect("valid");
        // The table cannot be read here: the request goes on to be sent (and fails only at SQS).
        let e = offline().publish(&request).await.expect_err("no endpoint");
        assert!(matches!(e, ClientError::Aws { service: "SQS", .. }), "{e:?}");
    }

    #[tokio::test]
    async fn bad_approvals_and_cancels_are_refused_before_sending() {
        let c = offline();
        let cases = [
            (c.approve("", "ops").await, "not sent: `rolloutId` is not a rollout id"),
            (c.approve("shop 6.0", "ops").await, "not sent: `rolloutId` is not a rollout id"),
            (c.approve("shop-6.0", " ").await, "not sent: `by` is empty; say who approves"),
            (c.cancel("shop-6.0", "", "bad build").await, "not sent: `by` is empty; say who cancels"),
            (c.cancel("shop-6.0", "ops", "").await, "not sent: `reason` is empty"),
            (c.cancel("shop-6.0", "ops", &"r".repeat(1025)).await, "not sent: `reason` is 1025 characters long"),
            (c.approve("shop-6.0", &"b".repeat(257)).await, "not sent: `by` is 257 characters long"),
        ];
        for (result, expected) in cases {
            let e = result.expect_err("refused");
            assert!(matches!(e, ClientError::InvalidCommand(_)), "{e:?}");
            assert!(e.to_string().starts_with(expected), "{e}");
            assert!(!e.is_retryable());
        }
        // A valid one gets as far as the network (nothing listens there).
        let e = c.approve("shop-6.0", "ops").await.expect_err("no endpoint");
        assert!(matches!(e, ClientError::Aws { service: "EventBridge", .. }), "{e:?}");
    }
}
