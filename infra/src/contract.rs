//! Contract tests: one suite per port, run against both the in-memory adapter from
//! `greenfleet_core::memory` and the AWS adapter on an emulator (moto_server, see `scripts/test.sh`).
//!
//! Each suite is a set of plain async functions taking the port as `&dyn Trait` (or a small "rig"
//! around it for queues and buses, where time and observation differ); the `#[tokio::test]`s at the
//! bottom of each submodule run it once per adapter. Emulator tests create their own uniquely named
//! queues / tables / buses, and fail loudly when no emulator is configured: they never skip.

mod bus;
mod leases;
mod provision;
mod queue;
mod store;
mod stored;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use greenfleet_core::ids::Timestamp;
use greenfleet_core::saga::Saga;

/// The SDK configuration for the emulator; panics (never skips) when none is configured.
pub(crate) async fn emulator() -> SdkConfig {
    let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
    let missing: Vec<&str> = ["AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_EVENTBRIDGE"]
        .into_iter()
        .filter(|var| !set(var) && !set("AWS_ENDPOINT_URL"))
        .collect();
    assert!(
        missing.is_empty(),
        "this test runs against an AWS emulator: set AWS_ENDPOINT_URL (or {}) or run ./scripts/test.sh",
        missing.join(", ")
    );
    crate::aws::load_sdk_config().await
}

/// A resource-name prefix no other test (in this or another process) uses: `gft-<tag>-<ms>-<pid>-<n>`.
pub(crate) fn unique(tag: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "gft-{tag}-{}-{}-{n}",
        base36(u64::try_from(ms % 1_000_000_000_000).unwrap_or(0)),
        base36(std::process::id().into())
    )
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[usize::try_from(v % 36).unwrap_or(0)]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// A freshly accepted saga for request `id` at `at`, stored as version 1.
pub(crate) fn saga(id: &str, at: u64) -> Saga {
    let doc = serde_json::json!({
        "schemaVersion": 1,
        "requestId": id,
        "elastigroupId": "sig-1234abcd",
        "application": "web",
        "deploymentGroup": "web-bg",
        "revision": {"s3": {"bucket": "artifacts", "key": "web/6.0.zip", "bundleType": "zip"}},
        "greenTags": [{"key": "version", "value": "6.0"}],
        "requestedBy": "contract-test"
    });
    let request = greenfleet_core::request::parse_request(doc.to_string().as_bytes()).expect("valid request");
    let mut saga = greenfleet_core::accept(request, Timestamp(at)).next;
    saga.version = 1;
    saga
}

#[test]
fn unique_names_are_unique_and_short() {
    let a = unique("queue");
    let b = unique("queue");
    assert_ne!(a, b);
    assert!(a.len() <= 40, "{a}");
    assert!(crate::provision::Names::new(&a).is_ok(), "{a}");
    assert_eq!(base36(0), "0");
    assert_eq!(base36(36), "10");
}
