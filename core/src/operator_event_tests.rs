//! Tests of the approval and cancel events: the README's examples decode to what the CLI sends,
//! every malformed event is refused with a message naming the event and the field, arbitrary input
//! never panics, and the detail-types never collide with greenfleet's own lifecycle events.

use proptest::prelude::{any, prop_assert, prop_assert_eq, proptest};
use serde_json::json;

use super::*;
use crate::event::LifecycleKind;
use crate::layout::INTAKE_DETAIL_TYPES;

const EXAMPLE_APPROVAL: &str = include_str!("../../examples/rollout-approved.json");
const EXAMPLE_CANCEL: &str = include_str!("../../examples/rollout-cancel-requested.json");

/// The envelope EventBridge delivers to the intake queue for `detail`.
fn envelope(kind: OperatorKind, detail: &Value) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": kind.detail_type(),
        "source": "chatops.bot", "account": "123456789012", "time": "2026-11-26T16:00:00Z",
        "region": "us-east-1", "resources": [], "detail": detail,
    })
}

fn example(text: &str) -> Value {
    serde_json::from_str(text).expect("the README example is JSON")
}

fn refused(kind: OperatorKind, detail: &Value) -> String {
    OperatorCommand::decode(&envelope(kind, detail)).expect_err("refused").to_string()
}

#[test]
fn the_readme_examples_decode_to_what_greenfleet_approve_and_cancel_send() {
    let approve = OperatorCommand::decode(&envelope(OperatorKind::Approve, &example(EXAMPLE_APPROVAL)))
        .expect("valid")
        .expect("an approval");
    assert_eq!(approve.kind, OperatorKind::Approve);
    assert_eq!(approve.rollout_id.as_str(), "shop-6.0");
    assert_eq!(approve.source, "chatops.bot");
    assert_eq!(approve.by(), "release-manager");
    assert_eq!(approve.input(), Input::Approve { by: "release-manager".into() });
    assert_eq!(approve.cause(), "bus:approve:6a7e8feb-b491-4cf7-a9f1-bf3703467718");

    let cancel = OperatorCommand::decode(&envelope(OperatorKind::Cancel, &example(EXAMPLE_CANCEL)))
        .expect("valid")
        .expect("a cancel");
    assert_eq!(cancel.rollout_id.as_str(), "shop-6.0");
    let step = StepBody::Cancel { by: "oncall".into(), reason: "6.0 fails its smoke tests".into() };
    assert_eq!(cancel.input(), step.input(), "the same input as `greenfleet cancel`");
    assert_eq!(cancel.body, step);
    assert_eq!(cancel.cause(), "bus:cancel:6a7e8feb-b491-4cf7-a9f1-bf3703467718");
}

#[test]
fn what_the_client_publishes_is_the_readme_example() {
    let approval = ApprovalDetail::new("shop-6.0", "release-manager").expect("valid");
    assert_eq!(serde_json::to_value(&approval).expect("JSON"), example(EXAMPLE_APPROVAL));
    let cancel = CancelDetail::new("shop-6.0", "oncall", "6.0 fails its smoke tests").expect("valid");
    assert_eq!(serde_json::to_value(&cancel).expect("JSON"), example(EXAMPLE_CANCEL));
}

#[test]
fn a_cancel_without_a_reason_gets_the_cli_s_default() {
    let c = OperatorCommand::decode(&envelope(OperatorKind::Cancel, &json!({"rolloutId": "shop-6.0", "by": "oncall"})))
        .expect("valid")
        .expect("a cancel");
    assert_eq!(c.input(), Input::Cancel { by: "oncall".into(), reason: DEFAULT_CANCEL_REASON.into() });
}

#[test]
fn other_events_are_not_commands() {
    for event in [
        json!({"id": "1", "source": "ci", "detail-type": "Rollout Requested", "detail": {}}),
        json!({"id": "1", "source": "aws.s3", "detail-type": "Object Created", "detail": {}}),
        json!({"id": "1", "source": "ci", "detail": {}}),
        json!("Rollout Approved"),
    ] {
        assert_eq!(OperatorCommand::decode(&event), Ok(None), "{event}");
    }
}

#[test]
fn malformed_details_name_the_event_and_the_field_and_show_the_shape() {
    let approve = OperatorKind::Approve;
    let e = refused(approve, &json!({"rolloutId": "shop-6.0"}));
    assert!(
        e.starts_with("`Rollout Approved` event `6a7e8feb-b491-4cf7-a9f1-bf3703467718` from `chatops.bot` refused")
    );
    assert!(e.contains("missing field `by`"), "{e}");
    assert!(e.contains(r#"send {"rolloutId": "…", "by": "…"}"#), "{e}");
    let e = refused(approve, &json!({"rolloutID": "shop-6.0", "by": "x"}));
    assert!(e.contains("unknown field `rolloutID`"), "{e}");
    let e = refused(approve, &json!({"rolloutId": 6, "by": "x"}));
    assert!(e.contains("invalid type: integer `6`"), "{e}");
    assert!(refused(approve, &Value::Null).contains("its detail invalid type: null"));
    let e = refused(OperatorKind::Cancel, &json!({"rolloutId": "shop-6.0", "by": "x", "reason": ["a"]}));
    assert!(e.contains("(reason optional)"), "{e}");
}

#[test]
fn unusable_fields_say_what_to_send_instead() {
    let e = refused(OperatorKind::Approve, &json!({"rolloutId": "shop 6.0", "by": "x"}));
    assert!(e.contains("detail.`rolloutId` is not a rollout id"), "{e}");
    assert!(e.contains("use the rollout's requestId"), "{e}");
    let e = refused(OperatorKind::Approve, &json!({"rolloutId": "shop-6.0", "by": "  "}));
    assert!(e.ends_with("detail.`by` is empty; say who approves (recorded in the rollout's history)"), "{e}");
    let e = refused(OperatorKind::Cancel, &json!({"rolloutId": "shop-6.0", "by": "x".repeat(MAX_BY_LEN + 1)}));
    assert!(e.contains("`by` is 257 characters long; at most 256"), "{e}");
    let e = refused(OperatorKind::Cancel, &json!({"rolloutId": "shop-6.0", "by": "x", "reason": ""}));
    assert!(e.contains("`reason` is empty; say why the rollout is cancelled, or leave the field out"), "{e}");
    let long = "r".repeat(MAX_REASON_LEN + 1);
    let e = refused(OperatorKind::Cancel, &json!({"rolloutId": "shop-6.0", "by": "x", "reason": long}));
    assert!(e.contains("`reason` is 1025 characters long"), "{e}");
    // The same checks before sending.
    assert_eq!(ApprovalDetail::new("", "x").expect_err("refused").field, "rolloutId");
    assert_eq!(CancelDetail::new("shop-6.0", "x", "").expect_err("refused").field, "reason");
}

#[test]
fn an_event_without_an_id_or_from_greenfleet_itself_is_refused() {
    let mut e = envelope(OperatorKind::Approve, &example(EXAMPLE_APPROVAL));
    e["source"] = json!(EVENT_SOURCE);
    let err = OperatorCommand::decode(&e).expect_err("refused").to_string();
    assert!(err.contains("source `greenfleet`, which greenfleet keeps for its own lifecycle events"), "{err}");
    e["source"] = json!("chatops.bot");
    e.as_object_mut().expect("an object").remove("id");
    let err = OperatorCommand::decode(&e).expect_err("refused").to_string();
    assert!(err.contains("has no `id`; publish it on greenfleet's bus with PutEvents"), "{err}");
}

#[test]
fn command_detail_types_are_routed_and_never_greenfleet_s_own() {
    for kind in OperatorKind::ALL {
        assert!(INTAKE_DETAIL_TYPES.contains(&kind.detail_type()), "{kind:?} is routed to the intake queue");
        for own in LifecycleKind::ALL {
            assert_ne!(own.detail_type(), kind.detail_type(), "a lifecycle event would read as a command");
        }
    }
}

proptest! {
    #[test]
    fn any_detail_never_panics_and_refusals_name_the_event(
        rollout_id in any::<String>(), by in any::<String>(), reason in any::<Option<String>>(), cancel in any::<bool>(),
    ) {
        let kind = if cancel { OperatorKind::Cancel } else { OperatorKind::Approve };
        let mut detail = json!({"rolloutId": rollout_id, "by": by});
        if let Some(r) = &reason {
            detail["reason"] = json!(r);
        }
        match OperatorCommand::decode(&envelope(kind, &detail)) {
            Ok(Some(c)) => {
                prop_assert_eq!(c.rollout_id.as_str(), rollout_id.as_str());
                prop_assert_eq!(c.by(), by.as_str());
                if let (StepBody::Cancel { reason: got, .. }, Some(sent)) = (&c.body, &reason) {
                    prop_assert_eq!(got, sent);
                }
            }
            Ok(None) => prop_assert!(false, "a command detail-type is a command"),
            Err(e) => prop_assert!(e.to_string().starts_with(&format!("`{}` event `6a7e8feb", kind.detail_type())), "{}", e),
        }
    }

    #[test]
    fn arbitrary_envelopes_never_panic(text in any::<String>()) {
        let event = json!({"id": "1", "source": "x", "detail-type": "Rollout Approved", "detail": text});
        prop_assert!(OperatorCommand::decode(&event).is_err());
    }
}
