//! Tests of the lifecycle events: the committed schema is the generated one, every kind of event
//! validates against it, and the README's example is what greenfleet really publishes.

use serde_json::Value;

use super::*;
use crate::ids::DeploymentId;
use crate::request::parse_request;
use crate::saga::{Outcome, Phase, Saga};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/lifecycle-event.v1.json");
const EXAMPLE_REQUEST: &str = include_str!("../../examples/request.json");
const EXAMPLE_EVENT: &str = include_str!("../../examples/lifecycle-event.json");
const EXAMPLE_CONFLICT: &str = include_str!("../../examples/request-conflicted-event.json");
const ACCEPTED_AT: Timestamp = Timestamp(1_764_151_200_000);
const AT: Timestamp = Timestamp(1_764_151_413_000);

/// The README's request, as a saga in the phase where `kind` is published.
fn saga_for(kind: LifecycleKind) -> Saga {
    let request = parse_request(EXAMPLE_REQUEST.as_bytes()).expect("the example request is valid");
    let mut saga = crate::accept(request, ACCEPTED_AT).next;
    let deployed = |s: &mut Saga| s.facts.deployment_id = DeploymentId::parse("d-7QX2KD91A").ok();
    match kind {
        LifecycleKind::Accepted | LifecycleKind::RequestConflicted => {}
        LifecycleKind::Rejected => {
            saga.phase = Phase::Done(Outcome::Rejected {
                reason: "deployment group shop-bg is IN_PLACE; make it BLUE_GREEN (F1)".into(),
            });
        }
        LifecycleKind::Started => saga.phase = Phase::StartGreen,
        LifecycleKind::Succeeded => {
            deployed(&mut saga);
            saga.phase = Phase::Done(Outcome::Succeeded);
        }
        LifecycleKind::RolledBack => {
            deployed(&mut saga);
            saga.phase = Phase::Done(Outcome::RolledBack { reason: "CodeDeploy deployment failed".into() });
        }
        LifecycleKind::NeedsAttention => {
            deployed(&mut saga);
            saga.phase = Phase::Done(Outcome::NeedsAttention {
                reason: "capacity could not be restored".into(),
                left: vec!["set sig-1234abcd to min 1, max 1, target 1".into()],
            });
        }
    }
    saga
}

/// The kinds a saga's own transitions publish (all but RequestConflicted, published for another request).
fn saga_kinds() -> impl Iterator<Item = LifecycleKind> {
    LifecycleKind::ALL.into_iter().filter(|k| *k != LifecycleKind::RequestConflicted)
}

/// The example request published again under its requestId with revision 6.1 and tag `version=6.1`.
fn conflicting_request() -> crate::request::RolloutRequest {
    let body = EXAMPLE_REQUEST.replace("shop/6.0.zip", "shop/6.1.zip").replace("\"6.0\"", "\"6.1\"");
    parse_request(body.as_bytes()).expect("still valid")
}

/// The `Rollout Request Conflicted` event of [`conflicting_request`].
fn conflict_event() -> LifecycleEvent {
    let saga = saga_for(LifecycleKind::Succeeded);
    let refused = conflicting_request();
    let conflict = crate::fingerprint::conflict(&saga, &refused).expect("a conflict");
    LifecycleEvent::request_conflicted(&saga, &refused, &conflict, AT)
}

/// Every event greenfleet can publish: one per kind for a rollout, a conflict, plus the rejection of an
/// unreadable request.
fn every_event() -> Vec<LifecycleEvent> {
    let mut v: Vec<_> = saga_kinds().map(|k| LifecycleEvent::for_saga(&saga_for(k), k, AT)).collect();
    v.push(conflict_event());
    v.push(LifecycleEvent::invalid_request(Some("bad-1".into()), "not valid JSON".into(), AT));
    v.push(LifecycleEvent::invalid_request(None, "not valid JSON".into(), AT));
    v
}

fn schema() -> Value {
    serde_json::from_str(&lifecycle_json_schema()).expect("the schema is JSON")
}

fn json_type_matches(ty: &str, v: &Value) -> bool {
    match ty {
        "null" => v.is_null(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        _ => false,
    }
}

/// A strict validator for the subset of JSON Schema that schemars emits for these types: `$ref`,
/// `anyOf`, `oneOf`, `const`, `type`, `minimum`, `items`, `properties`, `required`. Stricter than
/// JSON Schema in one way: a property the schema does not describe is an error.
fn validate(root: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/$defs/").expect("local $ref");
        validate(root, &root["$defs"][name], v, at, errors);
    }
    let passes = |s: &Value| {
        let mut e = Vec::new();
        validate(root, s, v, at, &mut e);
        e.is_empty()
    };
    if let Some(any) = schema.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(passes)
    {
        errors.push(format!("{at}: {v} matches none of anyOf"));
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array)
        && one.iter().filter(|s| passes(s)).count() != 1
    {
        errors.push(format!("{at}: {v} does not match exactly one of oneOf"));
    }
    if let Some(c) = schema.get("const")
        && c != v
    {
        errors.push(format!("{at}: {v} is not {c}"));
    }
    if let Some(ty) = schema.get("type") {
        let types: Vec<&str> = match ty {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !types.iter().any(|t| json_type_matches(t, v)) {
            errors.push(format!("{at}: {v} is not of type {ty}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64())
        && n < min
    {
        errors.push(format!("{at}: {n} < minimum {min}"));
    }
    if let (Some(items), Some(a)) = (schema.get("items"), v.as_array()) {
        for (i, item) in a.iter().enumerate() {
            validate(root, items, item, &format!("{at}[{i}]"), errors);
        }
    }
    if let (Some(props), Some(o)) = (schema.get("properties").and_then(Value::as_object), v.as_object()) {
        for (k, value) in o {
            match props.get(k) {
                Some(s) => validate(root, s, value, &format!("{at}.{k}"), errors),
                None => errors.push(format!("{at}.{k} is not described by the schema")),
            }
        }
        for r in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let r = r.as_str().unwrap_or_default();
            if !o.contains_key(r) {
                errors.push(format!("{at}.{r} is required but missing"));
            }
        }
    }
}

fn errors_of(v: &Value) -> Vec<String> {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, v, "$", &mut errors);
    errors
}

#[test]
fn committed_json_schema_is_up_to_date() {
    let fresh = lifecycle_json_schema();
    if std::env::var_os("GREENFLEET_WRITE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &fresh).expect("write schema");
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).expect("schema/lifecycle-event.v1.json exists");
    assert_eq!(committed, fresh, "schema is stale: run `GREENFLEET_WRITE_SCHEMA=1 cargo test -p greenfleet-core`");
    let schema: Value = serde_json::from_str(&committed).expect("schema is JSON");
    assert_eq!(schema["title"], "greenfleet lifecycle event");
}

#[test]
fn every_kind_of_event_validates_against_the_schema() {
    let root = schema();
    let props = root["properties"].as_object().expect("properties");
    for event in every_event() {
        let v = serde_json::to_value(&event).expect("an event serialises");
        let errors = errors_of(&v);
        assert!(errors.is_empty(), "{:?} event breaks the schema: {errors:?}\n{v:#}", event.kind);
        // Both ways: every described property is serialised (subscribers may rely on its presence).
        let keys = v.as_object().expect("an object");
        for p in props.keys() {
            assert!(keys.contains_key(p), "{p} is in the schema but not in a {:?} event", event.kind);
        }
        // Those never null are required by the schema.
        let required: Vec<&str> =
            root["required"].as_array().expect("required").iter().flat_map(Value::as_str).collect();
        for (k, value) in keys {
            let always = matches!(k.as_str(), "kind" | "eventId" | "left" | "at");
            assert_eq!(required.contains(&k.as_str()), always, "required-ness of {k} ({value})");
        }
    }
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let mut v = serde_json::to_value(LifecycleEvent::for_saga(
        &saga_for(LifecycleKind::Succeeded),
        LifecycleKind::Succeeded,
        AT,
    ))
    .expect("an event serialises");
    v["kind"] = "Exploded".into();
    v["durationMs"] = "long".into();
    v["extra"] = 1.into();
    v.as_object_mut().map(|o| o.remove("at"));
    let errors = errors_of(&v).join("\n");
    for want in ["$.kind", "$.durationMs", "$.extra is not described", "$.at is required"] {
        assert!(errors.contains(want), "{want} not in\n{errors}");
    }
}

#[test]
fn each_kind_carries_what_a_subscriber_needs() {
    for event in every_event().into_iter().take(saga_kinds().count()) {
        let terminal = !matches!(event.kind, LifecycleKind::Accepted | LifecycleKind::Started);
        assert_eq!(event.outcome.is_some(), terminal, "{:?}", event.kind);
        if terminal {
            assert_eq!(event.outcome.as_deref(), Some(format!("{:?}", event.kind).as_str()));
        }
        let has_reason =
            !matches!(event.kind, LifecycleKind::Accepted | LifecycleKind::Started | LifecycleKind::Succeeded);
        assert_eq!(event.reason.is_some(), has_reason, "{:?}", event.kind);
        assert_eq!(event.left.is_empty(), event.kind != LifecycleKind::NeedsAttention, "{:?}", event.kind);
        assert_eq!(event.rollout_id.as_ref().map(RolloutId::as_str), Some("shop-6.0"));
        assert_eq!(event.request_id.as_deref(), Some("shop-6.0"));
        assert_eq!(event.accepted_at, Some(ACCEPTED_AT));
        assert_eq!(event.duration_ms, Some(AT.since(ACCEPTED_AT)));
        assert_eq!(event.event_id, format!("shop-6.0:{:?}", event.kind));
        assert!(event.kind.detail_type().ends_with(&format!("{:?}", event.kind)));
    }
}

#[test]
fn a_conflict_names_the_request_the_difference_and_what_to_do_and_ends_nothing() {
    let event = conflict_event();
    assert_eq!(event.kind.detail_type(), "Rollout Request Conflicted");
    assert_eq!(event.request_id.as_deref(), Some("shop-6.0"));
    assert_eq!(event.rollout_id.as_ref().map(RolloutId::as_str), Some("shop-6.0"));
    assert_eq!(event.outcome, None, "the existing rollout did not end");
    let reason = event.reason.as_deref().unwrap_or_default();
    for want in
        ["revision: ", "shop/6.0.zip", "shop/6.1.zip", "greenTags: ", "version=6.1", "publish it under a new requestId"]
    {
        assert!(reason.contains(want), "{want} not in {reason}");
    }
    assert!(event.event_id.starts_with("shop-6.0:RequestConflicted:v1:"), "{}", event.event_id);
    if std::env::var_os("GREENFLEET_WRITE_SCHEMA").is_some() {
        let mut pretty = serde_json::to_string_pretty(&event).expect("serialises");
        pretty.push('\n');
        std::fs::write(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/request-conflicted-event.json"), pretty)
            .expect("write the example");
    }
    let example: Value =
        serde_json::from_str(EXAMPLE_CONFLICT).expect("examples/request-conflicted-event.json is JSON");
    assert!(errors_of(&example).is_empty(), "{:?}", errors_of(&example));
    assert_eq!(
        serde_json::to_value(&event).expect("serialises"),
        example,
        "the README's conflict example is what greenfleet publishes"
    );
}

#[test]
fn the_readme_example_is_what_greenfleet_publishes() {
    let example: Value = serde_json::from_str(EXAMPLE_EVENT).expect("examples/lifecycle-event.json is JSON");
    assert!(errors_of(&example).is_empty(), "{:?}", errors_of(&example));
    let parsed: LifecycleEvent = serde_json::from_value(example.clone()).expect("the example is a LifecycleEvent");
    let real = LifecycleEvent::for_saga(&saga_for(LifecycleKind::Succeeded), LifecycleKind::Succeeded, AT);
    assert_eq!(parsed, real);
    assert_eq!(serde_json::to_value(&real).expect("serialises"), example);
}
