//! greenfleet's one error classification ([`greenfleet_core::failure`]) against botocore's
//! `_retry.json`: every answer botocore retries (the `__default__` policies and those of DynamoDB, EC2
//! and SQS, the services greenfleet calls) must be retryable for greenfleet too, with its error code in
//! greenfleet's throttling or transient list; every socket error botocore retries must be a connection
//! failure the transport may repeat. (`crc32` checks of DynamoDB bodies have no equivalent here: the
//! Rust SDK validates checksums itself.)

use greenfleet_core::failure::{self, FailureKind, NoAnswer, Observed, THROTTLING_CODES, TRANSIENT_CODES};
use greenfleet_tests::contract::botocore::data_dir;
use serde_json::Value;

/// The services greenfleet calls whose retry policies botocore lists (CodeDeploy and EventBridge use
/// the defaults).
const SERVICES: &[&str] = &["__default__", "dynamodb", "ec2", "sqs"];

/// Every policy that applies to `service`, `$ref`s resolved, by name.
fn policies(doc: &Value, service: &str) -> Vec<(String, Value)> {
    let section = &doc["retry"][service];
    let policies = if service == "__default__" { &section["policies"] } else { &section["__default__"]["policies"] };
    let Some(map) = policies.as_object() else { panic!("_retry.json has no policies for {service}") };
    map.iter()
        .map(|(name, p)| {
            let resolved = match p.get("$ref").and_then(Value::as_str) {
                Some(r) => doc["definitions"][r].clone(),
                None => p.clone(),
            };
            (format!("{service}.{name}"), resolved)
        })
        .collect()
}

#[test]
fn every_failure_botocore_retries_is_retryable_here_and_every_code_is_listed_once() {
    let path = data_dir().join("_retry.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}; ./scripts/test.sh writes it", path.display()));
    let doc: Value = serde_json::from_str(&text).expect("_retry.json is JSON");
    let mut checked = 0;
    for service in SERVICES {
        for (name, policy) in policies(&doc, service) {
            let when = &policy["applies_when"];
            if let Some(errors) = when.get("socket_errors").and_then(Value::as_array) {
                assert!(!errors.is_empty(), "{name}");
                let kind = failure::classify(Observed::NoAnswer(NoAnswer::Connect));
                assert_eq!(kind, FailureKind::EndpointUnreachable, "{name}");
                assert!(kind.is_transport_retryable(), "{name}");
                checked += 1;
                continue;
            }
            let response = &when["response"];
            if response.get("crc32body").is_some() {
                continue;
            }
            let status = response["http_status_code"].as_u64().map(|s| u16::try_from(s).expect("an HTTP status"));
            let code = response["service_error_code"].as_str();
            let status = status.unwrap_or(400);
            let kind = failure::classify(Observed::Answered { status, code });
            assert!(kind.is_retryable(), "{name}: {code:?} {status} is {kind:?}");
            if let Some(code) = code {
                let listed =
                    usize::from(THROTTLING_CODES.contains(&code)) + usize::from(TRANSIENT_CODES.contains(&code));
                assert_eq!(listed, 1, "{name}: `{code}` must be in exactly one of greenfleet's lists");
            }
            // Throttling by botocore's name for it is throttling here too: the transport may repeat it.
            if name.contains("throttl") || name.contains("request_limit") || name.contains("too_many") {
                assert_eq!(kind, FailureKind::Throttled, "{name}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 15, "only {checked} policies checked: has _retry.json changed shape?");
}
