//! What can go wrong when publishing or reading status, and whether retrying may help.

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use greenfleet_core::failure::{self, FailureKind, NoAnswer, Observed};
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
    #[error("{service} {op} failed: {message}; {}", kind.advice())]
    Aws {
        /// `SQS`, `EventBridge` or `DynamoDB`.
        service: &'static str,
        /// The API call.
        op: &'static str,
        /// The error chain, each cause once.
        message: String,
        /// What it means (greenfleet's one classification, shared with the workers).
        kind: FailureKind,
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
        matches!(self, Self::Aws { kind, .. } if kind.is_retryable())
    }

    /// Wraps a failed SDK call, classified by [`greenfleet_core::failure::classify`].
    pub(crate) fn aws<E>(service: &'static str, op: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let kind = failure::classify(observe(err));
        Self::Aws { service, op, message: kind.describe(&failure::cause_chain(err)), kind }
    }
}

/// What an SDK error looks like without SDK types: the client's one conversion (the workers' is
/// `greenfleet_infra::aws::observe`; the client may not depend on infra, and both feed core's one
/// classification).
fn observe<E>(err: &SdkError<E, HttpResponse>) -> Observed<'_>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let SdkError::ServiceError(e) = err {
        return Observed::Answered { status: e.raw().status().as_u16(), code: e.err().code() };
    }
    let no_answer = if failure::any_cause(err, |e| e.is::<aws_credential_types::provider::error::CredentialsError>()) {
        NoAnswer::NoCredentials
    } else if failure::any_cause(err, |e| failure::says_region_missing(&e.to_string())) {
        NoAnswer::NoRegion
    } else {
        match err {
            SdkError::DispatchFailure(d) if d.is_io() => NoAnswer::Connect,
            SdkError::DispatchFailure(d) if d.is_user() => NoAnswer::NotBuilt,
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => NoAnswer::Interrupted,
            SdkError::ResponseError(_) => NoAnswer::Unreadable,
            _ => NoAnswer::NotBuilt,
        }
    };
    Observed::NoAnswer(no_answer)
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
        let e = ClientError::Aws {
            service: "SQS",
            op: "SendMessage",
            message: "throttled".into(),
            kind: FailureKind::Throttled,
        };
        assert!(e.is_retryable());
        assert!(e.to_string().ends_with("retry in a minute"), "{e}");
        let refused: SdkError<aws_sdk_sqs::operation::send_message::SendMessageError, HttpResponse> =
            SdkError::dispatch_failure(aws_sdk_sqs::error::ConnectorError::io("connection refused".into()));
        let e = ClientError::aws("SQS", "SendMessage", &refused);
        assert!(matches!(e, ClientError::Aws { kind: FailureKind::EndpointUnreachable, .. }), "{e:?}");
        assert!(e.is_retryable());
        assert!(e.to_string().contains("connection refused") && e.to_string().contains("AWS_ENDPOINT_URL"), "{e}");
    }
}
