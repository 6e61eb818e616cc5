//! What can go wrong when publishing or reading status, and whether retrying may help.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use greenfleet_core::layout::InvalidPrefix;
use greenfleet_core::operator_event::InvalidCommand;
use greenfleet_core::request::RequestError;

/// A failure of the client. Each message says what was wrong and what to do.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The request does not validate: nothing was sent.
    #[error("not sent: {0}")]
    InvalidRequest(#[from] RequestError),
    /// The requestId already names a rollout created from a different request: nothing was sent.
    /// Publish the request under a new requestId.
    #[error("not sent: {message}")]
    RequestConflict {
        /// The reused request id.
        request_id: String,
        /// What differs, each as `field: existing → this request`.
        differences: Vec<String>,
        /// The whole explanation, with what to do.
        message: String,
    },
    /// An approval or cancel with an unusable field: nothing was sent.
    #[error("not sent: {0}")]
    InvalidCommand(#[from] InvalidCommand),
    /// The prefix cannot name greenfleet's resources.
    #[error("{0}; use the prefix given to `greenfleet infra up --prefix`")]
    InvalidPrefix(#[from] InvalidPrefix),
    /// greenfleet's intake queue does not exist at this endpoint.
    #[error(
        "queue `{queue}` not found: run `greenfleet infra up --prefix {prefix}`, or check the prefix, region and AWS_ENDPOINT_URL"
    )]
    QueueNotFound {
        /// The queue's name.
        queue: String,
        /// The installation's prefix.
        prefix: String,
    },
    /// greenfleet's bus does not exist at this endpoint.
    #[error(
        "event bus `{bus}` not found: run `greenfleet infra up --prefix {prefix}`, or check the prefix, region and AWS_ENDPOINT_URL"
    )]
    BusNotFound {
        /// The bus's name.
        bus: String,
        /// The installation's prefix.
        prefix: String,
    },
    /// greenfleet's table does not exist at this endpoint.
    #[error(
        "table `{table}` not found: run `greenfleet infra up --prefix {prefix}`, or check the prefix, region and AWS_ENDPOINT_URL"
    )]
    TableNotFound {
        /// The table's name.
        table: String,
        /// The installation's prefix.
        prefix: String,
    },
    /// An AWS call failed.
    #[error("{service} {op} failed: {message}; {}", if *retryable { "retry later" } else { "check credentials, permissions and region" })]
    Aws {
        /// `SQS`, `EventBridge` or `DynamoDB`.
        service: &'static str,
        /// The API call.
        op: &'static str,
        /// The error chain.
        message: String,
        /// Throttling, 5xx, timeouts and network failures.
        retryable: bool,
    },
    /// A rollout's record could not be read.
    #[error(
        "the record of rollout `{rollout_id}` is unreadable: {message}; was it written by a newer greenfleet? upgrade greenfleet-client"
    )]
    Unreadable {
        /// The rollout.
        rollout_id: String,
        /// What is wrong.
        message: String,
    },
}

impl ClientError {
    /// Whether the same call may succeed later without changing anything.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Aws { retryable: true, .. })
    }

    /// Wraps a failed SDK call, sorting it into retryable or not.
    pub(crate) fn aws<E>(service: &'static str, op: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let retryable = match err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
            SdkError::ServiceError(_) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                status.is_some_and(|s| s >= 500 || s == 429)
                    || err.code().is_some_and(|c| c.contains("Throttl") || c.contains("TooManyRequests"))
            }
            _ => false,
        };
        Self::Aws { service, op, message: DisplayErrorContext(err).to_string(), retryable }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let e = ClientError::QueueNotFound { queue: "x-intake".into(), prefix: "x".into() };
        assert_eq!(
            e.to_string(),
            "queue `x-intake` not found: run `greenfleet infra up --prefix x`, or check the prefix, region and AWS_ENDPOINT_URL"
        );
        assert!(!e.is_retryable());
        let e = ClientError::Aws { service: "SQS", op: "SendMessage", message: "throttled".into(), retryable: true };
        assert!(e.is_retryable());
        assert!(e.to_string().ends_with("retry later"));
    }
}
