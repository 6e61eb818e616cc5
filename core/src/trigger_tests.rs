//! Tests of the trigger configuration and of turning events into rollout requests.

use serde_json::{Value, json};

use super::*;

const EXAMPLE: &str = include_str!("../../examples/triggers.json");

fn example() -> Triggers {
    Triggers::parse(EXAMPLE.as_bytes()).expect("examples/triggers.json is valid")
}

fn s3_event(id: &str, bucket: &str, key: &str) -> Value {
    json!({
        "version": "0", "id": id, "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2026-11-26T16:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": 5, "etag": "b1946ac92492d2347c6235b4d2611184"},
                   "reason": "PutObject"}
    })
}

/// A full commit SHA, as `git rev-parse HEAD` prints it.
const SHA: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

fn config_fields(doc: &Value) -> Vec<String> {
    Triggers::parse(doc.to_string().as_bytes()).expect_err("refused").problems.into_iter().map(|p| p.field).collect()
}

#[test]
fn the_example_starts_a_rollout_of_the_uploaded_bundle() {
    let triggers = example();
    assert_eq!(triggers.list().len(), 1);
    let t = &triggers.list()[0];
    assert_eq!((t.name(), t.bus()), ("shop-bundles", TriggerBus::Default));
    let event = s3_event("7f6b1c52-0a8e-4c1d-9d3e-1b2c3d4e5f60", "releases", "shop/6.1.zip");
    let got = triggers.requests_for(&event);
    assert_eq!(got.len(), 1);
    let r = got[0].as_ref().expect("a valid request");
    assert_eq!(r.request_id.as_str(), "shop-bundles:7f6b1c52-0a8e-4c1d-9d3e-1b2c3d4e5f60");
    assert_eq!(r.revision.describe(), "s3://releases/shop/6.1.zip (zip)");
    let Revision::S3(s3) = &r.revision else { panic!("an S3 revision") };
    assert_eq!(s3.e_tag.as_deref(), Some("b1946ac92492d2347c6235b4d2611184"));
    let tags: Vec<String> = r.green_tags.iter().map(ToString::to_string).collect();
    assert_eq!(tags, ["version=6.1"]);
    assert_eq!(r.requested_by, "trigger shop-bundles");
    assert_eq!(r.timeouts.deployment_minutes, 60);
    assert_eq!(r.elastigroup_id.as_str(), "sig-5b0b0001");
}

#[test]
fn events_outside_the_pattern_start_nothing() {
    let triggers = example();
    for event in [
        s3_event("e1", "releases", "search/6.1.zip"),
        s3_event("e2", "other-bucket", "shop/6.1.zip"),
        json!({"id": "e3", "source": "aws.s3", "detail-type": "Object Deleted",
               "detail": {"bucket": {"name": "releases"}, "object": {"key": "shop/6.1.zip"}}}),
    ] {
        assert!(triggers.requests_for(&event).is_empty(), "{event}");
    }
}

#[test]
fn the_same_event_gives_the_same_request_id() {
    let triggers = example();
    let id = |e: &Value| triggers.requests_for(e)[0].as_ref().map(|r| r.request_id.to_string()).expect("valid");
    let a = s3_event("same-id", "releases", "shop/6.1.zip");
    assert_eq!(id(&a), id(&a.clone()));
    assert_ne!(id(&a), id(&s3_event("other-id", "releases", "shop/6.1.zip")));
    // An id that is not a valid request id is hashed, stably.
    let long = request_id_for("shop-bundles", &"x/".repeat(40));
    assert_eq!(long, request_id_for("shop-bundles", &"x/".repeat(40)));
    assert!(crate::ids::RequestId::parse(&long).is_ok(), "{long}");
}

#[test]
fn a_missing_event_field_is_named() {
    let triggers = example();
    let mut event = s3_event("e4", "releases", "shop/6.1.zip");
    event["detail"]["object"].as_object_mut().map(|o| o.remove("etag"));
    let got = triggers.requests_for(&event);
    let e = got[0].as_ref().expect_err("cannot be filled");
    assert_eq!(e.request_id, "shop-bundles:e4");
    assert!(
        e.to_string().contains("`revision.s3.eTag` cannot be filled: the event has no text at `detail.object.etag`"),
        "{e}"
    );
}

#[test]
fn file_stems_and_names() {
    assert_eq!(take("shop/6.1.zip", Take::FileStem), "6.1");
    assert_eq!(take("shop/6.1.tar.gz", Take::FileStem), "6.1");
    assert_eq!(take("bundle.bin", Take::FileStem), "bundle");
    assert_eq!(take("shop/.zip", Take::FileStem), ".zip");
    assert_eq!(take("shop/6.1.zip", Take::FileName), "6.1.zip");
    assert_eq!(take("shop/6.1.zip", Take::Whole), "shop/6.1.zip");
}

#[test]
fn bad_configurations_are_refused_naming_every_problem() {
    let mut doc: Value = serde_json::from_str(EXAMPLE).expect("JSON");
    let good = doc["triggers"][0].clone();
    let mut bad = good.clone();
    bad["name"] = "has space".into();
    bad["pattern"]["detail"]["object"]["size"] = json!([{"numeric": [">", 0]}]);
    bad["rollout"]["elastigroupId"] = "sg-1".into();
    bad["rollout"]["timeouts"]["deploymentMinutes"] = 0.into();
    doc["triggers"] = json!([good.clone(), good, bad]);
    let fields = config_fields(&doc);
    assert_eq!(
        fields,
        [
            "triggers[1].name",
            "triggers[2].name",
            "triggers[2].pattern.detail.object.size",
            "triggers[2].rollout.elastigroupId",
            "triggers[2].rollout.timeouts.deploymentMinutes",
        ]
    );
    let e = Triggers::parse(doc.to_string().as_bytes()).expect_err("refused").to_string();
    assert!(e.contains("used twice"), "{e}");
    assert!(e.contains("operator `numeric` is not supported"), "{e}");
    let e = Triggers::parse(b"{\"trigger\": []}").expect_err("refused").to_string();
    assert!(e.contains("unknown field `trigger`"), "{e}");
    let typo = EXAMPLE.replace("{\"from\": \"detail.object.etag\"}", "{\"form\": \"detail.object.etag\"}");
    let e = Triggers::parse(typo.as_bytes()).expect_err("refused").to_string();
    assert!(e.contains("unknown field `form`, expected `from` or `take`"), "{e}");
    let number = EXAMPLE.replace("{\"from\": \"detail.object.etag\"}", "7");
    let e = Triggers::parse(number.as_bytes()).expect_err("refused").to_string();
    assert!(e.contains("expected a string or {\"from\": \"detail.…\"}, found `7`"), "{e}");
}

#[test]
fn intake_messages_are_sorted_into_requests_and_events() {
    let request = r#"{"schemaVersion": 1}"#;
    assert_eq!(classify_intake(request), IntakeBody::Request(request.to_owned()));
    assert_eq!(classify_intake("not json"), IntakeBody::Request("not json".to_owned()));
    let wrapped = json!({"source": "greenfleet.publisher", "detail-type": "Rollout Requested", "detail": {"a": 1}});
    assert_eq!(classify_intake(&wrapped.to_string()), IntakeBody::Request(r#"{"a":1}"#.to_owned()));
    let event = s3_event("e5", "releases", "shop/6.1.zip");
    assert_eq!(classify_intake(&event.to_string()), IntakeBody::Event(event));
}

#[test]
fn github_templates_and_custom_events() {
    let doc = json!({"triggers": [{
        "name": "build-ok", "bus": "greenfleet",
        "pattern": {"source": ["ci.example"], "detail-type": ["Build Succeeded"], "detail": {"branch": ["main"]}},
        "rollout": {"elastigroupId": "sig-5b0b0002", "application": "search", "deploymentGroup": "search-bg",
                    "revision": {"github": {"repository": {"from": "detail.repository"}, "commitId": {"from": "detail.commit"}}},
                    "versionTag": {"from": "detail.buildNumber"}, "approval": "manual"}
    }]});
    let triggers = Triggers::parse(doc.to_string().as_bytes()).expect("valid");
    assert_eq!(triggers.list()[0].bus(), TriggerBus::Greenfleet);
    let event = json!({"id": "b-1", "source": "ci.example", "detail-type": "Build Succeeded",
                       "detail": {"branch": "main", "repository": "acme/search", "commit": SHA, "buildNumber": 42}});
    let r = triggers.requests_for(&event).remove(0).expect("valid");
    assert_eq!(r.revision.describe(), format!("github:acme/search@{SHA}"));
    assert_eq!(r.green_tags[0].to_string(), "version=42");
    assert_eq!(r.approval, ApprovalMode::Manual);
    let mut feature = event;
    feature["detail"]["branch"] = "feature".into();
    assert!(triggers.requests_for(&feature).is_empty());
}

#[test]
fn a_template_s_commit_id_must_be_a_full_sha() {
    let doc = json!({"triggers": [{
        "name": "pinned", "pattern": {"source": ["ci.example"]},
        "rollout": {"elastigroupId": "sig-5b0b0002", "application": "search", "deploymentGroup": "search-bg",
                    "revision": {"github": {"repository": "acme/search", "commitId": "0a1b2c3"}}}
    }]});
    let e = Triggers::parse(doc.to_string().as_bytes()).expect_err("a short SHA").to_string();
    assert!(e.contains("`triggers[0].rollout.revision.github.commitId`: `0a1b2c3` is not a full commit SHA"), "{e}");
    let doc = json!({"triggers": [{
        "name": "from-ci", "pattern": {"source": ["ci.example"]},
        "rollout": {"elastigroupId": "sig-5b0b0002", "application": "search", "deploymentGroup": "search-bg",
                    "revision": {"github": {"repository": "acme/search", "commitId": {"from": "detail.commit"}}}}
    }]});
    let triggers = Triggers::parse(doc.to_string().as_bytes()).expect("valid");
    let event = json!({"id": "b-2", "source": "ci.example", "detail-type": "Build Succeeded",
                       "detail": {"commit": "0a1b2c3"}});
    let e = triggers.requests_for(&event).remove(0).expect_err("a short SHA from the event");
    assert!(e.message.contains("`revision.github.commitId` `0a1b2c3` is not a full commit SHA"), "{e}");
}

#[test]
fn control_characters_taken_from_an_event_are_refused() {
    let event = s3_event("e6", "releases", "shop/6.1\n.zip");
    let e = example().requests_for(&event).remove(0).expect_err("a key with a newline");
    assert!(
        e.message.contains("`revision.s3.key` contains the control character U+000A (`\\n`) at character 9"),
        "{e}"
    );
    assert!(e.message.contains("`greenTags[0].value` contains the control character U+000A"), "{e}");
}

#[test]
fn a_key_given_twice_in_a_trigger_file_is_refused_naming_its_path() {
    let twice =
        EXAMPLE.replacen("\"application\": \"shop\",", "\"application\": \"shop\", \"application\": \"search\",", 1);
    assert_ne!(twice, EXAMPLE);
    let e = Triggers::parse(twice.as_bytes()).expect_err("a key given twice");
    let fields: Vec<&str> = e.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["triggers[0].rollout.application"]);
    assert!(e.to_string().contains("is given twice in the same object; give it once"), "{e}");
    let twice = EXAMPLE.replacen("\"prefix\": \"shop/\"", "\"prefix\": \"shop/\", \"prefix\": \"search/\"", 1);
    let e = Triggers::parse(twice.as_bytes()).expect_err("a pattern key given twice");
    assert_eq!(e.problems[0].field, "triggers[0].pattern.detail.object.key[0].prefix");
}

#[test]
fn a_published_request_keeps_its_keys_given_twice_for_the_parser_to_refuse() {
    let body = r#"{"source":"p","detail-type":"Rollout Requested","detail":{"requestId":"a","requestId":"b"}}"#;
    assert_eq!(classify_intake(body), IntakeBody::Request(r#"{"requestId":"a","requestId":"b"}"#.to_owned()));
    // `detail` itself given twice: the whole envelope goes to the parser, which names `detail`.
    let body = r#"{"source":"p","detail-type":"Rollout Requested","detail":{"a":1},"detail":{"b":2}}"#;
    let IntakeBody::Request(request) = classify_intake(body) else { panic!("a request") };
    let e = crate::request::parse_request(request.as_bytes()).expect_err("refused");
    assert_eq!(e.problems[0].field, "detail", "{e}");
    let body = r#"{"source":"p","detail-type":"Rollout Requested"}"#;
    assert_eq!(classify_intake(body), IntakeBody::Request("null".to_owned()));
}
