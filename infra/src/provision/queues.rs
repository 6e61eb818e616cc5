//! SQS queues with their dead-letter queues, redrive policies and EventBridge send permissions.

use std::collections::HashMap;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::QueueAttributeName;

use super::{ProvisionError, QueueInfo, aws_error};

/// How long a dead-letter queue keeps messages: SQS's maximum, 14 days, to leave time to look.
const DLQ_RETENTION_SECS: u32 = 14 * 24 * 3600;

/// Attributes of a working queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueSpec {
    /// Visibility timeout, seconds.
    pub(crate) visibility_timeout_secs: u32,
    /// Receives before dead-lettering.
    pub(crate) max_receive_count: u32,
}

/// Creates the queue `name` with `attrs`, or brings an existing one to `attrs`. Returns (URL, ARN).
async fn ensure_queue(
    client: &Client,
    name: &str,
    attrs: HashMap<QueueAttributeName, String>,
) -> Result<(String, String), ProvisionError> {
    let created = client.create_queue().queue_name(name).set_attributes(Some(attrs.clone())).send().await;
    let url = match created {
        Ok(out) => out.queue_url().map(str::to_owned),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_deleted_recently()) => {
            return Err(ProvisionError::QueueDeletedRecently(name.to_owned()));
        }
        // The queue exists with other attributes: find it and set them.
        Err(e)
            if e.as_service_error().is_some_and(|s| s.is_queue_name_exists())
                || e.code() == Some("QueueAlreadyExists") =>
        {
            let out = client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| aws_error("SQS", "GetQueueUrl", name, &e))?;
            let url = out.queue_url().map(str::to_owned);
            if let Some(url) = &url {
                client
                    .set_queue_attributes()
                    .queue_url(url)
                    .set_attributes(Some(attrs))
                    .send()
                    .await
                    .map_err(|e| aws_error("SQS", "SetQueueAttributes", name, &e))?;
            }
            url
        }
        Err(e) => return Err(aws_error("SQS", "CreateQueue", name, &e)),
    };
    let url = url.ok_or_else(|| ProvisionError::Incomplete(format!("SQS returned no URL for queue `{name}`")))?;
    let out = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| aws_error("SQS", "GetQueueAttributes", name, &e))?;
    let arn = out
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| ProvisionError::Incomplete(format!("SQS returned no ARN for queue `{name}`")))?;
    Ok((url, arn))
}

/// Creates `dlq`, then `name` redriving to it after `spec.max_receive_count` receives.
pub(crate) async fn ensure_pair(
    client: &Client,
    name: &str,
    dlq: &str,
    spec: QueueSpec,
) -> Result<QueueInfo, ProvisionError> {
    let dlq_attrs = HashMap::from([(QueueAttributeName::MessageRetentionPeriod, DLQ_RETENTION_SECS.to_string())]);
    let (dlq_url, dlq_arn) = ensure_queue(client, dlq, dlq_attrs).await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": spec.max_receive_count.to_string(),
    });
    let attrs = HashMap::from([
        (QueueAttributeName::VisibilityTimeout, spec.visibility_timeout_secs.to_string()),
        (QueueAttributeName::RedrivePolicy, redrive.to_string()),
    ]);
    let (url, arn) = ensure_queue(client, name, attrs).await?;
    Ok(QueueInfo { name: name.to_owned(), url, arn, dlq_url, dlq_arn })
}

/// The queue policy letting EventBridge deliver what the rules `rule_arns` match.
fn send_policy(queue_arn: &str, rule_arns: &[String]) -> String {
    let source: serde_json::Value = match rule_arns {
        [one] => one.as_str().into(),
        many => many.into(),
    };
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "greenfleet-eventbridge",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": source}},
        }],
    })
    .to_string()
}

/// Sets the queue's policy so that the rules `rule_arns` (and no other) may send to it.
pub(crate) async fn allow_rules(
    client: &Client,
    queue: &QueueInfo,
    rule_arns: &[String],
) -> Result<(), ProvisionError> {
    client
        .set_queue_attributes()
        .queue_url(&queue.url)
        .attributes(QueueAttributeName::Policy, send_policy(&queue.arn, rule_arns))
        .send()
        .await
        .map_err(|e| aws_error("SQS", "SetQueueAttributes", &queue.name, &e))?;
    Ok(())
}

/// Deletes the queue `name` if it exists.
pub(crate) async fn delete(client: &Client, name: &str) -> Result<(), ProvisionError> {
    let url = match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url().map(str::to_owned),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => None,
        Err(e) => return Err(aws_error("SQS", "GetQueueUrl", name, &e)),
    };
    let Some(url) = url else { return Ok(()) };
    match client.delete_queue().queue_url(&url).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_queue_does_not_exist()) => Ok(()),
        Err(e) => Err(aws_error("SQS", "DeleteQueue", name, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_names_the_rule() {
        let rule = "arn:aws:events:us-east-1:1:rule/r".to_owned();
        let p: serde_json::Value =
            serde_json::from_str(&send_policy("arn:aws:sqs:us-east-1:1:q", std::slice::from_ref(&rule)))
                .unwrap_or_default();
        let st = &p["Statement"][0];
        assert_eq!(st["Principal"]["Service"], "events.amazonaws.com");
        assert_eq!(st["Action"], "sqs:SendMessage");
        assert_eq!(st["Condition"]["ArnEquals"]["aws:SourceArn"], "arn:aws:events:us-east-1:1:rule/r");
        let trigger = "arn:aws:events:us-east-1:1:rule/t".to_owned();
        let p: serde_json::Value = serde_json::from_str(&send_policy("q", &[rule, trigger])).unwrap_or_default();
        let sources = &p["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"];
        assert_eq!(sources.as_array().map(Vec::len), Some(2), "{p}");
    }
}
