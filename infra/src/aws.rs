//! Loading the AWS SDK configuration, and sorting SDK errors into "retry" and "fix something".
//!
//! Endpoints, region and credentials come from the SDK's standard chain, so `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_SQS`), `AWS_REGION`, profiles and instance
//! roles all work unchanged: pointing greenfleet at moto or LocalStack needs no greenfleet setting.

use std::error::Error;

use aws_config::meta::region::RegionProviderChain;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// The region used when neither the environment nor a profile names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Loads the SDK configuration from the standard environment, profiles and instance metadata.
///
/// Call it once at start-up and build every client (SQS, DynamoDB, EventBridge, CodeDeploy) from the
/// result. The region defaults to [`DEFAULT_REGION`] when none is configured.
pub async fn load_sdk_config() -> SdkConfig {
    let region = RegionProviderChain::default_provider().or_else(Region::from_static(DEFAULT_REGION));
    aws_config::defaults(BehaviorVersion::latest()).region(region).load().await
}

/// Error codes AWS services use for throttling (the SDK's own retry classifier uses the same list).
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "SlowDown",
    "PriorRequestNotComplete",
];

/// Error codes for failures on the service's side that are worth retrying.
const TRANSIENT_CODES: &[&str] =
    &["InternalError", "InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout"];

/// An SDK error, classified. `message` is the full error chain (`DisplayErrorContext`), since
/// printing an SDK error with `{}` shows only "service error".
#[derive(Debug, Clone)]
pub(crate) struct Classified {
    /// Timeouts, dispatch failures, throttling and 5xx: retrying the same call may succeed.
    pub(crate) retryable: bool,
    /// The service's error code, when it answered with one.
    pub(crate) code: Option<String>,
    /// What went wrong, with every cause.
    pub(crate) message: String,
}

/// Sorts an SDK error by what the caller should do about it (STYLE point 7).
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Classified
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let message = DisplayErrorContext(err).to_string();
    let code = err.code().map(str::to_owned);
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(_) => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            status.is_some_and(|s| s >= 500 || s == 429)
                || code.as_deref().is_some_and(|c| {
                    THROTTLING_CODES.contains(&c) || TRANSIENT_CODES.contains(&c) || c.contains("Throttl")
                })
        }
        // Construction failures are bugs in the request we built; anything new is treated as final.
        _ => false,
    };
    Classified { retryable, code, message }
}
