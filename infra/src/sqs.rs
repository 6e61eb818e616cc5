//! SQS queues (intake, steps, events) behind core's `MessageQueue` port.
//!
//! Delays become `DelaySeconds` (SQS's limit is 15 minutes: the worker re-arms longer timers),
//! releases become `ChangeMessageVisibility`, acks become `DeleteMessageBatch`. Dead-lettering is the
//! queue's redrive policy (see [`crate::provision`]), so receive counts come from SQS itself; a
//! message that can never succeed is moved at once (`dead_letter`: a send to the queue the redrive
//! policy names, then a delete).

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName};
use greenfleet_core::ports::{Delivery, MessageQueue, QueueError};

use crate::aws::classify;

/// SQS's longest `DelaySeconds`.
const MAX_DELAY_SECS: u64 = 900;
/// SQS's longest long-poll `WaitTimeSeconds`.
const MAX_WAIT_SECS: u64 = 20;
/// SQS's most messages per receive and entries per batch.
const MAX_BATCH: usize = 10;
/// SQS's longest visibility timeout (12 hours).
const MAX_VISIBILITY_SECS: u64 = 43_200;

/// One SQS queue, addressed by URL. Cheap to clone; clones share the SDK client.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    /// A queue at `url` (as returned by `infra up` or `GetQueueUrl`) reached through `client`.
    #[must_use]
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self { client, url: url.into() }
    }

    /// A queue at `url` with a new client built from `cfg`.
    #[must_use]
    pub fn from_config(cfg: &SdkConfig, url: impl Into<String>) -> Self {
        Self::new(
            Client::from_conf(
                aws_sdk_sqs::config::Builder::from(cfg).retry_classifier(crate::aws::transport_only()).build(),
            ),
            url,
        )
    }

    /// The queue's URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Maps a whole-request failure: a missing queue needs `infra up`, throttling/5xx/network are
    /// retried, anything else is a refusal.
    fn error<E>(&self, op: &str, err: &SdkError<E, HttpResponse>, missing_queue: bool) -> QueueError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let c = classify(err);
        tracing::warn!(queue = %self.url, op, error = %c.message, "SQS call failed");
        if missing_queue || c.code.as_deref() == Some("AWS.SimpleQueueService.NonExistentQueue") {
            QueueError::Rejected(format!("queue {} does not exist; run `greenfleet infra up`", self.url))
        } else if c.retryable {
            QueueError::Unavailable(format!("SQS {op} on {}: {}", self.url, c.message))
        } else {
            QueueError::Rejected(format!(
                "SQS refused {op} on {}: {}; check the queue's configuration and the caller's permissions",
                self.url, c.message
            ))
        }
    }
}

/// Whole seconds for a delay in milliseconds, rounded up so a message never shows up early.
fn ceil_secs(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn to_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

#[async_trait]
impl MessageQueue for SqsQueue {
    async fn send(&self, body: &str, delay_ms: u64) -> Result<(), QueueError> {
        let delay = ceil_secs(delay_ms).min(MAX_DELAY_SECS);
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(to_i32(delay))
            .send()
            .await
            .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                self.error("SendMessage", &e, missing)
            })?;
        Ok(())
    }

    async fn receive(&self, max: usize, wait_ms: u64) -> Result<Vec<Delivery>, QueueError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(to_i32(max.min(MAX_BATCH) as u64))
            .wait_time_seconds(to_i32((wait_ms / 1000).min(MAX_WAIT_SECS)))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                self.error("ReceiveMessage", &e, missing)
            })?;
        let mut deliveries = Vec::new();
        for m in out.messages() {
            let Some(receipt) = m.receipt_handle() else {
                tracing::warn!(queue = %self.url, message_id = ?m.message_id(), "SQS message without a receipt handle");
                continue;
            };
            let receive_count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            deliveries.push(Delivery {
                body: m.body().unwrap_or_default().to_owned(),
                receipt: receipt.to_owned(),
                receive_count,
            });
        }
        Ok(deliveries)
    }

    async fn ack(&self, receipts: &[String]) -> Result<(), QueueError> {
        for chunk in receipts.chunks(MAX_BATCH) {
            let mut entries = Vec::with_capacity(chunk.len());
            for (i, r) in chunk.iter().enumerate() {
                let entry =
                    DeleteMessageBatchRequestEntry::builder().id(i.to_string()).receipt_handle(r).build().map_err(
                        |e| QueueError::Rejected(format!("could not build a DeleteMessageBatch entry: {e}")),
                    )?;
                entries.push(entry);
            }
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                self.error("DeleteMessageBatch", &e, missing)
            })?;
            let mut failures = Vec::new();
            for f in out.failed() {
                if f.code() == "ReceiptHandleIsInvalid" {
                    // Already deleted, or a receipt from an older receive: the message is gone or will
                    // come back, exactly as with the in-memory queue.
                    tracing::debug!(queue = %self.url, entry = f.id(), "ack of an invalid receipt ignored");
                } else {
                    failures.push(format!("{}: {}", f.code(), f.message().unwrap_or("no message")));
                }
            }
            if !failures.is_empty() {
                tracing::warn!(queue = %self.url, ?failures, "DeleteMessageBatch entries failed");
                return Err(QueueError::Unavailable(format!(
                    "SQS could not delete {} message(s) from {}: {}; they will be redelivered",
                    failures.len(),
                    self.url,
                    failures.join("; ")
                )));
            }
        }
        Ok(())
    }

    async fn release(&self, receipt: &str, delay_ms: u64) -> Result<(), QueueError> {
        let secs = ceil_secs(delay_ms).min(MAX_VISIBILITY_SECS);
        let res = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(to_i32(secs))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // A stale receipt: the message was deleted or received again since. Nothing to release.
            // For a deleted message SQS (and LocalStack) answer InvalidParameterValue ("Message does not
            // exist or is not available for visibility timeout change"), moto ReceiptHandleIsInvalid;
            // the delay is clamped above, so the receipt is the only parameter that can be invalid.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_receipt_handle_is_invalid() || s.is_message_not_inflight())
                    || matches!(e.code(), Some("InvalidParameterValue" | "InvalidParameterValueException")) =>
            {
                tracing::debug!(queue = %self.url, "release of a stale receipt ignored");
                Ok(())
            }
            Err(e) => {
                let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                Err(self.error("ChangeMessageVisibility", &e, missing))
            }
        }
    }

    async fn dead_letter(&self, receipt: &str, body: &str) -> Result<(), QueueError> {
        let dlq = self.dead_letter_url().await?;
        self.client
            .send_message()
            .queue_url(&dlq)
            .message_body(body)
            .send()
            .await
            .map_err(|e| self.error("SendMessage to the dead-letter queue", &e, false))?;
        self.ack(&[receipt.to_owned()]).await
    }

    fn max_delay_ms(&self) -> u64 {
        MAX_DELAY_SECS * 1000
    }
}

impl SqsQueue {
    /// The queue's own visibility timeout (`VisibilityTimeout`, seconds, as milliseconds): how long a
    /// received message stays hidden from other workers. The worker's heartbeat runs well inside it.
    pub async fn visibility_timeout_ms(&self) -> Result<u64, QueueError> {
        let value = self.attribute(QueueAttributeName::VisibilityTimeout).await?;
        value.as_deref().and_then(|v| v.parse::<u64>().ok()).map(|secs| secs * 1000).ok_or_else(|| {
            QueueError::Rejected(format!(
                "queue {} did not report a VisibilityTimeout (got {value:?}); check it with `aws sqs get-queue-attributes`",
                self.url
            ))
        })
    }

    /// One attribute of this queue (`GetQueueAttributes`), if the queue reports it.
    async fn attribute(&self, name: QueueAttributeName) -> Result<Option<String>, QueueError> {
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(name.clone())
            .send()
            .await
            .map_err(|e| {
                let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                self.error("GetQueueAttributes", &e, missing)
            })?;
        Ok(attrs.attributes().and_then(|a| a.get(&name)).cloned())
    }

    /// The URL of this queue's dead-letter queue, from its redrive policy (`deadLetterTargetArn`).
    async fn dead_letter_url(&self) -> Result<String, QueueError> {
        let policy = self.attribute(QueueAttributeName::RedrivePolicy).await?;
        let arn = policy
            .as_deref()
            .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("deadLetterTargetArn").and_then(|a| a.as_str()).map(str::to_owned))
            .ok_or_else(|| {
                QueueError::Rejected(format!(
                    "queue {} has no dead-letter queue in its redrive policy; run `greenfleet infra up`",
                    self.url
                ))
            })?;
        // arn:aws:sqs:<region>:<account>:<name>
        let mut parts = arn.rsplitn(3, ':');
        let (Some(name), Some(account)) = (parts.next(), parts.next()) else {
            return Err(QueueError::Rejected(format!(
                "queue {}: dead-letter target `{arn}` is not a queue ARN",
                self.url
            )));
        };
        let out =
            self.client.get_queue_url().queue_name(name).queue_owner_aws_account_id(account).send().await.map_err(
                |e| {
                    let missing = e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist());
                    self.error("GetQueueUrl (dead-letter queue)", &e, missing)
                },
            )?;
        out.queue_url()
            .map(str::to_owned)
            .ok_or_else(|| QueueError::Unavailable(format!("SQS returned no URL for the dead-letter queue {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_up_to_whole_seconds() {
        assert_eq!(ceil_secs(0), 0);
        assert_eq!(ceil_secs(1), 1);
        assert_eq!(ceil_secs(1000), 1);
        assert_eq!(ceil_secs(1001), 2);
        assert_eq!(ceil_secs(3_600_000).min(MAX_DELAY_SECS), 900);
        assert_eq!(to_i32(u64::MAX), i32::MAX);
    }
}
