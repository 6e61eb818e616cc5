//! Loading the AWS SDK configuration, the SDK's own (small) retry budget, and turning an SDK error
//! into core's one classification ([`greenfleet_core::failure`]).
//!
//! Endpoints, region and credentials come from the SDK's standard chain, so `AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_SQS`), `AWS_REGION`, profiles and instance
//! roles all work unchanged: pointing greenfleet at moto or LocalStack needs no greenfleet setting.
//! No region is assumed: without one, calls fail with [`FailureKind::NoRegion`], which says what to set.
//!
//! Retries: the saga's attempts are the one durable retry layer. The SDK repeats a request only
//! when the service surely did not act on it (throttled, or never reached), at most
//! [`SDK_MAX_ATTEMPTS`] times in all; see [`TransportOnly`].

use std::error::Error;
use std::time::Duration;

use aws_config::default_provider::credentials::DefaultCredentialsChain;
use aws_config::environment::region::EnvironmentVariableRegionProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::interceptors::context::InterceptorContext;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority, RetryReason, SharedRetryClassifier,
};
use aws_smithy_types::retry::ErrorKind;
use greenfleet_core::failure::{self, FailureKind, NoAnswer, Observed};

/// Attempts per SDK call, the first included. Small on purpose: the saga retries the step later
/// (with the message back on the queue), so the SDK only smooths over a throttle or a dropped
/// connection, and a worker never holds a message through a long series of HTTP attempts.
pub const SDK_MAX_ATTEMPTS: u32 = 3;
/// The SDK's first backoff; doubling with jitter, capped at [`SDK_MAX_BACKOFF`] (at most ~1.5 s of
/// waiting per call in all).
const SDK_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The SDK's longest backoff.
const SDK_MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Timeouts of one instance-metadata (IMDS) request. On EC2 IMDS answers in milliseconds; elsewhere
/// it is usually unreachable, and the SDK's defaults (1 s, 4 attempts, for the token, the region and
/// the credentials each) would keep a command without credentials waiting for seconds before it
/// says so. One attempt of at most this long per lookup instead.
const IMDS_TIMEOUT: Duration = Duration::from_millis(500);

/// Loads the SDK configuration from the standard environment, profiles and instance metadata, with
/// the SDK's retries set explicitly ([`SDK_MAX_ATTEMPTS`], standard mode).
///
/// Call it once at start-up and build every client from the result, through [`transport_only`] for
/// the worker's clients.
pub async fn load_sdk_config() -> SdkConfig {
    let retry = RetryConfig::standard()
        .with_max_attempts(SDK_MAX_ATTEMPTS)
        .with_initial_backoff(SDK_INITIAL_BACKOFF)
        .with_max_backoff(SDK_MAX_BACKOFF);
    // The default chains (environment, profile, then IMDS), with a quick IMDS client.
    let imds = aws_config::imds::Client::builder()
        .max_attempts(1)
        .connect_timeout(IMDS_TIMEOUT)
        .read_timeout(IMDS_TIMEOUT)
        .build();
    let region = RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(ProfileFileRegionProvider::new())
        .or_else(ImdsRegionProvider::builder().imds_client(imds.clone()).build())
        .region()
        .await;
    let credentials = DefaultCredentialsChain::builder().region(region.clone()).imds_client(imds).build().await;
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(credentials)
        .retry_config(retry)
        .load()
        .await
}

/// The retry classifier every worker client adds to the SDK's own: it keeps the SDK's verdict only
/// for throttling and for connection failures, and forbids the rest (5xx, timeouts, unreadable
/// answers), which may come after the service acted: on `CreateDeployment` a blind repeat would
/// create a second deployment. The saga, which reads the state before repeating (F11), retries those.
#[must_use]
pub fn transport_only() -> SharedRetryClassifier {
    SharedRetryClassifier::new(TransportOnly)
}

/// See [`transport_only`]. Runs after the SDK's classifiers, so it sees their verdict.
#[derive(Debug, Clone, Copy)]
pub struct TransportOnly;

impl ClassifyRetry for TransportOnly {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        self.classify_retry_v2(ctx, &RetryAction::NoActionIndicated)
    }

    fn classify_retry_v2(&self, ctx: &InterceptorContext, previous: &RetryAction) -> RetryAction {
        let Some(Err(error)) = ctx.output_or_error() else { return RetryAction::NoActionIndicated };
        let status = ctx.response().map(|r| r.status().as_u16());
        match previous {
            RetryAction::RetryIndicated(RetryReason::RetryableError { kind: ErrorKind::ThrottlingError, .. }) => {
                RetryAction::NoActionIndicated
            }
            RetryAction::RetryIndicated(_) => {
                // The SDK reports DNS failures and refused or reset connections alike as I/O.
                if error.as_connector_error().is_some_and(|c| c.is_io()) {
                    RetryAction::NoActionIndicated
                } else {
                    RetryAction::RetryForbidden
                }
            }
            _ if status == Some(429) => RetryAction::throttling_error(),
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "greenfleet: throttling and connection failures only"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// An SDK error, classified once ([`greenfleet_core::failure::classify`]).
#[derive(Debug, Clone)]
pub(crate) struct Classified {
    /// What it means.
    pub(crate) kind: FailureKind,
    /// The saga may retry it ([`FailureKind::is_retryable`]).
    pub(crate) retryable: bool,
    /// The service's error code, when it answered with one.
    pub(crate) code: Option<String>,
    /// What went wrong, each cause once, readable ([`cause_chain`]).
    pub(crate) message: String,
}

/// Sorts an SDK error by what the caller should do about it (STYLE point 7).
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>) -> Classified
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let kind = failure::classify(observe(err));
    let message = kind.describe(&cause_chain(err));
    Classified { kind, retryable: kind.is_retryable(), code: err.code().map(str::to_owned), message }
}

/// What an SDK error looks like without SDK types: the one conversion from SDK errors in `infra`.
pub(crate) fn observe<E>(err: &SdkError<E, HttpResponse>) -> Observed<'_>
where
    E: ProvideErrorMetadata + Error + 'static,
{
    if let SdkError::ServiceError(e) = err {
        return Observed::Answered { status: e.raw().status().as_u16(), code: e.err().code() };
    }
    let no_answer = if has_source::<aws_credential_types::provider::error::CredentialsError>(err) {
        NoAnswer::NoCredentials
    } else if names_missing_region(err) {
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

/// Whether some error in `err`'s source chain is an `E`.
fn has_source<E: Error + 'static>(err: &(dyn Error + 'static)) -> bool {
    failure::any_cause(err, |e| e.is::<E>())
}

/// Whether some error in `err`'s source chain says no region is configured.
fn names_missing_region(err: &(dyn Error + 'static)) -> bool {
    failure::any_cause(err, |e| failure::says_region_missing(&e.to_string()))
}

/// `err` and its causes, each once, readable: [`greenfleet_core::failure::cause_chain`].
#[must_use]
pub fn cause_chain(err: &(dyn Error + 'static)) -> String {
    failure::cause_chain(err)
}

#[cfg(test)]
mod tests {
    use aws_sdk_sqs::error::ConnectorError;
    use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;

    use super::*;

    type Err = SdkError<GetQueueUrlError, HttpResponse>;

    #[test]
    fn no_answer_is_sorted_by_what_reached_aws() {
        let refused: Err = SdkError::dispatch_failure(ConnectorError::io("dns error: failed to lookup".into()));
        assert_eq!(classify(&refused).kind, FailureKind::EndpointUnreachable);
        assert!(classify(&refused).retryable);
        let timeout: Err = SdkError::timeout_error("read timed out");
        assert_eq!(classify(&timeout).kind, FailureKind::Transient);
        let creds: Err = SdkError::dispatch_failure(ConnectorError::other(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            )
            .into(),
            None,
        ));
        assert_eq!(classify(&creds).kind, FailureKind::NoCredentials);
        let region: Err = SdkError::construction_failure("Invalid Configuration: Missing Region");
        assert_eq!(classify(&region).kind, FailureKind::NoRegion);
        let built: Err = SdkError::construction_failure("bad input");
        assert_eq!(classify(&built).kind, FailureKind::Invalid);
    }

    #[test]
    fn the_cause_chain_is_said_once_without_debug_output() {
        let refused: Err = SdkError::dispatch_failure(ConnectorError::io("connection refused".into()));
        let text = classify(&refused).message;
        assert!(text.contains("connection refused"), "{text}");
        assert!(!text.contains("DispatchFailure {") && !text.contains("ConnectorError {"), "{text}");
    }
}
