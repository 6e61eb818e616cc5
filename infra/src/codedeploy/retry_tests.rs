//! The AWS SDK's own retries as greenfleet sets them ([`crate::aws::load_sdk_config`]'s budget and
//! [`crate::aws::transport_only`]), against a scripted CodeDeploy on 127.0.0.1: a throttled call is
//! repeated up to [`crate::aws::SDK_MAX_ATTEMPTS`] attempts in all, a 5xx is never repeated (it may
//! come after CodeDeploy acted: the saga decides).
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::config::{BehaviorVersion, Credentials, Region};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use greenfleet_core::ids::DeploymentId;
use greenfleet_core::ports::{Deployments, RemoteError};

use super::CodeDeploySdk;

/// What the server answers to every request, and how many it saw.
#[derive(Clone)]
struct Script {
    status: u16,
    code: &'static str,
    seen: Arc<AtomicUsize>,
}

async fn answer(State(s): State<Script>) -> Response {
    s.seen.fetch_add(1, Ordering::SeqCst);
    let body = serde_json::json!({ "__type": s.code, "message": "scripted" }).to_string();
    (StatusCode::from_u16(s.status).unwrap(), [("content-type", "application/x-amz-json-1.1")], body).into_response()
}

async fn serve(status: u16, code: &'static str) -> (CodeDeploySdk, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let app = Router::new().fallback(answer).with_state(Script { status, code, seen: seen.clone() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let retry = RetryConfig::standard()
        .with_max_attempts(crate::aws::SDK_MAX_ATTEMPTS)
        .with_initial_backoff(Duration::from_millis(1))
        .with_max_backoff(Duration::from_millis(5));
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(format!("http://{addr}"))
        .retry_config(retry)
        .retry_classifier(crate::aws::transport_only())
        .build();
    (CodeDeploySdk::new(Client::from_conf(config)), seen)
}

fn id() -> DeploymentId {
    DeploymentId::parse("d-ABCDEF123").unwrap()
}

#[tokio::test]
async fn throttling_is_repeated_within_the_budget() {
    let (sdk, seen) = serve(400, "ThrottlingException").await;
    let err = sdk.get(&id()).await.unwrap_err();
    assert!(matches!(err, RemoteError::Throttled { .. }), "{err:?}");
    assert_eq!(seen.load(Ordering::SeqCst), crate::aws::SDK_MAX_ATTEMPTS as usize);
}

/// CreateDeployment has no idempotency token (F11): the SDK never repeats it, not even when throttled;
/// the saga repeats it after looking for the first one.
#[tokio::test]
async fn create_deployment_is_sent_once_even_when_throttled() {
    let (sdk, seen) = serve(400, "ThrottlingException").await;
    let spec = greenfleet_core::cloud::DeploymentSpec {
        group: greenfleet_core::cloud::DeploymentGroupRef {
            application: "shop".into(),
            deployment_group: "shop-bg".into(),
        },
        revision: greenfleet_core::request::Revision::S3(greenfleet_core::request::S3Revision {
            bucket: "releases".into(),
            key: "shop/shop-6.0.zip".into(),
            bundle_type: greenfleet_core::request::BundleType::Zip,
            version: None,
            e_tag: None,
        }),
        target_tags: Vec::new(),
        description: "greenfleet rollout shop-6.0".into(),
        created_after: greenfleet_core::ids::Timestamp(0),
    };
    let err = sdk.create(&spec).await.unwrap_err();
    assert!(matches!(err, RemoteError::Throttled { .. }), "{err:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1, "CreateDeployment repeated by the SDK");
}

#[tokio::test]
async fn a_server_error_goes_back_to_the_saga_at_once() {
    for (status, code) in [(500, "InternalFailure"), (503, "ServiceUnavailable"), (502, "")] {
        let (sdk, seen) = serve(status, code).await;
        let err = sdk.get(&id()).await.unwrap_err();
        assert!(matches!(err, RemoteError::Unavailable(_)), "{status}: {err:?}");
        assert!(err.is_retryable(), "the saga retries it");
        assert_eq!(seen.load(Ordering::SeqCst), 1, "{status} {code}: not repeated by the SDK");
    }
}

#[tokio::test]
async fn a_refusal_is_not_repeated() {
    let (sdk, seen) = serve(400, "DeploymentDoesNotExistException").await;
    let err = sdk.get(&id()).await.unwrap_err();
    assert!(matches!(err, RemoteError::NotFound(_)), "{err:?}");
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
