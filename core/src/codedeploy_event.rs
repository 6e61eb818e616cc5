//! Decoding what arrives on the events queue: EventBridge envelopes of CodeDeploy state-change
//! notifications (parsed leniently: unknown fields ignored, `account` optional), anything else named
//! so it can be logged and ignored.

use serde::Deserialize;

use crate::cloud::{DeploymentEvent, EventState};
use crate::ids::{DeploymentId, InstanceId};

/// Deployment-level detail-type.
pub const DEPLOYMENT_DETAIL_TYPE: &str = "CodeDeploy Deployment State-change Notification";
/// Instance-level detail-type.
pub const INSTANCE_DETAIL_TYPE: &str = "CodeDeploy Instance State-change Notification";
/// Bodies larger than this are refused before parsing.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;

/// What an events-queue message turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedEvent {
    /// A CodeDeploy state change.
    CodeDeploy {
        /// The envelope's `id` (dedupe, logs).
        event_id: String,
        /// The application.
        application: String,
        /// The deployment group.
        deployment_group: String,
        /// The decoded event.
        event: DeploymentEvent,
    },
    /// A well-formed envelope greenfleet does not act on (another source or detail-type).
    Foreign {
        /// Its source.
        source: String,
        /// Its detail-type.
        detail_type: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    #[serde(default)]
    detail: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Detail {
    deployment_id: String,
    state: String,
    #[serde(default)]
    instance_id: Option<String>,
    #[serde(default)]
    application: String,
    #[serde(default)]
    deployment_group: String,
}

/// Decodes an events-queue body. `Err` says exactly what is wrong; such a message is poison.
pub fn decode(body: &[u8]) -> Result<QueuedEvent, String> {
    if body.len() > MAX_EVENT_BYTES {
        return Err(format!("event is {} bytes; at most {MAX_EVENT_BYTES} are accepted", body.len()));
    }
    let env: Envelope = serde_json::from_slice(body)
        .map_err(|e| format!("not an EventBridge envelope (needs source, detail-type): {e}"))?;
    let is_codedeploy = env.source == "aws.codedeploy"
        && (env.detail_type == DEPLOYMENT_DETAIL_TYPE || env.detail_type == INSTANCE_DETAIL_TYPE);
    if !is_codedeploy {
        return Ok(QueuedEvent::Foreign { source: env.source, detail_type: env.detail_type });
    }
    let d: Detail =
        serde_json::from_value(env.detail).map_err(|e| format!("CodeDeploy event detail is malformed: {e}"))?;
    let deployment_id = DeploymentId::parse(&d.deployment_id).map_err(|e| format!("CodeDeploy event: {e}"))?;
    let instance = match (env.detail_type == INSTANCE_DETAIL_TYPE, d.instance_id) {
        (true, Some(i)) => Some(InstanceId::parse(&i).map_err(|e| format!("CodeDeploy event: {e}"))?),
        (true, None) => return Err("CodeDeploy instance event without detail.instanceId".into()),
        (false, _) => None,
    };
    Ok(QueuedEvent::CodeDeploy {
        event_id: env.id,
        application: d.application,
        deployment_group: d.deployment_group,
        event: DeploymentEvent { deployment_id, state: EventState::parse(&d.state), instance },
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::{Just, any, prop_oneof};
    use proptest::sample::Index;

    use super::*;

    #[test]
    fn decodes_documented_shapes_and_names_problems() {
        let dep = br#"{"version":"0","id":"c071","detail-type":"CodeDeploy Deployment State-change Notification","source":"aws.codedeploy","time":"2016-06-30T22:06:31Z","region":"us-east-1","resources":[],"detail":{"instanceGroupId":"9f","region":"us-east-1","application":"app","deploymentId":"d-123456789","state":"SUCCESS","deploymentGroup":"dg","extra":1}}"#;
        let QueuedEvent::CodeDeploy { event, application, .. } = decode(dep).unwrap() else { panic!("not codedeploy") };
        assert_eq!(event.state, EventState::Success);
        assert_eq!(application, "app");
        assert!(event.instance.is_none());
        let inst = br#"{"id":"x","detail-type":"CodeDeploy Instance State-change Notification","source":"aws.codedeploy","detail":{"instanceId":"i-0abc","deploymentId":"d-1","state":"READY"}}"#;
        let QueuedEvent::CodeDeploy { event, .. } = decode(inst).unwrap() else { panic!("not codedeploy") };
        assert_eq!(event.instance.unwrap().as_str(), "i-0abc");
        let other = br#"{"id":"x","detail-type":"Object Created","source":"aws.s3","detail":{}}"#;
        assert!(matches!(decode(other).unwrap(), QueuedEvent::Foreign { .. }));
        assert!(decode(b"{").unwrap_err().contains("not an EventBridge envelope"));
        let bad = br#"{"detail-type":"CodeDeploy Deployment State-change Notification","source":"aws.codedeploy","detail":{"deploymentId":"x-1","state":"START"}}"#;
        assert!(decode(bad).unwrap_err().contains("deploymentId"));
        assert!(decode(&vec![b' '; MAX_EVENT_BYTES + 1]).unwrap_err().contains("bytes"));
    }

    fn envelope(detail: &serde_json::Value, detail_type: &str) -> Vec<u8> {
        serde_json::json!({"id": "x", "detail-type": detail_type, "source": "aws.codedeploy", "detail": detail})
            .to_string()
            .into_bytes()
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = decode(&bytes);
            let _ = crate::message::StepMessage::decode(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn truncated_envelopes_are_errors_never_panics(cut in 0usize..200) {
            let full = envelope(&serde_json::json!({"deploymentId": "d-123", "state": "READY"}), DEPLOYMENT_DETAIL_TYPE);
            let cut = cut.min(full.len());
            let r = decode(&full[..cut]);
            if cut < full.len() {
                proptest::prop_assert!(r.is_err());
            }
        }

        #[test]
        fn wrong_types_and_odd_values_get_specific_errors(
            id in proptest::prelude::any::<String>(),
            state in proptest::prelude::any::<String>(),
            n in proptest::prelude::any::<i64>(),
        ) {
            // Any string state decodes (unknown ones are kept verbatim); ids must be `d-…`.
            match decode(&envelope(&serde_json::json!({"deploymentId": id, "state": state}), DEPLOYMENT_DETAIL_TYPE)) {
                Ok(QueuedEvent::CodeDeploy { event, .. }) => proptest::prop_assert!(event.deployment_id.as_str().starts_with("d-")),
                Ok(QueuedEvent::Foreign { .. }) => proptest::prop_assert!(false, "a CodeDeploy envelope read as foreign"),
                Err(e) => proptest::prop_assert!(e.contains("deploymentId"), "{}", e),
            }
            let wrong = decode(&envelope(&serde_json::json!({"deploymentId": n, "state": "START"}), DEPLOYMENT_DETAIL_TYPE));
            proptest::prop_assert!(wrong.unwrap_err().contains("malformed"));
            let no_instance = decode(&envelope(&serde_json::json!({"deploymentId": "d-1", "state": "START"}), INSTANCE_DETAIL_TYPE));
            proptest::prop_assert!(no_instance.unwrap_err().contains("instanceId"));
        }

        #[test]
        fn a_valid_event_with_bytes_changed_never_panics_and_explains(
            changes in proptest::collection::vec((any::<Index>(), proptest::num::u8::ANY), 1..8),
        ) {
            let mut bytes = instance_event();
            for (at, b) in changes {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Err(e) = decode(&bytes) {
                proptest::prop_assert!(!e.trim().is_empty());
            }
        }

        #[test]
        fn unknown_fields_are_ignored_wherever_aws_adds_them(
            key in any::<String>(),
            value in crate::arbitrary::json_leaf(),
            in_detail in any::<bool>(),
        ) {
            let known = ["id", "detail-type", "source", "detail", "deploymentId", "state", "instanceId", "application",
                "deploymentGroup"];
            proptest::prop_assume!(!known.contains(&key.as_str()));
            let mut v: serde_json::Value = serde_json::from_slice(&instance_event()).unwrap();
            let target = if in_detail { &mut v["detail"] } else { &mut v };
            target[key.as_str()] = value;
            proptest::prop_assert_eq!(decode(v.to_string().as_bytes()), decode(&instance_event()));
        }

        #[test]
        fn a_field_of_the_wrong_type_is_an_error_that_says_where(
            field in proptest::sample::select(vec!["source", "detail-type", "id", "detail", "deploymentId", "state", "instanceId"]),
            value in prop_oneof![crate::arbitrary::json_leaf(), Just(serde_json::json!([1, 2])), Just(serde_json::json!({"a": 1}))],
        ) {
            let wrong = match field {
                "detail" => !value.is_object(),
                // A missing instanceId is its own error, below.
                "instanceId" => !value.is_string() && !value.is_null(),
                _ => !value.is_string(),
            };
            proptest::prop_assume!(wrong);
            let mut v: serde_json::Value = serde_json::from_slice(&instance_event()).unwrap();
            let envelope_field = ["source", "detail-type", "id", "detail"].contains(&field);
            if envelope_field { v[field] = value; } else { v["detail"][field] = value; }
            let e = decode(v.to_string().as_bytes()).unwrap_err();
            let part = if field == "detail" || !envelope_field { "detail is malformed" } else { "not an EventBridge envelope" };
            proptest::prop_assert!(e.contains(part), "{}: {}", field, e);
        }

        #[test]
        fn non_utf8_anywhere_is_an_envelope_error(at in any::<Index>(), b in 0x80u8..=0xff) {
            let mut bytes = instance_event();
            bytes.insert(at.index(bytes.len()), b);
            proptest::prop_assert!(decode(&bytes).unwrap_err().contains("not an EventBridge envelope"));
        }

        #[test]
        fn oversized_events_are_refused_by_size_before_parsing(extra in 1usize..4096) {
            let mut bytes = instance_event();
            bytes.resize(MAX_EVENT_BYTES + extra, b' ');
            proptest::prop_assert!(decode(&bytes).unwrap_err().contains("at most 262144 are accepted"));
        }

        #[test]
        fn deep_nesting_is_refused_without_overflowing_the_stack(depth in 129usize..20_000) {
            let nest = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
            let body = String::from_utf8(instance_event()).unwrap().replacen(r#""state":"READY""#, &format!(r#""state":{nest}"#), 1);
            proptest::prop_assert!(decode(body.as_bytes()).unwrap_err().contains("recursion limit"));
        }
    }

    /// A valid instance-level event.
    fn instance_event() -> Vec<u8> {
        envelope(
            &serde_json::json!({"deploymentId": "d-1", "instanceId": "i-0abc", "state": "READY"}),
            INSTANCE_DETAIL_TYPE,
        )
    }
}
